"""Variants cut from the original and read before any recovery, on the validation split: what a motivation cites.

An experiment file's bounds come from its motivation, before the run that tests them. `exaone-bench cuts` measures
that motivation: each variant is cut from the original exactly as the suite cuts it (the same calibration blocks
and strategies), then read by the task model's own head, no training, on the *validation* split, so that the test
split the run decides on stays unseen. One forward pass per variant: deterministic on one machine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np
from tabulate import tabulate

from exaone_bench.compression.registry import cut_head
from exaone_bench.config.setup import Setup
from exaone_bench.data.split import Split
from exaone_bench.pipeline.measures import Measures, shape
from exaone_bench.pipeline.variant import cut

BASE = "original"


@dataclass
class Cut:
    """One row: a variant (or the original itself) right after its cut."""

    name: str
    parameters: int
    lm_loss: float                                           # nats per token on validation reviews
    metrics: dict[str, float] = field(default_factory=dict)  # the head's, on the split; empty without a task head


def read(items: Iterable[tuple[str, dict]], *, setup: Setup, split: Split, load_base: Callable, head,
         measures: Measures, split_name: str = "validation") -> Iterator[Cut]:
    """The original, then each `(name, compression)` cut from a fresh copy of it, as they are measured.

    `load_base`: a fresh original each call (the runner's); `head`: the task model's classifier head, cut with the
    backbone (None under `original: pretrained`: LM loss and parameters only).
    """
    for name, compression in [(BASE, {}), *items]:
        causal_lm, tokenizer, _ = load_base()
        cut_at = head
        if compression:
            removed, tokenizer = cut(causal_lm, tokenizer, compression, setup, split, where=name)
            cut_at = cut_head(head, removed) if head is not None else None
        before = measures.before_recovery(causal_lm, tokenizer, cut_at, split_name)
        yield Cut(name, shape(causal_lm)["total_parameters"], measures.lm_loss(causal_lm, tokenizer),
                  before["metrics"] if before else {})


def majority(split: Split, split_name: str = "validation") -> float:
    """The accuracy of always answering the split's most frequent label: where a broken head lands."""
    return float(np.bincount(np.asarray(split.labels[split_name])).max() / len(split.labels[split_name]))


def table(rows: list[Cut], metrics: tuple[str, ...] = ("accuracy", "precision")) -> str:
    """The rows as a table, each metric with its change from the original (the first row)."""
    base = rows[0]
    out = []
    for r in rows:
        line = [r.name, f"{r.parameters:,}", f"{100 * (r.parameters / base.parameters - 1):+.1f}%"]
        for m in metrics:
            value = r.metrics.get(m)
            line.append("" if value is None else f"{value:.3f} ({value - base.metrics[m]:+.3f})")
        line.append(f"{r.lm_loss:.3f}")
        out.append(line)
    return tabulate(out, headers=["variant", "parameters", "Δ", *metrics, "LM loss"], disable_numparse=True)
