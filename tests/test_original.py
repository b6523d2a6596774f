"""The task model as the original: a teacher's labels over the transfer set, the task model trained once,
and every variant read right after its cut and again after the one recovery."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from exaone_bench.base_models.task_model import TaskModel, read_head
from exaone_bench.base_models.teacher import Teacher
from exaone_bench.config.setup import Setup
from exaone_bench.core.cache import verify_checksums
from exaone_bench.data.augment import Augmentation, augmented, transfer_set
from exaone_bench.data.split import DataSpec, Split

pytest_plugins = ["pytester"]

# The micro model teaches itself here: what is tested is the path (labels, cache, task model, measures), not quality.
TASK_SETUP = """
model: {model}
original: task
task_model: {{steps: 8, batch_size: 16, lr: 2.0e-3, warmup_steps: 1, dtype: float32}}
training:
  steps: 4
  batch_size: 8
  lr: 1.0e-3
  warmup_steps: 1
  max_length: 24
  seeds: 2
  recovery: distill
  teacher: {{source: {model}, copies: 1, batch_size: 256, max_length: 24, dtype: float32}}
evaluation: {{batch_size: 256, bootstrap: 50, latency: {{repeats: 2, warmup: 1}}, zero_shot: {{enabled: false}}}}
calibration: {{samples: 4, seq_len: 16}}
"""

DROP = """
strategy: drop_layers
hypothesis: Cutting one of the micro model's two layers changes what its head reads.
expect:
  accuracy: {min_delta: -1.0}
  before_recovery: {accuracy: {min_delta: -1.0}}
variants:
  - id: last1
    compression: {drop_layers: [1]}
  - id: first1
    compression: {drop_layers: [0]}
