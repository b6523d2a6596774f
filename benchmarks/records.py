"""The benchmarks' results file: each measuring script appends one JSON record when it finishes.

A record holds the commit, the date, the machine (with its matmul rate measured at that moment,
because a shared machine's speed drifts between days and within a run), the script's figures
and its goal. `docs/benchmarks.md` is rendered from these records by render.py, so a
measurement changes data, never prose.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from exaone_bench.core import machine as host

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "benchmarks" / "records.jsonl"
# Outputs of this machinery: their being modified does not make a measurement's code dirty.
GENERATED = ("benchmarks/records.jsonl", "docs/benchmarks.md")


def records_path() -> Path:
    """The records file: $EXAONE_BENCH_RECORDS when set (tests), else benchmarks/records.jsonl."""
    return Path(os.environ.get("EXAONE_BENCH_RECORDS") or RECORDS)


def name(stem: str, *modes: str) -> str:
    """A benchmark's name: the script's stem, then the options that change what it measures, as typed.

    `name("bench_suite", "--cold")` is "bench_suite[--cold]"; no modes gives the stem alone. Runs
    of one name measure the same thing, so "the latest run per benchmark" is meaningful.
    """
    modes = tuple(m for m in modes if m)
    return f"{stem}[{' '.join(modes)}]" if modes else stem


def _matmul_gflops(device: str, n: int, warmup: int = 2, reps: int = 5) -> float:
    """Median fp32 n x n @ n x n rate on `device`, in GFLOP/s."""
    import torch

    a, b = (torch.randn(n, n, device=device) for _ in range(2))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    times = []
    for i in range(warmup + reps):
        sync()
        t = time.perf_counter()
        a @ b
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return round(2 * n**3 / statistics.median(times) / 1e9, 1)


def machine() -> dict:
    """The machine as a benchmark sees it: CPU, cores, bf16 units, torch, GPU, and measured matmul rates.

    `matmul_gflops_1thread` is measured on one torch thread (the suite's setting), then the
    previous thread count is restored; `matmul_gflops_gpu` only where CUDA is available.
    """
    import torch

    units = host.bf16_flags()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rate = _matmul_gflops("cpu", 1024)
    finally:
        torch.set_num_threads(threads)
    gpu = torch.cuda.is_available()
    return {
        "cpu": host.cpu_name(),
        "cores": host.cores(),
        "avx512_bf16": "avx512_bf16" in units,
        "amx": "amx_bf16" in units,
        "torch": torch.__version__,
        "gpu": host.gpu(),
        "matmul_gflops_1thread": rate,
        "matmul_gflops_gpu": _matmul_gflops("cuda", 4096) if gpu else None,
    }


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def commit() -> dict:
    """{"commit": HEAD's sha or None, "dirty": whether the tree has changes besides the generated files}."""
    sha = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain") or ""
    changed = [line[3:] for line in status.splitlines() if line[3:].strip('"') not in GENERATED]
    return {"commit": sha.strip() if sha else None, "dirty": bool(changed)}


def append(benchmark: str, figures: dict, goal: str, argv: list[str] | None = None,
           machine_before: dict | None = None, headline: list[str] | None = None) -> dict:
    """Append one record to the records file and return it.

    `figures` are the run's numbers and strings, named with their units (`wall_s`); `headline`
    names the few that the history table shows (default: the first three). `machine_before`,
    measured at the start of a long run, keeps the rates from both ends: the machine's own
    `matmul_gflops_*` are the ones measured now, at the end, and `*_before` the earlier ones.
    The line is written by one O_APPEND write, so concurrent appends never interleave.
    """
    now = machine()
    if machine_before is not None:
        for key in ("matmul_gflops_1thread", "matmul_gflops_gpu"):
            now[f"{key}_before"] = machine_before.get(key)
    record = {
        "benchmark": benchmark,
        "argv": list(sys.argv[1:] if argv is None else argv),
        **commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": now,
        "figures": figures,
        "goal": goal,
    }
    if headline:
        missing = [k for k in headline if k not in figures]
        if missing:
            raise ValueError(f"headline figures {missing} are not among the figures")
        record["headline"] = list(headline)
    line = (json.dumps(record, default=_plain) + "\n").encode()
    target = records_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    print(f"record appended to {target}: {benchmark}", flush=True)
    return record


def _plain(value):
    """numpy scalars and paths as JSON: a figure is a number or a string."""
    return value.item() if hasattr(value, "item") else str(value)


def read(path: Path | str | None = None) -> list[dict]:
    """Every record of the records file (default: records_path()), in file order, which is the order of appending."""
    target = Path(path) if path is not None else records_path()
    if not target.is_file():
        return []
    return [json.loads(line) for line in target.read_text().splitlines() if line.strip()]
