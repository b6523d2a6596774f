"""MLflow runs in a real local sqlite store, the report rebuilt from MLflow, and the best-model rule."""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# before any in-process run: mlflow's importlib_metadata backport replaces the stdlib's finder (test_usage.py)
import mlflow.store.tracking.sqlalchemy_store  # noqa: F401 - and its sqlalchemy, never re-imported
from mlflow.tracking import MlflowClient
from test_suite import DROP, MLP, micro_setup
from transformers import AutoModelForCausalLM

from exaone_bench.core import machine
from exaone_bench.data.split import DataSpec, load_split
from exaone_bench.evaluation.zero_shot import split_task
from exaone_bench.evidence.records import BaselineResult, VariantResult
from exaone_bench.evidence.tracking import Tracker
from exaone_bench.report.best_model import selection
from exaone_bench.report.render import render
from exaone_bench.report.specialisation import difference

pytest_plugins = ["pytester"]
# one worker runs the micro suite behind `logged` once for the whole module (`make test` runs --dist loadgroup)
pytestmark = pytest.mark.xdist_group("tracking")

CRASH = """
strategy: trim_vocab
hypothesis: crashes at run time on purpose (the config allows these ids; the tokenizer needs more)
expect: {accuracy: {min_delta: -1.0}}
variants:
  - id: typo
    compression: {trim_vocab: {keep_ids: [5, 6, 7]}}
"""


CHOICES = "[positive, negative]"


@pytest.fixture(scope="session")
def logged(tmp_path_factory, micro_reference, tiny_llama_dir, data_root):
    """One micro suite run in one process (the xdist and shard tests cover workers) with a passing, a rejected
    and a crashing variant, zero-shot scores and a comparison model (a random Llama, fine-tuned too).

    Session-scoped: xdist interleaves this module's items with other modules' on the worker, and
    a module-scoped fixture would be torn down and run again in between.
    """
    root = tmp_path_factory.mktemp("suite")
    (root / "experiments").mkdir()
    setup = (micro_setup(micro_reference).replace("zero_shot: {enabled: false}", f"zero_shot: {{choices: {CHOICES}}}")
             + f"compare:\n  - {{source: '{tiny_llama_dir}', fine_tune: true}}\n")
    for name, text in {"setup": setup, "drop_layers": DROP, "reduce_mlp": MLP, "trim_vocab": CRASH}.items():
        (root / "experiments" / f"{name}.yaml").write_text(text)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'store.db'}"}
    out = subprocess.run([sys.executable, "-m", "pytest", "experiments", "-p", "no:cacheprovider",
                          "-k", "last1 or impossible or typo"], cwd=root, env=env, capture_output=True, text=True,
                         timeout=600)
    assert "2 failed, 1 passed" in out.stdout, out.stdout[-3000:]
    # the minutes after the last item say what they are spent on
    assert f"[exaone-bench] session end: comparison model {tiny_llama_dir} (zero-shot, then fine-tuned)" in out.stdout
    from mlflow.tracking import MlflowClient

    return root, env, MlflowClient(env["MLFLOW_TRACKING_URI"])


def logged_compare(root: Path) -> str:
    """The comparison model's source as the logged suite's setup names it."""
    return yaml.safe_load((root / "experiments" / "setup.yaml").read_text())["compare"][0]["source"]


def logged_test_split(root: Path):
    """The test split of the data the logged suite ran on."""
    source = yaml.safe_load((root / "experiments" / "setup.yaml").read_text())["data"]["source"]
    return source, load_split(DataSpec(source=source))["test"]


def _runs(client):
    exp = client.get_experiment_by_name("exaone-bench")
    return client.search_runs([exp.experiment_id], max_results=100)


