"""Texts a teacher LM writes for the transfer set: each prompted with training texts, continuing one's first words.

Rule-based copies (data/augment.py) reuse the training texts' own words; a student distilled over
them sees no word the training split lacks. Tang, Lu & Lin (2019) found a transfer set sampled
from a language model prompted with the task's sentences better than rule-based augmentation: the
LM writes new texts of the task's kind, with words and phrasings of its own, and the teacher labels
them like any other. Each prompt shows `SHOTS` training texts as a list and opens the next item
with the first words of another, so the continuation stays a text of the same kind; it ends at the
first line break. Sampling depends on the machine's arithmetic, so the texts are a one-time
output, kept beside the labels that were computed from them (and shipped with them); only
training texts are ever shown, never a validation or test text.
"""
from __future__ import annotations

import copy
import random
from collections.abc import Callable

import torch

SHOTS = 3                 # training texts shown before the one the model continues
OPENING = (2, 5)          # how many first words of the continued text stand in the prompt (inclusive)
TOP_P, TEMPERATURE = 0.95, 1.0


def prompts(train_texts: list[str], n: int, seed: int) -> list[str]:
    """`n` prompts, a pure function of the training texts and the seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        shots = rng.sample(train_texts, SHOTS + 1)
        words = shots[-1].split()
        opening = " ".join(words[: rng.randint(*OPENING)])
        out.append("".join(f"- {_one_line(t)}\n" for t in shots[:-1]) + f"- {opening}")
    return out


def _one_line(text: str) -> str:
    return text.strip().replace("\r", " ").replace("\n", " ")


def opening_of(prompt: str) -> str:
    """The continued text's first words: the prompt's last item."""
    return prompt.rsplit("\n- ", 1)[-1]


@torch.no_grad()
def sample(causal_lm, tokenizer, train_texts: list[str], n: int, seed: int, new_tokens: int, batch_size: int,
           bf16: bool, on_batch: Callable[[int, int], None] | None = None) -> list[str]:
    """`n` texts: each prompt's opening and the model's continuation up to its first line break (never empty)."""
    texts_in = prompts(train_texts, n, seed)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    device = next(causal_lm.parameters()).device
    if bf16:  # a bf16 copy writes faster than autocast over fp32 weights (no cast per step); the caller's model stays fp32
        causal_lm = copy.deepcopy(causal_lm).to(torch.bfloat16)
    out = []
    try:
        for i in range(0, n, batch_size):
            batch = texts_in[i : i + batch_size]
            enc = tokenizer(batch, return_tensors="pt", padding=True).to(device)
            torch.manual_seed(seed * 1_000_003 + i)  # each batch's draws depend on its place, not on what ran before
            ids = causal_lm.generate(**enc, do_sample=True, top_p=TOP_P, temperature=TEMPERATURE,
                                     max_new_tokens=new_tokens, pad_token_id=tokenizer.pad_token_id)
            written = tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
            for prompt, text in zip(batch, written):
                line = " ".join((opening_of(prompt) + text.split("\n", 1)[0]).split())
                out.append(line or opening_of(prompt))
            if on_batch is not None:
                on_batch(len(out), n)
    finally:
        tokenizer.padding_side = side
    return out
