"""The one loop's batch order: deterministic, each example once per epoch, little padding."""
from __future__ import annotations

import numpy as np

from exaone_bench.config.setup import TrainingSetup
from exaone_bench.training.loop import batch_order
from exaone_bench.training.optim import lr_factor


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


def _task(n=256, seed=0):
    """Token sequences whose label is whether token 5 occurs: learnable in a few dozen steps."""
    from exaone_bench.data.batches import Encoded

    rng = np.random.default_rng(seed)
    ids = [list(rng.integers(6, 97, size=int(rng.integers(4, 16)))) for _ in range(n)]
    labels = rng.integers(0, 2, size=n)
    for x, y in zip(ids, labels):
        if y:
            x[int(rng.integers(0, len(x)))] = 5
    return Encoded(ids, labels)


def test_lora_at_full_rank_tracks_full_fine_tuning_and_merges_into_a_plain_model():
    """The same loop on the same data: LoRA (rank = the layers' full rank, alpha = rank) follows full
    fine-tuning's loss; at a low rank it trains a fraction of the parameters; merged, it is a plain
    classifier whose logits equal the adapted model's."""
    import copy

    import torch
    from transformers import Exaone4ForSequenceClassification

    from conftest import tiny_exaone_config
    from exaone_bench.config.setup import LoraSetup
    from exaone_bench.training import lora
    from exaone_bench.training.loop import predict, train

    torch.manual_seed(0)
    base = Exaone4ForSequenceClassification(tiny_exaone_config(num_labels=2)).eval()
    setup = TrainingSetup(steps=60, batch_size=16, lr=2e-3, warmup_steps=5, max_length=16, seeds=1, threads=1)
    data = _task()
    full = copy.deepcopy(base)
    full_state = lora.training_state(full)
    full_loss = train(full, data, setup, seed=0, pad_id=0).losses
    wrapped, inner = lora.wrap(copy.deepcopy(base), LoraSetup(rank=64, alpha=64.0))
    lora_state = lora.training_state(inner)
    lora_loss = train(inner, data, setup, seed=0, pad_id=0).losses
    low_rank = lora.training_state(lora.wrap(copy.deepcopy(base), LoraSetup(rank=4))[1])
    assert low_rank["trainable_parameters"] < full_state["trainable_parameters"] / 5 < lora_state["trainable_parameters"]
    early, late = (lambda c: float(np.mean(c[:10]))), (lambda c: float(np.mean(c[-10:])))
    assert late(full_loss) < 0.8 * early(full_loss) and late(lora_loss) < 0.8 * early(lora_loss)
    assert abs(late(lora_loss) - late(full_loss)) < 0.25 * early(full_loss)
    adapted = predict(inner, data, 0)
    plain = lora.merged(wrapped)
    assert type(plain) is Exaone4ForSequenceClassification and not any("lora" in n for n, _ in plain.named_parameters())
    assert np.allclose(predict(plain, data, 0), adapted, atol=1e-4)
