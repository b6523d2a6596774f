"""Structural variants: round trips, exactness against masked base models, replay, bad specs."""
from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM, Exaone4ForCausalLM, LlamaConfig, LlamaForCausalLM

from conftest import tiny_exaone_config
from exaone_bench.compression.calibration import Calibration
from exaone_bench.compression.registry import apply, replay
from exaone_bench.core.validate import SpecError

IDS = torch.randint(3, 97, (4, 16), generator=torch.Generator().manual_seed(1))

STRUCTURAL = {
    "drop_layers-list": {"drop_layers": [1, 2]},
    "drop_layers-influence": {"drop_layers": {"count": 2, "by": "block_influence"}},
    "drop_layers-angular": {"drop_layers": {"count": 2, "by": "angular_distance"}},
    "prune_heads-kv": {"prune_heads": {"kv_heads": [1]}},
    "prune_heads-kv-scored": {"prune_heads": {"kv_heads": {"count": 1, "by": "head_importance"}}},
    "prune_heads-query": {"prune_heads": {"query_heads_per_group": 3}},
    "prune_heads-query-total": {"prune_heads": {"query_heads": 4}},
    "reduce_mlp-size": {"reduce_mlp": {"intermediate_size": 96}},
    "reduce_mlp-ratio": {"reduce_mlp": {"ratio": 0.5}},
    "reduce_hidden_dim": {"reduce_hidden_dim": {"hidden_size": 48}},
}


def calib():
    return Calibration(input_ids=IDS)


def logits(model, ids=IDS):
    with torch.no_grad():
        return model(input_ids=ids).logits


def variant(base, compression):
    model = copy.deepcopy(base)
    return model, apply(model, compression, calib())


@pytest.mark.parametrize("name", STRUCTURAL)
def test_round_trip_save_reload_is_exact(tiny_exaone, tmp_path, name):
    model, _ = variant(tiny_exaone, STRUCTURAL[name])
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert torch.equal(logits(model), logits(reloaded))
    assert reloaded.config.head_dim == 16


@pytest.mark.parametrize("name", STRUCTURAL)
def test_generate_cached_equals_uncached(tiny_exaone, name):
    model, _ = variant(tiny_exaone, STRUCTURAL[name])
    prompt = IDS[:2, :5]
    cached = model.generate(prompt, max_new_tokens=8, do_sample=False, use_cache=True)
    uncached = model.generate(prompt, max_new_tokens=8, do_sample=False, use_cache=False)
    assert cached.shape == (2, 13) and torch.equal(cached, uncached)


@pytest.mark.parametrize("name", STRUCTURAL)
def test_replay_reproduces_state_dict(tiny_exaone, name):
    model, removed = variant(tiny_exaone, STRUCTURAL[name])
    rebuilt = copy.deepcopy(tiny_exaone)
    replay(rebuilt, removed)
    a, b = model.state_dict(), rebuilt.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert rebuilt.config.to_dict() == model.config.to_dict()


def test_drop_layers_equals_skipping_them(tiny_exaone):
    model, removed = variant(tiny_exaone, {"drop_layers": [1, 2]})
    skip = [tiny_exaone.model.layers[i].register_forward_hook(lambda m, args, kwargs, out: args[0], with_kwargs=True)
            for i in (1, 2)]
    expected = logits(tiny_exaone)
    for h in skip:
        h.remove()
    assert (logits(model) - expected).abs().max() < 1e-5
    assert [l.self_attn.layer_idx for l in model.model.layers] == [0, 1]
    assert removed[0]["kept"]["layers"] == [0, 3] and model.config.layer_types == ["full_attention"] * 2


def _zeroed(base, fn):
    masked = copy.deepcopy(base)
    with torch.no_grad():
        for i, layer in enumerate(masked.model.layers):
            fn(i, layer)
    return logits(masked)


@pytest.mark.parametrize("spec", [{"kv_heads": [1]}, {"query_heads_per_group": 3}, {"kv_heads": [0], "query_heads": 2}])
def test_prune_heads_equals_zeroing_their_o_proj_columns(tiny_exaone, spec):
    model, removed = variant(tiny_exaone, {"prune_heads": spec})
    gone = removed[0]["removed"]["query_heads"]

    def zero(i, layer):
        for h in gone[i]:
            layer.self_attn.o_proj.weight[:, h * 16 : (h + 1) * 16] = 0

    assert (logits(model) - _zeroed(tiny_exaone, zero)).abs().max() < 1e-5
    cfg = model.config
    assert cfg.num_attention_heads % cfg.num_key_value_heads == 0 and cfg.head_dim == 16


def test_reduce_mlp_equals_zeroing_those_channels(tiny_exaone):
    model, removed = variant(tiny_exaone, {"reduce_mlp": {"ratio": 0.75}})
    gone = removed[0]["removed"]["channels"]
    assert all(len(g) == 32 for g in gone) and len({tuple(g) for g in gone}) > 1  # per-layer choice

    def zero(i, layer):
        layer.mlp.down_proj.weight[:, gone[i]] = 0

    assert (logits(model) - _zeroed(tiny_exaone, zero)).abs().max() < 1e-5


