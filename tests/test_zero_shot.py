"""Zero-shot accuracy through lm-evaluation-harness on a local task: the library call and the harness's own CLI."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Exaone4ForCausalLM

from conftest import tiny_exaone_config

from exaone_bench.compress import compress
from exaone_bench.data import DataSpec, load_split
from exaone_bench.zero_shot import accuracy, prompt, write_task

CHOICES = ["positive", "negative"]  # label 0 is "fresh", label 1 "rotten"
N = 60  # test reviews: enough to tell predictions apart, seconds to score


@pytest.fixture(scope="module")
def test_split(micro_reference):
    split = load_split(DataSpec())["test"]
    return list(split["text"][:N]), list(split["label"][:N])


def by_hand(model, tokenizer, texts) -> list[int]:
    """The most likely label word per review: summed log-probabilities of its tokens after the prompt."""
    preds = []
    for text in texts:
        context = prompt(CHOICES).replace("{{text}}", text)
        ctx = tokenizer(context, add_special_tokens=False).input_ids
        scores = []
        for choice in CHOICES:
            whole = tokenizer(context + " " + choice, add_special_tokens=False).input_ids
            with torch.no_grad():
                logp = model(torch.tensor([whole])).logits[0].log_softmax(-1)
            scores.append(sum(float(logp[i - 1, whole[i]]) for i in range(len(ctx), len(whole))))
        preds.append(max(range(len(CHOICES)), key=scores.__getitem__))
    return preds


def test_harness_accuracy_is_the_argmax_of_the_label_words_loglikelihoods(micro_reference, test_split, tmp_path):
    """A seeded random model (its preferences differ from review to review, unlike a tiny pretrained
    one's) scored by the harness and by hand: the same accuracy and the harness's stderr of a mean."""
    texts, labels = test_split
    task = write_task(tmp_path / "task", "rt_test", texts, labels, CHOICES)
    torch.manual_seed(0)  # positions for every review: the harness keeps only a model's last max_length tokens
    model, tok = Exaone4ForCausalLM(tiny_exaone_config(vocab_size=512, max_position_embeddings=1024)).eval(), AutoTokenizer.from_pretrained(micro_reference)
    got = accuracy(model, tok, task, "rt_test", batch_size=16)
    preds = by_hand(model, tok, texts)
    assert 5 < sum(preds) < N - 5  # both words win somewhere: the comparison is not of two constants
    expected = sum(p == y for p, y in zip(preds, labels)) / len(labels)
    assert got["accuracy"] == pytest.approx(expected, abs=1e-12)
    assert got["stderr"] == pytest.approx((expected * (1 - expected) / (len(labels) - 1)) ** 0.5, rel=1e-6)


def test_the_harness_cli_reads_a_variant_compress_wrote(micro_reference, test_split, tmp_path):
    """`lm_eval --model hf` on an exported variant, offline, gives the in-suite zero-shot figure."""
    texts, labels = test_split
    task = write_task(tmp_path / "task", "rt_test", texts, labels, CHOICES)
    spec = tmp_path / "v.yaml"
    spec.write_text("compression: {drop_layers: [1]}\n")
    compress(str(micro_reference), spec, tmp_path / "v", calibration=0)
    exe = shutil.which("lm_eval", path=os.path.dirname(sys.executable))
    assert exe, "lm-eval's console script is not installed next to this Python"
    out = subprocess.run([exe, "--model", "hf", "--model_args", f"pretrained={tmp_path / 'v'}", "--tasks", "rt_test",
                          "--include_path", str(task), "--batch_size", "16", "--device", "cpu",
                          "--output_path", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    (report,) = Path(tmp_path / "out").rglob("results_*.json")
    cli_acc = json.loads(report.read_text())["results"]["rt_test"]["acc,none"]
    variant = AutoModelForCausalLM.from_pretrained(tmp_path / "v").eval()
    assert cli_acc == accuracy(variant, AutoTokenizer.from_pretrained(tmp_path / "v"), task, "rt_test", 16)["accuracy"]
