"""GGUF export of SmolLM2-135M at each tensor type: file bytes, seconds, and the logits transformers reads back.

For f32, f16 and q8_0: `gguf_export.export` writes the file, transformers reloads it
(`from_pretrained(dir, gguf_file=...)`), and the largest absolute logit difference against the
model in memory is measured on validation reviews, beside the model's safetensors bytes.

    python benchmarks/bench_gguf.py [--texts 8]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import records
import torch

from exaone_bench.base_models.load import load_model
from exaone_bench.data.split import DataSpec, load_split
from exaone_bench.evaluation.cost import on_disk
from exaone_bench.export.gguf import TYPES, export

GOAL = "f32 reads back with identical logits; f16 and q8_0 smaller, their logit error stated"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=8, help="validation reviews whose logits are compared")
    args = parser.parse_args()
    from transformers import AutoModelForCausalLM

    model, tokenizer, _ = load_model("smollm2-135m")
    texts = list(load_split(DataSpec())["validation"]["text"][: args.texts])
    figures = {"safetensors_bytes": on_disk(model)["safetensors_bytes"], "texts": len(texts)}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in TYPES:
            t0 = time.perf_counter()
            path = export(model, tokenizer, Path(tmp) / f"smollm2-{kind}.gguf", kind)
            seconds = time.perf_counter() - t0
            back = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=path.name, dtype=torch.float32).eval()
            diff = 0.0
            with torch.no_grad():
                for text in texts:
                    ids = tokenizer(text, return_tensors="pt").input_ids
                    diff = max(diff, float((model(ids).logits - back(ids).logits).abs().max()))
            figures[f"{kind}_bytes"], figures[f"{kind}_export_s"] = path.stat().st_size, round(seconds, 2)
            figures[f"{kind}_max_logit_diff"] = round(diff, 6)
            print(f"{kind:<5} {path.stat().st_size:>12,} bytes  export {seconds:5.1f}s  max |logit diff| {diff:.2e}", flush=True)
            path.unlink()
            del back
    records.append("bench_gguf", figures, GOAL, headline=["f32_max_logit_diff", "q8_0_bytes", "q8_0_max_logit_diff"])


if __name__ == "__main__":
    main()
