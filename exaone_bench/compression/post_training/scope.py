"""Which weights a post-training transform changes: the decoder layers' linear maps."""
from __future__ import annotations

from torch import nn

from exaone_bench.models.architecture import decoder_layers


def targets(model) -> dict[str, nn.Linear]:
    """name -> every nn.Linear inside the decoder layers (attention and MLP projections).

    Embeddings, the LM head and a classifier's score head keep full precision, as in Wanda,
    SparseGPT and weight-only quantization recipes.
    """
    out = {}
    for i, layer in enumerate(decoder_layers(model)):
        for name, module in layer.named_modules():
            if isinstance(module, nn.Linear):
                out[f"layers.{i}.{name}"] = module
    return out
