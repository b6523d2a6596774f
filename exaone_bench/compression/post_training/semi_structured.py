"""N:M semi-structured sparsity (2:4 by default): keep the N best of every M consecutive input weights.

The pattern sparse tensor cores accelerate; scores are |W| (`by: magnitude`) or Wanda's
|W| * ||X|| (`by: wanda`). On a CPU the zeros are stored densely: the size and speed it could
buy need a kernel that reads the pattern, which the record does not claim.
"""
from __future__ import annotations

from exaone_bench.compression.post_training import pruning
from exaone_bench.compression.post_training.scope import targets
from exaone_bench.core.validate import SpecError, as_int, check_keys

NAME = "semi_structured"


def check(spec, where: str) -> dict:
    spec = spec or {}
    check_keys(spec, ("n", "m", "by"), where)
    n, m = as_int(spec.get("n", 2), f"{where}.n", 1, 64), as_int(spec.get("m", 4), f"{where}.m", 2, 64)
    if n >= m:
        raise SpecError(f"{where}: keeping {n} of every {m} weights prunes nothing")
    by = spec.get("by", "magnitude")
    if by not in ("magnitude", "wanda"):
        raise SpecError(f"{where}.by: '{by}' is not one of magnitude, wanda")
    return {"n": n, "m": m, "by": by}


def apply(model, spec: dict, calib=None) -> dict:
    modules = targets(model)
    norms = pruning.input_norms(model, modules, calib) if spec["by"] == "wanda" else {}
    masks = {}
    for name, mod in modules.items():
        scores = mod.weight.detach().abs().float()
        if name in norms:
            scores = scores * norms[name].to(scores.device)
        masks[name] = pruning.keep_n_of_m(scores, spec["n"], spec["m"])
    out = pruning.prune(modules, masks)
    return {"modules": sorted(modules), "measured": out}


def words(record: dict) -> str:
    s = record["spec"]
    return f"{s['n']}:{s['m']} by {s['by']}, {100 * record['measured']['sparsity']:.1f} % of decoder weights zero"
