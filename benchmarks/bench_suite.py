"""Wall time of the default experiment suite, per stage, with -n 0 or -n 2, and the floors.

    python benchmarks/bench_suite.py [-n 2] [--quick] [--fresh-baseline | --cold] [-k EXPR] [--setup FILE]

Runs `pytest experiments/` as a user would (warm data/reference cache assumed) and prints: the
machine's 1-thread fp32 matmul GFLOP/s before and after (this shared machine's speed varies
between days by up to ~1.5x, so wall times are only comparable beside it), total wall, baseline
build, each variant's compress, fine-tune and total seconds, fine-tune tokens/s, the suite's
verdicts, and each worker's timeline (its start-up, the gaps between its variants, its idle end).
Goal: <= 20 min warm, <= 6 min with --quick. A fresh baseline is forced by `--fresh-baseline`
(deletes its cache entry). `--cold` runs `make train`'s three steps on an empty data dir
(`exaone-bench data`, `exaone-bench reference`, the suite) and times each; goal <= 25 min.
`--setup experiments/setups/smollm2.yaml` times that setup's own study (its `experiments:` directory,
its `reports:`), the real-weights study of reports/smollm2/; goal <= 90 min on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import records


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", default="2", help="pytest-xdist workers (0: serial)")
    parser.add_argument("-k", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--setup", default=None, help="another setup: its own experiments directory and reports")
    parser.add_argument("--log", default=None, help="write pytest's output here as it runs (a long study's progress)")
    fresh = parser.add_mutually_exclusive_group()  # a cold run's baseline is fresh by construction
    fresh.add_argument("--fresh-baseline", action="store_true", help="delete the cached baseline first")
    fresh.add_argument("--cold", action="store_true", help="build data and exaone-tiny first, in an empty data dir")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    cold: list[tuple[str, float]] = []  # (step, seconds) of the steps before the suite
    if args.cold:  # a fresh data dir, inherited by every step below: nothing cached, not even the variants' order
        os.environ["EXAONE_BENCH_DATA"] = tempfile.mkdtemp(prefix="exaone-bench-cold-")
    elif args.fresh_baseline:
        from exaone_bench.core.paths import data_dir

        shutil.rmtree(data_dir() / "cache" / "baselines", ignore_errors=True)
    from exaone_bench.config.setup import Setup, load_setup

    setup = load_setup(args.setup) if args.setup else Setup()
    cmd = [sys.executable, "-m", "pytest", setup.experiments, "-q", "-p", "no:cacheprovider", "-n", args.n]
    cmd += ["--setup", args.setup] if args.setup else []
    cmd += ["--quick"] if args.quick else []
    cmd += ["-k", args.k] if args.k else []
    from bench_train_throughput import matmul_peak  # this folder is on sys.path when run as a script

    machine_before = records.machine()
    before = matmul_peak(1) / 1e9
    for step in ("data", "reference") if args.cold else ():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "exaone_bench.cli", step], cwd=root, check=True, capture_output=True)
        cold.append((step, time.perf_counter() - t))
    t0, started = time.perf_counter(), time.time()
    if args.log:  # the live progress lines land in the file as they are printed
        with open(args.log, "w") as out:
            done = subprocess.run(cmd, cwd=root, stdout=out, stderr=subprocess.STDOUT, text=True)
        proc = subprocess.CompletedProcess(cmd, done.returncode, Path(args.log).read_text(), "")
    else:
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    wall, ended = time.perf_counter() - t0, time.time()
    after = matmul_peak(1) / 1e9
    print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:])
    doc = json.loads((root / setup.reports / "latest" / "results.json").read_text())
    base = doc["baseline"]
    print(f"suite wall {wall:.0f} s with -n {args.n}{' --quick' if args.quick else ''} "
          f"(seeds {doc['setup']['training']['seeds']}, steps {doc['setup']['training']['steps']}); "
          f"machine: 1-thread fp32 matmul {before:.0f} GFLOP/s before, {after:.0f} after")
    figures = {"seeds": doc["setup"]["training"]["seeds"], "steps": doc["setup"]["training"]["steps"],
               "wall_s": round(wall, 1), "wall_min": round(wall / 60, 1),
               "pytest": proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "no output",
               "baseline_worker_s": base["seconds"], "baseline_tokens_per_s": round(base["training"]["tokens_per_second"]),
               "accuracy": round(base["metrics"]["accuracy"], 4), "accuracy_sd": round(base["metrics"]["accuracy_sd"], 4),
               "majority_accuracy": round(base["floors"]["majority_class"]["accuracy"], 4),
               "tfidf_logreg_accuracy": round(base["floors"]["tfidf_logreg"]["accuracy"], 4)}
    figures.update({f"verdicts_{v}": n for v, n in sorted(Counter(r["verdict"] for r in doc["variants"]).items())})
    if doc.get("layer_curve"):  # measured at the session's end, after the latency
        figures["layer_curve_s"] = doc["layer_curve"]["seconds"]
    print(f"baseline: {base['seconds']} worker-seconds when it was built (a cached baseline is read back, not rebuilt), "
          f"fine-tune {base['training']['tokens_per_second']:.0f} tokens/s per worker; "
          f"accuracy {base['metrics']['accuracy']:.3f} +- {base['metrics']['accuracy_sd']:.3f}; "
          f"floors: majority {base['floors']['majority_class']['accuracy']:.3f}, "
          f"TF-IDF+LR {base['floors']['tfidf_logreg']['accuracy']:.3f}")
    print(f"{'variant':<36} {'compress s':>10} {'fine-tune s':>11} {'total s':>8} {'tok/s':>7} {'peak RSS MB':>11} "
          f"{'RSS after MB':>12}  verdict")
    for r in doc["variants"]:
        mem = r.get("memory", {})
        print(f"{r['name']:<36} {r['seconds']['compress']:>10.1f} {r['training']['seconds']:>11.1f} "
              f"{r['seconds']['total']:>8.1f} {r['training']['tokens_per_second']:>7.0f} {mem.get('peak_rss_mb', 0):>11.0f} "
              f"{mem.get('rss_mb', 0):>12.0f}  {r['verdict']}")
    print("(peak RSS is the worker's maximum so far: it stays flat when each variant's memory is released)")
    work = sum(r["seconds"]["total"] for r in doc["variants"])
    workers = max(1, int(args.n)) if args.n.isdigit() else os.cpu_count()  # -n auto: one worker per CPU
    print(f"stages: start-up and collection {doc['started'] - started:.0f} s; variants {work:.0f} worker-seconds "
          f"({work / workers:.0f} s on {workers} worker(s)); latency {doc.get('latency_seconds') or 0:.0f} s; "
          f"from results.json to exit (report, MLflow artifacts) {ended - doc['finished']:.0f} s; "
          f"wall beyond the variants' share {wall - work / workers:.0f} s")
    figures.update(workers=workers, startup_s=round(doc["started"] - started, 1), variants_worker_s=round(work),
                   latency_s=round(doc.get("latency_seconds") or 0, 1), report_s=round(ended - doc["finished"], 1),
                   wall_beyond_share_s=round(wall - work / workers))
    figures.update(print_timelines(doc, started))
    headline = ["wall_min", "variants_worker_s", "accuracy"]
    if args.cold:
        from exaone_bench.base_models.exaone_tiny.store import cached_meta

        meta = cached_meta()
        stages = "; ".join(f"{step} {seconds:.0f} s" for step, seconds in cold)
        print(f"cold: {stages} (pretraining {meta['seconds']['pretraining']:.0f} s at {meta['tokens_per_second']:,} "
              f"tokens/s); suite {wall:.0f} s; total {sum(s for _, s in cold) + wall:.0f} s "
              f"({(sum(s for _, s in cold) + wall) / 60:.1f} min)")
        shutil.rmtree(os.environ["EXAONE_BENCH_DATA"], ignore_errors=True)
        figures.update({f"{step}_s": round(seconds, 1) for step, seconds in cold})
        total = sum(s for _, s in cold) + wall
        figures.update(pretraining_s=round(meta["seconds"]["pretraining"]), pretraining_tokens_per_s=meta["tokens_per_second"],
                       total_s=round(total), total_min=round(total / 60, 1))
        headline = ["total_min", "reference_s", "wall_s"]
    modes = (f"--setup {args.setup}" if args.setup else "", "--quick" if args.quick else "", "--cold" if args.cold else "",
             "--fresh-baseline" if args.fresh_baseline else "", f"-n {args.n}" if args.n != "2" else "",
             f"-k {args.k}" if args.k else "")
    records.append(records.name("bench_suite", *modes), figures, goal(args), machine_before=machine_before, headline=headline)


def goal(args) -> str:
    """The goal of the mode run: the docstring's, per mode."""
    if args.setup:
        return f"the study of {args.setup} in <= 90 min on 2 cores"
    if args.n == "0":
        return "none set: a serial run, read beside a -n 2 run for the two workers' speed-up"
    if args.cold:
        return "make train's three steps (data, reference, the suite) on an empty data dir in <= 25 min"
    if args.quick:
        return "the suite with --quick (one seed) in <= 6 min"
    return "the default suite in <= 20 min warm (data and exaone-tiny cached)"