def test_parent_and_children_with_params_tags_and_artifacts(logged):
    root, _, client = logged
    runs = _runs(client)
    parents = [r for r in runs if r.data.tags.get("experiment_stage") == "session"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    pid = parents[0].info.run_id
    children = {r.data.tags["variant_name"]: r for r in runs if r.data.tags.get("mlflow.parentRunId") == pid}
    assert set(children) == {"baseline", "drop_layers[last1]", "drop_layers[impossible]", "trim_vocab[typo]",
                             "floor:majority_class", "floor:tfidf_logreg", f"compare:{logged_compare(root)}"}
    assert all(r.info.status != "RUNNING" for r in runs)
    last1 = children["drop_layers[last1]"]
    for key in ("accuracy", "precision", "recall", "f1", "eval_loss", "accuracy_sd", "delta_accuracy",
                "delta_accuracy_ci_low", "delta_accuracy_ci_high", "lm_loss_before_recovery"):
        assert key in last1.data.metrics, key
    for key in ("number_of_layers", "number_of_heads", "number_of_kv_heads", "hidden_dim", "intermediate_size",
                "vocab_size", "total_parameters", "model_size_mb", "inference_latency_ms"):
        assert key in last1.data.params, key
    assert last1.data.params["number_of_layers"] == "1" and last1.data.params["compression.drop_layers"] == "[1]"
    tags = last1.data.tags
    assert tags["compression_type"] == "drop_layers" and tags["experiment_stage"] == "compression"
    assert tags["verdict"] in ("confirmed", "inconclusive") and "last layer" in tags["hypothesis"]
    assert len(tags["setup_hash"]) == 12 and tags["git_commit"]
    assert children["drop_layers[impossible]"].data.tags["verdict"] == "rejected"
    artifacts = {a.path for a in client.list_artifacts(last1.info.run_id)}
    assert {"metrics.json", "removed.yaml", "variant.yaml", "training_curve.png"} <= artifacts
    history = client.get_metric_history(last1.info.run_id, "accuracy_per_seed")
    assert sorted(m.step for m in history) == [0, 1]
    assert "setup.training.steps" in parents[0].data.params
    # the machine every time and float in the session depends on: tagged, kept in results.json, named by the report
    here = machine.summary(machine.describe())
    assert parents[0].data.tags["machine"] == tags["machine"] == here
    assert json.loads((root / "reports" / "latest" / "results.json").read_text())["machine"] == here
    assert f"Machine: {here}." in (root / "reports" / "latest" / "README.md").read_text()


def test_latency_is_measured_at_session_end_and_logged(logged):
    """Measured after the last item and logged as a step of its own: metrics.json stays as first logged,
    latency.json, the param and the metrics agree with results.json, and reading back joins them."""
    root, env, client = logged
    results = json.loads((root / "reports" / "latest" / "results.json").read_text())
    base_ms = results["baseline"]["params"]["inference_latency_ms"]
    run = [r for r in _runs(client) if r.data.tags.get("variant_name") == "drop_layers[last1]"][0]
    last1 = [r for r in results["variants"] if r["name"] == "drop_layers[last1]"][0]
    ms = last1["params"]["inference_latency_ms"]
    assert base_ms > 0 and ms > 0 and last1["speedup"] == pytest.approx(base_ms / ms)
    assert float(run.data.params["inference_latency_ms"]) == pytest.approx(ms)
    assert run.data.metrics["speedup"] == pytest.approx(last1["speedup"])
    logged_doc = json.loads(Path(client.download_artifacts(run.info.run_id, "metrics.json")).read_text())
    assert "inference_latency_ms" not in logged_doc["params"] and logged_doc["config"]["num_hidden_layers"] == 1
    latency = json.loads(Path(client.download_artifacts(run.info.run_id, "latency.json")).read_text())
    assert latency == {"inference_latency_ms": ms, "speedup": last1["speedup"]}
    assert run.data.metrics["inference_latency_ms"] == pytest.approx(ms)
    joined = Tracker(env["MLFLOW_TRACKING_URI"]).read_result(run.info.run_id)
    assert joined.params["inference_latency_ms"] == ms and joined.speedup == last1["speedup"]
    assert joined.to_dict() == last1  # the record read back from MLflow is the one results.json holds


def test_crashing_variant_is_a_failed_run_with_the_error(logged):
    _, _, client = logged
    crash = [r for r in _runs(client) if r.data.tags.get("variant_name") == "trim_vocab[typo]"][0]
    assert crash.info.status == "FAILED" and "keep_ids: would drop" in crash.data.tags["error"]


def test_report_from_mlflow_equals_report_from_session(logged):
    root, env, _ = logged
    session_report = (root / "reports" / "latest" / "README.md").read_text()
    exe = Path(sys.executable).parent / "exaone-bench"
    out = subprocess.run([str(exe), "report", "--out", str(root / "again")], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    stamps = [p for p in (root / "again").iterdir() if p.name != "latest"]
    assert (stamps[0] / "README.md").read_text() == session_report
    for section in ("## Baseline and floors", "tfidf logreg", "## drop_layers", "Δ accuracy [95% CI]",
                    "## Best compressed model", "accuracy_vs_parameters.png", "trim_vocab[typo]` crashed"):
        assert section in session_report, section
    results = json.loads((root / "reports" / "latest" / "results.json").read_text())
    last1 = [r for r in results["variants"] if r["name"] == "drop_layers[last1]"][0]
    assert f"{last1['metrics']['accuracy']:.3f} ± {last1['metrics']['accuracy_sd']:.3f}" in session_report


def test_export_from_run_writes_model_card(logged, tmp_path):
    root, env, client = logged
    rid = [r for r in _runs(client) if r.data.tags.get("variant_name") == "drop_layers[last1]"][0].info.run_id
    exe = Path(sys.executable).parent / "exaone-bench"
    out = subprocess.run([str(exe), "compress", "--from-run", rid, "--out", str(tmp_path / "v")], cwd=root, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    card = (tmp_path / "v" / "README.md").read_text()
    assert "drop_layers: removed layers [1]; parameters " in card and "non-commercial" in card
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(tmp_path / "v").config.num_hidden_layers == 1


def test_zero_shot_rows_for_the_baseline_the_variants_and_the_comparison_model(logged, tiny_llama_dir):
    """Every model gets the harness's zero-shot accuracy (a count of right test reviews, with the stderr
    of a mean) in results.json and in MLflow; the comparison model is a row of its own, fine-tuned, and
    the report answers the size-versus-specialisation question with its chart."""
    root, env, client = logged
    results = json.loads((root / "reports" / "latest" / "results.json").read_text())
    n = len(logged_test_split(root)[1])
    last1 = [r for r in results["variants"] if r["name"] == "drop_layers[last1]"][0]
    (ref,) = results["references"]
    for row in (results["baseline"], last1, ref):
        p, se = row["zero_shot"]["zero_shot_accuracy"], row["zero_shot"]["zero_shot_accuracy_stderr"]
        assert 0 < p < 1 and p * n == pytest.approx(round(p * n), abs=1e-6)
        assert se == pytest.approx((p * (1 - p) / (n - 1)) ** 0.5, rel=1e-6)
    assert ref["stage"] == "reference" and ref["fine_tuned"] and len(ref["per_seed"]) == 2
    llama = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    assert ref["params"]["total_parameters"] == sum(p.numel() for p in llama.parameters())
    runs = {r.data.tags.get("variant_name"): r for r in _runs(client)}
    compare = runs[ref["name"]]
    assert compare.data.tags["experiment_stage"] == "reference" and compare.info.status == "FINISHED"
    assert compare.data.metrics["zero_shot_accuracy"] == ref["zero_shot"]["zero_shot_accuracy"]
    assert compare.data.metrics["accuracy"] == ref["metrics"]["accuracy"]
    assert runs["drop_layers[last1]"].data.metrics["zero_shot_accuracy"] == last1["zero_shot"]["zero_shot_accuracy"]
    doc = Tracker(env["MLFLOW_TRACKING_URI"]).read_session()
    assert [r.name for r in doc["references"]] == [ref["name"]]
    assert all(r.stage != "reference" for r in selection(doc)[1])  # never a candidate for best compressed
    readme = (root / "reports" / "latest" / "README.md").read_text()
    assert "## Size versus specialisation" in readme and (root / "reports" / "latest" / "size_vs_specialisation.png").is_file()
    assert f"{Path(tiny_llama_dir).name} (comparison, fine-tuned)" in readme
    base = doc["baseline"]
    d, lo, hi = difference(base, base, 0.95)
    assert f"Fine-tuning the same model under the setup adds {d:+.3f} (95% CI [{lo:+.3f}, {hi:+.3f}])" in readme


def test_the_harness_cli_scores_an_exported_variant_as_the_suite_did(logged, micro_reference, tmp_path):
    """`lm_eval --model hf` on the variant `exaone-bench compress` writes, offline, on the suite's own task:
    the zero-shot accuracy the suite logged for that variant before recovery."""
    root, env, _ = logged
    results = json.loads((root / "reports" / "latest" / "results.json").read_text())
    last1 = [r for r in results["variants"] if r["name"] == "drop_layers[last1]"][0]
    source, test = logged_test_split(root)
    task_dir, task = split_task(source, list(test["text"]), test["label"], yaml.safe_load(CHOICES))
    (tmp_path / "v.yaml").write_text("compression: {drop_layers: [1]}\n")
    exe = Path(sys.executable).parent
    out = subprocess.run([str(exe / "exaone-bench"), "compress", "--model", str(micro_reference), "--config",
                          str(tmp_path / "v.yaml"), "--out", str(tmp_path / "v")], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert shutil.which("lm_eval", path=str(exe)), "lm-eval's console script is not installed next to this Python"
    out = subprocess.run([str(exe / "lm_eval"), "--model", "hf", "--model_args", f"pretrained={tmp_path / 'v'}",
                          "--tasks", task, "--include_path", str(task_dir), "--batch_size", "64", "--device", "cpu",
                          "--output_path", str(tmp_path / "out")], capture_output=True, text=True, timeout=300,
                         env={**env, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})  # the setup's one thread
    assert out.returncode == 0, out.stderr[-3000:]
    (report,) = Path(tmp_path / "out").rglob("results_*.json")
    assert json.loads(report.read_text())["results"][task]["acc,none"] == last1["zero_shot"]["zero_shot_accuracy"]


def _doc(*variants):
    base = {"metrics": {"accuracy": 0.8, "precision": 0.8}, "params": {"total_parameters": 100}}
    return {"setup": {"selection": {"objective": "total_parameters",
                                    "constraints": {"accuracy": {"min_delta": -0.02}, "precision": {"min_delta": -0.02}}}},
            "baseline": base, "variants": list(variants)}


def _variant(name, params, d_acc, d_prec=0.0, acc=0.8):
    """A variant record with what the selection rule reads; the rest are placeholders of the right type."""
    return VariantResult(
        name=name, stage="compression", strategy="drop_layers", variant_id=name, setup_hash="", experiment="e",
        hypothesis="", motivation="", description="", compression={}, removed=[], expect={},
        params={"total_parameters": params}, config={}, per_seed=[], level_ci={}, metrics={"accuracy": acc},
        deltas={"accuracy": d_acc, "precision": d_prec}, ci={}, verdict="confirmed", message="",
        lm_loss_before_recovery=0.0, base_lm_loss=0.0, training={}, delta_params_pct=0.0, flop_ratio=1.0,
        model_fingerprint="", seconds={}, worker={})


def test_selection_rule_smallest_qualifying_with_ties():
    best, qualified = selection(_doc(_variant("a", 80, -0.01), _variant("b", 60, -0.05), _variant("c", 70, 0.0)))
    assert best.name == "c" and [q.name for q in qualified] == ["c", "a"]
    tie = selection(_doc(_variant("x", 70, -0.01, acc=0.79), _variant("y", 70, 0.0, acc=0.80)))[0]
    assert tie.name == "y"  # equal size: the more accurate wins
    assert selection(_doc(_variant("p", 50, -0.01, d_prec=-0.03)))[0] is None  # precision breaks the bound


def test_report_says_when_nothing_qualifies(logged, tmp_path):
    root, _, _ = logged
    results = json.loads((root / "reports" / "latest" / "results.json").read_text())
    doc = {"setup": results["setup"], "baseline": BaselineResult.from_dict(results["baseline"]), "failed": [],
           "variants": [VariantResult.from_dict(r) for r in results["variants"] if r["name"] == "drop_layers[impossible]"]}
    doc["setup"]["selection"]["constraints"] = {"accuracy": {"min_delta": 0.5}}
    text = render(copy.deepcopy(doc), tmp_path).read_text()
    assert "No variant qualifies: none of the 1 variants kept accuracy >= baseline +0.500." in text


def test_variants_at_the_same_point_share_one_plot_label():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from exaone_bench.report.plots import _annotate

    fig, ax = plt.subplots()
    _annotate(ax, [(10.0, 0.675, "drop_layers[last2]"), (10.0, 0.675, "drop_layers[lowest-influence-2]"), (9.0, 0.68, "x")])
    assert sorted(t.get_text() for t in ax.texts) == ["drop_layers[last2] = drop_layers[lowest-influence-2]", "x"]
    plt.close(fig)


def test_mlflow_writes_leave_the_controller_free_and_keep_their_order(tmp_path, micro_reference, monkeypatch):
    """`record` returns while MLflow is busy (on xdist the next variant waits for it); writes land in order."""
    import threading

    from mlflow.tracking import MlflowClient

    from exaone_bench.config.setup import load_setup
    from exaone_bench.suite.session import BenchSession

    (tmp_path / "setup.yaml").write_text(micro_setup(micro_reference))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store.db'}")
    session = BenchSession(load_setup(tmp_path / "setup.yaml"), tmp_path)
    busy = threading.Event()
    session._write(busy.wait, 60)  # MLflow still busy with an earlier write
    for name in ("drop_layers[a]", "drop_layers[b]"):
        session.record(_variant(name, 80, 0.0))
    assert not any(session._run_ids[n].done() for n in session._run_ids)  # recorded, not yet written
    busy.set()
    session._flush()
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    a, b = (client.get_run(session._run_ids[n].result()) for n in ("drop_layers[a]", "drop_layers[b]"))
    assert (a.data.tags["variant_name"], b.data.tags["variant_name"]) == ("drop_layers[a]", "drop_layers[b]")
    assert a.info.start_time <= b.info.start_time and a.info.status == b.info.status == "FINISHED"
    assert a.data.tags["mlflow.parentRunId"] == session._tracker.parent_id
    session._tracker.end_parent("FINISHED")
    session.close()


def test_a_tracker_leaves_the_environment_alone(tmp_path, monkeypatch):
    """A Tracker opened in one process (the report, a test) must not point later suite runs at its store."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    Tracker(f"sqlite:///{tmp_path / 'store.db'}")
    assert "MLFLOW_TRACKING_URI" not in os.environ


def failing_session(root: Path, store: Path, monkeypatch, capfd) -> tuple[int, str]:
    """A real micro session (in this process) whose every fine-tune raises, as a NaN loss or an OOM would."""
    from exaone_bench.pipeline import fitting

    def diverged(*args, **kwargs):
        raise RuntimeError("the loss went NaN at step 3")

    monkeypatch.setattr(fitting, "train", diverged)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    monkeypatch.chdir(root)
    code = pytest.main(["experiments", "-k", "last1", "-p", "no:cacheprovider"])
    out = capfd.readouterr()
    return int(code), out.out + out.err


def test_a_failed_session_closes_and_report_takes_the_last_session_with_a_baseline(logged, tmp_path, monkeypatch,
                                                                                   capfd):
    """Every item failed: the session still ends in a report naming each failure and a closed (FAILED) MLflow run,
    with a failing exit status; `exaone-bench report` then takes the last session that has a baseline, or refuses."""
    from exaone_bench import cli

    root, env, _ = logged
    project = tmp_path / "project"
    shutil.copytree(root / "experiments", project / "experiments")
    alone = tmp_path / "alone.db"  # a store whose only session failed
    code, out = failing_session(project, alone, monkeypatch, capfd)
    assert code == pytest.ExitCode.TESTS_FAILED and "INTERNALERROR" not in out
    assert "exaone-bench: no baseline, nothing compared: 1 item(s) failed" in out
    readme = (project / "reports" / "latest" / "README.md").read_text()
    assert "# exaone-bench report: no baseline" in readme
    assert "- `drop_layers[last1]`: `RuntimeError: the loss went NaN at step 3`" in readme
    client = MlflowClient(f"sqlite:///{alone}")
    runs = _runs(client)
    assert [r.info.status for r in runs if r.data.tags.get("experiment_stage") == "session"] == ["FAILED"]
    assert all(r.info.status != "RUNNING" for r in runs)
    assert cli.main(["report", "--out", str(tmp_path / "r1")]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "none of the 1 session(s)" in err and "has a baseline" in err

    store = tmp_path / "store.db"  # the logged suite's store, then a failed session on top
    shutil.copy(root / "store.db", store)
    code, out = failing_session(project, store, monkeypatch, capfd)
    assert code == pytest.ExitCode.TESTS_FAILED
    client = MlflowClient(f"sqlite:///{store}")
    good, failed = (r.info.run_id for r in sorted(
        (r for r in _runs(client) if r.data.tags.get("experiment_stage") == "session"), key=lambda r: r.info.start_time))
    assert cli.main(["report", "--out", str(tmp_path / "r2")]) == 0
    said = capfd.readouterr().out
    assert f"MLflow run {good}" in said and f"1 newer without one: {failed}" in said
    assert cli.main(["report", "--run", failed, "--out", str(tmp_path / "r3")]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and f"session {failed} has no baseline" in err


def test_a_study_set_beside_another_says_per_strategy_where_they_agree(logged, tmp_path):
    """`exaone-bench report --beside RESULTS_JSON`: per strategy both studies ran, each one's cheapest cut, whether a
    cut can go, where in depth the drop_layers cuts sit, and agree / differ; a missing file is said."""
    from exaone_bench.evidence.records import from_dict
    from exaone_bench.report import beside

    root, env, _ = logged
    path = root / "reports" / "latest" / "results.json"
    results = json.loads(path.read_text())
    doc = {"setup": results["setup"], "baseline": BaselineResult.from_dict(results["baseline"]),
           "variants": [from_dict(v) for v in results["variants"]]}
    itself = "\n".join(beside.section(beside.attach(doc, root, str(path))))
    cheapest = max((v for v in results["variants"] if v["name"].startswith("drop_layers")), key=lambda v: v["deltas"]["accuracy"])
    assert f"`{cheapest['variant_id']}` (layers {cheapest['removed'][0]['removed']['layers']}): " in itself
    assert "Agree: drop_layers. Differ: none." in itself and "(the pretrained LM, recovery 6 steps)" in itself
    assert "drop_layers: the cheapest cut removes late layers here and late layers there" in itself or \
        "drop_layers: the cheapest cut removes early layers here and early layers there" in itself
    assert "it is not there" in "\n".join(beside.section(beside.attach(doc, root, "reports/nowhere.json")))
    assert beside.section(doc) == []  # a setup that names no other study
    # through the CLI, from MLflow, beside a study where every drop_layers cut costs 30 points
    costly = copy.deepcopy(results)
    for v in costly["variants"]:
        v["deltas"]["accuracy"] = -0.30
    (tmp_path / "costly.json").write_text(json.dumps(costly))
    out = subprocess.run([str(Path(sys.executable).parent / "exaone-bench"), "report", "--out", str(tmp_path / "r"),
                          "--beside", str(tmp_path / "costly.json")], cwd=root, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    against = (tmp_path / "r" / "latest" / "README.md").read_text()
    if cheapest["deltas"]["accuracy"] >= beside.CAN_GO:
        assert "| yes           | no             | differ |" in against and "Differ: drop_layers." in against
    else:  # no cut can go in either study: they agree on that
        assert "Agree: drop_layers." in against
