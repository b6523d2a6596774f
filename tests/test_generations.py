"""Every EXAONE generation transformers loads natively, as tiny random checkpoints saved the hub's way.

- EXAONE 3.x (`exaone`): GPT-style tensor names (`transformer.h.N.attn.attention.out_proj`, ...) and
  config keys (`num_layers`, `layer_norm_epsilon`, `activation_function`) as LG publishes them;
  transformers loads it as LlamaForCausalLM.
- EXAONE 4.0 hybrid (the 32B's attention): sliding-window and global layers, sharded safetensors.
- K-EXAONE (`exaone_moe`): a dense first layer, then sparse layers of routed experts, a router with
  its correction bias and a shared expert; sharded, per-expert tensors as the hub stores them.
- EXAONE 4.5 (`exaone4_5`): a vision tower beside an EXAONE 4 text decoder; cut through its text
  tower, saved whole with the vision tower untouched.
Each runs analyze -> compress -> reload -> logits through the CLI's own entry point (in process: the
console script itself is tested in test_cli.py), and one `--quick` suite item.
"""
from __future__ import annotations

import copy
import functools
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from test_suite import micro_setup
from transformers import (
    AutoModelForCausalLM,
    AutoModelForImageTextToText,
    AutoTokenizer,
    Exaone4_5_Config,
    ExaoneConfig,
    ExaoneMoeConfig,
    LlamaForCausalLM,
)

from conftest import tiny_exaone_config
from exaone_bench.analysis.params import ORDER
from exaone_bench.base_models.load import load_model
from exaone_bench.cli import main as cli
from exaone_bench.compression.calibration import Calibration
from exaone_bench.compression.registry import apply, replay
from exaone_bench.core.validate import NotApplicable, SpecError
from exaone_bench.data.split import split_texts
from exaone_bench.models.architecture import full_model

pytest_plugins = ["pytester"]
VOCAB = 512  # the micro reference's tokenizer, copied beside each checkpoint
IDS = torch.randint(3, VOCAB, (4, 16), generator=torch.Generator().manual_seed(1))
HUB_KEYS = {"num_hidden_layers": "num_layers", "rms_norm_eps": "layer_norm_epsilon", "hidden_act": "activation_function"}
SPECIAL = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)


def exaone3_config():
    return ExaoneConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                        num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=128, **SPECIAL)


def hybrid_config():
    """EXAONE-4.0-32B's pattern in small: three sliding-window layers, then a global one."""
    return tiny_exaone_config(vocab_size=VOCAB, sliding_window=4, sliding_window_pattern="LLLG",
                              layer_types=["sliding_attention"] * 3 + ["full_attention"])


def moe_config(**overrides):
    kwargs = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=8,
                  num_key_value_heads=2, head_dim=8, moe_intermediate_size=32, num_experts=8, num_experts_per_tok=2,
                  num_shared_experts=1, first_k_dense_replace=1, sliding_window=4, sliding_window_pattern=2,
                  max_position_embeddings=128, **SPECIAL)
    return ExaoneMoeConfig(**{**kwargs, **overrides})


def vlm_config():
    """EXAONE 4.5 in small: a 2-block vision tower whose merger writes the text width (64)."""
    vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, num_key_value_heads=1, out_hidden_size=64,
                  patch_size=4, window_size=16, fullatt_block_indexes=[1])
    return Exaone4_5_Config(text_config=tiny_exaone_config(vocab_size=VOCAB).to_dict(), vision_config=vision,
                            image_token_id=5, video_token_id=6)


def build(kind: str):
    torch.manual_seed(0)
    if kind == "exaone3":
        return LlamaForCausalLM(exaone3_config()).eval()  # what AutoModelForCausalLM builds for model_type exaone
    if kind == "exaone4_5":
        return AutoModelForImageTextToText.from_config(vlm_config()).eval()
    model = AutoModelForCausalLM.from_config(hybrid_config() if kind == "exaone4-hybrid" else moe_config()).eval()
    if kind == "exaone_moe":  # a router whose scores differ from expert to expert, and a non-zero correction bias
        for _, layer in enumerate(model.model.layers):
            if hasattr(layer.mlp, "gate"):
                layer.mlp.gate.weight.data.normal_(0, 0.5)
                layer.mlp.gate.e_score_correction_bias.normal_(0, 0.01)
    return model


