"""The experiment suite driven through the real plugin with pytester, on a micro setup (seconds)."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

MICRO_SETUP = """
model: {model}
data: {{source: '{data}'}}
training: {{steps: 6, batch_size: 8, lr: 1.0e-3, warmup_steps: 1, max_length: 24, seeds: 2}}
evaluation: {{batch_size: 256, bootstrap: 50, latency: {{repeats: 2, warmup: 1}}, zero_shot: {{enabled: false}}}}
calibration: {{samples: 4, seq_len: 16}}
"""

MICRO_REVIEWS = 1_000


def micro_setup(model, data: str | None = None) -> str:
    """MICRO_SETUP for `model`, on `data` or else a real sample of the default data: 1,000 Rotten Tomatoes reviews.

    A suite run reads its whole split (tokenised per seed, floors fitted, every model evaluated on the test
    reviews); the sample keeps that part of every suite test small. Written once per worker, into its data dir,
    from the raw file: `datasets` is not imported here, where pytester would unload it (its re-import fails).
    """
    if data is None:
        path = Path(os.environ["EXAONE_BENCH_DATA"]) / "micro_reviews.csv"
        if not path.is_file():
            from exaone_bench.data.source import read_rotten_tomatoes

            read_rotten_tomatoes().sample(MICRO_REVIEWS, random_state=0).to_csv(path.with_suffix(".tmp"), index=False)
            path.with_suffix(".tmp").replace(path)
        data = str(path)
    return MICRO_SETUP.format(model=model, data=data)


DROP = """
strategy: drop_layers
hypothesis: The micro model's last layer can go.
expect:
  accuracy: {min_delta: -1.0}
variants:
  - id: last1
    compression: {drop_layers: [1]}
  - id: impossible
    description: demands +50 points of accuracy, so it must fail
    compression: {drop_layers: {count: 1, by: block_influence}}
    expect:
      accuracy: {min_delta: 0.5}
"""

MLP = """
strategy: reduce_mlp
hypothesis: Half the MLP channels are enough.
expect:
  precision: {min_delta: -1.0}
variants:
  - id: half
    compression: {reduce_mlp: {ratio: 0.5}}
