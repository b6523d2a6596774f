"""Where the structural parts of a decoder-only causal LM live, for every EXAONE generation and Llama.

All share q/k/v/o and gate/up/down names once loaded; they differ in their norms and MLPs:
- EXAONE 4 (`exaone4`, dense and hybrid) normalises the attention and MLP *outputs*
  (post_attention_layernorm, post_feedforward_layernorm) and adds QK-norm;
- Llama and EXAONE 3.x (`exaone`, which transformers loads as LlamaForCausalLM, renaming its
  GPT-style tensors) normalise the inputs (input_layernorm, post_attention_layernorm);
- K-EXAONE (`exaone_moe`) normalises the inputs, has QK-norm, and per `mlp_layer_types` either a
  dense MLP or a sparse block of routed experts (3-D `gate_up_proj` / `down_proj`), a router
  (`gate`: weight and correction bias) and shared experts;
- EXAONE 4.5 (`exaone4_5`) is cut through its text tower, an EXAONE 4 decoder.
"""
from __future__ import annotations

from torch import nn

SUPPORTED = ("exaone", "exaone4", "exaone_moe", "llama")


PER_LAYER = ("layer_types", "mlp_layer_types")  # config lists with one entry per decoder layer


FULL = "full_model"  # where a text tower (models/vision_language.py) keeps its vision-language model


def full_model(model):
    """The model a variant saves: a text tower's vision-language model, else the model itself."""
    return model.__dict__.get(FULL, model)


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


def is_sparse(mlp: nn.Module) -> bool:
    """A MoE block (routed experts, router, shared experts) rather than a dense gate/up/down MLP."""
    return hasattr(mlp, "experts")


def dense_mlps(model) -> list[tuple[int, nn.Module]]:
    """(layer index, dense gate/up/down MLP) of every layer: all of them, except a MoE's sparse ones."""
    return [(i, layer.mlp) for i, layer in enumerate(decoder_layers(model)) if not is_sparse(layer.mlp)]


def sparse_blocks(model) -> list[tuple[int, nn.Module]]:
    """(layer index, MoE block) of every sparse layer."""
    return [(i, layer.mlp) for i, layer in enumerate(decoder_layers(model)) if is_sparse(layer.mlp)]


def is_vision_language(config) -> bool:
    """A config with a text config inside it (EXAONE 4.5), rather than a text model's own."""
    return config.get_text_config() is not config


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
