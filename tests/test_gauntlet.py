"""A gauntlet of malformed inputs, as a user writes them: each ends in one line naming the file and the key or row.

Every case runs the real entry point in this process (pytest's own `main` on an experiments
directory, or the `exaone-bench` command's `main`): one interpreter with torch already imported
instead of one per case. Each asserts a non-zero exit status, no traceback, a line that holds
the file (or command) and the key or row together, and under a minute. `--collect-only` is enough:
every check named here runs before anything loads a model, let alone trains one.
"""
from __future__ import annotations

import time

import pytest

# Imported before any case runs (see test_usage.py): mlflow's importlib_metadata backport replaces the stdlib's finder.
import mlflow.store.tracking.sqlalchemy_store  # noqa: F401 - and its sqlalchemy, never re-imported
from mlflow.tracking import MlflowClient  # noqa: F401
from test_suite import DROP, micro_setup

from exaone_bench import cli

def setup_text(model, choices: str = "") -> str:
    """The micro setup; with `choices`, zero-shot on with those label words."""
    text = micro_setup(model)
    return text.replace("zero_shot: {enabled: false}", f"zero_shot: {{choices: {choices}}}") if choices else text


def rows(n: int, label=lambda i: i % 2, text=lambda i: f"review number {i} says {'good' if i % 2 else 'bad'} things"):
    return [(text(i), label(i)) for i in range(n)]


def csv(pairs, header="text,label") -> str:
    return header + "\n" + "".join(f"{t},{lab}\n" for t, lab in pairs)


# (id, the data file's name and content (str, or bytes), more keys of the setup's data: block, label words, the
# line's expected parts)
DATA_CASES = [
    ("columns-review-stars", "reviews.csv", csv(rows(40), "review,stars"), "", "",
     ["reviews.csv", "missing column(s) ['text', 'label']", "data.text_column"]),
    ("one-class", "one.csv", csv(rows(40, label=lambda i: 1)), "", "", ["one.csv", "needs at least two classes"]),
    ("not-utf8", "latin.csv", csv(rows(40)).encode() + "caf\u00e9 cr\u00e8me,1\n".encode("latin-1"), "", "",
     ["latin.csv", "is not valid utf-8", "data.encoding"]),
    ("blank-text", "blank.csv", csv(rows(40)[:5] + [("   ", 0)] + rows(40)[5:]), "", "",
     ["blank.csv", "column 'text': row 6 is empty or whitespace"]),
    ("two-labels", "clash.csv", csv(rows(40) + [(rows(40)[3][0], 0)]), "", "", ["clash.csv", "carries two labels", "rows 4, 41"]),
    ("float-labels", "floats.csv", csv(rows(40, label=lambda i: f"{i % 2}.0")), "", "",
     ["floats.csv", "column 'label' holds floats ('0.0' in row 1)"]),
    ("mixed-labels", "mixed.jsonl",
     "".join(f'{{"text": "text {i}", "label": {i % 2 if i < 30 else chr(34) + "pos" + chr(34)}}}\n' for i in range(40)),
     "", "", ["mixed.jsonl", "column 'label' mixes integer ids and names"]),
    ("too-few-in-a-class", "rare.csv", csv(rows(40) + [("a rare one", 2), ("another rare one", 2)]), "", "",
     ["rare.csv", "class '2' (2 rows)", "at least 10 per class"]),
    ("empty-file", "empty.csv", "", "", "", ["empty.csv", "is empty"]),
    ("missing-label", "nolabel.csv", csv(rows(40)[:7] + [("no label here", "")] + rows(40)[7:]), "", "",
     ["nolabel.csv", "column 'label': row 8 has no label"]),
    ("broken-jsonl", "broken.jsonl", '{"text": "a", "label": 1}\n{"text": "b", label: 0}\n', "", "",
     ["broken.jsonl", "line 2 cannot be read as JSON"]),
    ("jsonl-array", "array.jsonl", '{"text": "a", "label": 1}\n["b", 0]\n', "", "", ["array.jsonl", "line 2 is a JSON list"]),
    ("ragged-csv", "ragged.csv", "text,label\na,1\nb,0,extra,cells\n", "", "", ["ragged.csv", "cannot be read as CSV"]),
    ("five-classes-two-words", "five.csv", csv(rows(60, label=lambda i: f"class{i % 5}")),
     "", "[good, bad]",
     ["setup.yaml: evaluation.zero_shot.choices: 2 label words", "5 labels", "one word per label in label order"]),
    ("unknown-encoding", "fine.csv", csv(rows(40)), "encoding: utf-9", "",
     ["setup.yaml", "data.encoding", "unknown encoding 'utf-9'"]),
]