"""


@pytest.fixture
def suite(pytester, micro_reference):
    pytester.makefile(".yaml", **{"experiments/setup": micro_setup(micro_reference),
                                  "experiments/drop_layers": DROP, "experiments/reduce_mlp": MLP})
    return pytester


def results(pytester):
    return json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())


def test_collection_ids_and_k_selection(suite, data_root):
    (data_root / "cache" / "durations.json").unlink(missing_ok=True)  # no run timed yet: collection order
    out = suite.runpytest_inprocess("experiments", "--collect-only", "-q")
    out.stdout.fnmatch_lines(["experiments/drop_layers.yaml::drop_layers[[]last1[]]",
                              "experiments/drop_layers.yaml::drop_layers[[]impossible[]]",
                              "experiments/reduce_mlp.yaml::reduce_mlp[[]half[]]", "3 tests collected*"])
    out = suite.runpytest_inprocess("experiments", "--collect-only", "-q", "-k", "last1")
    out.stdout.fnmatch_lines(["*drop_layers[[]last1[]]", "1/3 tests collected (2 deselected)*"])
    out = suite.runpytest_inprocess("experiments", "--collect-only", "-q", "-m", "reduce_mlp")
    out.stdout.fnmatch_lines(["*reduce_mlp[[]half[]]", "1/3 tests collected (2 deselected)*"])


def test_pass_fail_and_readable_message(suite, data_root, monkeypatch):
    """A confirmed and a rejected variant run; a broken file beside them is one collection error naming it;
    without MLFLOW_TRACKING_URI the runs land in sqlite at the project root; the live lines are plain."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    misspelt = "  - id: fine\n    compresion: {prune_heads: {kv_heads: [1]}}\n"
    suite.makefile(".yaml", **{"experiments/prune_heads": BROKEN.replace("kv_head:", "kv_heads:") + misspelt})
    out = suite.runpytest_subprocess("experiments", "-k", "drop_layers or prune", "-p", "no:cacheprovider",
                                     "--bench-progress-every", "0.3")
    out.assert_outcomes(passed=1, failed=1, errors=1)
    # the live lines reach stdout while an item runs, although pytest captures the item's output then (-n 0)
    assert any(line.startswith("[exaone-bench] main: drop_layers[") for line in out.outlines)
    assert not any("\x1b[" in line for line in out.outlines)  # output is not a terminal: plain lines
    out.stdout.fnmatch_lines(["[[]exaone-bench[]] session end: latency of 3 models, interleaved, nothing else running"])
    out.stdout.re_match_lines([r".*experiments/prune_heads\.yaml\[fine\]: unknown key\(s\) \['compresion'\]"])
    out.stdout.re_match_lines([r".*drop_layers\[impossible\]: accuracy 0\.\d{3} vs baseline 0\.\d{3} \(delta [-+]0\.\d{3}, "
                               r"CI \[[-+]0\.\d{3}, [-+]0\.\d{3}\] beyond accuracy >= baseline \+0\.500\) -> hypothesis rejected"])
    out.stdout.fnmatch_lines(["exaone-bench: 2 variant(s): * confirmed, * inconclusive, 1 rejected, 0 crashed; setup *; "
                              f"report reports/*/README.md; MLflow sqlite:///{suite.path}/mlflow.db"])
    doc = results(suite)
    by_name = {r["name"]: r for r in doc["variants"]}
    last1 = by_name["drop_layers[last1]"]
    assert last1["removed"][0]["removed"] == {"layers": [1]}
    assert last1["params"]["number_of_layers"] == 1 and last1["params"]["total_parameters"] < doc["baseline"]["params"]["total_parameters"]
    assert len(last1["per_seed"]) == 2 and {"accuracy", "precision", "recall", "f1", "eval_loss"} <= set(last1["metrics"])
    assert last1["ci"]["accuracy"]["ci_low"] <= last1["deltas"]["accuracy"] <= last1["ci"]["accuracy"]["ci_high"]
    assert last1["lm_loss_before_recovery"] > 0 and doc["baseline"]["floors"]["tfidf_logreg"]["accuracy"] > 0.6
    assert by_name["drop_layers[impossible]"]["verdict"] == "rejected"
    assert last1["memory"]["peak_rss_mb"] >= last1["memory"]["rss_mb"] > 0


def test_xdist_builds_each_baseline_seed_once_and_matches_serial(suite, micro_reference, data_root):
    """-n 2 on a fresh setup hash: the workers share the baseline's seeds, each built once; a serial run
    then reads that baseline back (nothing trained again) and trains a variant to the same numbers."""
    setup = micro_setup(micro_reference).replace("warmup_steps: 1", "warmup_steps: 2")  # a fresh setup hash
    suite.makefile(".yaml", **{"experiments/setup": setup})
    parallel = suite.runpytest_subprocess("experiments", "-k", "last1 or half", "-n", "2", "-p", "no:cacheprovider")
    parallel.assert_outcomes(passed=2)
    # said at collection, before anything runs: the controller reads the experiment files of the workers' ids
    parallel.stdout.fnmatch_lines(["exaone-bench: this setup's resolution * is known once its baseline is trained*"])
    first = results(suite)
    from exaone_bench.config.setup import load_setup

    # BaselineCache.seeds_dir(), without importing the runner here: pytester's teardown would unload
    # `datasets` and its re-import fails (pyarrow keeps the extension types registered).
    seed_hash = load_setup(suite.path / "experiments" / "setup.yaml").seed_hash
    log = data_root / "cache" / "baselines" / f"seeds-{seed_hash}" / "build.log"
    lines = log.read_text().splitlines()
    assert sorted(int(line.rsplit(" ", 1)[1]) for line in lines) == [0, 1]  # every seed, each once
    assert len(first["baseline"]["per_seed"]) == 2
    serial = suite.runpytest_subprocess("experiments", "-k", "last1", "-p", "no:cacheprovider")  # one item: enough to compare
    serial.assert_outcomes(passed=1)
    serial.stdout.fnmatch_lines(["exaone-bench: this setup resolves deltas of about accuracy ±0.*, precision ±0.* (its "
                                 "cached baseline against itself); no bound of these items lies inside it"])
    second = results(suite)
    assert log.read_text().splitlines() == lines  # cached: not trained again
    parallel_by_name = {v["name"]: v for v in first["variants"]}
    again = {v["name"]: v for v in second["variants"]}
    assert "drop_layers[last1]" in again
    for name, b in again.items():
        a = parallel_by_name[name]
        assert a["metrics"] == b["metrics"] and a["per_seed"] == b["per_seed"]


