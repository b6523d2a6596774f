"""Causal-LM loss on token batches or texts: the structural damage a cut does before any recovery."""
from __future__ import annotations

import numpy as np
import torch

from exaone_bench.data.batches import pad


@torch.no_grad()
def lm_loss(causal_lm, batches) -> float:
    """Next-token cross-entropy (nats/token) of a causal LM over `batches`, padding excluded.

    Each batch is a (n, len) tensor of token ids (every position real) or an (ids, mask) pair.
    The one LM loss of the package: the suite's damage measure and the reference's hold-out losses.
    """
    causal_lm.eval()
    total, count = 0.0, 0
    for batch in batches:
        x, mask = batch if isinstance(batch, tuple) else (batch, torch.ones_like(batch))
        x, mask = x.to(causal_lm.device), mask.to(causal_lm.device)
        logits = causal_lm(input_ids=x, attention_mask=mask).logits[:, :-1].float()
        target = x[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                 ignore_index=-100, reduction="sum")
        total += float(loss)
        count += int((target != -100).sum())
    return total / max(count, 1)


def lm_loss_on_texts(causal_lm, tokenizer, texts: list[str], batch_size: int = 64, max_length: int = 128) -> float:
    """Held-out next-token cross-entropy (nats/token) of a causal LM on `texts`, in length-sorted batches."""
    ids = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    ids = [x for x in ids if len(x) > 1]
    order = np.argsort([len(x) for x in ids], kind="stable")  # length-sorted batches: little padding
    return lm_loss(causal_lm, (pad([ids[i] for i in order[j : j + batch_size]], pad_id=0)
                               for j in range(0, len(order), batch_size)))
