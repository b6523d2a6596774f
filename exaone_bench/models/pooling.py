"""The classifier reads one token per review, so the last decoder layer computes most of itself there only.

A sequence classifier pools the last non-padding token after the last decoder layer. Inside that
layer, the other positions reach the pooled one only through keys and values: the query
projection, the attention output projection and the MLP are position-wise, and their results at
every other position are thrown away. `last_token_only` runs those three at the pooled token alone
(zeros elsewhere), like transformers' `logits_to_keep` does for a causal LM's head. The pooled
logits and every gradient are unchanged up to float rounding, and a fine-tune step saves the
last layer's position-wise FLOPs at every other position.
"""
from __future__ import annotations

import contextlib

import torch

from exaone_bench.models.architecture import decoder_layers

POSITION_WISE = ("self_attn.q_proj", "self_attn.o_proj", "mlp")  # the last layer's parts run at one token


ACTIVE = "_exaone_bench_last_token_only"


def pooled_index(input_ids: torch.Tensor, pad_token_id: int | None) -> torch.Tensor:
    """The position a transformers sequence classifier pools: the rightmost non-padding token."""
    if pad_token_id is None:
        return torch.full((input_ids.shape[0],), input_ids.shape[-1] - 1, dtype=torch.long, device=input_ids.device)
    positions = torch.arange(input_ids.shape[-1], device=input_ids.device)
    return (positions * (input_ids != pad_token_id)).argmax(-1)


@contextlib.contextmanager
def last_token_only(model):
    """Within the block, a *ForSequenceClassification runs its last layer's position-wise parts at the pooled token.

    A model without a `score` head (nothing is pooled) is left as it is, and so is one already
    inside this block (validation during training). Every hook is removed on exit.
    """
    if getattr(model, "score", None) is None or getattr(model, ACTIVE, False):
        yield model
        return
    layer = decoder_layers(model)[-1]
    where: dict = {}

    def read_input_ids(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        where.clear()
        if ids is not None:  # inputs_embeds alone: nothing says where the padding is, run every position
            where["rows"] = torch.arange(ids.shape[0], device=ids.device)
            where["cols"] = pooled_index(ids, model.config.pad_token_id)

    def gather(module, args):
        if not where:
            return None
        x = args[0]
        where["shape"] = x.shape[:2]
        return (x[where["rows"].to(x.device), where["cols"].to(x.device)].unsqueeze(1), *args[1:])

    def scatter(module, args, out):
        if not where:
            return None
        full = out.new_zeros((*where["shape"], out.shape[-1]))
        return full.index_put((where["rows"].to(out.device), where["cols"].to(out.device)), out[:, 0])

    handles = [model.register_forward_pre_hook(read_input_ids, with_kwargs=True)]
    for name in POSITION_WISE:
        part = layer.get_submodule(name)
        handles += [part.register_forward_pre_hook(gather), part.register_forward_hook(scatter)]
    setattr(model, ACTIVE, True)
    try:
        yield model
    finally:
        for h in handles:
            h.remove()
        setattr(model, ACTIVE, False)
