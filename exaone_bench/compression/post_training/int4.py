"""int4 weight-only quantization, group-wise (torchao `IntxWeightOnlyConfig(int4, PerGroup(g))`).

Each row's weights are quantized in groups of `group_size` consecutive inputs, each group with its
own scale and zero point. torchao's tinygemm int4 path (`Int4WeightOnlyConfig`) needs a GPU or
the mslk kernels; on a CPU the values are held unpacked in int8 and dequantized per call.
"""
from __future__ import annotations

from exaone_bench.compression.post_training import quantization
from exaone_bench.compression.post_training.scope import targets
from exaone_bench.core.validate import SpecError, as_int, check_keys

NAME = "int4"


KERNEL = "torchao IntxUnpackedToInt8Tensor: int4 values held in int8, dequantized on every call, then a float linear"


def check(spec, where: str) -> dict:
    spec = spec or {}
    check_keys(spec, ("group_size",), where)
    group = as_int(spec.get("group_size", 32), f"{where}.group_size", 2, 1 << 16)
    if group & (group - 1):
        raise SpecError(f"{where}.group_size: expected a power of two, got {group}")
    return {"group_size": group}


def apply(model, spec: dict, calib=None) -> dict:
    import torch
    from torchao.quantization import IntxWeightOnlyConfig
    from torchao.quantization.granularity import PerGroup

    widths = {m.in_features for m in targets(model).values()}
    uneven = sorted(w for w in widths if w % spec["group_size"])
    if uneven:
        raise SpecError(f"int4.group_size: {spec['group_size']} does not divide the input widths {uneven}")
    config = IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(spec["group_size"]))
    return quantization.quantize(model, config, KERNEL)


def words(record: dict) -> str:
    m = record["measured"]
    return f"int4 weights ({m['bits']} bits measured), groups of {m['group_size']}"
