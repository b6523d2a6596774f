"""The per-parameter table: one row per learnable tensor with shape, rank and distribution stats.

Rank is the exact numerical rank from singular values (fp32 SVD; fp64 Gram for very tall matrices): the count of sigma_i > tol with
tol = sigma_max * max(rows, cols) * eps(fp32) (the NumPy `matrix_rank` default). Sparsity is the
share of entries with |x| <= `zero_threshold` (default 1e-8). Tensors are streamed one at a time
from the safetensors files; the same statistics can be computed from an in-memory model.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator

import torch

log = logging.getLogger(__name__)


COLUMNS = ["model_path", "model_id", "revision", "param_name", "layer_index", "block_type", "shape", "rows",
           "cols", "rank", "mean", "std", "var", "sparsity", "dtype", "created_at",
           "numel", "stable_rank", "effective_rank", "frobenius_norm", "spectral_norm", "top_sv_share", "note"]


# EXAONE 4 names first; Llama names map onto the same block types, and so do EXAONE 3.x's GPT-style
# names as its checkpoints store them (transformers renames them to Llama's when it loads them).
BLOCK_TYPES = {
    "embed_tokens": "embedding", "q_proj": "q_proj", "k_proj": "k_proj", "v_proj": "v_proj", "o_proj": "o_proj",
    "q_norm": "q_norm", "k_norm": "k_norm", "gate_proj": "gate_proj", "up_proj": "up_proj",
    "down_proj": "down_proj", "post_attention_layernorm": "post_attention_layernorm",
    "post_feedforward_layernorm": "post_feedforward_layernorm", "input_layernorm": "input_layernorm",
    "norm": "norm", "lm_head": "lm_head", "score": "score",
    # EXAONE 3.x (model_type exaone): transformer.h.N.attn.attention.*, mlp.c_fc_0/c_fc_1/c_proj, ln_1/ln_2
    "wte": "embedding", "out_proj": "o_proj", "c_fc_0": "gate_proj", "c_fc_1": "up_proj", "c_proj": "down_proj",
    "ln_1": "input_layernorm", "ln_2": "post_attention_layernorm", "ln_f": "norm",
    # K-EXAONE (exaone_moe): the router of a sparse layer and its correction bias
    "gate": "router", "e_score_correction_bias": "router_bias",
}


# Inside a sparse MoE layer the same projection names belong to a routed or a shared expert.
EXPERT_PREFIX = {"experts": "expert_", "shared_experts": "shared_expert_"}


ORDER = ["input_layernorm", "q_proj", "k_proj", "v_proj", "q_norm", "k_norm", "o_proj", "post_attention_layernorm",
         "gate_proj", "up_proj", "down_proj", "router", "router_bias", "expert_gate_proj", "expert_up_proj",
         "expert_down_proj", "shared_expert_gate_proj", "shared_expert_up_proj", "shared_expert_down_proj",
         "post_feedforward_layernorm", "embedding", "norm", "lm_head", "score"]


LAYER = re.compile(r"(?:^|\.)(?:layers|h)\.(\d+)\.")


VISION = re.compile(r"(?:^|\.)(?:visual|vision_tower|vision_model)\.")


def block_type(name: str) -> str:
    """Block type of a parameter name, from the module that owns the weight.

    Tensors of a vision tower (EXAONE 4.5) are labelled `vision:<owner>`: no language-model
    strategy reads or cuts them.
    """
    parts = name.split(".")
    owner = parts[-2] if len(parts) >= 2 and parts[-1] in ("weight", "bias") else parts[-1]
    if VISION.search(name):
        return f"vision:{owner}"
    for part in parts[:-1]:
        if part in EXPERT_PREFIX and owner in ("gate_proj", "up_proj", "down_proj", "gate_up_proj"):
            return EXPERT_PREFIX[part] + owner
    if owner in EXPERT_PREFIX and parts[-1] in ("gate_up_proj", "down_proj"):  # fused in memory: experts.down_proj
        return EXPERT_PREFIX[owner] + parts[-1]
    return BLOCK_TYPES.get(owner, owner)


def layer_index(name: str) -> int | None:
    """The decoder layer a tensor belongs to (None for embeddings, final norm, heads and vision towers)."""
    if VISION.search(name):
        return None
    m = LAYER.search(name)
    return int(m.group(1)) if m else None


def sort_key(row: dict):
    """Numeric layer order; inside a layer the forward order; embedding, norm, lm_head last."""
    layer = row["layer_index"]
    kind = ORDER.index(row["block_type"]) if row["block_type"] in ORDER else len(ORDER)
    return (layer is None, layer if layer is not None else 0, kind, row["param_name"])


GRAM_ASPECT = 8  # matrices at least this many times taller than wide go through the Gram matrix


GRAM_CHUNK = 8192


def spectrum(matrix: torch.Tensor) -> torch.Tensor:
    """Singular values, descending.

    fp32 LAPACK on the tall orientation (2x faster here than wide, same values). A very tall matrix such as a
    102400 x 2048 embedding instead accumulates its 2048 x 2048 Gram matrix in fp64 chunk by
    chunk: sigma = sqrt(eig(W^T W)). In fp64 the Gram error (~sqrt(n * 1e-16) sigma_max) is far
    below the rank tolerance, and memory stays at one chunk instead of LAPACK's full copy.
    """
    rows, cols = matrix.shape
    if max(rows, cols) >= GRAM_ASPECT * min(rows, cols):
        m = matrix if rows >= cols else matrix.T
        gram = torch.zeros(m.shape[1], m.shape[1], dtype=torch.float64)
        for i in range(0, m.shape[0], GRAM_CHUNK):
            block = m[i : i + GRAM_CHUNK].double()
            gram.addmm_(block.T, block)
        return torch.linalg.eigvalsh(gram).clamp_min(0).sqrt().flip(0).float()
    m = matrix.float()
    return torch.linalg.svdvals(m.T if rows < cols else m)


def _moments(tensor: torch.Tensor, zero_threshold: float, chunk_elems: int = 1 << 24) -> tuple:
    """(mean, sample var, share of |x| <= threshold, Frobenius norm) in fp64, a chunk at a time.

    No full-size fp32 copy is made: a 102400 x 2048 bf16 embedding stays 400 MB, not 1.2 GB.
    """
    flat = tensor.detach().reshape(-1)
    n = flat.numel()
    total = sq = 0.0
    zeros = 0
    for i in range(0, n, chunk_elems):
        c = flat[i : i + chunk_elems].double()
        total += float(c.sum())
        sq += float((c * c).sum())
        zeros += int((c.abs() <= zero_threshold).sum())
    mean = total / n
    var = max(sq - n * mean * mean, 0.0) / (n - 1) if n > 1 else 0.0
    return mean, var, zeros / n, math.sqrt(sq)


def tensor_stats(tensor: torch.Tensor, zero_threshold: float = 1e-8, with_rank: bool = True) -> dict:
    """Distribution and spectral statistics of one tensor (spectral ones only for 2-D)."""
    mean, var, sparsity, frobenius = _moments(tensor, zero_threshold)
    row = {
        "shape": "x".join(map(str, tensor.shape)), "numel": tensor.numel(),
        "rows": tensor.shape[0] if tensor.dim() else 1, "cols": tensor.shape[1] if tensor.dim() == 2 else 1,
        "mean": mean, "std": math.sqrt(var), "var": var, "sparsity": sparsity,
        "dtype": str(tensor.dtype).replace("torch.", ""), "frobenius_norm": frobenius,
        "rank": None, "stable_rank": None, "effective_rank": None, "spectral_norm": None, "top_sv_share": None,
    }
    if with_rank and tensor.dim() == 2:
        s = spectrum(tensor.detach())
        smax = float(s[0]) if len(s) else 0.0
        tol = smax * max(tensor.shape) * torch.finfo(torch.float32).eps
        p = s / s.sum() if smax > 0 else s
        row.update(
            rank=int((s > tol).sum()), spectral_norm=smax,
            stable_rank=frobenius**2 / smax**2 if smax > 0 else 0.0,
            effective_rank=float(torch.exp(-(p[p > 0] * p[p > 0].log()).sum())) if smax > 0 else 0.0,
            top_sv_share=smax / float(s.sum()) if smax > 0 else 0.0,
        )
    return row


@dataclass
class TableContext:
    """Provenance columns repeated on every row."""

    model_path: str
    model_id: str
    revision: str | None = None
    tied_embeddings: bool = False
    zero_threshold: float = 1e-8
    created_at: str = ""

    def __post_init__(self):
        self.created_at = self.created_at or datetime.now(timezone.utc).isoformat(timespec="seconds")


def rows_from(tensors: Iterable[tuple[str, torch.Tensor]], ctx: TableContext, progress=None,
              skipped: list | None = None) -> Iterator[dict]:
    """One row per tensor; a tied lm_head is reported once, on the embedding row."""
    for name, tensor in tensors:
        if progress is not None:
            progress.set_postfix_str(name[-40:], refresh=False)
            progress.update(1)
        kind = block_type(name)
        if kind == "lm_head" and ctx.tied_embeddings:
            continue  # the same tensor as embed_tokens: counted once
        try:
            stats = tensor_stats(tensor, ctx.zero_threshold)
        except Exception as e:  # a tensor LAPACK cannot handle is reported, not fatal
            log.warning("skipped %s %s: %s", name, tuple(tensor.shape), e)
            if skipped is not None:
                skipped.append({"param_name": name, "shape": tuple(tensor.shape), "error": str(e)})
            continue
        note = "tied: lm_head.weight is this tensor" if kind == "embedding" and ctx.tied_embeddings else ""
        yield {"model_path": ctx.model_path, "model_id": ctx.model_id, "revision": ctx.revision, "param_name": name,
               "layer_index": layer_index(name), "block_type": kind, "created_at": ctx.created_at, "note": note,
               **stats}


def build_table(tensors, ctx: TableContext, progress=None, skipped=None):
    """A pandas DataFrame with the contract columns first, sorted by numeric layer index."""
    import pandas as pd

    rows = sorted(rows_from(tensors, ctx, progress, skipped), key=sort_key)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["layer_index"] = frame["layer_index"].astype("Int64")
    frame["rank"] = frame["rank"].astype("Int64")
    return frame


def model_tensors(model) -> Iterator[tuple[str, torch.Tensor]]:
    """In-memory (name, tensor) pairs of a model, each shared tensor once."""
    seen = set()
    for name, p in model.named_parameters(remove_duplicate=False):
        if p.data_ptr() in seen and block_type(name) != "lm_head":
            continue
        seen.add(p.data_ptr())
        yield name, p.detach()