def test_variants_run_longest_first_by_their_last_durations(suite, data_root):
    path = data_root / "cache" / "durations.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"experiments/drop_layers.yaml::drop_layers[last1]": 5.0,
                                "experiments/reduce_mlp.yaml::reduce_mlp[half]": 40.0}))
    try:
        out = suite.runpytest_inprocess("experiments", "--collect-only", "-q")
    finally:
        path.unlink()
    # never timed first, then the longest
    out.stdout.fnmatch_lines(["*drop_layers[[]impossible[]]", "*reduce_mlp[[]half[]]", "*drop_layers[[]last1[]]"])


def test_a_first_run_orders_by_the_durations_shipped_beside_the_setup(suite, data_root):
    """No durations of this machine yet: durations.json beside setup.yaml orders; the machine's own win."""
    (data_root / "cache" / "durations.json").unlink(missing_ok=True)
    (suite.path / "experiments" / "durations.json").write_text(json.dumps({
        "experiments/drop_layers.yaml::drop_layers[last1]": 10.0, "experiments/drop_layers.yaml::drop_layers[impossible]": 20.0,
        "experiments/reduce_mlp.yaml::reduce_mlp[half]": 30.0}))
    out = suite.runpytest_inprocess("experiments", "--collect-only", "-q")
    out.stdout.fnmatch_lines(["*reduce_mlp[[]half[]]", "*drop_layers[[]impossible[]]", "*drop_layers[[]last1[]]"])
    path = data_root / "cache" / "durations.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"experiments/drop_layers.yaml::drop_layers[last1]": 50.0}))
    try:
        out = suite.runpytest_inprocess("experiments", "--collect-only", "-q")
    finally:
        path.unlink()
    out.stdout.fnmatch_lines(["*drop_layers[[]last1[]]", "*reduce_mlp[[]half[]]", "*drop_layers[[]impossible[]]"])


SAME = """
strategy: drop_layers
hypothesis: Block influence picks one of the micro model's two layers.
expect:
  accuracy: {min_delta: -1.0}
variants:
  - id: first1
    compression: {drop_layers: [0]}
  - id: last1
    compression: {drop_layers: [1]}
  - id: by-influence
    compression: {drop_layers: {count: 1, by: block_influence}}
"""


def test_identical_models_are_trained_once_and_shared_by_workers(pytester, micro_reference, data_root):
    """The scored variant removes the layer one named variant removes: one model, its seeds trained once."""
    pytester.makefile(".yaml", **{"experiments/setup": micro_setup(micro_reference),
                                  "experiments/drop_layers": SAME})
    out = pytester.runpytest_subprocess("experiments", "-n", "2", "-p", "no:cacheprovider")
    out.assert_outcomes(passed=3)
    doc = results(pytester)
    by_id = {r["variant_id"]: r for r in doc["variants"]}
    scored = by_id["by-influence"]
    chosen = scored["removed"][0]["removed"]["layers"]
    twin, other = (by_id["first1"], by_id["last1"]) if chosen == [0] else (by_id["last1"], by_id["first1"])
    assert scored["model_fingerprint"] == twin["model_fingerprint"] != other["model_fingerprint"]
    assert scored["per_seed"] == twin["per_seed"] and scored["training"] == twin["training"]
    # both read the same seed parts: each trained by one of the two, never by both
    assert set(scored["training"]["built_by"]) <= {scored["name"], twin["name"]}
    assert other["training"]["built_by"] == [other["name"]] * 2
    readme = (pytester.path / "reports" / "latest" / "README.md").read_text()
    line = next(x for x in readme.splitlines() if "built the same model" in x)
    assert f"`{scored['name']}`" in line and f"`{twin['name']}`" in line and other["name"] not in line
    assert list((data_root / "cache" / "runs").iterdir()) == []  # the run's scratch is gone
    durations = json.loads((data_root / "cache" / "durations.json").read_text())
    assert all(durations[f"experiments/drop_layers.yaml::{r['name']}"] > 0 for r in doc["variants"])


