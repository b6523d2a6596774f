"""GGUF export of a Llama-family causal LM and its byte-level BPE tokenizer, with the `gguf` package's writer.

Offered where transformers can read the file back (`from_pretrained(dir, gguf_file=...)`), so
that every export is checked by reloading it: the Llama family, which includes SmolLM2 and
EXAONE 3.x (transformers loads `exaone` checkpoints as Llama). EXAONE 4 (`exaone4`) is not offered:
transformers' GGUF reader has no such architecture (`reason_not_offered` says so with its list),
so a file written here could not be read back and checked.

Tensors follow llama.cpp's names (`gguf.get_tensor_name_map`); Q and K are permuted as llama.cpp's
converter does (transformers undoes it on load). Types: f32 (exact), f16, or q8_0 (llama.cpp's
8-bit blocks of 32), quantized by `gguf.quants`; norms and 1-D tensors stay f32 as llama.cpp keeps them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

TYPES = ("f32", "f16", "q8_0")


ARCH = "llama"


def supported_architectures() -> list[str]:
    """The architectures transformers reads GGUF files of (its own list, not ours)."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return [a for a in GGUF_SUPPORTED_ARCHITECTURES if a not in ("general", "tokenizer")]


def reason_not_offered(config) -> str:
    """Why a model with this config cannot be exported and read back here; '' when it can."""
    kind = config.model_type
    if kind != ARCH:
        return (f"`{kind}` is not among the architectures transformers reads GGUF files of "
                f"({', '.join(supported_architectures())}), so an export could not be read back and checked")
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        return f"RoPE scaling `{rope.get('rope_type')}` has no GGUF key transformers reads back"
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        return "biased attention or MLP projections are not written by this exporter"
    return ""


def _permute(w: np.ndarray, n_head: int, n_head_kv: int | None) -> np.ndarray:
    """llama.cpp's Q/K row order (rotary halves interleaved per head)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def export(model, tokenizer, out: str | Path, dtype: str = "f32") -> Path:
    """Write `model` (a *ForCausalLM of the Llama family) and its tokenizer to the GGUF file `out`."""
    import gguf

    from exaone_bench.core.validate import SpecError

    reason = reason_not_offered(model.config)
    if reason:
        raise SpecError(f"GGUF export: {reason}")
    if dtype not in TYPES:
        raise SpecError(f"GGUF export: type '{dtype}' is not one of {list(TYPES)}")
    c, out = model.config, Path(out)
    head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    rope = (getattr(c, "rope_parameters", None) or {}).get("rope_theta", getattr(c, "rope_theta", 10000.0))
    w = gguf.GGUFWriter(str(out), ARCH)
    w.add_name(Path(str(getattr(c, "_name_or_path", "") or "model")).name)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(float(rope))
    w.add_layer_norm_rms_eps(float(c.rms_norm_eps))
    w.add_vocab_size(c.vocab_size)
    w.add_file_type({"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                     "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[dtype])
    _tokenizer(w, tokenizer, c.vocab_size)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, c.num_hidden_layers)
    state = model.state_dict()
    if getattr(c, "tie_word_embeddings", False):  # llama.cpp's convention: no output.weight, the embedding is the head
        state.pop("lm_head.weight", None)
    for hf_name, tensor in state.items():
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise SpecError(f"GGUF export: no llama.cpp name for tensor {hf_name}")
        data = tensor.detach().float().cpu().numpy()
        if hf_name.endswith("q_proj.weight"):
            data = _permute(data, c.num_attention_heads, c.num_attention_heads)
        elif hf_name.endswith("k_proj.weight"):
            data = _permute(data, c.num_attention_heads, c.num_key_value_heads)
        _add(w, gguf, name, data, dtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


def _add(w, gguf, name: str, data: np.ndarray, dtype: str) -> None:
    """One tensor at the file's type; 1-D tensors (norms) and rows too short for a block stay f32."""
    if dtype == "f32" or data.ndim < 2:
        w.add_tensor(name, np.ascontiguousarray(data, dtype=np.float32))
    elif dtype == "f16":
        w.add_tensor(name, np.ascontiguousarray(data, dtype=np.float16))
    else:
        kind = gguf.GGMLQuantizationType.Q8_0
        if data.shape[-1] % gguf.GGML_QUANT_SIZES[kind][0]:
            w.add_tensor(name, np.ascontiguousarray(data, dtype=np.float32))
            return
        w.add_tensor(name, gguf.quants.quantize(data, kind), raw_dtype=kind)


def _tokenizer(w, tokenizer, vocab_size: int) -> None:
    """A byte-level BPE tokenizer as llama.cpp's `gpt2` model: tokens in byte-level spelling, merges, specials."""
    import json

    from exaone_bench.core.validate import SpecError

    doc = json.loads(tokenizer.backend_tokenizer.to_str())
    model = doc["model"]
    if model.get("type") != "BPE" or "ByteLevel" not in json.dumps(doc.get("pre_tokenizer")):
        raise SpecError("GGUF export: only byte-level BPE tokenizers are written (llama.cpp's `gpt2` model)")
    vocab = tokenizer.get_vocab()
    tokens = [""] * vocab_size
    for token, index in vocab.items():
        if index < vocab_size:
            tokens[index] = token
    tokens = [t or f"[PAD{i}]" for i, t in enumerate(tokens)]  # an embedding row no token maps to
    special = set(tokenizer.all_special_ids)
    types = [3 if i in special else 1 for i in range(vocab_size)]  # llama.cpp: 1 normal, 3 control
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    for key, add in (("bos_token_id", w.add_bos_token_id), ("eos_token_id", w.add_eos_token_id),
                     ("pad_token_id", w.add_pad_token_id), ("unk_token_id", w.add_unk_token_id)):
        value = getattr(tokenizer, key, None)
        if value is not None:
            add(value)


__all__ = ["TYPES", "export", "reason_not_offered", "supported_architectures"]
