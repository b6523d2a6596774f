"""The sequence classifier of a causal LM's config: transformers' own class, or its generic one.

transformers ships `*ForSequenceClassification` for EXAONE 4 and Llama but not for EXAONE 3.x
(`exaone`, which it loads as Llama) or K-EXAONE (`exaone_moe`). For those, the class is composed
from transformers' `GenericForSequenceClassification` (the same last-non-padding-token pooling
and score head its Llama classifier uses) and the model family's own `PreTrainedModel`, so the
backbone is `AutoModel.from_config(config)` with the family's weight init and loading rules.
"""
from __future__ import annotations

import importlib

from transformers.modeling_layers import GenericForSequenceClassification
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING, MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING

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
