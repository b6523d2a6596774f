"""The one training loop at full size: a classifier on EXAONE-4.0-1.2B's config, on a GPU.

Needs CUDA (nothing else in the project does). Weights are random: the real checkpoint cannot be
fetched here, and a step's time does not depend on the values. The classifier is built by the
suite's `classifier_from` and fine-tuned by its `train()` on the review split, tokenised by
exaone-tiny's tokenizer (real review lengths; its ids are valid in the 102,400-token vocabulary).
Prints per dtype (fp32, and bf16 autocast over fp32 master weights as `dtype: bfloat16` runs):
ms/step, tokens/s, achieved TFLOP/s = 3 x the forward FLOPs the loop executes / time (counted as
in bench_train_throughput.py) against the GPU's dense matmul rate measured in the same run, peak
GPU memory, and batch-1 latency under the setup's protocol (32 tokens).

    python benchmarks/bench_fullsize_gpu.py [--steps 30] [--batch-sizes 32 128] [--setup experiments/setup.yaml]

The setup's batch (32 reviews, ~1,000 tokens) is what the suite trains with; larger batches show
where the step stops being bound by kernel launches.
"""
from __future__ import annotations

import argparse
import time

import records
import torch
from bench_train_throughput import executed_flops  # this folder is on sys.path when run as a script
from random_exaone import build

from exaone_bench.config.setup import load_setup
from exaone_bench.data.batches import encode
from exaone_bench.evaluation.latency import latency_ms
from exaone_bench.models.classifier import classifier_from
from exaone_bench.pipeline.runner import Runner
from exaone_bench.training.loop import batch_order, train

GOAL = "none set: the real model's step time, throughput and memory at full size, against the GPU's measured matmul rate"


def matmul_tflops(dtype: torch.dtype, n: int = 8192) -> float:
    a, b = (torch.randn(n, n, device="cuda", dtype=dtype) for _ in range(2))
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * 10 / (time.perf_counter() - t) / 1e12


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="default: the setup's")
    parser.add_argument("--setup", default="experiments/setup.yaml")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench_fullsize_gpu.py needs a CUDA GPU")
    setup = load_setup(args.setup, device="cuda")
    training = setup.training.model_copy(update={"steps": args.steps})
    runner = Runner(setup)
    _, tokenizer, _ = runner.load_base()
    pad = tokenizer.pad_token_id
    data = encode(tokenizer, runner.split.texts["train"], runner.split.labels["train"], training.max_length)
    causal = build(device="cuda")
    params = sum(p.numel() for p in causal.parameters())
    print(f"{torch.cuda.get_device_name()}; torch {torch.__version__}; EXAONE-4.0-1.2B config, "
          f"{params:,} parameters (random weights); "
          f"{args.steps} steps x batch {training.batch_size} reviews")
    model = classifier_from(causal, runner.split.num_labels, 0, pad)
    del causal
    peaks = {dtype: matmul_tflops(dtype) for dtype in (torch.float32, torch.bfloat16)}
    lat = setup.evaluation.latency
    figures = {"gpu": torch.cuda.get_device_name(), "parameters": params,
               "steps": args.steps, "matmul_tflops_fp32": round(peaks[torch.float32], 1),
               "matmul_tflops_bf16": round(peaks[torch.bfloat16], 1)}
    batch_sizes = args.batch_sizes or [training.batch_size]
    for batch_size in batch_sizes:
        setup_b = training.model_copy(update={"batch_size": batch_size})
        flops = 3 * executed_flops(model.config, data, batch_order([len(x) for x in data.ids], setup_b, 0))
        for dtype, torch_dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
            # Warm-up over the very batches timed next (seed 0): each new review length makes the
            # caching allocator reserve new blocks (cudaMalloc), ~1,000 of them in a first bf16 pass.
            train(model, data, setup_b, 0, pad, dtype=dtype)
            torch.cuda.reset_peak_memory_stats()
            result = train(model, data, setup_b, 0, pad, dtype=dtype)
            achieved, peak = flops / result.seconds / 1e12, peaks[torch_dtype]
            memory = torch.cuda.max_memory_allocated() / 2**30
            print(f"batch {batch_size:>3} {dtype:<9} {result.seconds / args.steps * 1000:7.1f} ms/step "
                  f"{result.tokens_per_second:9.0f} tokens/s {achieved:6.1f} TFLOP/s = {achieved / peak:5.1%} of the "
                  f"measured {peak:.0f} TFLOP/s matmul; peak memory {memory:.1f} GiB")
            key = f"batch{batch_size}_{'fp32' if dtype == 'float32' else 'bf16'}"
            figures.update({f"{key}_ms_per_step": round(result.seconds / args.steps * 1000, 1),
                            f"{key}_tokens_per_s": round(result.tokens_per_second),
                            f"{key}_tflops": round(achieved, 1), f"{key}_of_matmul_pct": round(100 * achieved / peak, 1),
                            f"{key}_peak_memory_gib": round(memory, 1)})
    for torch_dtype in (torch.float32, torch.bfloat16):  # the bf16 copy last: it replaces the fp32 weights
        ms = latency_ms([model.to(torch_dtype)], lat.batch_size, lat.seq_len, lat.warmup, lat.repeats, lat.threads)[0]
        print(f"latency with {str(torch_dtype).replace('torch.', '')} weights: {ms:.1f} ms "
              f"(median of {lat.repeats} forwards, batch {lat.batch_size} x {lat.seq_len} tokens)")
        figures[f"latency_{'fp32' if torch_dtype == torch.float32 else 'bf16'}_ms"] = round(ms, 1)
    first = f"batch{batch_sizes[0]}"
    records.append("bench_fullsize_gpu", figures, GOAL,
                   headline=[f"{first}_fp32_ms_per_step", f"{first}_bf16_ms_per_step", f"{first}_fp32_of_matmul_pct"])


if __name__ == "__main__":
    main()
