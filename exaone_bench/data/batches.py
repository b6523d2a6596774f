"""Texts turned into model inputs: encoded rows, padded batches and EOS-joined token blocks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def token_blocks(tokenizer, texts: list[str], seq_len: int, n: int | None = None, chunk: int = 512):
    """An EOS-joined token stream of `texts`, in their order, cut into (n, seq_len) blocks.

    n=None keeps every complete block (pretraining, held-out LM loss); with n, tokenising stops
    once n blocks are full and fewer tokens than that is an error (calibration needs exactly n).
    """
    import torch

    eos, need, stream = tokenizer.eos_token_id, None if n is None else n * seq_len, []
    for start in range(0, len(texts), chunk):
        # verbose=False: a play longer than model_max_length is cut into blocks below, never fed whole
        for ids in tokenizer(list(texts[start : start + chunk]), add_special_tokens=False, verbose=False)["input_ids"]:
            stream.extend(ids)
            if eos is not None:
                stream.append(eos)
        if need is not None and len(stream) >= need:
            break
    if need is not None and len(stream) < need:
        raise ValueError(f"{n} blocks of {seq_len} tokens need {need} tokens, the texts give {len(stream)}")
    count = len(stream) // seq_len if n is None else n
    return torch.tensor(stream[: count * seq_len], dtype=torch.long).view(count, seq_len)


@dataclass
class Encoded:
    """A tokenised split: token id lists (no padding) and labels."""

    ids: list[list[int]]
    labels: np.ndarray

    def batch(self, index, pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, mask = pad([self.ids[i] for i in index], pad_id)
        return x, mask, torch.as_tensor(self.labels[index], dtype=torch.long)


def pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded token ids and their attention mask, as wide as the longest row."""
    width = max(map(len, rows))
    x = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, ids in enumerate(rows):
        x[r, : len(ids)] = torch.as_tensor(ids)
        mask[r, : len(ids)] = 1
    return x, mask


def encode(tokenizer, texts: list[str], labels, max_length: int) -> Encoded:
    ids = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    ids = [x if x else [tokenizer.eos_token_id] for x in ids]
    return Encoded(ids, np.asarray(labels, dtype=np.int64))
