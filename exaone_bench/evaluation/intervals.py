"""Confidence intervals: paired bootstrap of a variant's delta to the baseline, and of one model's level."""
from __future__ import annotations

import numpy as np

from exaone_bench.config.metrics import BOUNDED


def _macro_precision(labels, preds, n_classes):
    """Macro precision of each row of `preds` (resamples x items) against `labels` (same shape)."""
    out = np.zeros(len(preds))
    for c in range(n_classes):
        predicted = preds == c
        tp = (predicted & (labels == c)).sum(1)
        n = predicted.sum(1)
        out += np.where(n > 0, tp / np.maximum(n, 1), 0.0)
    return out / n_classes


def _resample(labels, preds, items, seeds, n_classes) -> tuple[float, float]:
    """(accuracy, macro precision) of one bootstrap draw: the given items of the given seeds."""
    p = preds[seeds][:, items]
    y = np.broadcast_to(labels[items], p.shape)
    return float((p == y).mean()), float(_macro_precision(y, p, n_classes).mean())


def _seeds(rng, n: int) -> np.ndarray:
    return rng.integers(0, n, n)


def _interval(values, confidence) -> dict:
    lo, hi = np.quantile(values, [(1 - confidence) / 2, 1 - (1 - confidence) / 2])
    return {"ci_low": float(lo), "ci_high": float(hi)}


def delta_ci(labels: np.ndarray, variant_preds: np.ndarray, baseline_preds: np.ndarray, resamples: int,
             confidence: float, seed: int = 0, paired: bool = True) -> dict:
    """Bootstrap CI of (variant - baseline) for accuracy and macro precision.

    `*_preds` are (seeds, items) predicted labels. Each resample draws test items with replacement,
    shared by both models. Seed i of every model in a setup trains from the same data order and
    head initialisation (`training.seeds`), so by default the seeds are drawn in pairs too: one
    set of seed indices for both sides, and what a seed does to both models cancels in the delta
    (common random numbers). `paired=False` draws each side's seeds independently, as for two
    models whose trainings share nothing.
    """
    if paired and len(variant_preds) != len(baseline_preds):
        raise ValueError(f"paired seeds need as many on each side, not {len(variant_preds)} and {len(baseline_preds)}")
    rng = np.random.default_rng(seed)
    n_classes = int(max(labels.max(), variant_preds.max(), baseline_preds.max())) + 1
    deltas = []
    for _ in range(resamples):
        items = rng.integers(0, len(labels), len(labels))
        seeds = _seeds(rng, len(variant_preds))
        v = _resample(labels, variant_preds, items, seeds, n_classes)
        b = _resample(labels, baseline_preds, items, seeds if paired else _seeds(rng, len(baseline_preds)), n_classes)
        deltas.append((v[0] - b[0], v[1] - b[1]))
    out = {}
    for i, metric in enumerate(BOUNDED):
        ci = _interval([d[i] for d in deltas], confidence)
        out[metric] = {**ci, "distinguishable": bool(ci["ci_low"] > 0 or ci["ci_high"] < 0)}
    return out


def level_ci(labels: np.ndarray, preds: np.ndarray, resamples: int, confidence: float, seed: int = 0) -> dict:
    """Bootstrap CI of one model's accuracy and macro precision over seeds x test items."""
    rng = np.random.default_rng(seed)
    n_classes = int(max(labels.max(), preds.max())) + 1
    draws = [_resample(labels, preds, rng.integers(0, len(labels), len(labels)), _seeds(rng, len(preds)), n_classes)
             for _ in range(resamples)]
    return {m: _interval([d[i] for d in draws], confidence) for i, m in enumerate(BOUNDED)}


def noise_floor(labels: np.ndarray, preds: np.ndarray, resamples: int, confidence: float) -> dict[str, float]:
    """Half-width of the delta CI of a model against itself, its seeds drawn independently on each side.

    It is the CI a variant without an effect gets when its training diverges from the baseline's
    as far as another seed's does: a bound nearer to zero than this is decided only by an effect
    beyond it, or by a variant whose seeds stay closer to the baseline's (the paired draw of
    `delta_ci` credits that closeness, and no more).
    """
    ci = delta_ci(labels, preds, preds, resamples, confidence, paired=False)
    return {m: round((c["ci_high"] - c["ci_low"]) / 2, 4) for m, c in ci.items()}
