"""The order variants run in: longest first, by each one's duration in the last run that ran it.

xdist hands items out in collection order. Collected by file name, the longest variants
(trim_vocab, ~6 min each) came last, and one worker finished them while the other sat idle.
Longest first leaves the short items for the end, where they fill both workers.
"""
from __future__ import annotations

import json
from pathlib import Path

from .cache import atomic_write_text
from .paths import data_dir


def durations_path() -> Path:
    return data_dir() / "cache" / "durations.json"


def read_durations() -> dict[str, float]:
    """Seconds of each variant's call (by node id) in the last run that ran it; {} before any run."""
    try:
        return json.loads(durations_path().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def record_durations(durations: dict[str, float]) -> None:
    """Merge this run's durations into the file: variants this run deselected keep their last one."""
    atomic_write_text(durations_path(), json.dumps({**read_durations(), **durations}, indent=2, sort_keys=True) + "\n")


def longest_first(items: list, durations: dict[str, float]) -> list:
    """Items never timed first (in collection order: their cost is unknown), then the rest, longest first.

    Every xdist worker sorts its own collection; they read the same file, so the orders agree.
    """
    return sorted(items, key=lambda item: (item.nodeid in durations, -durations.get(item.nodeid, 0.0)))
