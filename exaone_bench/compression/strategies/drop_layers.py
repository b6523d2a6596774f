"""Drop whole decoder layers: `[6, 7]`, or `{count: N, by: block_influence | angular_distance}`.

block_influence removes the N layers that change their input least; angular_distance removes
the contiguous block of N layers whose input and output are closest (Gromov et al.).
"""
from __future__ import annotations

from torch import nn

from exaone_bench.compression.contract import choose_score, scores_for
from exaone_bench.compression.importance import compute
from exaone_bench.core.validate import SpecError, as_index_list, as_int, check_keys
from exaone_bench.models.architecture import PER_LAYER, decoder_layers

NAME = "drop_layers"


UNITS = ("layer", "layer_block")


REMOVED = ("layers", "layers")


def check(config, spec, where: str) -> list[int] | int:
    """Validate the spec against the config alone: the layers to drop, or how many to choose by score."""
    n = config.num_hidden_layers
    if isinstance(spec, list):
        return as_index_list(spec, where, n, "layer")
    check_keys(spec, ("count", "by"), where)
    if "count" not in spec or "by" not in spec:
        raise SpecError(f"{where}: needs both 'count' and 'by' (one of {list(scores_for(UNITS))})")
    count = as_int(spec["count"], f"{where}.count", 1, n - 1)
    choose_score(UNITS, spec["by"], f"{where}.by", default=False)
    return count


def plan(model, spec, calib, where: str) -> dict:
    n = model.config.num_hidden_layers
    drop, scores = check(model.config, spec, where), {}
    if isinstance(drop, int):
        count = drop
        if spec["by"] == "block_influence":  # the `count` layers that change their input least
            score = compute(spec["by"], model, calib, f"{where}.by")
            drop = sorted(score.argsort()[:count].tolist())
        else:  # a contiguous block: scored per start index
            score = compute(spec["by"], model, calib, f"{where}.by", n=count)
            start = int(score.argmin())
            drop = list(range(start, start + count))
        scores[spec["by"]] = [round(float(s), 6) for s in score]
    keep = [i for i in range(n) if i not in drop]
    return {"removed": {"layers": drop}, "kept": {"layers": keep}, "scores": scores}


def cut(model, record, calib=None) -> None:
    keep = record["kept"]["layers"]
    layers = decoder_layers(model)
    kept = nn.ModuleList([layers[i] for i in keep])
    # The KV cache is indexed by layer_idx: a stale index would break generate().
    for new_idx, layer in enumerate(kept):
        layer.self_attn.layer_idx = new_idx
        if hasattr(layer, "layer_idx"):
            layer.layer_idx = new_idx
    model.get_decoder().layers = kept
    # each kept layer keeps its role: sliding or global attention (hybrid EXAONE 4), dense or sparse MLP (MoE)
    for key in PER_LAYER:
        if getattr(model.config, key, None) is not None:
            setattr(model.config, key, [getattr(model.config, key)[i] for i in keep])


def words(removed: dict) -> str:
    """What the report says this strategy removed."""
    return f"layers {removed['layers']}"
