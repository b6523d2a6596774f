"""The suite at its edges, as a user meets them: usage errors before anything runs, one GPU per worker,
one report directory per run, and a run interrupted by SIGINT."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

# Imported here, not inside a test: mlflow brings the importlib_metadata backport, which installs its
# finder on sys.meta_path and disables the stdlib's. Imported inside a pytester test, pytester's
# teardown would restore sys.meta_path without that finder, and no package metadata could be found.
from mlflow.tracking import MlflowClient
from test_suite import DROP, MLP, micro_setup

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("edit, message", [
    ("data: {source: missing.csv}", "setup.yaml: data.source: 'missing.csv' does not exist"),
    ("data: {source: notes.txt}", "setup.yaml: data.source: 'notes.txt' is a .txt file; use .csv or .jsonl"),
    ("model: ./nowhere", "setup.yaml: model: unknown model source './nowhere'"),
    ("compare: [{source: /no/such/model, fine_tune: true}]", "setup.yaml: compare[0].source: unknown model source '/no/such/model'"),
    ("tracking_uri: sqlite:///blocker/mlflow.db", "setup.yaml: tracking_uri (sqlite:///blocker/mlflow.db): 'blocker' cannot be "
                                                  "written"),
    ("experiments: experiments/smolm2", "setup.yaml: experiments: 'experiments/smolm2' is not a directory"),
    ("reports: blocker/reports", "setup.yaml: reports ('blocker/reports', the reports directory): "),
])
def test_every_location_the_setup_names_is_checked(tmp_path, monkeypatch, edit, message):
    from exaone_bench.config.setup import load_setup
    from exaone_bench.core.validate import SpecError
    from exaone_bench.suite.preflight import check

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    (tmp_path / "notes.txt").write_text("text,label\n")
    (tmp_path / "blocker").write_text("a file where a directory should be")
    (tmp_path / "experiments").mkdir()
    (tmp_path / "setup.yaml").write_text(edit + "\n")
    with pytest.raises(SpecError, match=re.escape(message)):
        check(load_setup(tmp_path / "setup.yaml"), tmp_path)


def test_outputs_that_cannot_be_written_are_named(tmp_path, monkeypatch):
    from exaone_bench.config.setup import Setup
    from exaone_bench.core.validate import SpecError
    from exaone_bench.suite.preflight import check

    (tmp_path / "blocker").write_text("")
    (tmp_path / "experiments").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'blocker' / 'mlflow.db'}")
    with pytest.raises(SpecError, match=r"^MLFLOW_TRACKING_URI \(sqlite:///.*\): .* cannot be written \(.* is not a directory\)"):
        check(Setup(), tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "reports").write_text("")
    with pytest.raises(SpecError, match=r"setup: reports \('reports', the reports directory\): .* cannot be written"):
        check(Setup(), tmp_path)


def test_a_missing_data_source_is_one_usage_error_before_anything_runs(pytester, micro_reference):
    pytester.makefile(".yaml", **{"experiments/setup": micro_setup(micro_reference, data="gone.csv"),
                                  "experiments/drop_layers": DROP})
    out = pytester.runpytest_inprocess("experiments")
    assert out.ret == pytest.ExitCode.USAGE_ERROR
    text = "\n".join(out.errlines + out.outlines)
    assert "setup.yaml: data.source: 'gone.csv' does not exist" in text and "Traceback" not in text


def test_each_worker_sees_one_gpu_of_the_callers_list(pytester, micro_reference, monkeypatch):
    """On the CPU: the environment each worker sees. CUDA is never initialised here."""
    from exaone_bench.core.validate import SpecError
    from exaone_bench.suite import devices

    pytester.makefile(".yaml", **{"experiments/setup": micro_setup(micro_reference)})
    pytester.makepyfile(test_env="""
        import os
        def test_env(tmp_path_factory):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            (tmp_path_factory.getbasetemp().parent.parent / f"{worker}.env").write_text(os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
        """)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    out = pytester.runpytest_subprocess("test_env.py", "-n", "2", "--dist", "each", "--device", "cuda",
                                        "-p", "no:cacheprovider", f"--basetemp={pytester.path / 'bt'}")
    out.assert_outcomes(passed=2)
    seen = {p.stem: p.read_text() for p in pytester.path.glob("*.env")}
    assert seen == {"gw0": "3", "gw1": "5"}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")  # what the plugin checks at configure (a usage error there)
    with pytest.raises(SpecError, match=r"^-n 2 with device cuda: 1 GPU\(s\) visible \(CUDA_VISIBLE_DEVICES=3\); "
                                        r"one GPU per worker: use -n 1"):
        devices.plan("cuda", 2)


def test_runs_started_in_the_same_second_get_their_own_report_directories(tmp_path):
    from exaone_bench.config.setup import Setup
    from exaone_bench.suite.session import BenchSession

    first, second = BenchSession(Setup(), tmp_path, started=1e9), BenchSession(Setup(), tmp_path, started=1e9)
    assert first.stamp != second.stamp and first.stamp[:15] == second.stamp[:15]


def test_a_pool_worker_the_exit_handler_cannot_see_is_stopped_after_an_interrupt():
    """The race the SIGINT test once hung on: a pool whose worker started but was never registered for the
    interpreter's exit handler (the interrupt landed inside `Thread.start`). The session's end wakes it."""
    from concurrent.futures import ThreadPoolExecutor, thread

    from exaone_bench.suite.plugin import _stop_thread_pools

    pool = ThreadPoolExecutor(1, thread_name_prefix="orphan")
    pool.submit(lambda: None).result()
    (worker,) = pool._threads
    del thread._threads_queues[worker]  # what the interrupted start leaves: the exit handler never wakes it
    time.sleep(0.1)
    assert worker.is_alive()  # idle, blocked on its queue
    _stop_thread_pools()
    worker.join(timeout=10)
    assert not worker.is_alive()


def test_sigint_leaves_no_running_run_an_incomplete_report_and_no_half_written_cache(pytester, micro_reference,
                                                                                    data_root, monkeypatch):
    """SIGINT to the process group once the first item has passed: the session ends, MLflow holds no RUNNING
    run, the report says it is incomplete and lists what finished, and no cache entry is half-written."""
    uri = f"sqlite:///{pytester.path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    setup = micro_setup(micro_reference).replace("steps: 6", "steps: 400").replace("seeds: 2", "seeds: 1")
    pytester.makefile(".yaml", **{"experiments/setup": setup, "experiments/drop_layers": DROP,
                                  "experiments/reduce_mlp": MLP})
    # the first item's report, before the plugin records it: the MLflow writer thread must already run, since a
    # SIGINT inside its start (the first record) would lose the first result and the interrupted run's report
    pytester.makeconftest("""
        import threading
        import pytest

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_logreport(report):
            if report.when == "call":
                with open("threads.txt", "a") as f:
                    f.write(",".join(t.name for t in threading.enumerate()) + "\\n")
    """)
    log = pytester.path / "run.log"
    with open(log, "w") as f:
        # --tb=native: a SIGINT that lands on a frame without a line number (inside transformers' config code)
        # breaks pytest's own traceback rendering (tb_lineno None) and turns exit 2 into 1; Python's formatter copes.
        # SIGINT at its default: a shell that starts a background job ignores it there, and the child would inherit that.
        # -X faulthandler: a child that does not end is sent SIGABRT, and every thread's stack lands in the log.
        proc = subprocess.Popen([sys.executable, "-X", "faulthandler", "-m", "pytest", "experiments", "-v", "-p",
                                 "no:cacheprovider", "--tb=native"], cwd=pytester.path, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while " PASSED" not in log.read_text() and " FAILED" not in log.read_text() and proc.poll() is None:
        assert time.time() < deadline, log.read_text()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        status = proc.wait(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGABRT)
        proc.wait(timeout=60)
        pytest.fail(f"the interrupted session did not end in 240 s; its log and stacks:\n{log.read_text()[-20000:]}")
    assert status == pytest.ExitCode.INTERRUPTED, log.read_text()
    assert "exaone-bench-mlflow" in (pytester.path / "threads.txt").read_text().splitlines()[0]
    doc = json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())
    assert doc["incomplete"] and 1 <= len(doc["variants"]) < 3
    assert "**Incomplete: the run was interrupted.**" in (pytester.path / "reports" / "latest" / "README.md").read_text()
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("exaone-bench").experiment_id])
    assert runs and all(r.info.status != "RUNNING" for r in runs)
    assert {r.info.status for r in runs if r.data.tags.get("experiment_stage") == "session"} == {"KILLED"}
    cache = data_root / "cache"
    assert not [p for p in cache.rglob(".tmp-*")], "a half-written cache entry"
