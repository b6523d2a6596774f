"""Our per-parameter table (exact ranks) vs weightwatcher on a 1.2B-shaped checkpoint.

Builds a randomly initialised model from the real EXAONE-4.0-1.2B config, saves it once as
bf16 safetensors (like the released checkpoint), then runs, each in a fresh subprocess:
  ours:          exaone-bench analyze --model DIR --out table.csv  (streamed, no model built)
  weightwatcher: WeightWatcher(model).analyze() on the same checkpoint loaded by transformers
and prints wall time and peak RSS of both, and the ratios. Goal: ours <= 0.7x weightwatcher's
wall time, ours <= 1.5 GiB peak RSS.

    pip install weightwatcher   # not a project dependency: only this benchmark uses it
    python benchmarks/bench_analysis.py [--workdir /tmp/exaone-1.2b] [--skip-weightwatcher]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import records

HERE = Path(__file__).parent
GOAL = "ours <= 0.7x weightwatcher's wall time, ours <= 1.5 GiB peak RSS"

WEIGHTWATCHER = """
import sys, torch, weightwatcher
from transformers import AutoModelForCausalLM
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
details = weightwatcher.WeightWatcher(model=model).analyze()
print(len(details), "layers analysed by weightwatcher")
"""

def run(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GiB, last output line) of one child process, from its own rusage."""
    with tempfile.TemporaryFile("w+") as log:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's rusage alone, not all children's
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{out[-3000:]}")
    lines = [line for line in out.strip().splitlines() if line.strip()]
    return wall, usage.ru_maxrss / 2**20, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", default="/tmp/exaone-1.2b-random")
    parser.add_argument("--skip-weightwatcher", action="store_true")
    args = parser.parse_args()
    work = Path(args.workdir)
    ckpt = work / "checkpoint"
    if not (ckpt / "config.json").is_file():
        print("building the 1.2B-shaped checkpoint ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "random_exaone.py"), str(ckpt)], check=True)
    exe = str(Path(sys.executable).parent / "exaone-bench")
    rows = []
    wall, peak, tail = run([exe, "analyze", "--model", str(ckpt), "--out", str(work / "table.csv")])
    rows.append(("exaone-bench analyze (exact ranks)", wall, peak, tail))
    print(f"{rows[-1][0]:<40} wall {wall:7.1f} s   peak RSS {peak:5.2f} GiB   {tail}", flush=True)
    if not args.skip_weightwatcher:
        wall, peak, tail = run([sys.executable, "-c", WEIGHTWATCHER, str(ckpt)])
        rows.append(("weightwatcher analyze()", wall, peak, tail))
        print(f"{rows[-1][0]:<40} wall {wall:7.1f} s   peak RSS {peak:5.2f} GiB   {tail}", flush=True)
        ours, ww = rows
        print(f"ratio ours / weightwatcher: wall {ours[1] / ww[1]:.2f}x (goal <= 0.70), "
              f"ours peak RSS {ours[2]:.2f} GiB (goal <= 1.5)")
    (work / "bench_analysis.json").write_text(json.dumps(rows, indent=2))
    figures = {"ours_wall_s": round(rows[0][1], 1), "ours_peak_rss_gib": round(rows[0][2], 2)}
    if len(rows) == 2:
        figures.update(weightwatcher_wall_s=round(rows[1][1], 1), weightwatcher_peak_rss_gib=round(rows[1][2], 2),
                       wall_ratio_x=round(rows[0][1] / rows[1][1], 2), weightwatcher=metadata.version("weightwatcher"))
    records.append(records.name("bench_analysis", "--skip-weightwatcher" if args.skip_weightwatcher else ""),
                   figures, GOAL, headline=["wall_ratio_x", "ours_peak_rss_gib", "ours_wall_s"] if len(rows) == 2 else None)


if __name__ == "__main__":
    main()
