"""int8 weight-only quantization (torchao `Int8WeightOnlyConfig`): one symmetric scale per output row."""
from __future__ import annotations

from exaone_bench.compression.post_training import quantization
from exaone_bench.core.validate import check_keys

NAME = "int8"


KERNEL = "torchao Int8Tensor weight-only: int8 weights cast to float on every call, then a float matmul"


def check(spec, where: str) -> dict:
    check_keys(spec or {}, (), where)
    return {}


def apply(model, spec: dict, calib=None) -> dict:
    from torchao.quantization import Int8WeightOnlyConfig

    return quantization.quantize(model, Int8WeightOnlyConfig(), KERNEL)


def words(record: dict) -> str:
    m = record["measured"]
    return f"int8 weights ({m['bits']} bits measured), one scale per row"
