"""Feature distillation: a term that regresses the student's pooled hidden state onto the teacher's features of the same text.

Two-class soft labels tell a student one number per text; the teacher's final hidden state at
the text's last token tells it hundreds (FitNets, Romero et al. 2015; TinyBERT, Jiao et al. 2020
match hidden states for the same reason). The teacher's features are standardised and reduced to
their top principal components, scaled to unit mean variance per component, and a learned linear
map takes the student's pooled state (the input of its `score` head) to them; the term is the
mean squared error, times its weight. The map is thrown away after training.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from exaone_bench.models.pooling import pooled_index


def targets(features: np.ndarray, dims: int) -> np.ndarray:
    """(n, dims) fp32: standardised features on their top principal directions, unit mean variance per direction."""
    x = features.astype(np.float64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    _, _, vt = np.linalg.svd(x[:: max(1, len(x) // 20000)], full_matrices=False)  # directions from a subsample: fast, stable
    z = x @ vt[:dims].T
    return (z / np.sqrt((z**2).mean())).astype(np.float32)


class FeatureMatch(torch.nn.Module):
    """The auxiliary loss: weight x MSE(map(pooled student state), teacher target) over a batch's rows."""

    def __init__(self, target: np.ndarray, width: int, weight: float, pad_token_id: int | None):
        super().__init__()
        self.register_buffer("target", torch.as_tensor(target), persistent=False)
        self.map = torch.nn.Linear(width, target.shape[1])
        self.weight, self.pad_token_id = weight, pad_token_id

    def forward(self, index: np.ndarray, hidden: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        pooled = hidden[rows, pooled_index(input_ids, self.pad_token_id).to(hidden.device)].float()
        target = self.target[torch.as_tensor(index)].to(hidden.device)
        return self.weight * F.mse_loss(self.map(pooled), target)
