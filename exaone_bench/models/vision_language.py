"""EXAONE 4.5's text tower as a causal LM of its own, sharing its modules with the vision-language model.

`Exaone4_5_ForConditionalGeneration` holds a vision tower (`model.visual`) and an EXAONE 4 text
decoder (`model.language_model`, `lm_head`, config `text_config`). The suite fine-tunes and cuts
text only, so `load_model` hands it the tower: an `Exaone4ForCausalLM` whose decoder, head and
config *are* the vision-language model's (the same objects, nothing copied). Every strategy cuts
the tower in place, and `full_model` gives back the vision-language model, vision tower untouched,
which is what a compressed variant saves.
"""
from __future__ import annotations

import torch
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

from exaone_bench.models.architecture import FULL, full_model, is_vision_language


def text_tower(vlm):
    """The causal LM made of `vlm`'s own language model, head and text config."""
    text = vlm.config.get_text_config()
    with torch.device("meta"):  # its own modules are replaced at once: nothing is allocated
        tower = MODEL_FOR_CAUSAL_LM_MAPPING[type(text)](text)
    tower.model, tower.lm_head = vlm.model.language_model, vlm.lm_head
    tower.config = text
    tower.__dict__[FULL] = vlm  # a plain attribute: its parameters are not the tower's
    return tower.eval()


__all__ = ["full_model", "is_vision_language", "text_tower"]