def test_corrupt_baseline_cache_is_detected_and_rebuilt(tmp_path, micro_reference, data_root):
    """A damaged merged entry is re-merged from the seed parts; a damaged part retrains that seed only."""
    import numpy as np

    from exaone_bench.config.setup import load_setup
    from exaone_bench.pipeline.runner import Runner

    (tmp_path / "setup.yaml").write_text(micro_setup(micro_reference).replace("batch_size: 8", "batch_size: 6"))
    runner = Runner(load_setup(tmp_path / "setup.yaml"))
    log = runner.baselines.seeds_dir() / "build.log"
    first = runner.baseline()
    assert len(log.read_text().splitlines()) == 2
    assert runner.baseline() is first  # read back and checksummed once per process

    quick = load_setup(tmp_path / "setup.yaml")
    quick.training.seeds = 1  # what --quick does: its one seed is the full run's seed 0
    assert Runner(quick).baseline().per_seed == first.per_seed[:1]
    assert len(log.read_text().splitlines()) == 2

    (runner.baselines.dir() / "arrays.npz").write_bytes(b"not an npz")
    second = Runner(runner.setup).baseline()  # the next run (process) checks the cache
    assert len(log.read_text().splitlines()) == 2  # nothing retrained
    assert second.per_seed == first.per_seed and np.array_equal(second.preds, first.preds)

    (runner.baselines.dir() / "result.json").write_text("{}")
    with open(runner.baselines.seeds_dir() / "1" / "arrays.npz", "r+b") as f:  # one flipped byte
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))
    third = Runner(runner.setup).baseline()
    lines = log.read_text().splitlines()
    assert len(lines) == 3 and lines[-1].endswith("seed 1")
    assert third.per_seed == first.per_seed and np.array_equal(third.preds, first.preds)


BROKEN = textwrap.dedent("""
    strategy: prune_heads
    hypothesis: broken on purpose
    expect: {accuracy: {min_delta: -1.0}}
    variants:
      - id: typo
        compression: {prune_heads: {kv_head: [1]}}
    """)


def test_bad_variant_spec_fails_at_collection_with_file_variant_and_key(suite):
    """Checked against the base model's config at collection: no item of that file runs."""
    suite.makefile(".yaml", **{"experiments/prune_heads": BROKEN,
                               "experiments/drop_layers": DROP.replace("drop_layers: [1]", "drop_layers: [7]")})
    out = suite.runpytest_inprocess("experiments", "--collect-only", "-q")
    out.stdout.re_match_lines([r".*drop_layers\.yaml\[last1\]\.compression\.drop_layers: 7 is out of range \[0, 1\]",
                               r".*prune_heads\.yaml\[typo\]\.compression\.prune_heads: unknown key\(s\) \['kv_head'\]"])
    out.stdout.fnmatch_lines(["*1 test collected, 2 errors*"])


def test_bad_post_training_files_fail_at_collection_naming_file_and_key(suite):
    """A target that names no variant, an unknown transform, and YAML's `on:` (read as true) are collection errors."""
    suite.makefile(".yaml", **{
        "experiments/post_training": POST.replace('"drop_layers[last1]"', '"drop_layers[nope]"'),
        "experiments/quantize": POST.replace("int8: {}", "int3: {}").replace("stage: post_training\n", "stage: post_training\n"),
        "experiments/sparsify": POST.replace("targets:", "on:"),
        "experiments/requantize": POST.replace("wanda: {sparsity: 0.5}", "int4: {group_size: 16}")})
    out = suite.runpytest_inprocess("experiments", "--collect-only", "-q")
    out.stdout.re_match_lines([
        r".*post_training\.yaml\.targets: drop_layers\.yaml has no variant 'nope' \(it has \['impossible', 'last1'\]\)",
        r".*quantize\.yaml\[int8\]\.post_training: unknown transform 'int3'; choose one of \[.*'int4', 'int8'.*\]",
        r".*requantize\.yaml\[wanda\]\.recovery_steps: quantized weights \(torchao tensor subclasses\) are not trained",
        r".*sparsify\.yaml: `on:` reads as true in YAML; name the fine-tuned models under `targets:`"])


