"""What the sparsity transforms share: per-weight scores, the masks they choose, the sparsity they leave.

Unstructured pruning keeps the highest-scoring weights of each comparison group and zeroes the
rest in place (the tensor keeps its shape: sparsity is stored as zeros). Scores are |W|
(magnitude) or |W| * ||X_j|| (Wanda: the weight times the L2 norm of its input feature over the
calibration tokens, Sun et al. 2023).
"""
from __future__ import annotations

import torch
from torch import nn

from exaone_bench.core.validate import SpecError, as_ratio
from exaone_bench.models.architecture import backbone


def input_norms(model, modules: dict[str, nn.Linear], calib) -> dict[str, torch.Tensor]:
    """name -> ||X_j||_2 over every calibration token, per input feature of that linear map."""
    if calib is None or calib.input_ids is None:
        raise SpecError("wanda scores need calibration data (calibration.samples > 0)")
    sums = {name: torch.zeros(m.in_features, dtype=torch.float64) for name, m in modules.items()}

    def grab(name):
        def hook(module, args):
            x = args[0].detach().reshape(-1, module.in_features).double()
            sums[name] += (x * x).sum(0).cpu()
        return hook

    handles = [m.register_forward_pre_hook(grab(name)) for name, m in modules.items()]
    try:
        with torch.no_grad():
            model.eval()
            backbone(model)(input_ids=calib.input_ids.to(next(model.parameters()).device))
    finally:
        for h in handles:
            h.remove()
    return {name: s.sqrt().float() for name, s in sums.items()}


def keep_top(scores: torch.Tensor, sparsity: float, per: str) -> torch.Tensor:
    """A boolean keep-mask: the highest scores of each row (`per: row`) or of the whole matrix."""
    if per == "row":
        drop = int(sparsity * scores.shape[1])
        order = scores.argsort(dim=1)
        mask = torch.ones_like(scores, dtype=torch.bool)
        mask.scatter_(1, order[:, :drop], False)
        return mask
    flat = scores.flatten()
    mask = torch.ones_like(flat, dtype=torch.bool)
    mask[flat.argsort()[: int(sparsity * flat.numel())]] = False
    return mask.view_as(scores)


def keep_n_of_m(scores: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """A keep-mask with the n highest scores of every m consecutive input weights of each row (2:4)."""
    rows, cols = scores.shape
    if cols % m:
        raise SpecError(f"{n}:{m} sparsity needs input widths divisible by {m}, got {cols}")
    groups = scores.reshape(rows, cols // m, m)
    mask = torch.zeros_like(groups, dtype=torch.bool)
    mask.scatter_(2, groups.topk(n, dim=2).indices, True)
    return mask.reshape(rows, cols)


@torch.no_grad()
def prune(modules: dict[str, nn.Linear], masks: dict[str, torch.Tensor]) -> dict:
    """Zero every weight its mask drops; return the sparsity measured from the weights afterwards."""
    for name, module in modules.items():
        module.weight.mul_(masks[name].to(module.weight.device, module.weight.dtype))
    return measured(modules)


def measured(modules: dict[str, nn.Linear]) -> dict:
    """Exact zeros among the target weights, counted from the tensors (not from the masks)."""
    zeros = sum(int((m.weight == 0).sum()) for m in modules.values())
    weights = sum(m.weight.numel() for m in modules.values())
    return {"zeros": zeros, "weights": weights, "sparsity": zeros / weights,
            "per_module": {name: float((m.weight == 0).float().mean()) for name, m in modules.items()}}


def sparsity_of(spec: dict, where: str) -> float:
    return as_ratio(spec.get("sparsity"), f"{where}.sparsity")
