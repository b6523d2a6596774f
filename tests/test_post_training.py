"""Post-training transforms on a tiny real Exaone4 classifier: what each records is read back from the tensors."""
from __future__ import annotations

import pytest
import torch
from transformers import Exaone4ForSequenceClassification

from conftest import tiny_exaone_config
from exaone_bench.compression.calibration import Calibration
from exaone_bench.compression.post_training import apply, check
from exaone_bench.compression.post_training.scope import targets
from exaone_bench.core.validate import SpecError


@pytest.fixture
def classifier():
    torch.manual_seed(0)
    return Exaone4ForSequenceClassification(tiny_exaone_config(num_labels=2)).eval()


def calib():
    torch.manual_seed(1)
    return Calibration(input_ids=torch.randint(3, 97, (4, 16)), texts=[], tokenizer=None)


def test_targets_are_the_decoder_linears_only(classifier):
    names = targets(classifier)
    assert len(names) == 4 * 7  # q, k, v, o, gate, up, down per layer
    assert all(".self_attn." in n or ".mlp." in n for n in names)
    assert classifier.score not in names.values() and classifier.model.embed_tokens not in names.values()


@pytest.mark.parametrize("per", ["matrix", "row"])
def test_magnitude_zeroes_the_smallest_weights_at_the_asked_sparsity(classifier, per):
    before = {n: m.weight.detach().clone() for n, m in targets(classifier).items()}
    score_head = classifier.score.weight.detach().clone()
    record = apply(classifier, {"magnitude": {"sparsity": 0.5, "per": per}})
    after = targets(classifier)
    zeros = sum(int((m.weight == 0).sum()) for m in after.values())
    assert record["measured"]["zeros"] == zeros and record["measured"]["sparsity"] == pytest.approx(0.5, abs=1e-9)
    for name, m in after.items():
        w, kept = before[name], m.weight != 0
        groups = [(w[r], kept[r]) for r in range(w.shape[0])] if per == "row" else [(w.flatten(), kept.flatten())]
        for values, keep in groups:  # every kept |w| is at least every dropped one
            assert values[keep].abs().min() >= values[~keep].abs().max()
        assert torch.equal(m.weight[kept], w[kept])  # kept weights untouched
    assert torch.equal(classifier.score.weight, score_head)


def test_wanda_ranks_by_weight_times_input_norm_per_row(classifier):
    modules = targets(classifier)
    before = {n: m.weight.detach().clone() for n, m in modules.items()}
    norms = {}
    handles = [m.register_forward_pre_hook(lambda mod, args, n=n: norms.__setitem__(
        n, norms.get(n, 0) + (args[0].reshape(-1, mod.in_features).double() ** 2).sum(0))) for n, m in modules.items()]
    with torch.no_grad():
        classifier.model(input_ids=calib().input_ids)
    for h in handles:
        h.remove()
    record = apply(classifier, {"wanda": {"sparsity": 0.5}}, calib())
    assert record["measured"]["sparsity"] == pytest.approx(0.5)
    for name, m in modules.items():
        score = before[name].abs().double() * norms[name].sqrt()
        kept = m.weight != 0
        for r in range(score.shape[0]):
            assert int(kept[r].sum()) == score.shape[1] // 2
            assert score[r][kept[r]].min() >= score[r][~kept[r]].max()


@pytest.mark.parametrize("by", ["magnitude", "wanda"])
def test_two_of_four_keeps_two_of_every_four_inputs(classifier, by):
    record = apply(classifier, {"semi_structured": {"by": by}}, calib())
    assert record["spec"] == {"n": 2, "m": 4, "by": by} and record["measured"]["sparsity"] == pytest.approx(0.5)
    for m in targets(classifier).values():
        groups = (m.weight != 0).reshape(m.weight.shape[0], -1, 4).sum(-1)
        assert torch.equal(groups, torch.full_like(groups, 2))


@pytest.mark.parametrize("spec, message", [
    ({"magnitude": {"sparsity": 1.5}}, "post_training.magnitude.sparsity: expected a ratio in (0, 1)"),
    ({"magnitude": {"sparsity": 0.5, "per": "column"}}, "post_training.magnitude.per: 'column' is not one of"),
    ({"wanda": {"ratio": 0.5}}, "post_training.wanda: unknown key(s) ['ratio']"),
    ({"semi_structured": {"n": 4, "m": 4}}, "keeping 4 of every 4 weights prunes nothing"),
    ({"gptq": {}}, "post_training: unknown transform 'gptq'"),
    ({"magnitude": {"sparsity": 0.5}, "wanda": {"sparsity": 0.5}}, "post_training: expected one transform"),
])
def test_bad_specs_fail_naming_the_key(spec, message):
    with pytest.raises(SpecError) as e:
        check(spec, "post_training")
    assert message in str(e.value)


def test_wanda_without_calibration_is_refused(classifier):
    with pytest.raises(SpecError, match="wanda scores need calibration data"):
        apply(classifier, {"wanda": {"sparsity": 0.5}})