POST = """
strategy: post_training
stage: post_training
hypothesis: Storing the micro model's weights in int8, or zeroing half of them, costs nothing.
targets: [baseline, "drop_layers[last1]"]
expect:
  accuracy: {min_delta: -1.0}
variants:
  - id: int8
    post_training: {int8: {}}
  - id: wanda
    post_training: {wanda: {sparsity: 0.5}}
    recovery_steps: 3
"""


def test_post_training_rows_transform_the_kept_classifiers(suite, data_root):
    """Each transform x target is an item; it is applied to the very classifiers the baseline and the structural
    variant were fine-tuned into (their untransformed metrics are equal), records what it measured, gets bytes
    and latency like every row (a sparse row times as its dense architecture, int8 as its own kernel) and
    a section, a chart and a lever sentence in the report rendered from MLflow."""
    suite.makefile(".yaml", **{"experiments/post_training": POST})
    out = suite.runpytest_subprocess("experiments", "-k", "last1 or post_training", "-p", "no:cacheprovider")
    out.assert_outcomes(passed=5)
    doc = results(suite)
    base, variant = doc["baseline"], {r["name"]: r for r in doc["variants"]}["drop_layers[last1]"]
    rows = {r["name"]: r for r in doc["post_training"]}
    assert sorted(rows) == ["post_training[int8@baseline]", "post_training[int8@last1]", "post_training[wanda@baseline]",
                            "post_training[wanda@last1]"]
    for name, source in (("int8@baseline", base), ("wanda@last1", variant)):
        row = rows[f"post_training[{name}]"]
        assert {m: row["source_metrics"][m] for m in ("accuracy", "precision")} == \
            {m: source["metrics"][m] for m in ("accuracy", "precision")}
    int8, wanda = rows["post_training[int8@baseline]"], rows["post_training[wanda@baseline]"]
    assert int8["transform"]["measured"]["bits"] == 8 and "cast to float" in int8["transform"]["kernel"]
    assert wanda["transform"]["measured"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    recovery = wanda["transform"]["recovery"]  # three steps of the loop, and the zeros are still zeros
    assert recovery["steps"] == 3 and recovery["measured"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert wanda["params"]["safetensors_bytes"] == base["params"]["safetensors_bytes"] > int8["params"]["safetensors_bytes"]
    assert wanda["params"]["zstd_bytes"] < base["params"]["zstd_bytes"]
    assert int8["params"]["packed_bytes"] == int8["params"]["safetensors_bytes"]  # int8 is already packed
    assert wanda["params"]["inference_latency_ms"] == base["params"]["inference_latency_ms"]  # the same dense model
    assert int8["params"]["inference_latency_ms"] != base["params"]["inference_latency_ms"]
    assert rows["post_training[int8@last1]"]["removed"] == variant["removed"]
    readme = (suite.path / "reports" / "latest" / "README.md").read_text()
    assert "## Post-training transforms" in readme and "| int8@baseline " in readme
    assert "runs torchao Int8Tensor weight-only" in readme and "Smallest file within the rule:" in readme
    assert "GGUF: not offered for this model: `exaone4`" in readme
    assert (suite.path / "reports" / "latest" / "accuracy_vs_bytes.png").stat().st_size > 0


def test_bad_setup_is_a_usage_error(pytester, micro_reference):
    pytester.makefile(".yaml", **{"experiments/setup": "model: x\ntraining: {steps: -3}\n", "experiments/drop_layers": DROP})
    out = pytester.runpytest_inprocess("experiments", "--collect-only")
    assert out.ret == pytest.ExitCode.USAGE_ERROR
    out.stderr.fnmatch_lines(["*experiments/setup.yaml.training.steps: expected a positive int, got -3*"])


def test_models_are_released_between_variants(tmp_path, micro_reference):
    """One model in memory at a time: after each of 5 variants no model object survives."""
    import gc

    from transformers import PreTrainedModel

    from exaone_bench.config.setup import load_setup
    from exaone_bench.pipeline.runner import Runner
    from exaone_bench.suite.collect import load_experiment

    (tmp_path / "setup.yaml").write_text(micro_setup(micro_reference).replace("seeds: 2", "seeds: 1"))
    (tmp_path / "drop_layers.yaml").write_text(DROP)
    (tmp_path / "reduce_mlp.yaml").write_text(MLP)
    runner = Runner(load_setup(tmp_path / "setup.yaml"))
    runner.baseline()
    experiments = [load_experiment(tmp_path / "drop_layers.yaml"), load_experiment(tmp_path / "reduce_mlp.yaml")]
    jobs = [(e, v) for e in experiments for v in e.variants] * 2
    for experiment, variant in jobs[:5]:
        runner.run_variant(experiment, variant)
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, PreTrainedModel)]
        assert alive == [], f"{len(alive)} model(s) still alive after {variant.id}"


