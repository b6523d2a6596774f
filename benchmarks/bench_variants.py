"""Each strategy on a randomly initialised EXAONE-4.0-1.2B-shaped model: wall time and peak memory.

Goal (variants issue): every strategy applies in <= 10 s with peak memory <= 1.2x the model's own.
The model is built from the real config (hidden 2048, 30 layers, 32/8 heads, head_dim 64,
intermediate 4096, vocab 102400, tied: 1,279,391,488 parameters). Scored variants use a small
calibration batch (2 x 64 random tokens). trim_vocab is timed on its cut (keep 30% of ids); the
EXAONE tokenizer cannot be fetched offline, and remapping a tokenizer is not the structural cost.

    python benchmarks/bench_variants.py [--only drop_layers]
"""
from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import records  # noqa: E402
from peak_memory import PeakRSS  # noqa: E402
from random_exaone import build  # noqa: E402

from exaone_bench.compression.calibration import Calibration
from exaone_bench.compression.registry import apply

GOAL = "every strategy applies in <= 10 s with peak memory <= 1.2x the model's own"
# (strategy, the case's name in the figures, compression)
CASES = [
    ("drop_layers", "drop_last2", {"drop_layers": [28, 29]}),
    ("drop_layers", "drop6_by_influence", {"drop_layers": {"count": 6, "by": "block_influence"}}),
    ("prune_heads", "remove_kv_group", {"prune_heads": {"kv_heads": [7]}}),
    ("prune_heads", "query_3_of_4", {"prune_heads": {"query_heads_per_group": 3}}),
    ("reduce_mlp", "mlp_75pct", {"reduce_mlp": {"ratio": 0.75}}),
    ("reduce_hidden_dim", "hidden_1536", {"reduce_hidden_dim": {"hidden_size": 1536}}),
    ("trim_vocab", "vocab_30720", None),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run the cases of one strategy")
    args = parser.parse_args()
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    model = build()
    n = sum(p.numel() for p in model.parameters())
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    print(f"built {n:,} parameters ({model_bytes / 2**30:.2f} GiB fp32) in {time.perf_counter() - t0:.1f}s")
    figures = {"parameters": n, "model_gib": round(model_bytes / 2**30, 2)}
    ids = torch.randint(0, 102400, (2, 64), generator=torch.Generator().manual_seed(0))
    rows = []
    for name, case, compression in CASES:
        if args.only and name != args.only:
            continue
        if compression is None:  # trim_vocab: the structural cut alone
            keep = sorted(torch.randperm(102400, generator=torch.Generator().manual_seed(0))[:30720].tolist())
            record = [{"strategy": "trim_vocab", "kept": {"token_ids": keep}, "removed": {}, "after": None}]
        variant = build()
        gc.collect()
        with PeakRSS() as mem:
            t = time.perf_counter()
            if compression is None:
                from exaone_bench.compression.strategies import trim_vocab
                from exaone_bench.compression.surgery import sync_config

                trim_vocab.cut(variant, record[0], Calibration())
                sync_config(variant)
            else:
                apply(variant, compression, Calibration(input_ids=ids))
            seconds = time.perf_counter() - t
        ratio = (mem.peak - mem.start + model_bytes) / model_bytes
        after = sum(p.numel() for p in variant.parameters())
        label = json.dumps(compression or {"trim_vocab": "keep 30720 ids"})
        rows.append((label, seconds, ratio, after))
        figures.update({f"{case}_s": round(seconds, 2), f"{case}_peak_x": round(ratio, 2), f"{case}_parameters": after})
        print(f"{label:<70} {seconds:6.2f} s   peak {ratio:4.2f}x model   params {after:,}"
              f"   {'OK' if seconds <= 10 and ratio <= 1.2 else 'OVER GOAL'}", flush=True)
        del variant
        gc.collect()
    if rows:
        figures.update(max_s=round(max(r[1] for r in rows), 2), max_peak_x=round(max(r[2] for r in rows), 2))
        records.append(records.name("bench_variants", f"--only {args.only}" if args.only else ""), figures, GOAL,
                       headline=["max_s", "max_peak_x"])


if __name__ == "__main__":
    main()