def test_scored_choices_follow_the_scores(tiny_exaone):
    _, removed = variant(tiny_exaone, {"drop_layers": {"count": 2, "by": "block_influence"}})
    scores = removed[0]["scores"]["block_influence"]
    assert sorted(removed[0]["removed"]["layers"]) == sorted(sorted(range(4), key=scores.__getitem__)[:2])
    _, removed = variant(tiny_exaone, {"prune_heads": {"query_heads_per_group": 2}})
    imp = torch.tensor(removed[0]["scores"]["head_importance"])
    for layer, heads in enumerate(removed[0]["kept"]["query_heads"]):
        for g in range(2):
            members = [h for h in heads if h // 4 == g]
            others = [h for h in range(g * 4, g * 4 + 4) if h not in members]
            assert len(members) == 2 and imp[layer, members].min() >= imp[layer, others].max()


def _expected_params(h, layers, q, kv, hd, inter, vocab):
    attn = h * q * hd * 2 + h * kv * hd * 2 + 2 * hd  # q, o, k, v, q_norm, k_norm
    mlp = 3 * h * inter
    return vocab * h + layers * (attn + mlp + 2 * h) + h  # tied head; two post-norms; final norm


@pytest.mark.parametrize("compression, shape", [
    ({"drop_layers": [0]}, dict(layers=3)),
    ({"prune_heads": {"kv_heads": [0]}}, dict(q=4, kv=1)),
    ({"prune_heads": {"query_heads_per_group": 1}}, dict(q=2)),
    ({"reduce_mlp": {"intermediate_size": 40}}, dict(inter=40)),
    ({"reduce_hidden_dim": {"ratio": 0.5}}, dict(h=32)),
])
def test_parameter_counts_match_closed_form(tiny_exaone, compression, shape):
    dims = dict(h=64, layers=4, q=8, kv=2, hd=16, inter=128, vocab=97)
    assert sum(p.numel() for p in tiny_exaone.parameters()) == _expected_params(**dims)
    model, removed = variant(tiny_exaone, compression)
    dims.update(shape)
    assert sum(p.numel() for p in model.parameters()) == _expected_params(**dims) == removed[0]["after"]["parameters"]


BAD = [
    ({"shrink_everything": {}}, "unknown strategy 'shrink_everything'"),
    ({"drop_layers": [4]}, "drop_layers: 4 is out of range [0, 3]"),
    ({"drop_layers": [1, 1]}, "duplicate layer indices"),
    ({"drop_layers": [0, 1, 2, 3]}, "removing all 4 layers leaves nothing"),
    ({"drop_layers": {"count": 2, "by": "vibes"}}, "unknown score 'vibes'"),
    ({"drop_layers": {"count": 2, "by": "block_influence", "extra": 1}}, "unknown key(s) ['extra']"),
    ({"drop_layers": {"count": 4, "by": "block_influence"}}, "drop_layers.count: 4 is out of range [1, 3]"),
    ({"prune_heads": {"kv_heads": [0, 1]}}, "removing all 2 KV heads"),
    ({"prune_heads": {"kv_heads": [2]}}, "kv_heads: 2 is out of range"),
    ({"prune_heads": {"query_heads": 5}}, "5 query heads over 2 KV groups leaves the groups uneven"),
    ({"prune_heads": {"query_heads": 8}}, "keeps every head; nothing would be removed"),
    ({"prune_heads": {"query_heads_per_group": 4}}, "query_heads_per_group: 4 is out of range [1, 3]"),
    ({"prune_heads": {"query_heads_per_group": 0}}, "out of range"),
    ({"prune_heads": {}}, "give kv_heads, query_heads_per_group or query_heads"),
    ({"reduce_mlp": {"ratio": 1.0}}, "expected a ratio in (0, 1)"),
    ({"reduce_mlp": {"ratio": 0}}, "expected a ratio in (0, 1)"),
    ({"reduce_mlp": {"intermediate_size": 128}}, "out of range [1, 127]"),
    ({"reduce_mlp": {"intermediate_size": 64, "ratio": 0.5}}, "exactly one of intermediate_size or ratio"),
    ({"reduce_mlp": {"ratio": 0.5, "by": "magnitude"}}, "unknown score 'magnitude'"),
    ({"reduce_hidden_dim": {"hidden_size": 0}}, "out of range [1, 63]"),
    ({"reduce_hidden_dim": {"ratio": -0.2}}, "expected a ratio in (0, 1)"),
    ({"drop_layers": "last"}, "expected a mapping"),
    ({"trim_vocab": {"min_count": 1}}, "needs the dataset texts and the tokenizer"),
]


@pytest.mark.parametrize("compression, message", BAD, ids=[m for _, m in BAD])
def test_bad_specs_fail_before_touching_the_model(tiny_exaone, compression, message):
    before = {k: v.clone() for k, v in tiny_exaone.state_dict().items()}
    config = tiny_exaone.config.to_dict()
    with pytest.raises(SpecError) as err:
        apply(tiny_exaone, compression, calib(), where="drop_layers.yaml[broken]")
    assert message in str(err.value) and str(err.value).startswith("drop_layers.yaml[broken]")
    assert tiny_exaone.config.to_dict() == config
    assert all(torch.equal(v, tiny_exaone.state_dict()[k]) for k, v in before.items())


NEED_DATA = ("needs the dataset texts and the tokenizer",)  # only the run can check these: they need data


@pytest.mark.parametrize("compression, message", [b for b in BAD if b[1] not in NEED_DATA], ids=lambda x: str(x)[:40])
def test_bad_specs_fail_on_the_config_alone(tiny_exaone, compression, message):
    """The collector's check: the same errors from the config, with no weights or scores."""
    from exaone_bench.compression.registry import check

    with pytest.raises(SpecError) as err:
        check(tiny_exaone.config, compression, where="drop_layers.yaml[broken]")
    assert message in str(err.value) and str(err.value).startswith("drop_layers.yaml[broken]")


def test_config_check_accepts_every_shipped_experiment(tmp_path, monkeypatch):
    """Every variant under experiments/ passes the collector's check against exaone-tiny's shapes."""
    from pathlib import Path

    from exaone_bench.base_models.load import cached_config
    from exaone_bench.suite.collect import load_experiment

    monkeypatch.setenv("EXAONE_BENCH_DATA", str(tmp_path))  # not built: the config comes from the recipe
    config = cached_config("exaone-tiny")
    files = sorted((Path(__file__).parent.parent / "experiments").glob("*.yaml"))
    variants = [v for f in files if f.name != "setup.yaml" for v in load_experiment(f, config).variants]
    assert len(variants) >= 13


def test_the_smollm2_study_names_its_files_and_each_fits_smollm2s_shapes():
    """experiments/setups/smollm2.yaml runs experiments/smollm2/, and every variant there passes the collector's check
    against SmolLM2-135M's config (30 layers, 9 query heads in 3 KV groups, width 576, 49,152 tokens)."""
    from pathlib import Path

    from exaone_bench.config.setup import load_setup
    from exaone_bench.suite.collect import load_experiment

    root = Path(__file__).parent.parent
    setup = load_setup(root / "experiments" / "setups" / "smollm2.yaml")
    assert (setup.experiments, setup.reports) == ("experiments/smollm2", "reports/smollm2")
    config = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                         num_attention_heads=9, num_key_value_heads=3, head_dim=64, tie_word_embeddings=True)
    files = sorted((root / setup.experiments).glob("*.yaml"))
    variants = {f"{f.stem}[{v.id}]" for f in files for v in load_experiment(f, config).variants}
    assert {"drop_layers[first-2]", "prune_heads[kv-group-by-score]", "reduce_hidden_dim[hidden-504]",
            "trim_vocab[seen-once]", "final[last8-vocab]", "post_training[int4-g32@baseline]"} <= variants