def test_distill_recovery_uses_the_baseline_teacher(tmp_path, micro_reference):
    from exaone_bench.config.setup import load_setup
    from exaone_bench.pipeline.runner import Runner
    from exaone_bench.suite.collect import load_experiment

    results = {}
    for mode in ("finetune", "distill"):
        text = micro_setup(micro_reference).replace("seeds: 2", f"seeds: 1, recovery: {mode}")
        (tmp_path / f"{mode}.yaml").write_text(text)
        (tmp_path / "drop_layers.yaml").write_text(DROP)
        setup = load_setup(tmp_path / f"{mode}.yaml")
        assert setup.training.recovery == mode
        experiment = load_experiment(tmp_path / "drop_layers.yaml")
        results[mode] = Runner(setup).run_variant(experiment, experiment.variants[0])
    assert results["distill"].training["loss_curves"] != results["finetune"].training["loss_curves"]
    assert results["distill"].per_seed[0]["accuracy"] > 0.3


def test_latency_interleaves_distinct_architectures_within_a_memory_budget(tmp_path, micro_reference, monkeypatch):
    """Identical architectures are timed once; models share an interleaved run while they fit the budget."""
    from transformers import AutoConfig

    from exaone_bench.config.setup import load_setup
    from exaone_bench.evaluation import latency
    from exaone_bench.pipeline.runner import Runner

    (tmp_path / "setup.yaml").write_text(micro_setup(micro_reference))
    runner = Runner(load_setup(tmp_path / "setup.yaml"))
    base = AutoConfig.from_pretrained(micro_reference).to_dict()
    small = {**base, "num_hidden_layers": 1, "layer_types": base["layer_types"][:1]}
    timed, real = [], latency.latency_ms
    monkeypatch.setattr(latency, "latency_ms", lambda models, *args: timed.append(len(models)) or real(models, *args))
    ms = runner.latencies([base, small, base])
    assert timed == [2] and len(ms) == 3 and ms[0] == ms[2] and min(ms) > 0
    monkeypatch.setattr(latency, "latency_memory_budget", lambda device: 1)  # nothing fits beside another
    timed.clear()
    assert len(runner.latencies([base, small])) == 2 and timed == [1, 1]


def test_latency_memory_budget_is_a_quarter_of_free_memory():
    """The budget follows the machine: a quarter of what is available now (slack for other processes' churn)."""
    import psutil

    from exaone_bench.evaluation.latency import latency_memory_budget

    quarter = psutil.virtual_memory().available / 4
    assert 0.5 * quarter < latency_memory_budget("cpu") < 1.5 * quarter