"""


def test_the_transfer_set_is_the_training_texts_then_seeded_copies():
    texts = ["a great film", "dull and long , really dull", "x"]
    spec = Augmentation(copies=2, seed=3)
    out = transfer_set(texts, spec)
    assert out[:3] == texts and len(out) == 9 and out == transfer_set(texts, spec)  # same seed, same set
    assert out != transfer_set(texts, Augmentation(copies=2, seed=4))
    vocabulary = sorted({w for t in texts for w in t.split()})
    assert all(c and set(c.split()) <= set(vocabulary) for c in out)  # words of the training texts only, never empty
    rng = __import__("random").Random(0)
    kept = augmented("one two three four five six seven eight nine ten eleven", vocabulary,
                     Augmentation(drop=0.0, swap=0.0, ngram=1.0), rng)
    assert 3 <= len(kept.split()) <= 8 and kept in "one two three four five six seven eight nine ten eleven"


@pytest.fixture(scope="module")
def micro_task(micro_reference, tmp_path_factory):
    setup = Setup.model_validate(json.loads(json.dumps({
        "model": str(micro_reference), "original": "task",
        "task_model": {"steps": 8, "batch_size": 16, "lr": 2e-3, "warmup_steps": 1, "dtype": "float32"},
        "training": {"max_length": 24, "teacher": {"source": str(micro_reference), "copies": 1, "batch_size": 256,
                                                   "max_length": 24, "dtype": "float32"}}})))
    spec = DataSpec()
    split = Split.load(spec)
    task = TaskModel(setup, split, spec.split_dir.name)
    return setup, split, task, task.ensure(say=lambda text: None)


def test_teacher_labels_cover_the_transfer_set_once_and_are_verified(micro_task):
    setup, split, task, _ = micro_task
    teacher = task.teacher
    assert verify_checksums(teacher.dir)
    logits = teacher.logits()
    assert logits.shape == (2 * len(split.texts["train"]), split.num_labels)
    assert np.allclose(np.exp(logits).sum(1), 1, atol=1e-2)  # log-probabilities of the probe
    meta = teacher.meta()
    assert meta["transfer_texts"] == 2 * len(split.texts["train"]) and 0 < meta["test"]["accuracy"] <= 1
    assert str(meta["probe"]["C"]) in meta["probe"]["validation_accuracy_by_C"]
    again = Teacher(setup.training.teacher, split, teacher.split_name)
    assert again.dir == teacher.dir and np.array_equal(again.logits(), logits)  # read back, not built again


def test_prompts_show_training_texts_and_open_with_one_of_their_first_words():
    from exaone_bench.base_models import sampled

    texts = [f"review number {i} says the film is fine" for i in range(20)]
    made = sampled.prompts(texts, 5, seed=1)
    assert made == sampled.prompts(texts, 5, seed=1) and made != sampled.prompts(texts, 5, seed=2)
    for prompt in made:
        lines = prompt.split("\n")
        assert len(lines) == sampled.SHOTS + 1 and all(line[2:] in texts for line in lines[:-1])
        opening = sampled.opening_of(prompt)
        assert opening == lines[-1][2:] and sampled.OPENING[0] <= len(opening.split()) <= sampled.OPENING[1]
        assert any(t.startswith(opening) for t in texts)


def test_texts_the_teacher_writes_join_the_transfer_set_and_ship_with_its_labels(micro_task):
    setup, split, task, _ = micro_task
    # no rule-based copies here (the fixture's teacher has one): the written texts follow the training texts
    spec = setup.training.teacher.model_copy(update={"copies": 0, "sampled": 6, "sample_tokens": 5, "batch_size": 4})
    assert "sampled" not in setup.training.teacher.keyed() and spec.keyed()["sampled"] == 6
    teacher = Teacher(spec, split, task.teacher.split_name)
    teacher.ensure(say=lambda text: None)
    assert verify_checksums(teacher.dir) and "sampled.txt.gz" in json.loads((teacher.dir / "checksums.json").read_text())
    train = split.texts["train"]
    n_rule = len(train)
    texts, logits, gold = teacher.transfer_texts(), teacher.logits(), teacher.gold()
    assert len(texts) == len(logits) == len(gold) == n_rule + 6 and teacher.meta()["sampled_texts"] == 6
    assert texts[:n_rule] == train
    firsts = {t.split()[0] for t in train if t.split()}  # the opening's first word (its last may run into the continuation)
    assert all(text.split()[0] in firsts for text in texts[n_rule:]), texts[n_rule:]
    assert np.array_equal(gold[:n_rule], split.labels["train"])
    assert np.array_equal(gold[n_rule:], logits[n_rule:].argmax(1))  # no gold label: the teacher's choice stands in


def test_unlabelled_texts_join_the_transfer_set_keyed_by_their_file(micro_task, tmp_path):
    setup, split, task, _ = micro_task
    held = split.texts["test"][0]
    path = tmp_path / "reviews.txt"
    path.write_text("\n".join([f"an unlabelled review, number {i}, of a film" for i in range(12)] + [held.upper()]) + "\n")
    spec = setup.training.teacher.model_copy(update={"copies": 0, "unlabelled": 12, "unlabelled_source": str(path)})
    assert "unlabelled" not in setup.training.teacher.keyed() and spec.keyed()["unlabelled"] == 12
    teacher = Teacher(spec, split, task.teacher.split_name)
    teacher.ensure(say=lambda text: None)
    n_rule = len(split.texts["train"])
    texts, logits, gold = teacher.transfer_texts(), teacher.logits(), teacher.gold()
    assert len(texts) == len(logits) == len(gold) == n_rule + 12 and teacher.meta()["unlabelled_texts"] == 12
    assert sorted(texts[n_rule:]) == sorted(f"an unlabelled review, number {i}, of a film" for i in range(12))
    assert np.array_equal(gold[n_rule:], logits[n_rule:].argmax(1))  # no gold label: the teacher's choice stands in
    path.write_text(path.read_text().replace("number 0,", "number zero,"))  # another file, other labels
    assert Teacher(spec, split, task.teacher.split_name).dir != teacher.dir


def test_the_task_model_reloads_as_a_causal_lm_with_its_head(micro_task):
    from transformers import AutoModelForCausalLM

    setup, split, task, out = micro_task
    meta = task.meta()
    assert meta["steps"] == 8 and meta["teacher"] == task.teacher.dir.name and 0 < meta["test"]["accuracy"] <= 1
    model = AutoModelForCausalLM.from_pretrained(out)
    head = read_head(out)
    assert head.shape == (split.num_labels, model.config.hidden_size)
    assert TaskModel(setup, split, DataSpec().split_dir.name).dir == out  # the same key finds it again


def test_reduce_hidden_dim_cuts_the_task_head_with_the_backbone(tiny_exaone):
    from exaone_bench.compression.calibration import Calibration
    from exaone_bench.compression.registry import apply, cut_head

    head = torch.randn(2, tiny_exaone.config.hidden_size)
    calib = Calibration(input_ids=torch.randint(3, 97, (2, 12), generator=torch.Generator().manual_seed(0)))
    removed = apply(tiny_exaone, {"reduce_hidden_dim": {"hidden_size": 48}}, calib)
    kept = removed[0]["kept"]["channels"]
    assert torch.equal(cut_head(head, removed), head[:, kept])
    assert torch.equal(cut_head(head, [{"strategy": "drop_layers", "removed": {"layers": [0]}}]), head)


def test_a_suite_cut_from_the_task_model_is_read_before_and_after_recovery(pytester, micro_reference, micro_task):
    # micro_task: the same teacher and task model, built in this worker's data directory: the suite reads them back
    pytester.makefile(".yaml", **{"experiments/setup": TASK_SETUP.format(model=micro_reference),
                                  "experiments/drop_layers": DROP})
    out = pytester.runpytest_subprocess("experiments", "-p", "no:cacheprovider")
    out.assert_outcomes(passed=2)
    doc = json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())
    base = doc["baseline"]
    assert set(base["before_recovery"]) >= {"accuracy", "precision"} and base["teacher"]["test"]["accuracy"] > 0
    for row in doc["variants"]:
        before = row["before_recovery"]["accuracy"]
        assert row["before_recovery_deltas"]["accuracy"] == pytest.approx(before - base["before_recovery"]["accuracy"])
        ci = row["before_recovery_ci"]["accuracy"]
        assert ci["ci_low"] <= row["before_recovery_deltas"]["accuracy"] <= ci["ci_high"]
        assert row["before_recovery_verdict"] == "confirmed" and "before recovery" in row["before_recovery_message"]
    readme = (pytester.path / "reports" / "latest" / "README.md").read_text()
    assert "accuracy before recovery (task model" in readme and "teacher: " in readme and "Before recovery" in readme
    floor = base["noise_floor"]["accuracy"]
    assert 0 < floor < 0.5 and f"accuracy ±{floor:.3f}" in readme and "## What this setup can resolve" in readme
    out.stdout.fnmatch_lines([f"exaone-bench: this setup resolves deltas of about accuracy ±{floor:.3f}*"])


def test_a_before_recovery_bound_needs_a_task_original(pytester, micro_reference):
    pytester.makefile(".yaml", **{"experiments/setup": f"model: {micro_reference}\n", "experiments/drop_layers": DROP})
    out = pytester.runpytest_inprocess("experiments", "--collect-only", "-q", "-p", "no:cacheprovider")
    out.stdout.re_match_lines([r".*drop_layers\.yaml\[last1\]\.expect\.before_recovery: bounds the task model's head "
                               r"right after the cut, but .* \(original: pretrained\).*"])


def test_teacher_embeddings_are_mapped_through_the_text_and_projected(micro_reference, tiny_llama_dir):
    from transformers import AutoTokenizer

    from exaone_bench.base_models.embeddings import mapped

    student = AutoTokenizer.from_pretrained(micro_reference)
    own = torch.randn(len(student), 16, generator=torch.Generator().manual_seed(0))
    teacher_table = torch.randn(len(student), 24, generator=torch.Generator().manual_seed(1))
    out = mapped(student, own, AutoTokenizer.from_pretrained(tiny_llama_dir), teacher_table)
    special = sorted(student.all_special_ids)
    assert out.shape == own.shape and torch.equal(out[special], own[special])  # special tokens keep their rows
    rest = torch.tensor([i for i in range(len(student)) if i not in special])
    assert out[rest].norm(dim=1).mean() == pytest.approx(own[rest].norm(dim=1).mean().item(), rel=1e-4)
    # the same text gives the same vector: a token whose text the teacher reads as one token maps to that token's row
    word = next(i for i in rest.tolist() if len(AutoTokenizer.from_pretrained(tiny_llama_dir)(student.decode([i]),
                                                                                             add_special_tokens=False)["input_ids"]) == 1)
    assert not torch.equal(out[word], own[word])


def test_word_vectors_are_averaged_over_the_words_each_token_is_part_of(micro_reference):
    """teacher_glove's GloVe half: a whole-word token takes its word's vector; a piece, the mean over the words it is in."""
    import numpy as np
    from transformers import AutoTokenizer

    from exaone_bench.base_models.embeddings import side_by_side, word_vector_rows

    tok = AutoTokenizer.from_pretrained(micro_reference)
    vectors = {"good": [1.0, 0.0], "goodness": [0.0, 1.0], "film": [2.0, 2.0], ",": [0.5, 0.5]}
    asked = []

    def lookup(wanted):
        asked.append(wanted)
        known = sorted(w for w in wanted if w in vectors)
        return {w: i for i, w in enumerate(known)}, np.array([vectors[w] for w in known], dtype=np.float32)

    from exaone_bench.data.word_vectors import words

    # spans are the text's own, also where lower-casing changes a character's length ("İ" -> "i̇")
    assert words("İ WELL-MADE, it's") == [("i̇", 0, 1), ("well-made", 2, 11), (",", 11, 12), ("it's", 13, 17)]
    texts = ["A GOOD film , goodness", "good film"]
    rows, found = word_vector_rows(tok, len(tok), texts, lookup)
    assert {"good", "film", "goodness", ","} <= asked[0]  # lower-cased words of the texts, read once
    uses: dict[int, list] = {}
    for text in texts:  # the texts' words are space-separated here: each token's uses are the words it overlaps
        spans, at = [], 0
        for w in text.lower().split(" "):
            spans.append((w, at, at + len(w)))
            at += len(w) + 1
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        for i, (a, b) in zip(enc["input_ids"], enc["offset_mapping"]):
            over = [vectors[w] for w, c, d in spans if c < b and a < d and w in vectors]
            if over:
                uses.setdefault(i, []).append(torch.tensor(over).mean(0))
    for i, vs in uses.items():
        assert found[i] and torch.allclose(rows[i], torch.stack(vs).mean(0), atol=1e-6), tok.decode([i])
    assert len(uses) >= 3
    special = sorted(tok.all_special_ids)
    assert not found[special].any()
    # side by side: each block at unit mean norm over its found rows; a row found by either part is found
    other = torch.randn(len(tok), 3, generator=torch.Generator().manual_seed(0)) * 7
    other_found = torch.zeros(len(tok), dtype=torch.bool)
    other_found[:5] = True
    joined, either = side_by_side([(rows, found), (other, other_found)])
    assert joined.shape == (len(tok), 5) and torch.equal(either, found | other_found)
    assert joined[found, :2].norm(dim=1).mean() == pytest.approx(1.0) and joined[other_found, 2:].norm(dim=1).mean() == pytest.approx(1.0)
    assert torch.equal(joined[~other_found, 2:], torch.zeros((~other_found).sum(), 3))


def test_the_original_command_verifies_what_was_built_and_says_where(micro_task, tmp_path, capsys):
    from exaone_bench import cli

    setup, _, task, _ = micro_task
    path = tmp_path / "setup.yaml"
    path.write_text(json.dumps(setup.model_dump()))  # JSON is YAML
    assert cli.main(["original", "--setup", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"teacher labels: built or cached here at {task.teacher.dir}" in out and "probe (C " in out
    assert f"task model: built or cached here at {task.dir}" in out and "8 steps over" in out
    path.write_text(f"model: {setup.model}\n")  # original: pretrained, no teacher: the LM is the original
    assert cli.main(["original", "--setup", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"original: the LM {setup.model} (local" in out and "no teacher or task model to build" in out


def test_feature_targets_are_the_top_principal_directions_at_unit_mean_variance():
    from exaone_bench.training.feature_match import targets

    rng = np.random.default_rng(0)
    feats = rng.normal(size=(500, 12)) * np.array([5.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]) + 3.0
    feats[:, 1] = feats[:, 0] * 0.5 + rng.normal(size=500) * 0.1  # two correlated columns: one direction
    z = targets(feats, 3)
    assert z.shape == (500, 3) and np.isclose((z**2).mean(), 1.0, atol=1e-5)
    variances = z.var(0)
    assert variances[0] > 1.5 * variances[1] >= 1.5 * variances[2] * 0.9  # ordered by explained variance
    assert abs(np.corrcoef(z[:, 0], feats[:, 0])[0, 1]) > 0.95  # the first direction is the correlated pair


def test_the_feature_term_pulls_the_pooled_state_toward_the_teachers(micro_task):
    from exaone_bench.base_models.load import load_model
    from exaone_bench.config.setup import TrainingSetup
    from exaone_bench.data.batches import encode
    from exaone_bench.models.classifier import classifier_from
    from exaone_bench.training.feature_match import FeatureMatch, targets
    from exaone_bench.training.loop import train

    setup, split, task, _ = micro_task
    feats = task.teacher.features()
    assert feats.shape[0] == 2 * len(split.texts["train"]) and np.isfinite(feats).all()
    n = 256
    causal_lm, tokenizer, _ = load_model(setup.model)
    data = encode(tokenizer, split.texts["train"][:n], split.labels["train"][:n], 24)
    pad = tokenizer.pad_token_id
    target = targets(feats[:n], 8)
    short = TrainingSetup(steps=30, batch_size=32, lr=5e-3, warmup_steps=1, max_length=24)

    def feature_error(model, aux) -> float:
        x, mask, _ = data.batch(np.arange(n), pad)
        seen = {}
        handle = model.score.register_forward_pre_hook(lambda m, a: seen.__setitem__("h", a[0]))
        with torch.no_grad():
            model(input_ids=x, attention_mask=mask)
            handle.remove()
            return float(aux(np.arange(n), seen["h"], x))

    model = classifier_from(causal_lm, split.num_labels, 0, pad)
    aux = FeatureMatch(target, causal_lm.config.hidden_size, 1.0, pad)
    before = feature_error(model, aux)
    train(model, data, short, 0, pad, aux=aux)
    after = feature_error(model, aux)
    assert after < 0.7 * before  # the map and the backbone both learned the teacher's directions
    plain = classifier_from(causal_lm, split.num_labels, 0, pad)
    train(plain, data, short, 0, pad)
    changed = [not torch.equal(a, b) for a, b in zip(plain.model.parameters(), model.model.parameters())]
    assert any(changed)  # the term reaches the backbone, not only its own map


def test_a_task_model_with_the_feature_term_is_its_own_cache_entry(micro_task):
    setup, split, task, out = micro_task
    with_features = setup.model_copy(update={"task_model": setup.task_model.model_copy(update={"features": 0.5, "feature_dims": 4})})
    other = TaskModel(with_features, split, DataSpec().split_dir.name)
    assert other.dir != out
    built = other.ensure(say=lambda text: None)
    meta = json.loads((built / "run_meta.json").read_text())
    assert meta["task_model"]["features"] == 0.5 and verify_checksums(built)


def test_frozen_embeddings_leave_the_table_as_it_started_and_name_their_own_task_model(micro_task):
    from exaone_bench.base_models.load import load_model

    setup, split, task, out = micro_task
    assert "freeze_embeddings" not in setup.task_model.keyed()  # task models made before the key keep their names
    frozen = setup.model_copy(update={"task_model": setup.task_model.model_copy(update={"freeze_embeddings": True})})
    other = TaskModel(frozen, split, DataSpec().split_dir.name)
    assert other.dir != out
    built = other.ensure(say=lambda text: None)
    base, _, _ = load_model(setup.model)
    trained, _, _ = load_model(str(built))
    assert torch.equal(trained.get_input_embeddings().weight, base.get_input_embeddings().weight)
    moved = [n for n, p in trained.model.named_parameters() if not torch.equal(p, base.model.get_parameter(n))]
    assert moved and "embed_tokens.weight" not in moved  # the rest of the backbone trained
    assert json.loads((built / "run_meta.json").read_text())["task_model"]["freeze_embeddings"] is True


def test_attention_dropout_trains_the_task_model_and_leaves_the_saved_config_alone(micro_task):
    from exaone_bench.base_models import task_model

    setup, split, task, out = micro_task
    assert "dropout" not in setup.task_model.keyed()  # task models made before the key keep their names
    dropped = setup.model_copy(update={"task_model": setup.task_model.model_copy(update={"dropout": 0.5})})
    assert TaskModel(dropped, split, DataSpec().split_dir.name).dir != out
    student = task_model.student(dropped, split, task.teacher, say=lambda text: None)
    rates = {m.attention_dropout for m in student.model.modules() if hasattr(m, "attention_dropout")}
    assert rates == {0.5} and student.causal_lm.config.attention_dropout == 0.0
    ids = torch.tensor([student.data.ids[0]])
    model = student.model.train()
    torch.manual_seed(0)
    first = model(input_ids=ids).logits
    assert not torch.equal(first, model(input_ids=ids).logits)  # a different mask each pass while training
    model.eval()
    assert torch.equal(model(input_ids=ids).logits, model(input_ids=ids).logits)


def test_contextual_embeddings_average_the_teachers_states_over_each_tokens_uses(micro_reference):
    from exaone_bench.base_models.embeddings import contextual, contextual_rows
    from exaone_bench.base_models.load import load_model

    lm, tokenizer, _ = load_model(str(micro_reference))
    tokenizer.padding_side, pad = "left", tokenizer.pad_token  # the caller's settings, which reading must leave alone
    texts = ["a good film , a good cast", "the plot is dull", "good"]
    table = lm.get_input_embeddings().weight.detach()
    # layer 0 is the embedding output and the teacher is the student: each token used maps to its own row exactly
    rows, found = contextual_rows(tokenizer, len(table), lm, tokenizer, texts, 0)
    used = sorted({i for t in texts for i in tokenizer(t, add_special_tokens=False)["input_ids"]})
    assert found[used].all() and torch.allclose(rows[used], table[used].float(), atol=1e-6)
    # deeper, a token's row is the mean of its states in each place it occurs (here: " good" twice in text 0)
    rows, found = contextual_rows(tokenizer, len(table), lm, tokenizer, texts[:1], 1)
    ids = tokenizer(texts[0], add_special_tokens=False)["input_ids"]
    backbone = getattr(lm, lm.base_model_prefix)
    with torch.no_grad():
        states = backbone(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[1][0]
    good = next(i for i in ids if ids.count(i) == 2)
    where = [k for k, i in enumerate(ids) if i == good]
    assert torch.allclose(rows[good], states[where].mean(0), atol=1e-5)
    assert not torch.allclose(states[where[0]], states[where[1]], atol=1e-3)  # two contexts, two states: the mean is real
    out = contextual(tokenizer, table, lm, tokenizer, texts, 2)
    assert tokenizer.padding_side == "left" and tokenizer.pad_token == pad
    special = sorted(tokenizer.all_special_ids)
    assert out.shape == table.shape and torch.equal(out[special], table[special])


def test_the_default_setup_cuts_from_its_shipped_task_model_and_teacher():
    """experiments/setup.yaml names the shipped task model and teacher labels exactly: a fresh clone verifies both."""
    from exaone_bench.base_models.teacher import SHIPPED
    from exaone_bench.config.setup import load_setup

    setup = load_setup(Path(__file__).parents[1] / "experiments" / "setup.yaml")
    assert setup.original == "task" and setup.training.recovery == "distill"
    spec = DataSpec.of(setup.data)
    task = TaskModel(setup, Split.load(spec), spec.split_dir.name)
    assert task.dir.parent == SHIPPED and task.teacher.dir.parent == SHIPPED
    assert verify_checksums(task.dir) and verify_checksums(task.teacher.dir)
    meta = json.loads((task.dir / "run_meta.json").read_text())
    assert meta["teacher"] == task.teacher.dir.name and meta["task_model"]["embeddings"] == setup.task_model.embeddings


def test_original_rebuild_builds_here_beside_the_shipped_copy_and_compares(micro_task, tmp_path, capsys, monkeypatch):
    import shutil

    from exaone_bench import cli
    from exaone_bench.base_models import task_model, teacher

    setup, _, task, out = micro_task
    shipped = tmp_path / "shipped"
    for directory in (task.teacher.dir, out):  # what was built here stands in for a shipped copy
        shutil.copytree(directory, shipped / directory.name)
    monkeypatch.setattr(teacher, "SHIPPED", shipped)
    monkeypatch.setattr(task_model, "SHIPPED", shipped)
    path = tmp_path / "setup.yaml"
    path.write_text(json.dumps(setup.model_dump()))
    assert cli.main(["original", "--setup", str(path)]) == 0
    said = capsys.readouterr().out
    assert f"teacher labels: shipped, verified at {shipped / task.teacher.dir.name}" in said
    assert f"task model: shipped, verified at {shipped / out.name}" in said
    assert cli.main(["original", "--setup", str(path), "--rebuild"]) == 0
    said = capsys.readouterr().out
    assert f"teacher labels: rebuilt here at {task.teacher.dir}" in said and f"task model: rebuilt here at {out}" in said
    assert "vs the shipped labels: identical" in said  # the same machine, fp32: the same numbers
    assert "vs the shipped task model: bit-identical weights" in said
    assert verify_checksums(shipped / out.name) and verify_checksums(shipped / task.teacher.dir.name)  # never touched


def test_an_embedding_layer_the_teacher_lacks_is_refused_before_anything_is_built(micro_reference, tmp_path):
    """`task_model.embedding_layer` beyond the teacher's layers: one line naming the setup and the key, from the
    teacher's config on disk, before its labels or the task model are built (`exaone-bench original` does the same)."""
    from exaone_bench.base_models.task_model import check_embedding_layer
    from exaone_bench.config.setup import load_setup
    from exaone_bench.core.validate import SpecError

    path = tmp_path / "setup.yaml"
    path.write_text(f"original: task\ntask_model: {{embeddings: teacher_context, embedding_layer: 3}}\n"
                    f"training: {{teacher: {{source: '{micro_reference}'}}}}\n")
    with pytest.raises(SpecError, match=rf"^{path}: task_model.embedding_layer: 3, but the teacher .* has 2 layers \(0 to 2\)$"):
        check_embedding_layer(load_setup(path))
    path.write_text(path.read_text().replace("embedding_layer: 3", "embedding_layer: 2"))
    check_embedding_layer(load_setup(path))  # the final norm's input is a layer it may read


