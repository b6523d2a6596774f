"""A resolved model source and the error for one that cannot be resolved."""
from __future__ import annotations

from dataclasses import dataclass


class SourceError(ValueError):
    """A model source that cannot be resolved; the message lists what is accepted."""


@dataclass(frozen=True)
class Source:
    """A resolved model source: what the user wrote and what `from_pretrained` receives."""

    name: str
    kind: str            # "builtin" | "local" | "hub"
    location: str        # directory path or hub id
