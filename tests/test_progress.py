"""Live progress: what workers write and what the controller prints, unit by unit and through a real suite run."""
from __future__ import annotations

import json

from test_suite import DROP, MICRO_SETUP, MLP

from exaone_bench.progress import LiveDisplay, WorkerProgress

pytest_plugins = ["pytester"]


def test_lines_name_the_item_seed_step_and_etas(tmp_path):
    """Item ETA from its recorded duration, or (never timed) from how far its fine-tunes got; the run's ETA
    shares the remaining work over the workers."""
    a, b = WorkerProgress(tmp_path, "gw0"), WorkerProgress(tmp_path, "gw1")
    a.item("f.yaml::x[timed]", "x[timed]")
    a.seed("x[timed]", 1, 3, 100)
    a.step(50, 100, 32_000, 8.0)
    b.item("f.yaml::x[new]", "x[new]")
    b.seed("baseline", 0, 2, 10)
    for worker in (a, b):  # both started 40 s before "now"
        worker.state["started"] = 1000.0
        worker._write(force=True)
    b.step(5, 10, 1_000, 1.0)
    b._write(force=True)
    display = LiveDisplay(tmp_path, {"f.yaml::x[timed]": 100.0, "f.yaml::x[done]": 60.0}, 2, print, 1.0)
    display.nodeids = ["f.yaml::x[timed]", "f.yaml::x[new]", "f.yaml::x[done]", "f.yaml::x[wait]"]
    display.pending, display.total = {"f.yaml::x[timed]", "f.yaml::x[new]", "f.yaml::x[wait]"}, 4
    display.started = 1000.0
    timed, new, run = display.lines(now=1040.0)
    assert timed == ("[exaone-bench] gw0: x[timed] — x[timed] seed 2/3 step 50/100, 4,000 tokens/s; 0:00:40 in, "
                     "item ETA 0:01:00")  # recorded 100 s, 40 s in
    assert new == ("[exaone-bench] gw1: x[new] — baseline seed 1/2 step 5/10, 1,000 tokens/s; 0:00:40 in, "
                   "item ETA 0:02:00")  # a quarter of its fine-tunes in 40 s
    # left: x[wait] never timed (mean of this run's timed items: 80 s) + 60 + 120, over two workers
    assert run == "[exaone-bench] run: 1/4 items done, 2 running, 0:00:40 elapsed, ETA 0:02:10"
    a.idle()
    assert "nodeid" not in json.loads(a.path.read_text())


def test_a_suite_run_prints_live_lines_and_no_library_noise(pytester, micro_reference, data_root, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{pytester.path / 'fresh.db'}")  # a new store: its INFO lines
    setup = MICRO_SETUP.format(model=micro_reference).replace("steps: 6", "steps: 150")
    pytester.makefile(".yaml", **{"experiments/setup": setup, "experiments/drop_layers": DROP,
                                  "experiments/reduce_mlp": MLP})
    out = pytester.runpytest_subprocess("experiments", "-n", "2", "-k", "last1 or half", "--bench-progress-every", "0.2",
                                        "-p", "no:cacheprovider")
    out.assert_outcomes(passed=2)
    text = "\n".join(out.outlines + out.errlines)
    assert "[exaone-bench] run: 0/2 items done" in text and "[exaone-bench] run: " in text
    workers = {w for w in ("gw0", "gw1") if f"[exaone-bench] {w}: " in text}
    assert workers and " step " in text and "tokens/s" in text
    assert "noload" not in text and "INFO mlflow" not in text and "Creating initial MLflow database tables" not in text
    assert "Downloading artifacts" not in text
