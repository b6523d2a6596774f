"""Live progress of a suite run: each worker writes where it is; the controller shows one line per worker.

xdist shows a dot only when an item ends, and the first items are the longest, so a run could
print nothing for minutes. Every process that runs items (each xdist worker, or the one
process of `-n 0`) keeps a small JSON file in the run's scratch directory (`progress/<worker>.json`:
item, what it is training, seed k/n, step s/S, tokens/s), rewritten at most once a second
through a rename. The controller reads those files on a timer and shows one line per worker
and one for the run, with ETAs from the durations recorded by earlier runs (suite/order.py) and,
for an item never timed, from its own progress. On a terminal the lines are a block redrawn in
place below pytest's own output (terminal_block.py); otherwise (CI, `make train | tee`) each
tick is appended as plain lines.
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from exaone_bench.core.cache import atomic_write_text
from exaone_bench.suite.terminal_block import PlainLines, TerminalBlock

WRITE_EVERY = 1.0  # seconds between rewrites of a worker's file


class WorkerProgress:
    """This process's line: written by the runner (item, seed) and the training loop (step)."""

    def __init__(self, run_dir: Path, worker: str):
        self.path = run_dir / "progress" / f"{worker}.json"
        self.state: dict = {"worker": worker}
        self._written = 0.0

    def item(self, nodeid: str, name: str) -> None:
        self.state = {"worker": self.state["worker"], "nodeid": nodeid, "item": name, "started": time.time()}
        self._write(force=True)

    def seed(self, model: str, seed: int, seeds: int, steps: int) -> None:
        """A fine-tune of `model` (the item's own model, or a baseline seed it builds) starts."""
        self.state.update(model=model, seed=seed, seeds=seeds, step=0, steps=steps, tokens_per_second=None)
        self._write(force=True)

    def step(self, step: int, steps: int, tokens: int, seconds: float) -> None:
        self.state.update(step=step, steps=steps, tokens_per_second=tokens / seconds if seconds > 0 else None)
        self._write()

    def idle(self) -> None:
        self.state = {"worker": self.state["worker"]}
        self._write(force=True)

    def _write(self, force: bool = False) -> None:
        now = time.time()
        if force or now - self._written >= WRITE_EVERY:
            self._written = now
            atomic_write_text(self.path, json.dumps({**self.state, "updated": now}))


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class LiveDisplay:
    """At the controller: every `interval` seconds, one line per busy worker and one for the run."""

    def __init__(self, run_dir: Path, durations: dict[str, float], workers: int, output, interval: float,
                 took: dict[str, float] | None = None):
        self.dir, self.durations, self.workers = run_dir / "progress", durations, max(1, workers)
        self.output, self.interval = output, interval   # output: `update(lines)` per tick, `close()` (LiveOutput)
        self.nodeids: list[str] = []
        self.pending: set[str] = set()   # node ids not finished yet
        # node id -> seconds it took in this run: the session's own record (BenchSession.durations), read live
        self.took = took if took is not None else {}
        self.total = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = time.time()

    def start(self, nodeids: list[str]) -> None:
        if self._thread is not None:  # xdist: every worker reports its collection; the first one starts the timer
            return
        self.nodeids, self.pending, self.total = list(nodeids), set(nodeids), len(nodeids)
        self._thread = threading.Thread(target=self._run, name="exaone-bench-progress", daemon=True)
        self._thread.start()

    def finished(self, nodeid: str) -> None:
        self.pending.discard(nodeid)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.output.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.output.update(self.lines())

    def pace(self) -> float:
        """This machine against the one that recorded the durations: what the items finished here took over what
        they took there (1 until an item of a second or more has finished)."""
        timed = [n for n in self.took if self.durations.get(n, 0) >= 1.0]
        return sum(self.took[n] for n in timed) / sum(self.durations[n] for n in timed) if timed else 1.0

    def expected(self, nodeid: str) -> float | None:
        """An item's recorded duration at this run's pace; one never timed is taken as the mean of this run's timed items."""
        if nodeid in self.durations:
            return self.durations[nodeid] * self.pace()
        known = [self.durations[n] for n in self.nodeids if n in self.durations]
        return sum(known) / len(known) * self.pace() if known else None

    def lines(self, now: float | None = None) -> list[str]:
        """The lines of one tick: each busy worker (item, seed, step, tokens/s, item ETA), then the run."""
        now = now or time.time()
        states = []
        for path in sorted(self.dir.glob("*.json")) if self.dir.is_dir() else []:
            try:
                states.append(json.loads(path.read_text()))
            except (OSError, json.JSONDecodeError):  # replaced while read: next tick
                continue
        out, running = [], {}
        for s in states:
            if "nodeid" not in s or s["nodeid"] not in self.pending:
                continue
            elapsed = now - s["started"]
            eta = self.item_eta(s, elapsed)
            running[s["nodeid"]] = eta
            where = ""
            if "seed" in s:
                model = "" if s["model"] == s["item"] else s["model"]  # the item's own is said by its name
                where = f" — {model + ' ' if model else ''}seed {s['seed'] + 1}/{s['seeds']} step {s['step']}/{s['steps']}"
                if s.get("tokens_per_second"):
                    where += f", {s['tokens_per_second']:,.0f} tokens/s"
            out.append(f"[exaone-bench] {s['worker']}: {s['item']}{where}; {_clock(elapsed)} in, item ETA {_clock(eta)}")
        waiting = [n for n in self.pending if n not in running]
        left = [self.expected(n) for n in waiting] + list(running.values())
        eta = None if any(x is None for x in left) else sum(left) / self.workers
        done = self.total - len(self.pending)
        out.append(f"[exaone-bench] run: {done}/{self.total} items done, {len(running)} running, {_clock(now - self.started)} "
                   f"elapsed, ETA {_clock(eta)}")
        return out

    def item_eta(self, state: dict, elapsed: float) -> float | None:
        """From the item's recorded duration at this run's pace; past it, or never timed, from how far its own
        fine-tunes have got."""
        expected = self.expected(state["nodeid"]) if state["nodeid"] in self.durations else None
        if expected is not None and expected > elapsed:
            return expected - elapsed
        if state.get("steps") and state.get("seeds"):
            done = (state["seed"] + state["step"] / state["steps"]) / state["seeds"]
            return elapsed * (1 - done) / done if done > 0 else None
        return None if expected is None else 0.0


