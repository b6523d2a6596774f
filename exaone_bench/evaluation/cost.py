"""Bytes on disk, measured the same way for every model: its safetensors file, and that file after zstd.

A row's size in the report is what a user would ship: the weights as `safetensors` writes them
(shared tensors such as tied embeddings stored once) and the same bytes after lossless zstd at a
stated level, which is where zeros left by unstructured sparsity become smaller files.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from exaone_bench.models.architecture import head_dim

ZSTD_LEVEL = 3  # zstd's default: the level a user gets from `zstd FILE`


def safetensors_file(model, path: Path) -> int:
    """Write the model's weights to `path` with safetensors (shared tensors once); return its bytes.

    Weights quantized by torchao (tensor subclasses) are written as torchao's safetensors support
    flattens them: their integer values, scales and zero points as plain tensors, the layout in
    the file's metadata, which is how transformers saves a torchao-quantized model.
    """
    import torch
    from safetensors.torch import save_file, save_model

    state = model.state_dict()
    if all(type(t) in (torch.Tensor, torch.nn.Parameter) for t in state.values()):
        save_model(model, str(path))
        return path.stat().st_size
    from torchao.prototype.safetensors.safetensors_support import flatten_tensor_state_dict

    unique, seen = {}, set()
    for name, t in state.items():  # tied tensors once, as save_model does
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape)) if type(t) is torch.Tensor else name
        if key not in seen:
            seen.add(key)
            unique[name] = t
    tensors, metadata = flatten_tensor_state_dict(unique)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
    return path.stat().st_size


def zstd_bytes(path: Path, level: int = ZSTD_LEVEL) -> int:
    """Bytes of `path` compressed by zstd at `level`, streamed (a large checkpoint never sits in memory)."""
    import zstandard

    counter = _Counter()
    with open(path, "rb") as f, zstandard.ZstdCompressor(level=level).stream_writer(counter, closefd=False) as w:
        while block := f.read(1 << 22):
            w.write(block)
    return counter.n


class _Counter:
    """A write-only sink that counts what is written to it."""

    def __init__(self):
        self.n = 0

    def write(self, data) -> int:
        self.n += len(data)
        return len(data)

    def flush(self):
        pass


def on_disk(model, level: int = ZSTD_LEVEL) -> dict:
    """{"safetensors_bytes", "zstd_bytes", "zstd_level"} of the model's weights."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        raw = safetensors_file(model, path)
        return {"safetensors_bytes": raw, "zstd_bytes": zstd_bytes(path, level), "zstd_level": level}


def layer_flops(config, seq_len: float, mlp: str = "dense") -> tuple[float, float]:
    """One decoder layer's forward FLOPs per token: (query side: q/o projections, attention, MLP; keys and values).

    A sparse (MoE) layer's MLP counts what a token runs through: its router, its top-k routed
    experts and the shared experts, not every expert it holds.
    """
    h, hd = config.hidden_size, head_dim(config)
    q, kv = config.num_attention_heads, config.num_key_value_heads
    if mlp == "sparse":
        active = config.num_experts_per_tok + getattr(config, "num_shared_experts", 0)
        mlp_flops = 2 * 3 * h * config.moe_intermediate_size * active + 2 * h * config.num_experts
    else:
        mlp_flops = 2 * 3 * h * config.intermediate_size
    return 2 * h * q * hd * 2 + mlp_flops + 2 * 2 * q * hd * seq_len, 2 * h * kv * hd * 2


def flops_per_token(config, seq_len: int, with_lm_head: bool = False) -> float:
    """Analytic forward FLOPs per token: 2 x matmul weights + attention over `seq_len` context."""
    h = config.hidden_size
    head = 2 * h * config.vocab_size if with_lm_head else 2 * h * getattr(config, "num_labels", 2)
    kinds = getattr(config, "mlp_layer_types", None) or ["dense"] * config.num_hidden_layers
    return float(sum(sum(layer_flops(config, seq_len, kind)) for kind in kinds) + head)