def test_the_seed_screens_soup_is_the_mean_of_the_seeds_weights(tiny_exaone):
    """benchmarks/bench_task_model_seeds.py: the uniform soup of classifiers drawn from one LM averages every
    float tensor, keeps its dtype, and a model loaded with it gives its own logits (not either seed's)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from bench_task_model_seeds import soup

    from exaone_bench.models.classifier import classifier_from

    a, b = (classifier_from(tiny_exaone, 2, seed, 0) for seed in (0, 1))
    with torch.no_grad():
        b.model.layers[0].mlp.up_proj.weight.add_(1.0)
    mean = soup([a, b])
    for name, tensor in a.state_dict().items():
        assert mean[name].dtype == tensor.dtype
        assert torch.allclose(mean[name], (tensor.float() + b.state_dict()[name].float()) / 2)
    assert torch.allclose(mean["score.weight"], (a.score.weight + b.score.weight) / 2)
    assert not torch.equal(a.score.weight, b.score.weight)  # the seeds draw their own heads
    souped = classifier_from(tiny_exaone, 2, 0, 0)
    souped.load_state_dict(mean)
    ids = torch.tensor([[5, 6, 7, 8]])
    logits = [m.eval()(input_ids=ids).logits for m in (a, b, souped)]
    assert not torch.allclose(logits[2], logits[0]) and not torch.allclose(logits[2], logits[1])


def test_an_unlabelled_source_that_is_no_file_stops_the_setup_in_one_line(tmp_path):
    from exaone_bench.config.setup import load_setup
    from exaone_bench.core.validate import SpecError

    text = (Path(__file__).parents[1] / "experiments" / "setup.yaml").read_text()
    path = tmp_path / "setup.yaml"
    path.write_text(text.replace("teacher: {source: smollm2-135m}",
                                 "teacher: {source: smollm2-135m, unlabelled: 100, unlabelled_source: absent.txt}"))
    with pytest.raises(SpecError, match=r"setup.yaml.training.teacher.unlabelled_source: 'absent.txt' is neither imdb"):
        load_setup(path)
    (tmp_path / "texts.txt").write_text("a review of a film\n")
    path.write_text(text.replace("teacher: {source: smollm2-135m}",
                                 f"teacher: {{source: smollm2-135m, unlabelled: 1, unlabelled_source: {tmp_path / 'texts.txt'}}}"))
    assert load_setup(path).training.teacher.unlabelled_source == str(tmp_path / "texts.txt")


def test_cuts_reads_each_variant_before_recovery_on_validation(micro_task, tmp_path, capsys):
    from exaone_bench import cli

    setup, split, task, directory = micro_task
    path = tmp_path / "setup.yaml"
    path.write_text(json.dumps(setup.model_dump()))  # JSON is YAML
    (tmp_path / "drop_layers.yaml").write_text(DROP)
    assert cli.main(["cuts", "--setup", str(path)]) == 0  # every experiment file beside the setup
    out = capsys.readouterr().out
    majority = max(np.bincount(split.labels["validation"])) / len(split.labels["validation"])
    assert f"cut from {directory}, read on the validation split before any recovery (majority class {majority:.3f})" in out
    rows = {line.split(":")[0].strip(): line for line in out.splitlines() if line.startswith("  ")}
    assert list(rows) == ["original", "drop_layers[last1]", "drop_layers[first1]"]
    built = json.loads((directory / "run_meta.json").read_text())["validation"]  # the build's own read of the head
    read = float(rows["original"].split("accuracy ")[1].split(",")[0])
    assert read == pytest.approx(built["accuracy"], abs=2e-3)  # batches of 256 here, 128 there: a flip or two at most
    table = out.split("majority class")[1]
    assert "variant" in table and "-50.0%" not in table  # one of two layers: fewer parameters, not half (embeddings)
    params = {name: int(line.split()[1].replace(",", "")) for name, line in
              ((line.split()[0], line) for line in table.splitlines() if line.startswith(("original", "drop_layers")))}
    assert params["drop_layers[last1]"] == params["drop_layers[first1]"] < params["original"]


def test_cuts_from_the_lm_itself_read_lm_loss_and_parameters_only(micro_reference, tmp_path, capsys):
    from exaone_bench import cli

    path = tmp_path / "setup.yaml"
    path.write_text(f"model: {micro_reference}\nevaluation: {{zero_shot: {{enabled: false}}}}\n")
    (tmp_path / "drop_layers.yaml").write_text(DROP)
    assert cli.main(["cuts", "--setup", str(path), str(tmp_path / "drop_layers.yaml")]) == 0
    out = capsys.readouterr().out
    assert f"cut from {micro_reference}, read on the validation split" in out
    lines = [line for line in out.splitlines() if line.startswith("  ")]
    assert [line.split(":")[0].strip() for line in lines] == ["original", "drop_layers[last1]", "drop_layers[first1]"]
    losses = [float(line.split("LM loss ")[1]) for line in lines]
    assert all(0 < x < 20 for x in losses) and losses[1] != losses[0] != losses[2]  # no head: the LM's own damage
    assert "accuracy" not in out.split("majority class")[1]