def print_timelines(doc: dict, started: float) -> dict:
    """Each worker's start-up (session start to its first variant), gaps between variants, and idle end.

    Returns the largest of each over the workers, as figures (none without worker timelines).
    """
    by_pid: dict[int, list[dict]] = {}
    for r in doc["variants"]:
        if "worker" in r:
            by_pid.setdefault(r["worker"]["pid"], []).append(r["worker"])
    if not by_pid:
        return {}
    last = max(w["finished"] for runs in by_pid.values() for w in runs)
    first, gap, idle = [], [], []
    for pid, runs in sorted(by_pid.items()):
        runs.sort(key=lambda w: w["started"])
        gaps = [b["started"] - a["finished"] for a, b in zip(runs, runs[1:])]
        print(f"worker {pid}: {len(runs)} variants; first began {runs[0]['started'] - started:.1f} s after the session; "
              f"gaps between variants {sum(gaps):.1f} s (largest {max(gaps, default=0):.1f}); "
              f"idle at the end {last - runs[-1]['finished']:.1f} s")
        first.append(runs[0]["started"] - started)
        gap.append(sum(gaps))
        idle.append(last - runs[-1]["finished"])
    return {"worker_first_variant_s_max": round(max(first), 1), "worker_gaps_s_max": round(max(gap), 1),
            "worker_idle_end_s_max": round(max(idle), 1)}


if __name__ == "__main__":
    main()
