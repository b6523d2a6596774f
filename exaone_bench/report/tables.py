"""The report's tables and the sentences read from them: one row per variant, what each removed and why."""
from __future__ import annotations

from tabulate import tabulate

from exaone_bench.compression.registry import STRATEGIES, words
from exaone_bench.config.metrics import ZERO_SHOT
from exaone_bench.evidence.records import BaselineResult, VariantResult
from exaone_bench.report.plots import _units


def _pm(metrics: dict, key: str) -> str:
    return f"{metrics[key]:.3f} ± {metrics.get(key + '_sd', 0.0):.3f}"


def removed_text(records: list[dict]) -> str:
    """What a variant removed, in each strategy's own words, from its removal records."""
    return "; ".join(words(rec) for rec in records)


def _zero(row) -> str:
    """A row's zero-shot accuracy (lm-eval, before any training), or a dash when it was not measured."""
    value = row.zero_shot.get(ZERO_SHOT.name)
    return "—" if value is None else f"{value:.3f}"


def _zstd_mb(row) -> str:
    """The classifier's safetensors file after zstd (evaluation/cost.py), in MB; a dash when it was not measured."""
    n = row.params.get("zstd_bytes")
    return "—" if n is None else f"{n / 1e6:.2f}"


def _before(r: VariantResult) -> list[str]:
    """The cut's accuracy before recovery, its delta to the task model [CI] and its own verdict."""
    ci = r.before_recovery_ci["accuracy"]
    return [f"{r.before_recovery['accuracy']:.3f}",
            f"{r.before_recovery_deltas['accuracy']:+.3f} [{ci.ci_low:+.3f}, {ci.ci_high:+.3f}]",
            r.before_recovery_verdict or "—"]


def _strategy_table(rows: list[VariantResult], base: BaselineResult) -> str:
    before = bool(base.before_recovery)  # `original: task`: the cut is also read before any recovery
    table = []
    for r in rows:
        ci = r.ci["accuracy"]
        table.append([
            r.variant_id, removed_text(r.removed), f"{r.params['total_parameters']:,}", f"{r.params['model_size_mb']:.2f}",
            _zstd_mb(r),
            f"{r.delta_params_pct:+.1f}%", f"{r.lm_loss_before_recovery:.3f}", _zero(r), *(_before(r) if before else []),
            _pm(r.metrics, "accuracy"),
            _pm(r.metrics, "precision"), f"{r.deltas['accuracy']:+.3f} [{ci.ci_low:+.3f}, {ci.ci_high:+.3f}]",
            "yes" if ci.distinguishable else "no", f"{r.params['inference_latency_ms']:.2f}",
            f"{r.speedup:.2f}x / {r.flop_ratio:.2f}", r.verdict or "—"])
    early = [f"accuracy before recovery (task model {base.before_recovery['accuracy']:.3f})",
             "Δ before recovery [95% CI]", "verdict before recovery"] if before else []
    headers = ["variant", "removed", "params", "size MB", "zstd MB", "Δ params", f"LM loss before recovery (base {base.lm_loss_before_recovery:.3f})",
               f"zero-shot accuracy before recovery (base {_zero(base)})", *early, "accuracy after recovery" if before else "accuracy",
               "precision", "Δ accuracy [95% CI]", "distinguishable", "latency ms", "speedup / FLOP ratio", "verdict"]
    return tabulate(table, headers=headers, tablefmt="github")


def score_reasons(records: list[dict]) -> list[str]:
    """For each removal record: how the removed units scored against the kept ones."""
    import numpy as np

    out = []
    for rec in records:
        noun = STRATEGIES[rec["strategy"]].REMOVED[1]
        _, gone, units = _units(rec)
        for name, values in rec["scores"].items():
            if not values or len(values) != units:  # e.g. a score per block start, not per unit
                out.append(f"{rec['strategy']} chose {words(rec)} by {name}.")
                continue
            scores = np.asarray(values, dtype=float)
            if scores.ndim == 2:  # per layer: each layer's removed units against its kept ones
                mask = np.zeros_like(scores, dtype=bool)
                for layer, idx in enumerate(gone):
                    mask[layer, idx] = True
            else:
                mask = np.zeros(len(scores), dtype=bool)
                mask[gone] = True
            if mask.all() or not mask.any():
                continue
            out.append(f"{rec['strategy']} removed the {int(mask.sum())} {noun} with the lowest {name} "
                       f"(mean {scores[mask].mean():.4g} against {scores[~mask].mean():.4g} for the kept).")
        if not rec["scores"]:
            out.append(f"{rec['strategy']} removed the units named in the spec ({rec['spec']}), not chosen by a score.")
    return out
