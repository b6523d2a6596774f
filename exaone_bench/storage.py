"""Bytes on disk, measured the same way for every model: its safetensors file, and that file after zstd.

A row's size in the report is what a user would ship: the weights as `safetensors` writes them
(shared tensors such as tied embeddings stored once) and the same bytes after lossless zstd at a
stated level, which is where zeros left by unstructured sparsity become smaller files.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

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


__all__ = ["ZSTD_LEVEL", "on_disk", "safetensors_file", "zstd_bytes"]
