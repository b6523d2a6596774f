"""Fine-tune throughput of the one training loop on exaone-tiny, against the machine and a plain loop.

Prints, for the thread count given:
- the machine's measured fp32 matmul FLOP/s (torch.mm 1024^3, best of 10),
- our loop's tokens/s (real tokens) and achieved FLOP/s = 3 x the forward FLOPs it executes
  (analytic, exaone_bench.evaluate.flops_per_token per padded token, less the last layer's query
  side at every position but the pooled one: see exaone_bench/models/pooling.py) / seconds, and the
  ratio to the measured peak (goal >= 50 %),
- a plain eager transformers loop over the same model, data and steps (random batches, padding
  to the batch max, `labels=` loss): tokens/s and our speed relative to it (goal >= 1.0x).

    python benchmarks/bench_train_throughput.py [--threads 2] [--steps 60] [--attn eager]
        [--sdpa-backend math] [--compile | --compile-elementwise] [--setup S] [--profile N]

`--setup` measures another setup's model under its own loop settings (for example SmolLM2-135M,
`experiments/setups/smollm2.yaml`); `--profile N` then runs N more steps under torch.profiler and
records the operators that took the most self CPU time: where a step's time goes.

The options are alternatives to our loop's defaults that were measured and not adopted (see
docs/benchmarks.md): `--attn eager` swaps transformers' SDPA attention for the eager one,
`--sdpa-backend math` forces SDPA's unfused kernel instead of the CPU flash kernel, `--compile`
wraps the classifier's forward in `torch.compile(dynamic=True)`, and `--compile-elementwise`
compiles only EXAONE 4's elementwise chains (RMSNorm, rotary embedding, SiLU gate) into fused
kernels and leaves the matmuls and attention eager.
"""
from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import records
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from exaone_bench.config.setup import load_setup
from exaone_bench.data.batches import encode
from exaone_bench.evaluation.cost import flops_per_token, layer_flops
from exaone_bench.models.classifier import classifier_from
from exaone_bench.pipeline.runner import Runner
from exaone_bench.training.loop import batch_order, train

GOAL = ">= 50 % of the machine's fp32 matmul rate measured in the same run, and >= 1.0x a plain transformers loop"

def matmul_peak(threads: int, n: int = 1024) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = min(_timed(lambda: a @ b) for _ in range(10))
    return 2 * n**3 / best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def padded_tokens(data, order) -> tuple[int, int]:
    """(padded tokens, reviews) over the batches `order`: each batch is padded to its longest review."""
    return sum(len(b) * max(len(data.ids[i]) for i in b) for b in order), sum(len(b) for b in order)


def executed_flops(config, data, order) -> float:
    """Forward FLOPs the loop runs over the batches `order`: padded tokens, less the pooled layer's skips."""
    padded, reviews = padded_tokens(data, order)
    mean_len = padded / reviews
    # every position but the pooled one skips the last layer's query side (exaone_bench/models/pooling.py)
    skipped = (padded - reviews) * layer_flops(config, mean_len)[0]
    return padded * flops_per_token(config, round(mean_len)) - skipped


@contextlib.contextmanager
def elementwise_compiled():
    """Inside: EXAONE 4's RMSNorm, rotary embedding and SiLU gate run as torch.compile'd functions.

    These chains are most of the step's non-matmul time (about 20 kernels per RMSNorm, forward
    and backward); fusing them is the one lever left once the matmuls run near the machine's rate.
    Patches transformers' module while inside only: a benchmark, not the loop.
    """
    import transformers.models.exaone4.modeling_exaone4 as exaone4

    rotary = exaone4.apply_rotary_pos_emb

    @torch.compile(dynamic=True)
    def rms_norm(x, weight, eps: float):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    @torch.compile(dynamic=True)
    def rotate(q, k, cos, sin, unsqueeze_dim: int):
        return rotary(q, k, cos, sin, unsqueeze_dim)

    @torch.compile(dynamic=True)
    def silu_gate(gate, up):
        return torch.nn.functional.silu(gate) * up

    eager = exaone4.Exaone4RMSNorm.forward, exaone4.Exaone4MLP.forward
    exaone4.Exaone4RMSNorm.forward = lambda self, x: rms_norm(x, self.weight, self.variance_epsilon)
    exaone4.apply_rotary_pos_emb = lambda q, k, cos, sin, unsqueeze_dim=1: rotate(q, k, cos, sin, unsqueeze_dim)
    exaone4.Exaone4MLP.forward = lambda self, x: self.down_proj(silu_gate(self.gate_proj(x), self.up_proj(x)))
    try:
        yield
    finally:
        (exaone4.Exaone4RMSNorm.forward, exaone4.Exaone4MLP.forward), exaone4.apply_rotary_pos_emb = eager, rotary