def save_like_the_hub(model, out, tokenizer_dir):
    """save_pretrained (which writes EXAONE 3's GPT-style names back), sharded; EXAONE 3 gets its hub config keys."""
    model.save_pretrained(out, max_shard_size="100KB")
    for f in tokenizer_dir.glob("tokenizer*"):
        shutil.copy(f, out / f.name)
    if model.config.model_type == "exaone":
        config = json.loads((out / "config.json").read_text())
        for key, hub in HUB_KEYS.items():
            config[hub] = config.pop(key)
        config["architectures"] = ["ExaoneForCausalLM"]
        (out / "config.json").write_text(json.dumps(config, indent=2))
    return out


KINDS = ("exaone3", "exaone4-hybrid", "exaone_moe", "exaone4_5")


def load(path):
    """What the suite loads: the causal LM (EXAONE 4.5: its text tower)."""
    return load_model(path)[0]


@pytest.fixture(scope="module", params=KINDS)
def checkpoint(request, micro_reference, tmp_path_factory):
    kind = request.param
    return kind, save_like_the_hub(build(kind), tmp_path_factory.mktemp(kind), micro_reference)


def logits(model, ids=IDS):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_checkpoints_are_stored_as_the_hub_stores_them(checkpoint):
    kind, path = checkpoint
    index = json.loads((path / "model.safetensors.index.json").read_text())  # sharded
    names = set(index["weight_map"])
    if kind == "exaone3":
        assert "transformer.h.0.attn.attention.out_proj.weight" in names and "transformer.wte.weight" in names
        assert "num_layers" in json.loads((path / "config.json").read_text())
    if kind == "exaone_moe":
        assert {"model.layers.1.mlp.experts.7.gate_proj.weight", "model.layers.1.mlp.e_score_correction_bias",
                "model.layers.1.mlp.shared_experts.down_proj.weight"} <= names
    if kind == "exaone4_5":
        assert "model.visual.blocks.0.attn.qkv.weight" in names and "model.language_model.layers.3.mlp.up_proj.weight" in names
    model = load(path)
    assert type(model).__name__ == {"exaone3": "LlamaForCausalLM", "exaone4-hybrid": "Exaone4ForCausalLM",
                                    "exaone_moe": "ExaoneMoeForCausalLM", "exaone4_5": "Exaone4ForCausalLM"}[kind]
    assert type(full_model(model)).__name__ == ("Exaone4_5_ForConditionalGeneration" if kind == "exaone4_5"
                                                else type(model).__name__)


def test_analyze_gives_every_tensor_its_layer_and_block_type(checkpoint, tmp_path):
    kind, path = checkpoint
    assert cli(["analyze", "--model", str(path), "--out", str(tmp_path / "t.csv"), "--calibration", "2"]) == 0
    table = pd.read_csv(tmp_path / "t.csv")
    in_layers = table[table["param_name"].str.contains(r"(?:layers|h)\.\d+\.")]
    assert in_layers["layer_index"].notna().all() and sorted(in_layers["layer_index"].unique()) == [0, 1, 2, 3]
    vision = table["block_type"].str.startswith("vision:")
    assert set(table[~vision]["block_type"]) <= set(ORDER), set(table[~vision]["block_type"]) - set(ORDER)
    assert vision.any() == (kind == "exaone4_5") and table[vision]["layer_index"].isna().all()
    layers = pd.read_csv(tmp_path / "t_layers.csv")
    assert len(layers) == 4 and layers["block_influence"].notna().all()
    if kind == "exaone3":
        assert {"o_proj", "gate_proj", "up_proj", "down_proj", "input_layernorm", "embedding", "norm"} <= set(table["block_type"])
    if kind == "exaone_moe":
        assert {"router", "router_bias", "expert_gate_proj", "shared_expert_down_proj"} <= set(table["block_type"])
        assert layers["experts_never_routed"].isna().tolist() == [True, False, False, False]
        assert layers["mlp_channel_importance_mean"].notna().tolist() == [True, False, False, False]


