"""The one error type for unusable YAML values, and the small validators every schema shares.

Strategies, the setup schema and the variant files all check their values through these, so
every message names where the value came from (file, variant, key) the same way. This module
imports nothing of the package: anything may use it without an import cycle.
"""
from __future__ import annotations

from typing import Any, Iterable


class SpecError(ValueError):
    """A YAML value that cannot be used; the message names the file/variant and the key."""


def one_line(error: BaseException) -> str:
    """An exception as one line, its type first: what a report row, a tag or the terminal shows of a crash."""
    return " ".join(f"{type(error).__name__}: {error}".split())


class NotApplicable(SpecError):
    """A strategy with nothing to cut in this architecture (prune_experts on a dense model): a skip, not a failure."""


def check_keys(spec: dict, allowed: Iterable[str], where: str) -> None:
    """Unknown keys fail early: a misspelt key must never be silently ignored."""
    if not isinstance(spec, dict):
        raise SpecError(f"{where}: expected a mapping, got {type(spec).__name__} {spec!r}")
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def as_int(value: Any, where: str, lo: int, hi: int) -> int:
    """An int in [lo, hi] (bools are not ints here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{where}: expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise SpecError(f"{where}: {value} is out of range [{lo}, {hi}]")
    return value


def as_ratio(value: Any, where: str) -> float:
    """A fraction strictly inside (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise SpecError(f"{where}: expected a ratio in (0, 1), got {value!r}")
    return float(value)


def positive(value: Any, where: str, kind: type = int) -> None:
    """A positive int (or float with kind=float); bools are refused."""
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise SpecError(f"{where}: expected a positive {kind.__name__}, got {value!r}")


def target_width(spec: dict, key: str, width: int, where: str) -> int:
    """The kept width from exactly one of `{key: N}` (1 <= N < width) or `{ratio: r}` (0 < r < 1)."""
    if (key in spec) == ("ratio" in spec):
        raise SpecError(f"{where}: give exactly one of {key} or ratio")
    if "ratio" in spec:
        return max(1, round(width * as_ratio(spec["ratio"], f"{where}.ratio")))
    return as_int(spec[key], f"{where}.{key}", 1, width - 1)


def as_index_list(value: Any, where: str, size: int, what: str) -> list[int]:
    """Distinct indices into range(size) that leave at least one unit standing."""
    if not isinstance(value, list) or not value:
        raise SpecError(f"{where}: expected a non-empty list of {what} indices, got {value!r}")
    for i in value:
        as_int(i, where, 0, size - 1)
    if len(set(value)) != len(value):
        raise SpecError(f"{where}: duplicate {what} indices in {value}")
    if len(value) >= size:
        raise SpecError(f"{where}: removing all {size} {what}s leaves nothing")
    return sorted(value)