def default_interval(isatty: bool) -> float:
    """Seconds between ticks: a redrawn block can tick often; appended lines would flood a CI log."""
    return 2.0 if isatty else 60.0


class LiveOutput:
    """The controller's terminal, taken over from pytest's writer for the run and handed back at its end.

    pytest's writer keeps its file (sys.stdout as it was at configuration), but while `-n 0` runs
    an item pytest points file descriptor 1 at its capture file, and lines written then would land
    in the item's captured output. So the lines (and, through the wrapper, pytest's own output)
    go to a duplicate of the terminal's descriptor, taken while nothing is captured.
    """

    def __init__(self, reporter):
        self.tw = reporter._tw
        self.original = self.tw._file
        self.original.flush()
        try:
            self.stream = os.fdopen(os.dup(self.original.fileno()), "w", buffering=1,
                                    encoding=getattr(self.original, "encoding", None) or "utf-8")
        except (AttributeError, OSError, ValueError):  # no descriptor (an in-process pytester run): write to it as it is
            self.stream = self.original
        self.sink = TerminalBlock(self.stream) if reporter.isatty() else PlainLines(self.stream)
        self.tw._file = self.sink

    def update(self, lines: list[str]) -> None:
        self.sink.update(lines)

    def close(self) -> None:
        self.sink.close()
        self.tw._file = self.original
        if self.stream is not self.original:
            self.stream.close()


__all__ = ["LiveDisplay", "LiveOutput", "WorkerProgress", "default_interval"]