STRATEGIES = {
    "drop_layers": {"drop_layers": {"count": 1, "by": "block_influence"}},
    "prune_heads": {"prune_heads": {"kv_heads": [1]}},
    "reduce_mlp": {"reduce_mlp": {"ratio": 0.5}},
    "reduce_hidden_dim": {"reduce_hidden_dim": {"hidden_size": 48}},
    "prune_experts": {"prune_experts": {"keep": 6}},
    "trim_vocab": {"trim_vocab": {"min_count": 2}},
}
DENSE = ["drop_layers", "prune_heads", "reduce_mlp", "reduce_hidden_dim", "trim_vocab"]
APPLIES = {"exaone3": DENSE, "exaone4-hybrid": DENSE, "exaone_moe": list(STRATEGIES),
           "exaone4_5": ["drop_layers", "prune_heads", "reduce_mlp"]}
WHY_NOT = {"prune_experts": "has no routed experts", "reduce_hidden_dim": "the vision tower's output feeds this width",
           "trim_vocab": "image and video token ids index this vocabulary"}


@functools.cache
def train_texts() -> tuple[str, ...]:
    return tuple(split_texts("train")[:300])


def calibration(path) -> Calibration:
    """Token blocks for the scores, and the training split's texts with the checkpoint's tokenizer for trim_vocab."""
    return Calibration(input_ids=IDS, texts=list(train_texts()), tokenizer=AutoTokenizer.from_pretrained(path))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_reloads_exactly_and_replays(checkpoint, tmp_path, strategy):
    kind, path = checkpoint
    if strategy not in APPLIES[kind]:  # refused with its reason, before any cut
        with pytest.raises(SpecError, match=WHY_NOT[strategy]):
            apply(load(path), STRATEGIES[strategy], calibration(path))
        return
    base = load(path)
    model = copy.deepcopy(base) if kind != "exaone4_5" else load(path)  # a tower's vision model is not deep-copied
    calib = calibration(path)
    removed = apply(model, STRATEGIES[strategy], calib)
    full_model(model).save_pretrained(tmp_path / "v", max_shard_size="100KB")
    calib.tokenizer.save_pretrained(tmp_path / "v")  # trim_vocab's renumbered tokenizer, else the base's
    reloaded = load(tmp_path / "v")
    ids = IDS % model.config.vocab_size
    assert torch.equal(logits(model, ids), logits(reloaded, ids))
    assert full_model(reloaded).config.model_type == full_model(base).config.model_type
    if kind == "exaone4_5":  # the vision tower is untouched
        a, b = full_model(base).model.visual.state_dict(), full_model(reloaded).model.visual.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rebuilt = load(path)
    replay(rebuilt, removed)
    assert torch.equal(logits(rebuilt, ids), logits(model, ids))
    if strategy == "drop_layers":  # each kept layer keeps its attention (and MLP) role
        kept = removed[0]["kept"]["layers"]
        for key in ("layer_types", "mlp_layer_types"):
            if getattr(base.config, key, None) is not None:
                assert getattr(reloaded.config, key) == [getattr(base.config, key)[i] for i in kept]


def test_hybrid_layers_keep_their_sliding_window_after_drop(checkpoint):
    kind, path = checkpoint
    if kind != "exaone4-hybrid":
        pytest.skip("only the hybrid checkpoint has sliding-window layers")
    base = AutoModelForCausalLM.from_pretrained(path).eval()
    model = copy.deepcopy(base)
    apply(model, {"drop_layers": [0]})
    assert model.config.layer_types == ["sliding_attention", "sliding_attention", "full_attention"]
    assert [layer.self_attn.is_sliding for layer in model.model.layers] == [True, True, False]
    # the same three layers run alone equal the variant: skipping layer 0 by hand
    skipped = copy.deepcopy(base)
    skipped.model.layers = skipped.model.layers[1:]
    skipped.config.layer_types = skipped.config.layer_types[1:]
    skipped.config.num_hidden_layers = 3
    for i, layer in enumerate(skipped.model.layers):
        layer.self_attn.layer_idx = i
    assert torch.equal(logits(model), logits(skipped))


