"""bf16 autocast vs fp32: the baseline's accuracy, precision and fine-tune tokens/s under both.

    python benchmarks/bench_bf16.py [--setup experiments/setup.yaml] [--steps N] [--seeds N] [--device cuda]

Both are the suite's own baseline (the uncompressed model, every seed of the setup): the fp32
one is usually cached by the last suite run; the bf16 one is the same setup with
`dtype: bfloat16` (bf16 compute over fp32 master weights), so it has its own setup hash and
cache entry. Prints mean +- sd per dtype, the bf16 - fp32 delta with its bootstrap CI over
seeds x test items, and the throughput ratio. Each baseline's seeds are built by two processes
side by side (one thread each), exactly as two xdist workers build them in the suite.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import records

from exaone_bench.config.setup import load_setup

DTYPES = ("float32", "bfloat16")
GOAL = "bf16 autocast keeps the fp32 baseline's accuracy (the delta's CI covers 0); its speed decides whether bf16 is a default"


def build(setup_path: str, dtype: str, steps: int | None, seeds: int | None, device: str | None) -> dict:
    from exaone_bench.pipeline.runner import Runner

    return Runner(resolved(setup_path, steps, seeds, dtype, device)).baseline()


def resolved(setup_path: str, steps: int | None, seeds: int | None, dtype: str | None = None, device: str | None = None):
    setup = load_setup(setup_path, dtype=dtype, device=device)
    setup.training.steps = steps or setup.training.steps
    setup.training.seeds = seeds or setup.training.seeds  # as --quick does: seed parts are reused
    return setup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--setup", default="experiments/setup.yaml")
    parser.add_argument("--steps", type=int, default=None,
                        help="a reduced fine-tune for both dtypes (bf16 autocast is ~10x slower on CPUs without bf16 units)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="fewer seeds than the setup's (the fp32 seeds come from the suite's cache)")
    parser.add_argument("--device", default=None, choices=("cpu", "cuda", "auto"), help="override the setup's device")
    args = parser.parse_args()
    results = {}
    for dtype in DTYPES:  # two processes share each baseline's seeds, as two xdist workers do
        with ProcessPoolExecutor(max_workers=2) as pool:
            results[dtype] = list(pool.map(build, *([x] * 2 for x in (args.setup, dtype, args.steps, args.seeds, args.device))))[0]

    from exaone_bench.data.split import DataSpec, load_split
    from exaone_bench.evaluation.intervals import delta_ci

    setup = resolved(args.setup, args.steps, args.seeds, device=args.device)
    labels = np.asarray(load_split(DataSpec(setup.data.source, setup.data.seed))["test"]["label"])
    fp32, bf16 = results["float32"], results["bfloat16"]
    print(f"baseline of {setup.model} on {setup.device}, {setup.training.seeds} seeds x {setup.training.steps} steps, "
          f"{setup.training.threads} thread(s) per run")
    print(f"{'dtype':<9} {'accuracy':>15} {'precision':>15} {'eval_loss':>9} {'tokens/s':>9}  setup hash")
    figures = {"device": str(setup.device), "seeds": setup.training.seeds, "steps": setup.training.steps,
               "threads": setup.training.threads}
    for dtype, r in results.items():
        m = r.metrics
        short = "fp32" if dtype == "float32" else "bf16"
        figures.update({f"{short}_accuracy": round(m["accuracy"], 4), f"{short}_accuracy_sd": round(m["accuracy_sd"], 4),
                        f"{short}_precision": round(m["precision"], 4), f"{short}_precision_sd": round(m["precision_sd"], 4),
                        f"{short}_eval_loss": round(m["eval_loss"], 4),
                        f"{short}_tokens_per_s": round(r.training["tokens_per_second"])})
        print(f"{dtype:<9} {m['accuracy']:.3f} +- {m['accuracy_sd']:.3f} {m['precision']:.3f} +- {m['precision_sd']:.3f} "
              f"{m['eval_loss']:>9.3f} {r.training['tokens_per_second']:>9.0f}  {r.setup_hash}")
    ci = delta_ci(labels, bf16.preds, fp32.preds, setup.evaluation.bootstrap, setup.evaluation.confidence)
    for metric in ("accuracy", "precision"):
        d = bf16.metrics[metric] - fp32.metrics[metric]
        c = ci[metric]
        verdict = "distinguishable" if c["distinguishable"] else "not distinguishable"
        print(f"bf16 - fp32 {metric}: {d:+.3f}, {setup.evaluation.confidence:.0%} CI [{c['ci_low']:+.3f}, "
              f"{c['ci_high']:+.3f}] -> {verdict}")
        figures.update({f"{metric}_delta": round(d, 4), f"{metric}_ci_low": round(c["ci_low"], 4),
                        f"{metric}_ci_high": round(c["ci_high"], 4), f"{metric}_verdict": verdict})
    ratio = bf16["training"]["tokens_per_second"] / fp32["training"]["tokens_per_second"]
    print(f"bf16 / fp32 fine-tune tokens/s: {ratio:.2f}x")
    figures["bf16_over_fp32_tokens_x"] = round(ratio, 2)
    records.append(records.name("bench_bf16", f"--device {args.device}" if args.device not in (None, "cpu") else ""), figures, GOAL,
                   headline=["accuracy_delta", "accuracy_verdict", "bf16_over_fp32_tokens_x", "steps"])


if __name__ == "__main__":
    main()