SETUP_CASES = [
    ("unknown-key", "trainig: {steps: 3}\n", ["setup.yaml", "unknown key(s) ['trainig']"]),
    ("negative-lr", "training: {lr: -0.1}\n", ["setup.yaml", "training.lr"]),
    ("zero-steps", "training: {steps: 0}\n", ["setup.yaml", "training.steps"]),
    ("device-tpu", "device: tpu\n", ["setup.yaml", "device"]),
    ("confidence", "evaluation: {confidence: 1.5}\n", ["setup.yaml", "evaluation.confidence"]),
    ("missing-model", None, ["setup.yaml: model: unknown model source './nowhere'"]),
    ("missing-compare", "compare: [{source: ./no-such-model, fine_tune: true}]\n",
     ["setup.yaml: compare[0].source: unknown model source './no-such-model'"]),
    ("task-without-teacher", "original: task\n", ["setup.yaml", "training.teacher"]),
    ("unreadable-vocabulary", "UNK_MODEL", ["setup.yaml: model:", "<unk>"]),
]


EXPERIMENT_CASES = [
    ("experiment-unknown-key", "strategy: drop_layers\nhypothesis: h\nexpect: {accuracy: {min_delta: -1}}\n"
     "varaints: []\n", ["drop_layers.yaml", "unknown key(s) ['varaints']"]),
    ("unknown-strategy", "strategy: drop_everything\nhypothesis: h\nexpect: {accuracy: {min_delta: -1}}\n"
     "variants: [{id: a, compression: {drop_everything: [1]}}]\n", ["drop_layers.yaml.strategy", "drop_everything"]),
    ("layer-out-of-range", DROP.replace("drop_layers: [1]", "drop_layers: [7]"), ["drop_layers.yaml[last1]", "7"]),
    ("every-layer", DROP.replace("drop_layers: [1]", "drop_layers: [0, 1]"), ["drop_layers.yaml[last1]", "leaves nothing"]),
    ("duplicate-id", DROP.replace("id: impossible", "id: last1"), ["drop_layers.yaml[last1].id", "duplicate variant id"]),
    ("no-variants", "strategy: drop_layers\nhypothesis: h\nexpect: {accuracy: {min_delta: -1}}\nvariants: []\n",
     ["drop_layers.yaml.variants", "non-empty list"]),
    ("no-hypothesis", DROP.replace("hypothesis: The micro model's last layer can go.\n", ""),
     ["drop_layers.yaml", "missing required key 'hypothesis'"]),
    ("two-factors", DROP.replace("compression: {drop_layers: [1]}", "compression: {drop_layers: [1], reduce_mlp: {ratio: 0.5}}"),
     ["drop_layers.yaml[last1].compression", "one factor per variant"]),
    ("broken-yaml", "strategy: drop_layers\nhypothesis: [unclosed\n", ["drop_layers.yaml: is not valid YAML (line 3"]),
    ("list-not-mapping", "- strategy: drop_layers\n", ["drop_layers.yaml", "expected a mapping"]),
    ("unknown-score", DROP.replace("by: block_influence", "by: vibes"), ["drop_layers.yaml[impossible]", "vibes"]),
    ("misspelt-metric", DROP.replace("accuracy: {min_delta: -1.0}", "acuracy: {min_delta: -1.0}"),
     ["drop_layers.yaml.expect.acuracy", "is not a metric"]),
    ("metric-without-ci", DROP.replace("accuracy: {min_delta: -1.0}", "recall: {min_delta: -1.0}"),
     ["drop_layers.yaml.expect.recall", "has no CI"]),
    ("bound-as-words", DROP.replace("min_delta: -1.0", "min_delta: a little"),
     ["drop_layers.yaml.expect.accuracy.min_delta", "expected a number"]),
    ("before-recovery-without-task", DROP.replace("accuracy: {min_delta: -1.0}", "before_recovery: {accuracy: {min_delta: -0.1}}"),
     ["drop_layers.yaml", "before_recovery", "original: task"]),
    ("target-names-no-variant", "post_training", ["post_training.yaml.targets", "has no variant 'nine'"]),
]


def run_pytest(args, capfd) -> tuple[int, str]:
    t0 = time.perf_counter()
    code = pytest.main([*args, "-p", "no:cacheprovider", "-p", "no:randomly"])
    out = capfd.readouterr()
    assert time.perf_counter() - t0 < 60
    return int(code), out.out + out.err


def one_line(text: str, parts: list[str]) -> str:
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    lines = [line for line in text.splitlines() if all(p in line for p in parts)]
    assert lines, f"no line holds all of {parts}:\n{text}"
    return lines[0]


@pytest.fixture
def project(tmp_path, monkeypatch, micro_reference):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "drop_layers.yaml").write_text(DROP)
    return tmp_path


