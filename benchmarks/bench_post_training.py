"""Post-training transforms on exaone-tiny before any fine-tune: bytes on disk, LM loss and CPU latency.

For the base model and each transform (int8, int4 g32, magnitude 50 %, Wanda 50 %, 2:4 by
magnitude): the measured sparsity or bit-width from the tensors, bytes on disk (safetensors and
zstd level 3 for dense rows; for quantized rows the untouched tensors' safetensors bytes plus the
packed integer bytes), the held-out LM loss on validation reviews (the training-free damage the
suite also reports), and the median batch-1 forward latency of the causal LM, every model's
forwards interleaved, one thread, with the kernel the quantized rows run on.

    python benchmarks/bench_post_training.py [--texts 500]
"""
from __future__ import annotations

import argparse
import copy

import records

from exaone_bench.base_models.load import load_model
from exaone_bench.compression.calibration import calibration_for
from exaone_bench.compression.post_training import apply
from exaone_bench.data.split import DataSpec, load_split
from exaone_bench.evaluation.cost import on_disk
from exaone_bench.evaluation.latency import latency_ms
from exaone_bench.evaluation.lm_loss import lm_loss_on_texts

GOAL = ("every transform's record measured from the tensors; quantized rows' CPU kernel named, "
        "and their latency against the float model's reported, not hidden")
TRANSFORMS = {"int8": {"int8": {}}, "int4_g32": {"int4": {"group_size": 32}},
              "magnitude_50": {"magnitude": {"sparsity": 0.5}}, "wanda_50": {"wanda": {"sparsity": 0.5}},
              "two_four": {"semi_structured": {"n": 2, "m": 4}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=500, help="validation reviews for the LM loss")
    args = parser.parse_args()
    base, tokenizer, _ = load_model("exaone-tiny")
    split = load_split(DataSpec())
    texts = list(split["validation"]["text"][: args.texts])
    calib = calibration_for(tokenizer, 32, 64, 0, texts=list(split["train"]["text"]))
    dense = on_disk(base)
    rows = {"base": (base, {}, dense)}
    for name, spec in TRANSFORMS.items():
        model = copy.deepcopy(base)
        record = apply(model, spec, calib)
        m = record["measured"]
        if "bits" in m:  # a tensor subclass safetensors cannot write: the untouched tensors plus the packed integers
            size = {"safetensors_bytes": dense["safetensors_bytes"] - m["dense_bytes"] + m["packed_bytes"], "zstd_bytes": None}
        else:
            size = on_disk(model)
        rows[name] = (model, record, size)
    ms = latency_ms([r[0] for r in rows.values()], batch_size=1, seq_len=32, warmup=5, repeats=30, threads=1)
    figures = {"base_parameters": sum(p.numel() for p in base.parameters()), "lm_loss_texts": len(texts)}
    for (name, (model, record, size)), latency in zip(rows.items(), ms):
        loss = lm_loss_on_texts(model, tokenizer, texts)
        m = record.get("measured", {})
        figures[f"{name}_lm_loss"] = round(loss, 4)
        figures[f"{name}_bytes"] = size["safetensors_bytes"]
        if size["zstd_bytes"] is not None:
            figures[f"{name}_zstd_bytes"] = size["zstd_bytes"]
        figures[f"{name}_latency_ms"] = round(latency, 3)
        if "sparsity" in m:
            figures[f"{name}_sparsity"] = round(m["sparsity"], 4)
        if "bits" in m:
            figures[f"{name}_bits"] = m["bits"]
            figures[f"{name}_kernel"] = record["kernel"]
        print(f"{name:<13} LM loss {loss:6.3f}  bytes {size['safetensors_bytes']:>10,}  zstd "
              f"{size['zstd_bytes'] if size['zstd_bytes'] is not None else '-':>10}  latency {latency:6.2f} ms  "
              + (f"sparsity {m['sparsity']:.3f}" if "sparsity" in m else f"{m['bits']} bits" if "bits" in m else ""),
              flush=True)
    records.append("bench_post_training", figures, GOAL,
                   headline=["int8_latency_ms", "base_latency_ms", "int8_lm_loss"])


if __name__ == "__main__":
    main()