def plain_loop(model, data, steps: int, batch_size: int, pad: int, lr: float) -> tuple[float, int]:
    """The loop most people write first: random batches, pad to the batch max, loss from labels=."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    model.train()
    tokens, start = 0, time.perf_counter()
    for _ in range(steps):
        x, mask, y = data.batch(rng.choice(len(data.ids), batch_size, replace=False), pad)
        loss = model(input_ids=x, attention_mask=mask, labels=y).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        tokens += int(mask.sum())
    return time.perf_counter() - start, tokens


def profile(model, data, training, steps: int, pad: int, top: int = 10) -> list[list]:
    """[operator, % of self CPU time] for the `top` operators over `steps` steps of our loop."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    short = training.model_copy(update={"steps": steps, "warmup_steps": min(training.warmup_steps, steps)})
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        train(model, data, short, 2, pad)
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [[e.key, round(100 * e.self_cpu_time_total / total, 1)] for e in events[:top]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--setup", default="experiments/setup.yaml")
    parser.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"])
    parser.add_argument("--sdpa-backend", default="default", choices=["default", "math", "flash"])
    parser.add_argument("--profile", type=int, default=0, help="steps under torch.profiler after the timing (0: none)")
    compiled = parser.add_mutually_exclusive_group()
    compiled.add_argument("--compile", action="store_true", help="torch.compile the forward (first call compiles)")
    compiled.add_argument("--compile-elementwise", action="store_true",
                          help="torch.compile RMSNorm, rotary and SiLU gate only (see elementwise_compiled)")
    args = parser.parse_args()
    setup = load_setup(args.setup)
    setup.training.steps, setup.training.threads = args.steps, args.threads
    runner = Runner(setup)
    causal, tokenizer, _ = runner.load_base()
    pad = tokenizer.pad_token_id
    data = encode(tokenizer, runner.split.texts["train"], runner.split.labels["train"], setup.training.max_length)
    peak = matmul_peak(args.threads)
    torch.set_num_threads(args.threads)

    model = classifier_from(causal, runner.split.num_labels, 0, pad)
    model.set_attn_implementation(args.attn)
    order = batch_order([len(x) for x in data.ids], setup.training, 0)
    padded, reviews = padded_tokens(data, order)
    backend = {"math": [SDPBackend.MATH], "flash": [SDPBackend.FLASH_ATTENTION]}.get(args.sdpa_backend)
    first_run_s = None
    with contextlib.ExitStack() as variant:  # the plain loop below runs outside: eager, default backend
        if backend:
            variant.enter_context(sdpa_kernel(backend))
        if args.compile_elementwise:
            variant.enter_context(elementwise_compiled())
        if args.compile:
            model.forward = torch.compile(model.forward, dynamic=True)
        if args.compile or args.compile_elementwise:
            t = time.perf_counter()
            warm = train(model, data, setup.training, 1, pad)  # compiles, then runs the same steps
            first_run_s = round(time.perf_counter() - t, 1)
            print(f"torch.compile: first run {first_run_s:.0f} s ({warm.tokens_per_second:.0f} tokens/s with compiling)")
        result = train(model, data, setup.training, 0, pad)
    achieved = 3 * executed_flops(model.config, data, order) / result.seconds

    model = classifier_from(causal, runner.split.num_labels, 0, pad)
    plain_s, plain_tokens = plain_loop(model, data, args.steps, setup.training.batch_size, pad, setup.training.lr)

    what = " compiled" if args.compile else " elementwise compiled" if args.compile_elementwise else ""
    print(f"threads {args.threads}; attention {args.attn} (SDPA backend {args.sdpa_backend}){what}; {setup.model} classifier {sum(p.numel() for p in model.parameters()):,} params; "
          f"{args.steps} steps x batch {setup.training.batch_size}")
    print(f"machine fp32 matmul (1024^3):  {peak / 1e9:7.1f} GFLOP/s")
    print(f"our loop:   {result.tokens_per_second:8.0f} tokens/s, {achieved / 1e9:6.1f} GFLOP/s achieved "
          f"= {achieved / peak:5.1%} of measured matmul peak (mean padded length {padded / reviews:.1f})")
    print(f"plain loop: {plain_tokens / plain_s:8.0f} tokens/s   -> ours / plain = "
          f"{result.tokens_per_second / (plain_tokens / plain_s):.2f}x")
    figures = {"threads": args.threads, "steps": args.steps, "batch_size": setup.training.batch_size,
               "matmul_gflops": round(peak / 1e9, 1), "tokens_per_s": round(result.tokens_per_second),
               "achieved_gflops": round(achieved / 1e9, 1), "of_matmul_pct": round(100 * achieved / peak, 1),
               "mean_padded_length": round(padded / reviews, 1), "plain_tokens_per_s": round(plain_tokens / plain_s),
               "ours_over_plain_x": round(result.tokens_per_second / (plain_tokens / plain_s), 2),
               "seconds_per_step": round(result.seconds / args.steps, 3)}
    if first_run_s is not None:
        figures["compile_first_run_s"] = first_run_s
    if args.profile:
        figures["profile_self_cpu_pct"] = profile(model, data, setup.training, args.profile, pad)
        for op, pct in figures["profile_self_cpu_pct"]:
            print(f"  {pct:5.1f} %  {op}")
    modes = (f"--setup {args.setup}" if args.setup != "experiments/setup.yaml" else "",
             f"--attn {args.attn}" if args.attn != "sdpa" else "",
             f"--sdpa-backend {args.sdpa_backend}" if args.sdpa_backend != "default" else "",
             "--compile" if args.compile else "", "--compile-elementwise" if args.compile_elementwise else "")
    records.append(records.name("bench_train_throughput", *modes), figures, GOAL,
                   headline=["of_matmul_pct", "ours_over_plain_x", "tokens_per_s", "threads"])


if __name__ == "__main__":
    main()
