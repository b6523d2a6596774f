"""The last layer computed at the pooled token only: same logits and gradients, fewer FLOPs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, LlamaConfig

from exaone_bench.config.setup import TrainingSetup
from exaone_bench.data.batches import Encoded
from exaone_bench.models.pooling import last_token_only, pooled_index
from exaone_bench.training.loop import train
from tests.conftest import tiny_exaone_config

LENGTHS = [9, 1, 5, 9, 3]  # right padding to 9; one review of a single token


def _classifier(kind: str):
    if kind == "exaone4":
        config = tiny_exaone_config(num_labels=3)
    else:
        config = LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                             num_attention_heads=4, num_key_value_heads=2, pad_token_id=0, num_labels=3)
    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_config(config)


def _batch(pad: int = 0):
    gen = torch.Generator().manual_seed(1)
    ids = torch.full((len(LENGTHS), max(LENGTHS)), pad)
    mask = torch.zeros_like(ids)
    for r, n in enumerate(LENGTHS):
        ids[r, :n] = torch.randint(3, 97, (n,), generator=gen)
        mask[r, :n] = 1
    return ids, mask


def _logits_and_grads(model, ids, mask):
    model.zero_grad(set_to_none=True)
    logits = model(input_ids=ids, attention_mask=mask).logits
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 1, 0])).backward()
    return logits.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("kind", ["exaone4", "llama"])
def test_pooled_last_layer_gives_the_same_logits_and_gradients(kind):
    model = _classifier(kind).train()
    ids, mask = _batch()
    full, full_grads = _logits_and_grads(model, ids, mask)
    with last_token_only(model):
        pooled, pooled_grads = _logits_and_grads(model, ids, mask)
    torch.testing.assert_close(pooled, full, rtol=1e-5, atol=1e-6)
    assert pooled_grads.keys() == full_grads.keys()
    for name, grad in full_grads.items():
        torch.testing.assert_close(pooled_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_the_last_layer_runs_at_one_token_per_review_and_the_hooks_go_away():
    model = _classifier("exaone4").eval()
    last = model.model.layers[-1]
    seen: dict[str, tuple] = {}
    for name in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.o_proj", "mlp.gate_proj"):
        last.get_submodule(name).register_forward_hook(lambda m, a, o, name=name: seen.__setitem__(name, tuple(a[0].shape)))
    ids, mask = _batch()
    with torch.no_grad(), last_token_only(model):
        with last_token_only(model):  # nested (validation inside training): no second set of hooks
            model(input_ids=ids, attention_mask=mask)
    assert seen["self_attn.q_proj"] == seen["mlp.gate_proj"] == (5, 1, 64)
    assert seen["self_attn.o_proj"] == (5, 1, 8 * 16)  # heads x head_dim
    assert seen["self_attn.k_proj"] == (5, 9, 64)  # keys and values still cover every position
    with torch.no_grad():
        model(input_ids=ids, attention_mask=mask)
    assert seen["mlp.gate_proj"] == (5, 9, 64)
    assert not model._forward_pre_hooks and not last.mlp._forward_pre_hooks


def test_pooled_index_matches_the_classifier_pooling():
    ids, _ = _batch()
    assert pooled_index(ids, 0).tolist() == [n - 1 for n in LENGTHS]
    assert pooled_index(ids, None).tolist() == [8] * 5


def test_a_causal_lm_is_left_as_it_is(tiny_exaone):
    with last_token_only(tiny_exaone):
        assert not tiny_exaone._forward_pre_hooks


def _reviews(n=24, seed=2):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 12, (n,), generator=gen).tolist()
    ids = [torch.randint(3, 97, (k,), generator=gen).tolist() for k in lengths]
    return Encoded(ids, np.asarray([i % 3 for i in range(n)]))


def test_the_loop_with_validation_and_gradient_checkpointing_inside_the_pooling():
    data, setup = _reviews(), TrainingSetup(steps=6, batch_size=4, warmup_steps=1, length_bucket=2, eval_every=3)
    plain = _classifier("exaone4")
    first = train(plain, data, setup, 0, pad_id=0, validation=data)
    checkpointed = _classifier("exaone4")
    checkpointed.gradient_checkpointing_enable()
    second = train(checkpointed, data, setup, 0, pad_id=0, validation=data)
    assert [step for step, _ in first.validation_curve] == [3, 6]  # predict() nested inside the loop's pooling
    np.testing.assert_allclose(second.losses, first.losses, rtol=1e-5)
    for model in (plain, checkpointed):
        assert not model._forward_pre_hooks and not model.model.layers[-1].mlp._forward_hooks


@pytest.mark.parametrize("kind", ["exaone4", "llama"])
def test_analytic_flops_count_the_layers_weights_and_the_skipped_query_side(kind):
    from exaone_bench.evaluation.cost import flops_per_token, layer_flops

    model = _classifier(kind)
    layer = model.model.layers[-1]
    weights = {name: m.weight.numel() for name, m in layer.named_modules() if isinstance(m, torch.nn.Linear)}
    query_side = sum(n for name, n in weights.items() if not name.endswith(("k_proj", "v_proj")))
    assert layer_flops(model.config, 0) == (2 * query_side, 2 * (weights["self_attn.k_proj"] + weights["self_attn.v_proj"]))
    attention = 2 * 2 * model.config.num_attention_heads * 16 * 10  # scores and values over 10 positions, head_dim 16
    assert layer_flops(model.config, 10)[0] == 2 * query_side + attention
    layers = model.config.num_hidden_layers
    assert flops_per_token(model.config, 10) == layers * (2 * sum(weights.values()) + attention) + 2 * model.score.weight.numel()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (every other test runs the CPU path)")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_the_loop_on_cuda_matches_the_cpu(dtype):
    """`device: cuda`: the seeded head is the CPU's, and the loop with its hooks gives the CPU's losses."""
    from transformers import Exaone4ForCausalLM

    from exaone_bench.models.classifier import classifier_from
    from exaone_bench.training.loop import predict

    torch.manual_seed(0)
    causal = Exaone4ForCausalLM(tiny_exaone_config())
    data, setup = _reviews(), TrainingSetup(steps=6, batch_size=4, warmup_steps=1, length_bucket=2, eval_every=3)
    cpu, gpu = classifier_from(causal, 3, 5, 0), classifier_from(causal.to("cuda"), 3, 5, 0)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.score.weight.cpu(), cpu.score.weight, rtol=0, atol=0)
    reference = train(cpu, data, setup, 0, pad_id=0, validation=data)
    result = train(gpu, data, setup, 0, pad_id=0, validation=data, dtype=dtype)
    tolerance = 1e-4 if dtype == "float32" else 5e-2  # bf16 keeps 8 bits of mantissa
    np.testing.assert_allclose(result.losses, reference.losses, rtol=tolerance, atol=tolerance)
    logits = predict(gpu, data, 0, dtype=dtype)
    np.testing.assert_allclose(logits, predict(cpu, data, 0), rtol=tolerance, atol=tolerance)
