"""Prune attention heads, GQA-aware and uniform across layers.

`{kv_heads: [1]}` removes whole KV groups (with their query heads) in every layer;
`{kv_heads: {count: N, by: head_importance}}` removes each layer's N least important groups;
`{query_heads_per_group: K}` keeps the K most important query heads of every group;
`{query_heads: Q}` keeps Q query heads in total (Q must divide evenly into the groups).
head_dim is unchanged and written into the config explicitly.
"""
from __future__ import annotations

from exaone_bench.compression.contract import choose_score
from exaone_bench.compression.importance import compute
from exaone_bench.compression.surgery import check_reloadable, head_rows, keep_cols, keep_rows
from exaone_bench.core.validate import SpecError, as_index_list, as_int, check_keys
from exaone_bench.models.architecture import decoder_layers, head_dim

NAME = "prune_heads"


UNITS = ("head",)


REMOVED = ("query_heads", "query heads")


def _check(spec, n_kv, rep, where) -> tuple[list[int] | int, int]:
    """Validate the spec before any scoring: (KV groups to drop or a count, query heads per group)."""
    check_keys(spec, ("kv_heads", "query_heads_per_group", "query_heads", "by"), where)
    if not {"kv_heads", "query_heads_per_group", "query_heads"} & set(spec):
        raise SpecError(f"{where}: give kv_heads, query_heads_per_group or query_heads")
    if "query_heads_per_group" in spec and "query_heads" in spec:
        raise SpecError(f"{where}: give query_heads_per_group or query_heads, not both")
    choose_score(UNITS, spec.get("by"), f"{where}.by")
    kv, drop = spec.get("kv_heads", []), []
    if isinstance(kv, dict):
        check_keys(kv, ("count", "by"), f"{where}.kv_heads")
        choose_score(UNITS, kv.get("by"), f"{where}.kv_heads.by", default=False)
        drop = as_int(kv.get("count"), f"{where}.kv_heads.count", 1, n_kv - 1)
    elif "kv_heads" in spec:
        drop = as_index_list(kv, f"{where}.kv_heads", n_kv, "KV head")
    new_kv = n_kv - (drop if isinstance(drop, int) else len(drop))
    per_group = rep
    if "query_heads_per_group" in spec:
        per_group = as_int(spec["query_heads_per_group"], f"{where}.query_heads_per_group", 1, rep - 1)
    elif "query_heads" in spec:
        total = as_int(spec["query_heads"], f"{where}.query_heads", 1, new_kv * rep)
        if total % new_kv:
            raise SpecError(f"{where}.query_heads: {total} query heads over {new_kv} KV groups leaves the groups "
                            f"uneven (num_attention_heads % num_key_value_heads must be 0)")
        per_group = total // new_kv
        if per_group == rep and "kv_heads" not in spec:
            raise SpecError(f"{where}.query_heads: {total} keeps every head; nothing would be removed")
    return drop, per_group


def check(config, spec, where: str) -> tuple[list[int] | int, int]:
    """Validate the spec against the config alone: (KV groups to drop or a count, query heads per group)."""
    n_kv = config.num_key_value_heads
    drop, per_group = _check(spec, n_kv, config.num_attention_heads // n_kv, where)
    new_kv = n_kv - (drop if isinstance(drop, int) else len(drop))
    check_reloadable(config, where, num_attention_heads=new_kv * per_group, num_key_value_heads=new_kv,
                     head_dim=head_dim(config))
    return drop, per_group


def plan(model, spec, calib, where: str) -> dict:
    cfg = model.config
    n_q, n_kv, n_layers = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.num_hidden_layers
    rep = n_q // n_kv
    drop, per_group = check(cfg, spec, where)
    importance = None
    if isinstance(drop, int) or per_group < rep:
        by = spec["kv_heads"]["by"] if isinstance(drop, int) else choose_score(UNITS, spec.get("by"), f"{where}.by")
        importance = compute(by, model, calib, where)
    if isinstance(drop, int):  # each layer drops its own least important groups (summed head scores)
        group = importance.view(n_layers, n_kv, rep).sum(-1)
        kv_keep = [sorted(row.argsort(descending=True)[: n_kv - drop].tolist()) for row in group]
    else:
        kv_keep = [[g for g in range(n_kv) if g not in drop] for _ in range(n_layers)]
    q_keep = []
    for layer, groups in enumerate(kv_keep):
        heads = []
        for g in groups:
            members = list(range(g * rep, (g + 1) * rep))
            if per_group < rep:
                members = sorted(sorted(members, key=lambda h: -float(importance[layer, h]))[:per_group])
            heads.extend(members)
        q_keep.append(heads)
    return {
        "removed": {"kv_heads": [[g for g in range(n_kv) if g not in k] for k in kv_keep],
                    "query_heads": [[h for h in range(n_q) if h not in k] for k in q_keep]},
        "kept": {"kv_heads": kv_keep, "query_heads": q_keep},
        "scores": {by: [[round(float(v), 6) for v in row] for row in importance]}
        if importance is not None else {},
    }


def cut(model, record, calib=None) -> None:
    hd = head_dim(model.config)
    for layer, kv, q in zip(decoder_layers(model), record["kept"]["kv_heads"], record["kept"]["query_heads"]):
        attn = layer.self_attn
        keep_rows(attn.q_proj, head_rows(q, hd))
        keep_rows(attn.k_proj, head_rows(kv, hd))
        keep_rows(attn.v_proj, head_rows(kv, hd))
        keep_cols(attn.o_proj, head_rows(q, hd))


def words(removed: dict) -> str:
    """What the report says this strategy removed: query heads (and KV groups) per layer."""
    kv = sum(map(len, removed["kv_heads"])) // max(len(removed["kv_heads"]), 1)
    q = sum(map(len, removed["query_heads"])) // max(len(removed["query_heads"]), 1)
    return f"{q} query heads/layer" + (f" ({kv} KV group/layer)" if kv else "")
