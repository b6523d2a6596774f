"""Slicing primitives shared by the strategies, and the config re-derived from tensor shapes."""
from __future__ import annotations

import torch
from torch import nn

from exaone_bench.core.validate import SpecError
from exaone_bench.models.architecture import (
    PER_LAYER,
    backbone,
    decoder_layers,
    dense_mlps,
    head_dim,
    is_tied,
    layer_norms,
    output_head,
    sparse_blocks,
)


def _index(keep: list[int], device) -> torch.Tensor:
    return torch.as_tensor(keep, dtype=torch.long, device=device)


def keep_rows(linear: nn.Linear, keep: list[int]) -> None:
    """Keep output features `keep` of a Linear (rows of its weight)."""
    linear.weight = nn.Parameter(linear.weight.data.index_select(0, _index(keep, linear.weight.device)))
    linear.out_features = len(keep)


def keep_cols(linear: nn.Linear, keep: list[int]) -> None:
    """Keep input features `keep` of a Linear (columns of its weight)."""
    linear.weight = nn.Parameter(linear.weight.data.index_select(1, _index(keep, linear.weight.device)))
    linear.in_features = len(keep)


def keep_norm(norm: nn.Module, keep: list[int]) -> None:
    norm.weight = nn.Parameter(norm.weight.data.index_select(0, _index(keep, norm.weight.device)))


def head_rows(heads: list[int], dim: int) -> list[int]:
    """Weight rows of whole heads of width `dim`, in head order."""
    return [h * dim + j for h in heads for j in range(dim)]


def retie(model) -> None:
    """Point a tied lm_head at the (new) embedding weight again."""
    if model.config.tie_word_embeddings and getattr(model, "lm_head", None) is not None:
        model.lm_head.weight = backbone(model).embed_tokens.weight


def sync_config(model) -> dict:
    """Write the shapes the tensors actually have into model.config; return the new values.

    Every width must be uniform across layers: stock transformers cannot reload per-layer widths.
    """
    cfg, layers = model.config, decoder_layers(model)
    attn, dense, sparse = layers[0].self_attn, dense_mlps(model), sparse_blocks(model)
    hd = head_dim(cfg)
    emb = backbone(model).embed_tokens.weight
    new = {
        "num_hidden_layers": len(layers),
        "vocab_size": emb.shape[0],
        "hidden_size": emb.shape[1],
        "head_dim": hd,  # explicit: hidden_size // num_attention_heads may no longer equal it
        "num_attention_heads": attn.q_proj.out_features // hd,
        "num_key_value_heads": attn.k_proj.out_features // hd,
        # a MoE whose layers are all sparse keeps the dense width it declares
        "intermediate_size": dense[0][1].gate_proj.out_features if dense else cfg.intermediate_size,
    }
    if sparse:
        new["num_experts"] = sparse[0][1].experts.gate_up_proj.shape[0]
    first = (attn.q_proj.weight.shape, attn.k_proj.weight.shape)
    for i, layer in enumerate(layers):
        shapes = (layer.self_attn.q_proj.weight.shape, layer.self_attn.k_proj.weight.shape)
        assert shapes == first, f"layer {i} has attention shapes {shapes}, layer 0 has {first}: widths must be uniform"
        layer.self_attn.num_key_value_groups = new["num_attention_heads"] // new["num_key_value_heads"]
        for name in ("num_attention_heads", "num_key_value_heads", "num_heads"):
            if hasattr(layer.self_attn, name):
                setattr(layer.self_attn, name, new["num_attention_heads" if name != "num_key_value_heads" else name])
        for obj in (layer, layer.self_attn, layer.mlp):
            if hasattr(obj, "hidden_size"):
                obj.hidden_size = new["hidden_size"]
    for _, mlp in dense:
        assert mlp.gate_proj.out_features == new["intermediate_size"], "dense MLP widths must be uniform"
        if hasattr(mlp, "intermediate_size"):
            mlp.intermediate_size = new["intermediate_size"]
    for i, block in sparse:
        assert block.experts.gate_up_proj.shape[0] == new["num_experts"], f"layer {i}: expert counts must be uniform"
    for key in PER_LAYER:
        values = getattr(cfg, key, None)
        assert values is None or len(values) == len(layers), f"config.{key} has {len(values)} entries, {len(layers)} layers"
    assert new["num_attention_heads"] % new["num_key_value_heads"] == 0
    head = output_head(model)
    if getattr(model, "lm_head", None) is not None and not is_tied(model):
        assert head.weight.shape == (new["vocab_size"], new["hidden_size"]), "untied lm_head out of step with embedding"
    for key, value in new.items():
        setattr(cfg, key, value)
    backbone(model).vocab_size = new["vocab_size"]
    if hasattr(model, "vocab_size"):
        model.vocab_size = new["vocab_size"]
    return new


def check_reloadable(config, where: str, **changes) -> None:
    """Fail before cutting if stock transformers would refuse the resulting config on reload."""
    values = {**config.to_dict(), **changes}
    try:
        type(config).from_dict(values)
    except Exception as e:  # config validators raise ValueError subclasses with the reason
        reason = str(e).strip().splitlines()[-1].strip()
        raise SpecError(f"{where}: stock transformers cannot reload the result ({reason})") from e


def shape_summary(model) -> dict:
    """The config values a removal record reports before and after, plus the parameter count."""
    cfg = model.config
    keys = ("num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
            "hidden_size", "intermediate_size", "vocab_size")
    out = {k: getattr(cfg, k, None) for k in keys}
    out["head_dim"] = head_dim(cfg)
    if getattr(cfg, "num_experts", None) is not None:  # a MoE: routed experts per sparse layer
        out["num_experts"] = cfg.num_experts
    out["parameters"] = sum(p.numel() for p in model.parameters())
    return out


__all__ = ["check_reloadable", "keep_rows", "keep_cols", "keep_norm", "head_rows", "retie", "sync_config", "shape_summary",
           "layer_norms"]
