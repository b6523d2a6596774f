"""The transfer set a teacher labels: the training texts, then seeded augmented copies of them.

Tang et al. 2019 distil a task-specific teacher into a small student over the training sentences
plus augmented copies: each word is dropped with probability `drop` or swapped for a random
training word with probability `swap`, and with probability `ngram` only a random 3-8-word span
is kept. The copies are a pure function of the texts and the seed, so every machine builds the
same set; they are made from the training split only, never from validation or test texts.
"""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Augmentation:
    copies: int = 4          # augmented copies of each training text (0: the training texts alone)
    drop: float = 0.1        # per word: dropped
    swap: float = 0.1        # per word: replaced by a random word of the training texts
    ngram: float = 0.25      # per copy: only a random span of 3-8 words is kept
    seed: int = 0


def augmented(text: str, vocabulary: list[str], spec: Augmentation, rng: random.Random) -> str:
    """One augmented copy of `text` (never empty: a text whose words all drop keeps its first word)."""
    words = text.split()
    if not words:
        return text
    out = []
    for word in words:
        r = rng.random()
        if r < spec.drop:
            continue
        out.append(rng.choice(vocabulary) if r < spec.drop + spec.swap else word)
    out = out or words[:1]
    if rng.random() < spec.ngram and len(out) > 3:
        n = rng.randint(3, min(8, len(out)))
        start = rng.randint(0, len(out) - n)
        out = out[start : start + n]
    return " ".join(out)


def transfer_set(train_texts: list[str], spec: Augmentation) -> list[str]:
    """The training texts in order, then `spec.copies` augmented copies of each (copy by copy)."""
    rng = random.Random(spec.seed)
    vocabulary = sorted({w for t in train_texts for w in t.split()})
    out = list(train_texts)
    for _ in range(spec.copies):
        out += [augmented(t, vocabulary, spec, rng) for t in train_texts]
    return out
