"""The one loop's batch order: deterministic, each example once per epoch, little padding."""
from __future__ import annotations

import numpy as np

from exaone_bench.spec import TrainingSetup
from exaone_bench.train import batch_order, lr_factor


def _lengths(n=4096, seed=0):
    # review-like: most short, a long tail up to max_length
    return np.clip(np.random.default_rng(seed).gamma(2.0, 16.0, n).astype(int) + 1, 1, 64)


def _padding(order, lengths):
    return sum(len(b) * lengths[b].max() for b in order) / sum(lengths[b].sum() for b in order)


def test_one_epoch_uses_every_example_at_most_once_and_is_deterministic():
    lengths = _lengths()
    setup = TrainingSetup(steps=4096 // 32, batch_size=32, length_bucket=32)
    order = batch_order(list(lengths), setup, seed=3)
    flat = np.concatenate(order)
    assert len(order) == setup.steps and all(len(b) == 32 for b in order)
    assert len(np.unique(flat)) == len(flat) == 4096
    assert all(np.array_equal(a, b) for a, b in zip(order, batch_order(list(lengths), setup, seed=3)))
    assert not all(np.array_equal(a, b) for a, b in zip(order, batch_order(list(lengths), setup, seed=4)))


def test_wider_length_windows_pad_less_without_ordering_the_epoch_by_length():
    lengths = _lengths()
    padding = {k: _padding(batch_order(list(lengths), TrainingSetup(steps=128, batch_size=32, length_bucket=k), 0), lengths)
               for k in (1, 8, 32)}
    assert padding[1] > 1.5 > padding[8] > padding[32] and padding[32] < 1.06, padding
    # inside each window the batches are shuffled: the batch lengths do not rise monotonically
    means = [lengths[b].mean() for b in batch_order(list(lengths), TrainingSetup(steps=32, batch_size=32, length_bucket=32), 0)]
    assert means != sorted(means) and len({round(m) for m in means}) > 8


def test_warmup_then_cosine_reaches_zero():
    setup = TrainingSetup(steps=100, warmup_steps=10, schedule="cosine")
    assert lr_factor(0, setup) == 0.1 and lr_factor(9, setup) == 1.0 and lr_factor(10, setup) == 1.0
    assert abs(lr_factor(55, setup) - 0.5) < 1e-12 and lr_factor(100, setup) == 0.0
