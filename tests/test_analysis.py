"""The per-parameter table, streaming from safetensors, redundancy tables, plots and summary."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

from conftest import tiny_exaone_config
from exaone_bench.analysis.analyze import analyze
from exaone_bench.analysis.params import TableContext, block_type, build_table, model_tensors, tensor_stats
from exaone_bench.analysis.safetensors_stream import CheckpointError, iter_tensors

CONTRACT = ["model_path", "model_id", "revision", "param_name", "layer_index", "block_type", "shape", "rows", "cols",
            "rank", "mean", "std", "var", "sparsity", "dtype", "created_at"]


@pytest.fixture
def exaone_dir(tiny_exaone, tmp_path):
    tiny_exaone.save_pretrained(tmp_path / "exaone")
    return tmp_path / "exaone"


def test_every_tensor_once_in_order_with_types(tiny_exaone, exaone_dir):
    frame = build_table(iter_tensors(exaone_dir), TableContext(str(exaone_dir), "tiny", tied_embeddings=True))
    assert list(frame.columns[: len(CONTRACT)]) == CONTRACT
    names = [n for n, p in tiny_exaone.named_parameters()]  # tied lm_head is not repeated here
    assert sorted(frame["param_name"]) == sorted(names) and frame["param_name"].is_unique
    layers = frame["layer_index"].dropna().astype(int).tolist()
    assert layers == sorted(layers) and frame["layer_index"].iloc[-2:].isna().all()
    assert list(frame["block_type"].iloc[-2:]) == ["embedding", "norm"]
    assert "tied" in frame.loc[frame["block_type"] == "embedding", "note"].item()
    per_layer = frame[frame["layer_index"] == 0]["block_type"].tolist()
    assert per_layer == ["q_proj", "k_proj", "v_proj", "q_norm", "k_norm", "o_proj", "post_attention_layernorm",
                         "gate_proj", "up_proj", "down_proj", "post_feedforward_layernorm"]
    assert (frame["numel"].sum()) == sum(p.numel() for p in tiny_exaone.parameters())


def test_layer_index_sorts_numerically(tmp_path):
    torch.manual_seed(0)
    from transformers import Exaone4ForCausalLM

    model = Exaone4ForCausalLM(tiny_exaone_config(num_hidden_layers=12))
    frame = build_table(model_tensors(model), TableContext("mem", "tiny12", tied_embeddings=True))
    assert frame["layer_index"].dropna().astype(int).unique().tolist() == list(range(12))


def test_llama_names_map_to_the_same_block_types(tmp_path):
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False))
    llama.save_pretrained(tmp_path)
    frame = build_table(iter_tensors(tmp_path), TableContext(str(tmp_path), "llama"))
    assert set(frame["block_type"]) == {"embedding", "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                        "down_proj", "input_layernorm", "post_attention_layernorm", "norm", "lm_head"}
    assert frame["block_type"].iloc[-1] == "lm_head" and frame["note"].eq("").all()
    assert block_type("model.layers.3.self_attn.k_norm.weight") == "k_norm"


def test_rank_of_a_constructed_low_rank_matrix_is_exact():
    g = torch.Generator().manual_seed(0)
    for r in (1, 7, 23):
        m = torch.randn(96, r, generator=g) @ torch.randn(r, 40, generator=g)
        assert tensor_stats(m)["rank"] == r
        assert tensor_stats(m.T)["rank"] == r
    assert tensor_stats(torch.eye(30))["rank"] == 30 and tensor_stats(torch.eye(30))["stable_rank"] == pytest.approx(30)


def test_sparsity_and_moments_of_a_constructed_tensor():
    t = torch.zeros(10, 10)
    t[:3] = 2.0
    t[3, :5] = 1e-9  # under the default threshold: counts as zero
    stats = tensor_stats(t)
    assert stats["sparsity"] == pytest.approx(0.70)
    assert stats["mean"] == pytest.approx(0.6, abs=1e-6) and stats["var"] == pytest.approx(t.var().item())
    assert tensor_stats(t, zero_threshold=1e-10)["sparsity"] == pytest.approx(0.65)


def test_streaming_equals_in_memory(tiny_exaone, exaone_dir):
    ctx = TableContext("p", "tiny", tied_embeddings=True, created_at="t")
    streamed = build_table(iter_tensors(exaone_dir), ctx)
    in_memory = build_table(model_tensors(tiny_exaone), ctx)
    pd.testing.assert_frame_equal(streamed, in_memory)


def test_sharded_checkpoint_streams_like_a_single_file(tiny_exaone, exaone_dir, tmp_path):
    tiny_exaone.save_pretrained(tmp_path / "sharded", max_shard_size="100KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    ctx = TableContext("p", "tiny", tied_embeddings=True, created_at="t")
    a = build_table(iter_tensors(exaone_dir), ctx)
    b = build_table(iter_tensors(tmp_path / "sharded"), ctx)
    pd.testing.assert_frame_equal(a, b)


def test_bf16_tensors_stream(tmp_path):
    t = torch.randn(8, 4).to(torch.bfloat16)
    save_file({"model.layers.0.mlp.up_proj.weight": t}, tmp_path / "model.safetensors")
    (name, read), = list(iter_tensors(tmp_path))
    assert read.dtype == torch.bfloat16 and torch.equal(read, t)


def test_corrupt_and_missing_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no \\*.safetensors files"):
        list(iter_tensors(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 4)
    with pytest.raises(CheckpointError, match="model.safetensors: too short"):
        list(iter_tensors(tmp_path))
    (tmp_path / "model.safetensors").write_bytes((10**9).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointError, match="corrupt header"):
        list(iter_tensors(tmp_path))


def test_unanalysable_tensor_is_skipped_and_counted(monkeypatch):
    from exaone_bench.analysis import params

    real = params.spectrum

    def flaky(m):
        if m.shape == (16, 64):  # the k_proj shape (transposed for LAPACK)
            raise RuntimeError("svd did not converge")
        return real(m)

    monkeypatch.setattr(params, "spectrum", flaky)
    torch.manual_seed(0)
    from transformers import Exaone4ForCausalLM

    model = Exaone4ForCausalLM(tiny_exaone_config(num_key_value_heads=1, num_attention_heads=4))
    skipped: list = []
    frame = build_table(model_tensors(model), TableContext("m", "t", tied_embeddings=True), skipped=skipped)
    assert len(skipped) == 8 and {s["param_name"].split(".")[-2] for s in skipped} == {"k_proj", "v_proj"}
    assert not frame["block_type"].isin(["k_proj", "v_proj"]).any()


def test_analyze_end_to_end_with_redundancy_and_parquet(micro_reference, tmp_path):
    meta = analyze(str(micro_reference), tmp_path / "t.csv", calibration=4, progress=False, argv=["test"])
    csv = pd.read_csv(tmp_path / "t.csv")
    assert list(csv.columns[: len(CONTRACT)]) == CONTRACT and meta["rows"] == len(csv) and meta["skipped"] == 0
    layers = pd.read_csv(tmp_path / "t_layers.csv")
    assert len(layers) == 2 and layers["block_influence"].between(0, 2).all()
    heads = pd.read_csv(tmp_path / "t_heads.csv", index_col=0)
    assert heads.shape == (2, 4)
    for png in ("t_rank.png", "t_block_influence.png", "t_heads.png"):
        data = (tmp_path / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    md = (tmp_path / "analysis.md").read_text()
    worst = layers.sort_values("block_influence").iloc[0]
    assert f"layer {int(worst.layer_index)}: block influence {worst.block_influence:.4f}" in md
    run_meta = json.loads((tmp_path / "run_meta.json").read_text())
    assert {"torch", "transformers", "python", "cli_args", "created_at", "code_version"} <= set(run_meta)

    analyze(str(micro_reference), tmp_path / "p.parquet", fmt="parquet", progress=False)
    parquet = pd.read_parquet(tmp_path / "p.parquet")
    keep = [c for c in csv.columns if c not in ("created_at", "note", "revision")]
    pd.testing.assert_frame_equal(csv[keep], parquet[keep].astype(csv[keep].dtypes.to_dict()), check_exact=False, rtol=1e-12)
