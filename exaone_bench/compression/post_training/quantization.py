"""What the weight-only quantization transforms share: torchao's `quantize_` on the targets, and what it stored.

torchao replaces each target weight by a tensor subclass holding integer values (`qdata`) and
their scales (and zero points); what is measured back from those inner tensors is the bit-width
the values actually span, the bytes they occupy in memory, and the bytes they would occupy
packed at that bit-width (two int4 values per byte). On a CPU the forward dequantizes: torchao's
weight-only linear casts the integers back to floats on every call and runs a float matmul, so a
quantized row is smaller, not faster; its record names that kernel so the report can say so.
"""
from __future__ import annotations

import math

import torch

from exaone_bench.compression.post_training.scope import targets


def quantize(model, config, kernel: str) -> dict:
    """Apply torchao `config` to every target linear; return the measured storage of the new weights."""
    from torchao.quantization import quantize_

    modules = targets(model)
    dense = sum(m.weight.numel() * m.weight.element_size() for m in modules.values())
    wanted = set(map(id, modules.values()))
    quantize_(model, config, filter_fn=lambda module, fqn: id(module) in wanted)
    return {"modules": sorted(modules), "kernel": kernel, "measured": measured(modules, dense)}


def measured(modules: dict, dense_bytes: int) -> dict:
    """Bits spanned by the stored integers, their group size, and bytes in memory / packed / as dense floats."""
    lo = hi = 0
    in_memory = packed_values = extra = 0
    groups = set()
    for m in modules.values():
        w = m.weight
        q = w.qdata
        lo, hi = min(lo, int(q.min())), max(hi, int(q.max()))
        groups.add("row" if w.block_size[-1] == m.in_features else w.block_size[-1])
        in_memory += sum(getattr(w, name).numel() * getattr(w, name).element_size() for name in w.tensor_data_names)
        packed_values += q.numel()
        extra += sum(getattr(w, name).numel() * getattr(w, name).element_size()
                     for name in w.tensor_data_names if name != "qdata")
    bits = math.ceil(math.log2(hi - lo + 1))
    return {"bits": bits, "value_range": [lo, hi], "group_size": groups.pop() if len(groups) == 1 else sorted(map(str, groups)),
            "in_memory_bytes": in_memory,
            "packed_bytes": math.ceil(packed_values * bits / 8) + extra, "dense_bytes": dense_bytes,
            "weight_type": type(next(iter(modules.values())).weight).__name__}


def dequantized(model) -> dict[str, torch.Tensor]:
    """name -> the float weight each quantized target stands for (what its forward computes with)."""
    return {name: m.weight.dequantize() for name, m in targets(model).items()}
