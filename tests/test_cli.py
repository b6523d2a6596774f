"""The `exaone-bench` console script as a user runs it (a subprocess, the installed entry point)."""
from __future__ import annotations

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
    assert "exaone-micro ready at" in out.stdout and "LM loss" in out.stdout


@pytest.mark.parametrize("args, message", [
    (("data", "--source", "nowhere.csv"), "error: "),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    out = run_cli(*args, env_root=tmp_path)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
