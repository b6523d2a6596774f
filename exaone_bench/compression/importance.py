"""Importance scores: one number per layer, head, channel or token; higher means more important.

Scores are separate from cutting: each is registered here under its name and the unit it ranks,
a strategy's `by:` accepts the names registered for its units, and `compute` runs one.
All scores run on a fixed calibration batch of token ids (no padding), in eval mode, fp32.
- block_influence: 1 - cos(input, output) of each decoder layer (ShortGPT, Men et al. 2024).
- angular_distance: arccos(cos(h_l, h_{l+n})) / pi for each block of n layers (Gromov et al. 2024).
- head_importance: |dL/d mask| of a per-head gate on the attention output (Michel et al. 2019).
- mlp_channel_importance: mean |activation into down_proj| x ||down_proj column|| per channel.
- hidden_channel_importance: mean |residual stream| over layers x ||embedding column||.
- token_frequency: how often each token id occurs in the tokenised dataset texts.
- routing_frequency: how often a MoE's router sends a calibration token to each routed expert.
"""
from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import torch

from exaone_bench.compression.calibration import Calibration, MissingCalibration
from exaone_bench.core.registry import Registry
from exaone_bench.core.validate import SpecError
from exaone_bench.models.architecture import backbone, decoder_layers, dense_mlps, head_dim, sparse_blocks


@dataclass(frozen=True)
class Score:
    """A registered score: the unit it ranks and its function, fn(model, calib, **kw) -> one number per unit."""

    name: str
    unit: str
    fn: Callable


SCORES = Registry("score")


def score(unit: str):
    """Register a score function under its own name for `unit`; every score reads what it needs from `calib`."""
    def register(fn):
        SCORES.register(fn.__name__, Score(fn.__name__, unit, fn))
        return fn
    return register


def for_units(*units: str) -> tuple[str, ...]:
    """The names of the scores that rank any of `units`, in registration order."""
    return tuple(name for name, s in SCORES.items() if s.unit in units)


def compute(name: str, model, calib: Calibration, where: str, **kwargs) -> torch.Tensor:
    """Run score `name` on the model and the calibration sample; a missing sample is named at `where`."""
    try:
        return SCORES[name].fn(model, calib, **kwargs)
    except MissingCalibration as e:
        raise SpecError(f"{where}: {e}") from e


@contextlib.contextmanager
def _hooks(handles: list):
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _layer_io(model, input_ids: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, output) hidden states of every decoder layer on the calibration batch."""
    io = []

    def grab(module, args, kwargs, output):
        hidden_in = args[0] if args else kwargs["hidden_states"]
        hidden_out = output[0] if isinstance(output, tuple) else output
        io.append((hidden_in.detach().float(), hidden_out.detach().float()))

    layers = decoder_layers(model)
    with _hooks([l.register_forward_hook(grab, with_kwargs=True) for l in layers]), torch.no_grad():
        model.eval()
        backbone(model)(input_ids=input_ids.to(model.device))
    return io


def _mean_cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a, b, dim=-1).mean()


@score("layer")
def block_influence(model, calib: Calibration) -> torch.Tensor:
    """Per layer: 1 - mean cosine similarity between the layer's input and output hidden states."""
    input_ids = calib.require_ids()
    return torch.stack([1 - _mean_cos(h_in, h_out) for h_in, h_out in _layer_io(model, input_ids)]).cpu()


@score("layer_block")
def angular_distance(model, calib: Calibration, n: int = 1) -> torch.Tensor:
    """Per start index l: angular distance between the input of layer l and the output of l+n-1."""
    input_ids = calib.require_ids()
    io = _layer_io(model, input_ids)
    return torch.stack([
        torch.arccos(_mean_cos(io[l][0], io[l + n - 1][1]).clamp(-1, 1)) / torch.pi
        for l in range(len(io) - n + 1)
    ]).cpu()


@score("head")
def head_importance(model, calib: Calibration) -> torch.Tensor:
    """(layers, heads): |dLoss/dGate| of a gate multiplying each head's output before o_proj."""
    input_ids = calib.require_ids()
    cfg = model.config
    n_heads, hd = cfg.num_attention_heads, head_dim(cfg)
    gates = [torch.ones(n_heads, requires_grad=True) for _ in decoder_layers(model)]

    def gate(g):
        def pre(module, args):
            x = args[0]
            return (x * g.repeat_interleave(hd).to(x),)
        return pre

    handles = [l.self_attn.o_proj.register_forward_pre_hook(gate(g)) for l, g in zip(decoder_layers(model), gates)]
    # Only the gates need gradients: weight gradients would double the model's memory.
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        with _hooks(handles):
            model.eval()
            ids = input_ids.to(model.device)
            model(input_ids=ids, labels=ids).loss.backward()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return torch.stack([g.grad.abs() for g in gates])


@score("mlp_channel")
def mlp_channel_importance(model, calib: Calibration) -> torch.Tensor:
    """(dense layers, intermediate): mean |activation| entering down_proj x L2 norm of its weight column."""
    input_ids = calib.require_ids()
    acts = []

    def grab(module, args):
        acts.append(args[0].detach().float().abs().flatten(0, -2).mean(0))

    mlps = [mlp for _, mlp in dense_mlps(model)]  # every layer, except a MoE's sparse ones
    with _hooks([m.down_proj.register_forward_pre_hook(grab) for m in mlps]), torch.no_grad():
        model.eval()
        backbone(model)(input_ids=input_ids.to(model.device))
    norms = torch.stack([m.down_proj.weight.detach().float().norm(dim=0) for m in mlps])
    return (torch.stack(acts) * norms).cpu()


@score("expert")
def routing_frequency(model, calib: Calibration) -> torch.Tensor:
    """(sparse layers, experts): share of calibration tokens whose top-k routing picks each expert.

    Read from the router's own output (its top-k indices), so it counts exactly what the forward
    pass computes with; a row sums to num_experts_per_tok.
    """
    input_ids = calib.require_ids()
    shares = []

    def grab(module, args, output):
        top_k_index = output[-1]
        shares.append(torch.bincount(top_k_index.flatten(), minlength=module.num_experts).float() / top_k_index.shape[0])

    blocks = sparse_blocks(model)
    with _hooks([block.gate.register_forward_hook(grab) for _, block in blocks]), torch.no_grad():
        model.eval()
        backbone(model)(input_ids=input_ids.to(model.device))
    return torch.stack(shares).cpu()


@score("hidden_channel")
def hidden_channel_importance(model, calib: Calibration) -> torch.Tensor:
    """(hidden,): mean |residual-stream value| over all layer outputs x embedding column norm."""
    input_ids = calib.require_ids()
    io = _layer_io(model, input_ids)
    magnitude = torch.stack([h_out.abs().flatten(0, -2).mean(0) for _, h_out in io]).mean(0)
    return (magnitude * backbone(model).embed_tokens.weight.detach().float().norm(dim=0)).cpu()


@score("token")
def token_frequency(model, calib: Calibration) -> torch.Tensor:
    """(vocab,): occurrences of each token id when the calibration texts are tokenised without special tokens."""
    texts, tokenizer = calib.require_texts()
    vocab_size = model.config.vocab_size
    counts = Counter()
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        counts.update(ids)
    freq = torch.zeros(vocab_size, dtype=torch.long)
    for i, c in counts.items():
        freq[i] = c
    return freq
