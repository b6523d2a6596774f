"""Unstructured magnitude pruning: zero the smallest |W| of each target matrix (or of each row)."""
from __future__ import annotations

from exaone_bench.compression.post_training import pruning
from exaone_bench.compression.post_training.scope import targets
from exaone_bench.core.validate import SpecError, check_keys

NAME = "magnitude"


def check(spec, where: str) -> dict:
    check_keys(spec, ("sparsity", "per"), where)
    per = spec.get("per", "matrix")
    if per not in ("matrix", "row"):
        raise SpecError(f"{where}.per: '{per}' is not one of matrix, row")
    return {"sparsity": pruning.sparsity_of(spec, where), "per": per}


def apply(model, spec: dict, calib=None) -> dict:
    modules = targets(model)
    masks = {name: pruning.keep_top(m.weight.detach().abs().float(), spec["sparsity"], spec["per"])
             for name, m in modules.items()}
    return {"modules": sorted(modules), "measured": pruning.prune(modules, masks)}


def words(record: dict) -> str:
    return f"{100 * record['measured']['sparsity']:.1f} % of decoder weights zero (smallest |W| per {record['spec']['per']})"
