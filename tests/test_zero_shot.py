"""Zero-shot accuracy through lm-evaluation-harness on a local task, and the setup blocks that ask for it.

The harness's own CLI on an exported variant is tested beside the suite run it checks (test_tracking.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, Exaone4ForCausalLM

from conftest import tiny_exaone_config
from exaone_bench.config.setup import load_setup
from exaone_bench.core.validate import SpecError
from exaone_bench.data.split import DataSpec, load_split
from exaone_bench.evaluation.zero_shot import accuracy, prompt, split_task, write_task
from exaone_bench.pipeline.runner import Runner

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


def test_extra_harness_tasks_are_scored_beside_the_split(micro_reference, test_split, tmp_path):
    """`evaluation.lm_eval_tasks` names local tasks; the runner scores them in the same harness call as the
    split's task, and the split's own figure is the one `accuracy` gives alone."""
    texts, labels = test_split
    write_task(tmp_path / "extra", "rt_head", texts, labels, ["fresh", "rotten"])
    (tmp_path / "setup.yaml").write_text(
        f"model: {micro_reference}\nevaluation:\n  zero_shot: {{choices: [good, bad], batch_size: 32}}\n"
        f"  lm_eval_tasks: [{{task: rt_head, include_path: {tmp_path / 'extra'}}}]\n")
    runner = Runner(load_setup(tmp_path / "setup.yaml"))
    model, tok = Exaone4ForCausalLM(tiny_exaone_config(vocab_size=512, max_position_embeddings=1024)).eval(), \
        AutoTokenizer.from_pretrained(micro_reference)
    got = runner.measures.zero_shot(model, tok)
    assert set(got) == {"zero_shot_accuracy", "zero_shot_accuracy_stderr", "lm_eval.rt_head.acc", "lm_eval.rt_head.acc_stderr"}
    alone = accuracy(model, tok, tmp_path / "extra", "rt_head", 32)
    assert got["lm_eval.rt_head.acc"] == alone["accuracy"]
    split_dir, name = split_task("rotten_tomatoes", runner.split.texts["test"], runner.split.labels["test"], ["good", "bad"])
    assert got["zero_shot_accuracy"] == accuracy(model, tok, split_dir, name, 32)["accuracy"]


@pytest.mark.parametrize("block, message", [
    ("evaluation: {zero_shot: {choices: [good]}}", "evaluation.zero_shot.choices: expected a list of at least two"),
    ("evaluation: {zero_shot: {choices: [good, good]}}", "evaluation.zero_shot.choices: label words must differ"),
    ("evaluation: {zero_shot: {choices: [' good', bad]}}", "no surrounding spaces"),
    ("evaluation: {zero_shot: {enable: false}}", "evaluation.zero_shot: unknown key(s) ['enable']"),
    ("evaluation: {lm_eval_tasks: [{task: sst2, include_path: /nonexistent/tasks}]}",
     "evaluation.lm_eval_tasks[0].include_path: '/nonexistent/tasks' is not a directory"),
    ("evaluation: {lm_eval_tasks: [{task: sst2}]}", "evaluation.lm_eval_tasks[0].include_path"),
    ("compare: [{source: smollm2-135m}, {source: smollm2-135m}]", "compare: a model is listed twice"),
    ("compare: [{model: smollm2-135m}]", "compare[0]: unknown key(s) ['model']"),
    ("evaluation: {zero_shot: {enabled: false}}\ncompare: [{source: smollm2-135m}]",
     "compare[0]: 'smollm2-135m' is neither fine-tuned nor scored zero-shot"),
])
def test_bad_zero_shot_and_compare_blocks_fail_naming_the_key(tmp_path, block, message):
    (tmp_path / "setup.yaml").write_text(block + "\n")
    with pytest.raises(SpecError) as e:
        load_setup(tmp_path / "setup.yaml")
    assert message in str(e.value) and str(tmp_path / "setup.yaml") in str(e.value)


def test_label_words_must_match_the_labels_before_anything_trains(micro_reference, tmp_path):
    (tmp_path / "setup.yaml").write_text(f"model: {micro_reference}\nevaluation: {{zero_shot: {{choices: [a, b, c]}}}}\n")
    with pytest.raises(SpecError, match=r"evaluation.zero_shot.choices: 3 label words \['a', 'b', 'c'\] for the data's 2 labels "
                                        r"\['fresh', 'rotten'\]: list one word per label"):
        Runner(load_setup(tmp_path / "setup.yaml"))


def test_comparison_models_do_not_change_what_the_suite_trains(tmp_path):
    """A `compare:` entry is a row beside the suite: the setup hash that keys every cached model stays."""
    (tmp_path / "a.yaml").write_text("model: exaone-tiny\n")
    (tmp_path / "b.yaml").write_text("model: exaone-tiny\ncompare: [{source: smollm2-135m, fine_tune: true}]\n")
    a, b = load_setup(tmp_path / "a.yaml"), load_setup(tmp_path / "b.yaml")
    assert a.hash == b.hash and a.seed_hash == b.seed_hash and b.compare[0].fine_tune


def test_keys_added_later_at_their_defaults_leave_the_setup_hash_as_it_was(tmp_path):
    """`training.teacher` and `task_model` keys added after setups were first hashed (their `LATER` lists) enter the
    setup's hash only when set away from their defaults, so caches and shards made before them still match."""
    from exaone_bench.config.setup import TaskModelSetup, TeacherSetup

    base = "model: exaone-tiny\noriginal: task\ntraining: {teacher: {source: smollm2-135m%s}}\ntask_model: {%s}\n"
    plain = load_setup(_write(tmp_path / "a.yaml", base % ("", "")))
    key = plain.cache_key()
    assert not set(TeacherSetup.LATER) & set(key["training"]["teacher"])
    assert not set(TaskModelSetup.LATER) & set(key["task_model"])
    defaults = ", ".join(f"{k}: {TeacherSetup.model_fields[k].default}" for k in TeacherSetup.LATER)
    spelled = load_setup(_write(tmp_path / "b.yaml", base % (", " + defaults, "dropout: 0.0, features: 0.0")))
    assert spelled.hash == plain.hash and spelled.seed_hash == plain.seed_hash
    moved = load_setup(_write(tmp_path / "c.yaml", base % (", sampled: 100", "")))
    assert moved.hash != plain.hash and moved.cache_key()["training"]["teacher"]["sampled"] == 100


def _write(path, text: str):
    path.write_text(text)
    return path


def test_every_shipped_setup_validates_with_its_label_words_and_comparisons():
    """The setups under experiments/ load through the schema; each scores the same label words."""
    root = Path(__file__).parent.parent / "experiments"
    setups = {p.name: load_setup(p) for p in [root / "setup.yaml", *sorted((root / "setups").glob("*.yaml"))]}
    assert len(setups) >= 5 and all(s.evaluation.zero_shot.choices == ["good", "bad"] for s in setups.values())
    assert [c.source for c in setups["setup.yaml"].compare] == ["smollm2-135m"]
    assert [(c.source, c.fine_tune) for c in setups["smollm2.yaml"].compare] == [("exaone-tiny", True)]
