"""Shrink the MLP width: `{intermediate_size: 3072}` or `{ratio: 0.75}`, the same count in every layer.

Each layer keeps its own highest-scoring channels (mlp_channel_importance by default):
gate/up lose rows, down loses the matching columns. In a MoE (K-EXAONE) only the dense layers'
MLPs have this width; experts are pruned whole by prune_experts.
"""
from __future__ import annotations

from exaone_bench.compression.contract import choose_score
from exaone_bench.compression.importance import compute
from exaone_bench.compression.surgery import keep_cols, keep_rows
from exaone_bench.core.validate import SpecError, check_keys, target_width
from exaone_bench.models.architecture import dense_mlps

NAME = "reduce_mlp"


UNITS = ("mlp_channel",)


REMOVED = ("channels", "MLP channels")


def check(config, spec, where: str) -> int:
    """Validate the spec against the config alone; returns the kept width."""
    check_keys(spec, ("intermediate_size", "ratio", "by"), where)
    if "dense" not in (getattr(config, "mlp_layer_types", None) or ["dense"]):
        raise SpecError(f"{where}: every layer is sparse (routed experts): no dense MLP to narrow; use prune_experts")
    target = target_width(spec, "intermediate_size", config.intermediate_size, where)
    choose_score(UNITS, spec.get("by"), f"{where}.by")
    return target


def plan(model, spec, calib, where: str) -> dict:
    width = model.config.intermediate_size
    target, by = check(model.config, spec, where), choose_score(UNITS, spec.get("by"), f"{where}.by")
    score = compute(by, model, calib, where)
    keep = [sorted(row.argsort(descending=True)[:target].tolist()) for row in score]
    return {
        "removed": {"channels": [sorted(set(range(width)) - set(k)) for k in keep]},
        "kept": {"channels": keep},
        "scores": {by: [[round(float(v), 6) for v in row] for row in score]},
    }


def cut(model, record, calib=None) -> None:
    for (_, mlp), keep in zip(dense_mlps(model), record["kept"]["channels"], strict=True):
        keep_rows(mlp.gate_proj, keep)
        keep_rows(mlp.up_proj, keep)
        keep_cols(mlp.down_proj, keep)


def words(removed: dict) -> str:
    """What the report says this strategy removed: channels per layer."""
    return f"{len(removed['channels'][0]) if removed['channels'] else 0} MLP channels/layer"
