"""Live progress: what workers write and what the controller shows, unit by unit and through a real suite run on a
terminal (the plain lines of a run whose output is not one: test_suite.test_pass_fail_and_readable_message)."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

from test_suite import DROP, MLP, micro_setup
from test_terminal_block import Screen

from exaone_bench.suite.progress import LiveDisplay, WorkerProgress

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
    assert timed == ("[exaone-bench] gw0: x[timed] — seed 2/3 step 50/100, 4,000 tokens/s; 0:00:40 in, "
                     "item ETA 0:01:00")  # recorded 100 s, 40 s in; its own model is not named twice
    assert new == ("[exaone-bench] gw1: x[new] — baseline seed 1/2 step 5/10, 1,000 tokens/s; 0:00:40 in, "
                   "item ETA 0:02:00")  # a quarter of its fine-tunes in 40 s
    # left: x[wait] never timed (mean of this run's timed items: 80 s) + 60 + 120, over two workers
    assert run == "[exaone-bench] run: 1/4 items done, 2 running, 0:00:40 elapsed, ETA 0:02:10"
    display.took["f.yaml::x[done]"] = 120.0  # twice its recorded 60 s: this machine runs at half that pace
    assert display.pace() == 2.0
    timed, new, run = display.lines(now=1040.0)
    assert timed.endswith("item ETA 0:02:40") and new.endswith("item ETA 0:02:00")  # 2 x 100 - 40; unchanged
    assert run.endswith("ETA 0:03:40")  # (2 x 80 + 160 + 120) / 2
    display.durations["f.yaml::x[timed]"] = 10.0  # recorded 2 x 10 s, 40 s in: from its own progress (half done)
    assert display.lines(now=1040.0)[0].endswith("item ETA 0:00:40")
    a.idle()
    assert "nodeid" not in json.loads(a.path.read_text())


def _run_on_a_terminal(args: list[str], cwd, columns: int = 120, rows: int = 40) -> str:
    """What pytest writes when its output is a terminal: run under a pseudo-terminal of `columns` x `rows`."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer of the terminal has closed it
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=300) == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode(errors="replace")


def test_on_a_terminal_the_lines_are_redrawn_in_place(pytester, micro_reference, data_root, monkeypatch):
    """Two xdist workers on a pseudo-terminal, rendered by a terminal emulator: after every redraw the block is on
    screen once, at its foot below xdist's own lines, and it is gone when the run ends; no library noise."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{pytester.path / 'fresh.db'}")  # a new store: its INFO lines
    setup = micro_setup(micro_reference).replace("steps: 6", "steps: 150").replace("seeds: 2", "seeds: 1")
    pytester.makefile(".yaml", **{"experiments/setup": setup, "experiments/drop_layers": DROP,
                                  "experiments/reduce_mlp": MLP})
    raw = _run_on_a_terminal(["experiments", "-n", "2", "-k", "last1 or half", "--bench-progress-every", "0.2",
                              "-p", "no:cacheprovider"], pytester.path)
    term, seen, workers = Screen(columns=120, rows=40), 0, set()
    for chunk in re.split(r"(?=\x1b\[J)", raw):  # the screen after every redraw
        term.write(chunk)
        shown = [row for row in term.rows() if row.startswith("[exaone-bench] ")]
        assert sum(row.startswith("[exaone-bench] run: ") for row in shown) <= 1, term.rows()
        if any(" step " in row and "tokens/s" in row for row in shown):
            seen += 1
            assert term.rows()[-len(shown):] == shown, term.rows()  # the block is the foot of the screen
            workers |= {w for w in ("gw0", "gw1") for row in shown if row.startswith(f"[exaone-bench] {w}: ")}
    assert seen >= 2 and workers == {"gw0", "gw1"}  # redrawn while both workers' fine-tunes ran
    final = term.rows()
    assert not any(row.startswith("[exaone-bench] gw") for row in final)  # the block is gone at the end
    assert any("2 passed" in row for row in final)
    assert "noload" not in raw and "INFO mlflow" not in raw and "Creating initial MLflow database tables" not in raw
    assert "Downloading artifacts" not in raw