def test_compress_cli_on_each_generation_reloads_with_the_logits_of_the_cut(checkpoint, tmp_path, capsys):
    kind, path = checkpoint
    spec = tmp_path / "v.yaml"
    spec.write_text("compression:\n  drop_layers: [2]\n")
    assert cli(["compress", "--model", str(path), "--config", str(spec), "--out", str(tmp_path / "v"),
                "--calibration", "0"]) == 0
    assert "drop_layers: removed layers [2]; parameters " in capsys.readouterr().out
    expected = load(path)
    apply(expected, {"drop_layers": [2]})
    reloaded = load(tmp_path / "v")
    assert reloaded.config.num_hidden_layers == 3 and torch.equal(logits(reloaded), logits(expected))


# -- prune_experts ------------------------------------------------------------------------------------
def moe():
    return build("exaone_moe")


def test_prune_experts_never_routed_leaves_the_logits_unchanged():
    """Three tokens route to at most 6 of 8 experts per layer: keeping each layer's 6 most routed is exact."""
    base = moe()
    ids = IDS[:1, :3]
    model = copy.deepcopy(base)
    (record,) = apply(model, {"prune_experts": {"keep": 6}}, Calibration(input_ids=ids))
    scores = torch.tensor(record["scores"]["routing_frequency"])
    assert scores.shape == (3, 8) and torch.allclose(scores.sum(1), torch.full((3,), 2.0))
    for row, gone in zip(scores, record["removed"]["experts"]):
        assert len(gone) == 2 and all(row[e] == 0 for e in gone)  # never routed to on this batch
    assert model.config.num_experts == 6 and model.model.layers[1].mlp.gate.e_score_correction_bias.shape == (6,)
    # the same experts and weights, up to float rounding: the unsorted top-k may sum the weights in another order
    torch.testing.assert_close(logits(model, ids), logits(base, ids), rtol=0, atol=1e-6)
    assert (logits(model) - logits(base)).abs().max() > 1e-3  # other tokens did route to the removed experts


def test_prune_experts_parameter_count_matches_closed_form():
    base = moe()
    model = copy.deepcopy(base)
    apply(model, {"prune_experts": {"count": 3, "by": "routing_frequency"}}, Calibration(input_ids=IDS))
    h, inter, sparse = 64, 32, 3
    per_expert = 3 * h * inter + h  # gate, up, down + the expert's router row
    before = sum(p.numel() for p in base.parameters())
    assert sum(p.numel() for p in model.parameters()) == before - sparse * 3 * per_expert


@pytest.mark.parametrize("spec, message", [
    ({"keep": 1}, "too few: every token routes to num_experts_per_tok=2"),
    ({"keep": 6, "count": 2}, "exactly one of 'keep'"),
    ({"ratio": 0.1}, "keeping 1 experts per layer is too few"),
    ({"keep": 8}, "keep: 8 is out of range \\[1, 7\\]"),
    ({"keep": 6, "by": "block_influence"}, "unknown score 'block_influence'"),
    ({"keep": 6, "experts": 2}, "unknown key"),
])
def test_prune_experts_bad_specs_fail_before_any_cut(spec, message):
    model = moe()
    with pytest.raises(SpecError, match=message):
        apply(model, {"prune_experts": spec}, Calibration(input_ids=IDS))
    assert model.config.num_experts == 8


