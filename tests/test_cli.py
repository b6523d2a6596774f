"""The `exaone-bench` console script as a user runs it (a subprocess, the installed entry point)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest


def run_cli(*args, env_root):
    exe = shutil.which("exaone-bench", path=os.path.dirname(sys.executable))
    assert exe, "the console script `exaone-bench` is not installed next to this Python"
    env = {**os.environ, "EXAONE_BENCH_DATA": str(env_root)}
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=300)


def test_data_command_prints_split_sizes(tmp_path):
    out = run_cli("data", env_root=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "12752 unique texts" in out.stdout
    assert "train" in out.stdout and "10201" in out.stdout and "fresh=737" in out.stdout
    assert (tmp_path / "README.md").read_text().count("| test | 1276 |") == 1


def test_reference_command_micro(tmp_path):
    out = run_cli("reference", "--micro", env_root=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"exaone-micro: built here at {tmp_path / 'models' / 'exaone-micro'}" in out.stdout and "LM loss" in out.stdout


def test_reference_command_pauses_and_resumes(tmp_path):
    out = run_cli("reference", "--micro", "--steps-per-piece", "3", env_root=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "exaone-micro: pretraining paused at step 3 of 8" in out.stdout and "run the same command again" in out.stdout
    out = run_cli("reference", "--micro", env_root=tmp_path)
    assert out.returncode == 0, out.stderr
    meta = json.loads((tmp_path / "models" / "exaone-micro" / "run_meta.json").read_text())
    assert [(p["from_step"], p["to_step"]) for p in meta["trained_on"]] == [(0, 3), (3, 8)]


@pytest.mark.parametrize("args, message", [
    (("data", "--source", "nowhere.csv"), "error: "),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    out = run_cli(*args, env_root=tmp_path)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_compress_writes_a_stock_checkpoint_and_replays(tmp_path, micro_reference, data_root):
    import torch
    import yaml
    from transformers import AutoModelForCausalLM

    root, micro = data_root, micro_reference  # `reference --micro` as its own test above built: read back here
    variant = tmp_path / "heads.yaml"
    variant.write_text("id: one-query-per-group\ncompression:\n  prune_heads: {query_heads_per_group: 1}\n")
    out = run_cli("compress", "--model", str(micro), "--config", str(variant), "--out", str(tmp_path / "v"),
                  "--calibration", "4", env_root=root)
    assert out.returncode == 0, out.stderr
    assert "prune_heads: removed 2 query heads/layer; parameters " in out.stdout
    names = {p.name for p in (tmp_path / "v").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "removed.yaml", "heads.yaml"} <= names
    doc = yaml.safe_load((tmp_path / "v" / "removed.yaml").read_text())
    assert doc["removed"][0]["after"]["num_attention_heads"] == 2 and doc["calibration"]["split"] == "train"
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "v")
    assert model.config.num_attention_heads == 2 and model.config.num_key_value_heads == 2

    again = run_cli("compress", "--model", str(micro), "--replay", str(tmp_path / "v" / "removed.yaml"),
                    "--out", str(tmp_path / "r"), env_root=root)
    assert again.returncode == 0, again.stderr
    replayed = AutoModelForCausalLM.from_pretrained(tmp_path / "r")
    a, b = model.state_dict(), replayed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_compress_bad_variant_names_file_and_key(tmp_path, micro_reference, data_root):
    variant = tmp_path / "bad.yaml"
    variant.write_text("compression:\n  reduce_mlp: {ratio: 1.5}\n")
    out = run_cli("compress", "--model", str(micro_reference), "--config", str(variant),
                  "--out", str(tmp_path / "v"), env_root=data_root)
    assert out.returncode == 2
    assert f"{variant}.reduce_mlp.ratio: expected a ratio in (0, 1), got 1.5" in out.stderr
    assert not (tmp_path / "v").exists()
