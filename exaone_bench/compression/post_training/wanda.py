"""Wanda: zero the weights with the smallest |W_ij| * ||X_j|| in each output row (Sun et al. 2023).

||X_j|| is the L2 norm of input feature j over the calibration tokens, measured once on the
unpruned model (the paper's one-shot variant): no weight update, no retraining.
"""
from __future__ import annotations

from exaone_bench.compression.post_training import pruning
from exaone_bench.compression.post_training.scope import targets
from exaone_bench.core.validate import check_keys

NAME = "wanda"


def check(spec, where: str) -> dict:
    check_keys(spec, ("sparsity",), where)
    return {"sparsity": pruning.sparsity_of(spec, where)}


def apply(model, spec: dict, calib=None) -> dict:
    modules = targets(model)
    norms = pruning.input_norms(model, modules, calib)
    masks = {name: pruning.keep_top(m.weight.detach().abs().float() * norms[name].to(m.weight.device), spec["sparsity"], "row")
             for name, m in modules.items()}
    return {"modules": sorted(modules), "measured": pruning.prune(modules, masks)}


def words(record: dict) -> str:
    return f"{100 * record['measured']['sparsity']:.1f} % of decoder weights zero (smallest |W|·‖X‖ per row)"