def test_bytes_on_disk_count_tied_weights_once_and_zstd_rewards_zeros(classifier, tmp_path):
    """safetensors bytes = the tensors' bytes plus a header; zstd shrinks a half-zero model, not a random one."""
    import zstandard

    from exaone_bench.evaluation.cost import on_disk, safetensors_file, zstd_bytes

    dense = on_disk(classifier)
    unique = {p.data_ptr(): p.numel() * p.element_size() for p in classifier.state_dict().values()}
    assert 0 < dense["safetensors_bytes"] - sum(unique.values()) < 20_000  # the JSON header
    path = tmp_path / "m.safetensors"
    safetensors_file(classifier, path)
    streamed = zstd_bytes(path)  # streamed in blocks: within a frame header of one-shot compression
    assert streamed == dense["zstd_bytes"]
    assert streamed == pytest.approx(len(zstandard.ZstdCompressor(level=3).compress(path.read_bytes())), rel=0.01)
    apply(classifier, {"magnitude": {"sparsity": 0.5}})
    sparse = on_disk(classifier)
    assert sparse["safetensors_bytes"] == dense["safetensors_bytes"]  # zeros are stored densely
    assert sparse["zstd_bytes"] < 0.85 * dense["zstd_bytes"] and dense["zstd_bytes"] > 0.9 * dense["safetensors_bytes"]


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("spec, bits, group", [({"int8": {}}, 8, "row"), ({"int4": {"group_size": 32}}, 4, 32)])
def test_weight_only_quantization_records_the_bits_it_stored(classifier, spec, bits, group):
    """The bit-width is the range the stored integers span; the forward computes with the dequantized
    weights (a float copy holding them gives the same logits); packed bytes count bits, not int8 slots."""
    import copy

    ids = calib().input_ids
    before = _logits(classifier, ids)
    floats = copy.deepcopy(classifier)
    record = apply(classifier, spec)
    m = record["measured"]
    assert m["bits"] == bits and m["group_size"] == group and m["value_range"][1] - m["value_range"][0] < 2 ** bits
    weights = targets(classifier)
    values = sum(w.weight.qdata.numel() for w in weights.values())
    assert m["dense_bytes"] == 4 * values
    assert m["packed_bytes"] < m["in_memory_bytes"] if bits == 4 else m["packed_bytes"] == m["in_memory_bytes"]
    assert m["packed_bytes"] - values * bits // 8 == m["in_memory_bytes"] - values  # scales and zero points
    from exaone_bench.compression.post_training.quantization import dequantized

    for name, w in dequantized(classifier).items():
        targets(floats)[name].weight.data.copy_(w)
    after = _logits(classifier, ids)
    assert torch.allclose(after, _logits(floats, ids), atol=1e-5)
    assert 0 < (after - before).abs().max() < (0.05 if bits == 8 else 0.5)
    assert "dequantized" in record["kernel"] or "cast to float" in record["kernel"]


def test_int4_group_must_divide_the_input_widths(classifier):
    with pytest.raises(SpecError, match=r"int4.group_size: 256 does not divide the input widths \[64, 128\]"):
        apply(classifier, {"int4": {"group_size": 256}})
    with pytest.raises(SpecError, match="expected a power of two"):
        check({"int4": {"group_size": 48}}, "post_training")


@pytest.mark.parametrize("spec", [{"int8": {}}, {"int4": {"group_size": 32}}])
def test_a_quantized_model_is_written_as_torchao_flattens_it_and_reads_back(classifier, spec, tmp_path):
    """safetensors of a quantized model: its integers, scales and zero points as plain tensors and the layout
    in the metadata; smaller than the float file, and torchao rebuilds the same weights from it."""
    from safetensors import safe_open
    from torchao.prototype.safetensors.safetensors_support import unflatten_tensor_state_dict

    from exaone_bench.evaluation.cost import on_disk, safetensors_file

    dense = on_disk(classifier)["safetensors_bytes"]
    record = apply(classifier, spec)
    path = tmp_path / "q.safetensors"
    size = safetensors_file(classifier, path)
    m = record["measured"]
    assert size < dense - m["dense_bytes"] + m["in_memory_bytes"] + 40_000  # the integers, not the floats, plus header
    with safe_open(str(path), "pt") as f:
        tensors, metadata = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    state, rest = unflatten_tensor_state_dict(tensors, metadata)
    assert not rest
    name = "model.layers.0.mlp.down_proj.weight"
    assert torch.equal(state[name].dequantize(), classifier.state_dict()[name].dequantize())


def test_each_transform_says_what_it_measured(classifier):
    from exaone_bench.compression.post_training import kernel, words

    assert words(apply(classifier, {"magnitude": {"sparsity": 0.5}})).startswith("50.0 % of decoder weights zero")
    assert words(apply(classifier, {"int8": {}})) == "int8 weights (8 bits measured), one scale per row"
    assert kernel({"int8": {}}) and kernel({"int4": {"group_size": 32}}) and kernel({"wanda": {"sparsity": 0.5}}) is None