@pytest.mark.parametrize("case, name, content, keys, choices, parts", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_a_bad_data_file_is_one_line_before_anything_loads(project, micro_reference, capfd, case, name, content, keys,
                                                           choices, parts):
    path = project / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (project / "experiments" / "setup.yaml").write_text(
        setup_text(micro_reference, choices) + f"data: {{source: {path}{', ' + keys if keys else ''}}}\n")
    code, out = run_pytest(["experiments", "--collect-only", "-q"], capfd)
    assert code == pytest.ExitCode.USAGE_ERROR
    one_line(out, parts)


def test_a_mapped_file_and_its_encoding_are_used_by_config_alone(project, micro_reference, capfd):
    """The fixes the messages name work: a review,stars file in latin-1, mapped and decoded by the setup."""
    path = project / "reviews.csv"
    path.write_bytes(csv(rows(40, text=lambda i: f"caf\u00e9 review {i}"), "review,stars").encode("latin-1"))
    (project / "experiments" / "setup.yaml").write_text(setup_text(micro_reference) + f"data: {{source: {path}, "
                                                        "text_column: review, label_column: stars, encoding: latin-1}\n")
    code, out = run_pytest(["experiments", "--collect-only", "-q"], capfd)
    assert code == pytest.ExitCode.OK, out
    assert "2 tests collected" in out


@pytest.mark.parametrize("case, extra, parts", SETUP_CASES, ids=[c[0] for c in SETUP_CASES])
def test_a_bad_setup_is_one_line(project, micro_reference, tmp_path, capfd, case, extra, parts):
    text = setup_text(micro_reference)
    if extra is None:
        text = text.replace(f"model: {micro_reference}", "model: ./nowhere")
        extra = ""
    elif extra == "UNK_MODEL":
        text = text.replace(f"model: {micro_reference}", f"model: {word_level_model(tmp_path / 'words')}")
        extra = ""
    (project / "experiments" / "setup.yaml").write_text(text + extra)
    code, out = run_pytest(["experiments", "--collect-only", "-q"], capfd)
    assert code == pytest.ExitCode.USAGE_ERROR
    one_line(out, parts)


def word_level_model(out):
    """A real Exaone4 model directory whose tokenizer knows a few German words only: English reviews are all <unk>."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import Exaone4Config, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[BOS]", "[EOS]", "der", "die", "das", "gut", "schlecht"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]",
                                   eos_token="[EOS]")
    fast.save_pretrained(out)
    Exaone4Config(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, head_dim=8, layer_types=["full_attention"] * 2, sliding_window=None,
                  pad_token_id=0).save_pretrained(out)
    return out


@pytest.mark.parametrize("case, content, parts", EXPERIMENT_CASES, ids=[c[0] for c in EXPERIMENT_CASES])
def test_a_bad_experiment_file_is_one_line(project, micro_reference, capfd, case, content, parts):
    (project / "experiments" / "setup.yaml").write_text(setup_text(micro_reference))
    if content == "post_training":
        (project / "experiments" / "post_training.yaml").write_text(
            "strategy: post_training\nstage: post_training\nhypothesis: h\ntargets: ['drop_layers[nine]']\n"
            "expect: {accuracy: {min_delta: -1}}\nvariants: [{id: int8, post_training: {transform: int8}}]\n")
    else:
        (project / "experiments" / "drop_layers.yaml").write_text(content)
    code, out = run_pytest(["experiments", "--collect-only", "-q"], capfd)
    assert code != pytest.ExitCode.OK
    one_line(out, parts)


CLI_CASES = [
    ("data-missing-source", ["data", "--source", "absent.csv"], ["exaone-bench data: error:", "absent.csv", "cannot be read"]),
    ("data-bad-rows", ["data", "--source", "CLASH"], ["exaone-bench data: error:", "clash.csv", "carries two labels"]),
    ("report-empty-store", ["report"], ["exaone-bench report: error:", "no exaone-bench session runs"]),
    ("report-unknown-run", ["report", "--run", "0123456789abcdef"], ["exaone-bench report: error:", "0123456789abcdef"]),
    ("original-missing-setup", ["original", "--setup", "absent.yaml"], ["exaone-bench original: error:", "absent.yaml: cannot be read (No such file"]),
    ("analyze-missing-model", ["analyze", "--model", "./nowhere", "--out", "t.csv"],
     ["exaone-bench analyze: error:", "./nowhere"]),
    ("compress-missing-config", ["compress", "--config", "absent.yaml", "--out", "out"],
     ["exaone-bench compress: error:", "absent.yaml"]),
]


@pytest.mark.parametrize("case, argv, parts", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_a_bad_command_is_one_line(tmp_path, monkeypatch, capsys, case, argv, parts):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    (tmp_path / "clash.csv").write_text(csv(rows(40) + [(rows(40)[3][0], 0)]))
    argv = [str(tmp_path / "clash.csv") if a == "CLASH" else a for a in argv]
    t0 = time.perf_counter()
    code = cli.main(argv)
    assert time.perf_counter() - t0 < 60
    out = capsys.readouterr()
    assert code == 2
    line = one_line(out.out + out.err, parts)
    assert out.err.strip() == line  # the one line is all it says