def test_model_fingerprint_is_equal_only_for_the_same_model(micro_reference, tmp_path):
    """Same config, vocabulary and weights: equal, wherever loaded from; one weight moved by 1e-7, another vocabulary or setup: not."""
    import copy
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from exaone_bench.pipeline.seed_parts import model_fingerprint

    model, tokenizer = AutoModelForCausalLM.from_pretrained(micro_reference), AutoTokenizer.from_pretrained(micro_reference)
    twin = copy.deepcopy(model)
    first = model_fingerprint(model, tokenizer, "setup-a")
    assert model_fingerprint(twin, tokenizer, "setup-a") == first
    moved = shutil.copytree(micro_reference, tmp_path / "elsewhere")  # another data dir, the same files
    assert model_fingerprint(AutoModelForCausalLM.from_pretrained(moved), AutoTokenizer.from_pretrained(moved), "setup-a") == first
    assert model_fingerprint(model, tokenizer, "setup-b") != first
    tokenizer.add_tokens(["<extra>"])
    assert model_fingerprint(model, tokenizer, "setup-a") != first
    with torch.no_grad():
        twin.model.layers[0].mlp.up_proj.weight[0, 0] += 1e-7
    assert model_fingerprint(twin, AutoTokenizer.from_pretrained(micro_reference), "setup-a") != first
    with torch.device("meta"):  # offloaded weights cannot be hashed: the model is simply not shared
        ghost = AutoModelForCausalLM.from_config(model.config)
    assert model_fingerprint(ghost, tokenizer) is None


def test_a_study_of_its_own_collects_its_files_writes_its_reports_and_measures_the_layer_curve(pytester, micro_reference,
                                                                                               data_root, monkeypatch):
    """A setup naming `experiments: studies/micro` runs that directory's files and none of experiments/, writes
    reports/micro/, and with `evaluation.layer_curve` logs the curve, which the report rebuilt from MLflow shows."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{pytester.path / 'mlflow.db'}")
    study = micro_setup(micro_reference).replace("seeds: 2", "seeds: 1").replace(
        "zero_shot: {enabled: false}}", "zero_shot: {enabled: false}, layer_curve: {counts: [1], draws: 2, texts: 30}}")
    pytester.makefile(".yaml", **{"experiments/setup": micro_setup(micro_reference),
                                  "experiments/reduce_mlp": MLP, "experiments/setups/micro": study
                                  + "experiments: studies/micro\nreports: reports/micro\n",
                                  "studies/micro/drop_layers": DROP})
    out = pytester.runpytest_subprocess("experiments", "studies", "--setup", "experiments/setups/micro.yaml", "-k", "last1",
                                        "-p", "no:cacheprovider")
    out.assert_outcomes(passed=1)
    out.stdout.fnmatch_lines(["*session end: layer-removal curve, 1 counts x 3 rules (2 random draws) of 2 layers*"])
    assert not (pytester.path / "reports" / "latest").exists()
    doc = json.loads((pytester.path / "reports" / "micro" / "latest" / "results.json").read_text())
    assert [v["name"] for v in doc["variants"]] == ["drop_layers[last1]"]
    points = doc["layer_curve"]["points"]
    assert [(p["rule"], p["layers"]) for p in points if p["rule"] != "random"] == [("block_influence", [
        min(range(2), key=doc["layer_curve"]["influence"].__getitem__)]), ("last", [1])]
    assert len([p for p in points if p["rule"] == "random"]) == 2 and doc["layer_curve"]["base_loss"] > 0
    readme = (pytester.path / "reports" / "micro" / "latest" / "README.md").read_text()
    assert "## Layer-removal curve" in readme and "| `drop_layers[last1]` |" in readme
    assert (pytester.path / "reports" / "micro" / "latest" / "layer_removal_curve.png").is_file()
    # the default setup still collects its own files only
    out = pytester.runpytest_inprocess("experiments", "studies", "--collect-only", "-q")
    out.stdout.fnmatch_lines(["experiments/reduce_mlp.yaml::reduce_mlp[[]half[]]", "1 test collected*"])
    from exaone_bench.cli import main

    monkeypatch.chdir(pytester.path)
    assert main(["report", "--run", doc["mlflow_run_id"], "--out", str(pytester.path / "again")]) == 0
    again = (pytester.path / "again" / "latest" / "README.md").read_text()
    assert again[again.index("## Layer-removal curve"):] == readme[readme.index("## Layer-removal curve"):]
