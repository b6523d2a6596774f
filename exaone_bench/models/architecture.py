"""Where the structural parts of a decoder-only causal LM live, for EXAONE 4 and the Llama family.

Both share q/k/v/o and gate/up/down names; they differ in their norms: EXAONE 4 normalises the
attention and MLP *outputs* (post_attention_layernorm, post_feedforward_layernorm) and adds
QK-norm, Llama normalises the inputs (input_layernorm, post_attention_layernorm).
"""
from __future__ import annotations

from torch import nn

SUPPORTED = ("exaone4", "llama")


class ArchitectureError(ValueError):
    """A model this code cannot cut safely; raised instead of guessing."""


def check_supported(model) -> None:
    kind = getattr(model.config, "model_type", None)
    if kind not in SUPPORTED:
        raise ArchitectureError(f"model_type '{kind}' is not supported; supported: {', '.join(SUPPORTED)}")
    attn = decoder_layers(model)[0].self_attn
    if any(getattr(attn, n).bias is not None for n in ("q_proj", "k_proj", "v_proj", "o_proj")):
        raise ArchitectureError("attention projections with biases are not supported")


def backbone(model) -> nn.Module:
    """The decoder stack (`model.model` of a *ForCausalLM / *ForSequenceClassification)."""
    return getattr(model, model.base_model_prefix, model)


def decoder_layers(model) -> nn.ModuleList:
    return backbone(model).layers


def head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def layer_norms(layer) -> list[nn.Module]:
    """The hidden-width norms of one decoder layer (names differ between EXAONE 4 and Llama)."""
    names = ("input_layernorm", "post_attention_layernorm", "post_feedforward_layernorm")
    return [getattr(layer, n) for n in names if hasattr(layer, n)]


def output_head(model) -> nn.Linear | None:
    """lm_head for a causal LM, score for a sequence classifier."""
    return getattr(model, "lm_head", None) or getattr(model, "score", None)


def is_tied(model) -> bool:
    head = getattr(model, "lm_head", None)
    return head is not None and head.weight is backbone(model).embed_tokens.weight


def parameter_count(model) -> int:
    """Unique parameters (a tied lm_head counts once)."""
    return sum(p.numel() for p in model.parameters())