def test_prune_experts_refuses_a_dense_model_and_group_routing(tiny_exaone):
    # NotApplicable: an item whose config was unknown at collection is skipped at run time with this reason
    with pytest.raises(NotApplicable, match="model_type 'exaone4' has no routed experts"):
        apply(tiny_exaone, {"prune_experts": {"keep": 2}}, Calibration(input_ids=IDS[:, :8] % 97))
    grouped = AutoModelForCausalLM.from_config(moe_config(n_group=2, topk_group=1))
    with pytest.raises(SpecError, match="group-limited routing"):
        apply(grouped, {"prune_experts": {"keep": 6}}, Calibration(input_ids=IDS))


def test_a_moe_whose_layers_are_all_sparse_has_no_mlp_width_to_narrow():
    model = AutoModelForCausalLM.from_config(moe_config(first_k_dense_replace=0))
    with pytest.raises(SpecError, match="every layer is sparse"):
        apply(model, {"reduce_mlp": {"ratio": 0.5}}, Calibration(input_ids=IDS))


# -- one suite item per generation ----------------------------------------------------------------------
EXPERIMENT = """
strategy: {strategy}
hypothesis: smoke test of one generation
expect: {{accuracy: {{min_delta: -1.0}}}}
variants:
  - id: one
    compression: {{{strategy}: {spec}}}
"""


def test_one_quick_suite_item_per_generation(checkpoint, pytester):
    """Beside each item, the shipped prune_experts.yaml: its variants run on a MoE and are skipped,
    with the reason, on a dense model (one experiments/ serves every generation)."""
    kind, path = checkpoint
    strategy, spec = ("prune_experts", "{keep: 6}") if kind == "exaone_moe" else ("drop_layers", "[3]")
    files = {"experiments/setup": micro_setup(path),
             f"experiments/{strategy}": EXPERIMENT.format(strategy=strategy, spec=spec)}
    if kind == "exaone4-hybrid":
        files["experiments/prune_experts"] = (Path(__file__).parents[1] / "experiments" / "prune_experts.yaml").read_text()
    pytester.makefile(".yaml", **files)
    run = pytester.runpytest_subprocess("experiments", "-p", "no:cacheprovider", "--quick", "-rs")
    if kind == "exaone4-hybrid":
        run.assert_outcomes(passed=1, skipped=2)
        run.stdout.fnmatch_lines(["*prune_experts[[]keep-75pct[]] does not apply to this model "
                                  "(prune_experts: model_type 'exaone4' has no routed experts)*"])
    else:
        run.assert_outcomes(passed=1)
    results = json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())
    (variant,) = results["variants"]
    assert variant["strategy"] == strategy and variant["verdict"] == "confirmed"
    assert variant["params"]["total_parameters"] < results["baseline"]["params"]["total_parameters"]
    # EXAONE 4.5 is fine-tuned through its text tower, an EXAONE 4 decoder
    assert results["baseline"]["config"]["model_type"] == {"exaone3": "exaone", "exaone4-hybrid": "exaone4",
                                                            "exaone_moe": "exaone_moe", "exaone4_5": "exaone4"}[kind]


def test_every_shipped_setup_parses_and_names_its_generation():
    from exaone_bench.config.setup import load_setup

    setups = {p.name: load_setup(p) for p in sorted((Path(__file__).parents[1] / "experiments" / "setups").glob("*.yaml"))}
    assert setups["exaone-3.5-2.4b.yaml"].model == "LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct"
    assert setups["k-exaone.yaml"].model == "LGAI-EXAONE/K-EXAONE-236B-A23B" and setups["k-exaone.yaml"].device == "auto"


def test_flops_of_a_sparse_layer_count_the_experts_a_token_runs_through():
    from exaone_bench.evaluation.cost import flops_per_token, layer_flops

    cfg = moe_config()
    dense_q, kv = layer_flops(cfg, 0, "dense")
    sparse_q, _ = layer_flops(cfg, 0, "sparse")
    h = cfg.hidden_size
    assert dense_q - sparse_q == 2 * 3 * h * cfg.intermediate_size - (2 * 3 * h * 32 * (2 + 1) + 2 * h * 8)
    assert flops_per_token(cfg, 0) == dense_q + kv + 3 * (sparse_q + kv) + 2 * h * cfg.num_labels
