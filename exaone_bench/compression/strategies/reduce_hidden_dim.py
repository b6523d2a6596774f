"""Shrink the residual width: `{hidden_size: 160}` or `{ratio: 0.75}`, channels chosen by score.

One set of channels leaves the whole residual stream: embedding columns, every hidden-width
norm, the input columns of q/k/v/gate/up, the output rows of o/down, an untied lm_head's
columns; a tied lm_head is re-tied to the new embedding. In a MoE's sparse layers the routed
experts' fused tensors, the router's columns and the shared experts lose the same channels.
head_dim is kept and written explicitly. Not exact: RMSNorm now averages over fewer channels, which the recovery fine-tune absorbs.
"""
from __future__ import annotations

import torch
from torch import nn

from exaone_bench.compression.contract import choose_score
from exaone_bench.compression.importance import compute
from exaone_bench.compression.surgery import check_reloadable, keep_cols, keep_norm, keep_rows, retie
from exaone_bench.core.validate import check_keys, target_width
from exaone_bench.models.architecture import (
    backbone,
    decoder_layers,
    head_dim,
    is_sparse,
    is_tied,
    is_vision_language,
    layer_norms,
    output_head,
)

NAME = "reduce_hidden_dim"


UNITS = ("hidden_channel",)


REMOVED = ("channels", "hidden channels")


def applies(config) -> str | None:
    """Not on a vision-language model's text tower: its vision tower writes into this width."""
    if is_vision_language(config):
        return (f"model_type '{config.model_type}': the vision tower's output feeds this width, "
                "so cutting it would change the vision tower")
    return None


def check(config, spec, where: str) -> int:
    """Validate the spec against the config alone; returns the kept width."""
    check_keys(spec, ("hidden_size", "ratio", "by"), where)
    target = target_width(spec, "hidden_size", config.hidden_size, where)
    check_reloadable(config, where, hidden_size=target, head_dim=head_dim(config))
    choose_score(UNITS, spec.get("by"), f"{where}.by")
    return target


def plan(model, spec, calib, where: str) -> dict:
    width = model.config.hidden_size
    target, by = check(model.config, spec, where), choose_score(UNITS, spec.get("by"), f"{where}.by")
    score = compute(by, model, calib, where)
    keep = sorted(score.argsort(descending=True)[:target].tolist())
    return {
        "removed": {"channels": sorted(set(range(width)) - set(keep))},
        "kept": {"channels": keep},
        "scores": {by: [round(float(v), 6) for v in score]},
    }


def cut(model, record, calib=None) -> None:
    keep = record["kept"]["channels"]
    tied = is_tied(model)
    emb = backbone(model).embed_tokens
    emb.weight.data = emb.weight.data[:, keep].contiguous()
    emb.embedding_dim = len(keep)
    for layer in decoder_layers(model):
        attn, mlp = layer.self_attn, layer.mlp
        dense = mlp.shared_experts if is_sparse(mlp) else mlp
        for linear in (attn.q_proj, attn.k_proj, attn.v_proj, dense.gate_proj, dense.up_proj):
            keep_cols(linear, keep)
        keep_rows(attn.o_proj, keep)
        keep_rows(dense.down_proj, keep)
        if is_sparse(mlp):  # (experts, 2 x moe width, hidden) and (experts, hidden, moe width)
            idx = torch.as_tensor(keep, dtype=torch.long, device=mlp.experts.gate_up_proj.device)
            mlp.experts.gate_up_proj = nn.Parameter(mlp.experts.gate_up_proj.data.index_select(2, idx))
            mlp.experts.down_proj = nn.Parameter(mlp.experts.down_proj.data.index_select(1, idx))
            mlp.gate.weight = nn.Parameter(mlp.gate.weight.data.index_select(1, idx.to(mlp.gate.weight.device)))
            mlp.experts.hidden_dim = mlp.gate.hidden_dim = len(keep)
        for norm in layer_norms(layer):
            keep_norm(norm, keep)
    keep_norm(backbone(model).norm, keep)
    head = output_head(model)
    if tied:
        retie(model)
    elif head is not None:
        keep_cols(head, keep)


def cut_head(weight, record: dict):
    """A classifier head reads the residual stream: it keeps the same channels."""
    return weight[:, record["kept"]["channels"]].contiguous()


def words(removed: dict) -> str:
    """What the report says this strategy removed: residual-stream channels."""
    return f"{len(removed['channels'])} hidden channels"
