"""The order variants run in: longest first, by each one's duration in the last run that ran it.

xdist hands items out in collection order. Collected by file name, the longest variants
(trim_vocab) came last, and one worker finished them while the other sat idle.
Longest first leaves the short items for the end, where they fill both workers.

A machine's first run has no durations of its own: it orders by `durations.json` beside the
setup file (committed, like pytest-split's `.test_durations`; the shipped one holds the call
seconds of a `--quick` run, and only their order matters), and each run's own timings take over
from then on.
"""
from __future__ import annotations

import json
from pathlib import Path

from exaone_bench.core.cache import atomic_write_text
from exaone_bench.core.paths import data_dir


def durations_path() -> Path:
    return data_dir() / "cache" / "durations.json"


def _read(path: Path) -> dict[str, float]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def read_durations(shipped: Path | None = None) -> dict[str, float]:
    """Seconds of each variant's call (by node id) in this machine's last run that ran it.

    Variants this machine never ran take theirs from `shipped` (a committed durations.json), if given.
    """
    return {**(_read(shipped) if shipped is not None else {}), **_read(durations_path())}


def record_durations(durations: dict[str, float]) -> None:
    """Merge this run's durations into the file: variants this run deselected keep their last one."""
    atomic_write_text(durations_path(), json.dumps({**read_durations(), **durations}, indent=2, sort_keys=True) + "\n")


def longest_first(items: list, durations: dict[str, float]) -> list:
    """Items never timed first (in collection order: their cost is unknown), then the rest, longest first.

    Every xdist worker sorts its own collection; they read the same file, so the orders agree.
    """
    return sorted(items, key=lambda item: (item.nodeid in durations, -durations.get(item.nodeid, 0.0)))