def test_kv_removal_that_breaks_divisibility(tiny_exaone):
    torch.manual_seed(0)
    model = Exaone4ForCausalLM(tiny_exaone_config(num_key_value_heads=4)).eval()
    with pytest.raises(SpecError, match="4 query heads over 3 KV groups leaves the groups uneven"):
        apply(model, {"prune_heads": {"kv_heads": [0], "query_heads": 4}}, calib())
    assert model.config.num_key_value_heads == 4 and model.model.layers[0].self_attn.k_proj.out_features == 64


def test_scores_need_calibration(tiny_exaone):
    with pytest.raises(SpecError, match="needs calibration data"):
        apply(tiny_exaone, {"reduce_mlp": {"ratio": 0.5}})


def tiny_llama():
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                      num_attention_heads=8, num_key_value_heads=2, head_dim=16, tie_word_embeddings=True,
                      max_position_embeddings=128)
    return LlamaForCausalLM(cfg).eval()


LLAMA_OK = [n for n in STRUCTURAL if n != "prune_heads-query"]


@pytest.mark.parametrize("name", LLAMA_OK)
def test_llama_family_reloads_exactly(tmp_path, name):
    model, _ = variant(tiny_llama(), STRUCTURAL[name])
    model.save_pretrained(tmp_path)
    assert torch.equal(logits(model), logits(AutoModelForCausalLM.from_pretrained(tmp_path).eval()))


def test_llama_refuses_widths_its_config_cannot_reload():
    """LlamaConfig insists hidden_size % num_attention_heads == 0: caught before any cut."""
    model = tiny_llama()
    with pytest.raises(SpecError, match="stock transformers cannot reload .* not a multiple"):
        apply(model, {"prune_heads": {"query_heads_per_group": 3}}, calib())
    assert model.config.num_attention_heads == 8


def test_unsupported_architecture_is_an_error():
    from transformers import GPT2Config, GPT2LMHeadModel

    from exaone_bench.models.architecture import ArchitectureError

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=50))
    with pytest.raises(ArchitectureError, match="model_type 'gpt2' is not supported"):
        apply(gpt2, {"drop_layers": [0]})
