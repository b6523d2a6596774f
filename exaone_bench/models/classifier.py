"""The sequence classifier of a causal LM's config: transformers' own class, or its generic one.

transformers ships `*ForSequenceClassification` for EXAONE 4 and Llama but not for EXAONE 3.x
(`exaone`, which it loads as Llama) or K-EXAONE (`exaone_moe`). For those, the class is composed
from transformers' `GenericForSequenceClassification` (the same last-non-padding-token pooling
and score head its Llama classifier uses) and the model family's own `PreTrainedModel`, so the
backbone is `AutoModel.from_config(config)` with the family's weight init and loading rules.
"""
from __future__ import annotations

import importlib

import torch
from transformers.modeling_layers import GenericForSequenceClassification
from transformers.models.auto.modeling_auto import (
    MODEL_FOR_CAUSAL_LM_MAPPING,
    MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING,
)

_COMPOSED: dict[str, type] = {}


def classifier_class(config) -> type:
    """The class `from_config` builds a sequence classifier of `config` with."""
    kind = config.model_type
    if type(config) in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING:
        return MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[type(config)]
    if kind not in _COMPOSED:
        causal = MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
        module = importlib.import_module(causal.__module__)
        pretrained = next(c for c in causal.__mro__ if c.__name__.endswith("PreTrainedModel") and c.__module__ == module.__name__)
        _COMPOSED[kind] = type(f"{type(config).__name__.removesuffix('Config')}ForSequenceClassification",
                               (GenericForSequenceClassification, pretrained), {"config_class": type(config)})
    return _COMPOSED[kind]


def sequence_classifier(config, dtype=None):
    """A randomly initialised sequence classifier of `config`, in `dtype` when given."""
    model = classifier_class(config)(config)
    return model if dtype is None else model.to(dtype)


__all__ = ["classifier_class", "sequence_classifier"]


def classifier_from(causal_lm, num_labels: int, seed: int, pad_token_id: int, head: torch.Tensor | None = None):
    """A sequence classifier sharing the causal LM's backbone weights; the head is `head` (a task model's,
    cut to the backbone's width) or, without one, drawn from the seed."""
    config = causal_lm.config.__class__.from_dict(causal_lm.config.to_dict())
    config.num_labels, config.pad_token_id = num_labels, pad_token_id
    config.architectures = None
    torch.manual_seed(seed)
    model = sequence_classifier(config, dtype=causal_lm.dtype).to(causal_lm.device)
    backbone = getattr(model, model.base_model_prefix)
    backbone.load_state_dict(getattr(causal_lm, causal_lm.base_model_prefix).state_dict())
    if head is None:  # drawn on the CPU and copied: the same head on every device (a CPU generator cannot fill a GPU tensor)
        gen = torch.Generator().manual_seed(seed)
        head = torch.empty(model.score.weight.shape, dtype=model.score.weight.dtype)
        head.normal_(0.0, config.initializer_range, generator=gen)
    with torch.no_grad():
        model.score.weight.copy_(head)
    return model
