"""Remove whole routed experts of a MoE (K-EXAONE): `{keep: K}`, `{ratio: r}` or `{count: N}`, `by: routing_frequency`.

Every sparse layer keeps the same number of experts (the config has one `num_experts`), each its
own most-routed ones on the calibration sample. The experts' fused `gate_up_proj` / `down_proj`
lose those slices, the router's weight rows and correction-bias entries go with them, so the
kept experts' scores, and with them every token's top-k among the kept, are unchanged: a token
none of whose top-k experts was removed computes exactly what it did. Shared experts, dense
layers and attention are untouched.
"""
from __future__ import annotations

import torch
from torch import nn

from exaone_bench.compression.contract import choose_score
from exaone_bench.compression.importance import compute
from exaone_bench.core.validate import SpecError, as_int, check_keys, target_width
from exaone_bench.models.architecture import sparse_blocks

NAME = "prune_experts"


UNITS = ("expert",)


REMOVED = ("experts", "routed experts")


def applies(config) -> str | None:
    """Only a MoE has routed experts to remove; on a dense model the suite skips these variants."""
    if not getattr(config, "num_experts", None) or "sparse" not in (getattr(config, "mlp_layer_types", None) or []):
        return f"model_type '{config.model_type}' has no routed experts"
    return None


def check(config, spec, where: str) -> int:
    """Validate the spec against the config alone; returns the experts kept per sparse layer."""
    reason = applies(config)
    if reason:
        raise SpecError(f"{where}: {reason}")
    experts = config.num_experts
    if not isinstance(spec, dict):
        raise SpecError(f"{where}: expected {{keep: K}} or {{count: N, by: ...}}, got {spec!r}")
    check_keys(spec, ("keep", "ratio", "count", "by"), where)
    if sum(k in spec for k in ("keep", "ratio", "count")) != 1:
        raise SpecError(f"{where}: give exactly one of 'keep' (experts kept per layer), 'ratio' (share kept) "
                        "or 'count' (experts removed per layer)")
    if "count" in spec:
        keep = experts - as_int(spec["count"], f"{where}.count", 1, experts - 1)
    else:
        keep = target_width(spec, "keep", experts, where)
    top_k = config.num_experts_per_tok
    if keep < max(top_k, 2):
        raise SpecError(f"{where}: keeping {keep} experts per layer is too few: every token routes to "
                        f"num_experts_per_tok={top_k}, and the router ranks at least 2")
    if (getattr(config, "n_group", 1) or 1) > 1:
        raise SpecError(f"{where}: group-limited routing (n_group={config.n_group}) is not supported: "
                        "removing experts would move the others between groups")
    choose_score(UNITS, spec.get("by"), f"{where}.by")
    return keep


def plan(model, spec, calib, where: str) -> dict:
    keep_n, by = check(model.config, spec, where), choose_score(UNITS, spec.get("by"), f"{where}.by")
    score = compute(by, model, calib, f"{where}.by")
    experts = range(model.config.num_experts)
    # stable: among experts routed equally often, the lower index is kept
    keep = [sorted(row.argsort(descending=True, stable=True)[:keep_n].tolist()) for row in score]
    return {
        "removed": {"experts": [sorted(set(experts) - set(k)) for k in keep]},
        "kept": {"experts": keep},
        "scores": {by: [[round(float(v), 6) for v in row] for row in score]},
    }


def cut(model, record, calib=None) -> None:
    for (_, block), keep in zip(sparse_blocks(model), record["kept"]["experts"], strict=True):
        experts, router = block.experts, block.gate
        idx = torch.as_tensor(keep, dtype=torch.long, device=experts.gate_up_proj.device)
        experts.gate_up_proj = nn.Parameter(experts.gate_up_proj.data.index_select(0, idx))
        experts.down_proj = nn.Parameter(experts.down_proj.data.index_select(0, idx))
        router.weight = nn.Parameter(router.weight.data.index_select(0, idx.to(router.weight.device)))
        router.e_score_correction_bias = router.e_score_correction_bias.index_select(0, idx.to(router.weight.device))
        experts.num_experts = router.num_experts = len(keep)
        if hasattr(router, "n_routed_experts"):
            router.n_routed_experts = len(keep)


def words(removed: dict) -> str:
    """What the report says this strategy removed: experts per sparse layer."""
    return f"{len(removed['experts'][0]) if removed['experts'] else 0} routed experts/sparse layer"
