"""A suite split over machines: pytest-split shards logging to one real `mlflow server`, merged into one report."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

# Imported here, not inside a test: mlflow brings the importlib_metadata backport, which installs its
# finder on sys.meta_path and disables the stdlib's. Imported inside a pytester test, pytester's
# teardown would restore sys.meta_path without that finder, and no package metadata could be found.
from mlflow.tracking import MlflowClient  # noqa: F401
from test_suite import DROP, MLP, micro_setup

pytest_plugins = ["pytester"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """`mlflow server` on 127.0.0.1 with a sqlite store and proxied artifacts, as a user would run it."""
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
                             "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except OSError:
            assert proc.poll() is None and time.time() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.5)
    yield url
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)
    log.close()


def test_two_shards_on_one_server_merge_into_the_one_process_report(pytester, micro_reference, data_root,
                                                                    mlflow_server, monkeypatch):
    pytester.makefile(".yaml", **{"experiments/setup": micro_setup(micro_reference).replace("seeds: 2", "seeds: 1"),
                                  "experiments/drop_layers": DROP, "experiments/reduce_mlp": MLP})
    (pytester.path / "experiments" / "durations.json").write_text(json.dumps({
        "experiments/drop_layers.yaml::drop_layers[last1]": 3.0, "experiments/drop_layers.yaml::drop_layers[impossible]": 2.0,
        "experiments/reduce_mlp.yaml::reduce_mlp[half]": 1.0}))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    ran, shards = [], []
    for group in ("1", "2"):
        out = pytester.runpytest_subprocess("experiments", "-k", "last1 or half", "--splits", "2", "--group", group,
                                            "--durations-path", "experiments/durations.json", "-p", "no:cacheprovider")
        ran.append(out.parseoutcomes())
        assert out.ret == 0
        shards.append(json.loads((pytester.path / "reports" / "latest" / "results.json").read_text()))
    assert [o.get("passed", 0) for o in ran] == [1, 1]  # one item per shard
    setup_hash = shards[-1]["setup_hash"]
    out = subprocess.run([sys.executable, "-m", "exaone_bench.cli", "report", "--setup-hash", setup_hash, "--out",
                          str(pytester.path / "merged")], cwd=pytester.path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"report for 2 session(s) of setup {setup_hash} (2 variants, 0 post-training rows)" in out.stdout
    readme = (pytester.path / "merged" / f"merged-{setup_hash}" / "README.md").read_text()
    assert "merged from 2 sessions (shards)" in readme and "## drop_layers" in readme and "## reduce_mlp" in readme
    from exaone_bench.core import machine

    # each shard names the machine it ran on (here both the same; on a split run, each its own)
    here = machine.summary(machine.describe())
    assert [s["machine"] for s in shards] == [here, here]
    assert readme.count(f" on {here}") == 2 and "Machines: shard `" in readme

    from exaone_bench.evidence.tracking import Tracker

    # The merge reads back from the server exactly what each shard's own session recorded, one baseline for both
    # (that a split run trains the numbers one process does is test_suite's xdist-against-serial test).
    merged = Tracker(mlflow_server).read_merged(setup_hash)
    assert {r.name: r.metrics for r in merged["variants"]} == {r["name"]: r["metrics"] for s in shards for r in s["variants"]}
    assert merged["baseline"].metrics == shards[0]["baseline"]["metrics"] == shards[1]["baseline"]["metrics"]
