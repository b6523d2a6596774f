"""The pipeline of one post-training item: a transform applied to fine-tuned classifiers, then evaluated.

The target (the baseline, or a structural variant built by the same cut as its own item) is
fine-tuned once per seed under the fixed setup and kept with its weights (`Fitter.seed_parts(keep=True)`); each
seed's classifier is then transformed (compression/post_training/), optionally recovered for a few steps of
the same loop with its zeros kept (`recovery_steps`, sparsity only), and scored on the test split. Deltas, CIs
and the verdict compare every seed's classifier after the transform with the same classifier
before it, so the row answers "what does this transform cost this model", not "what does the
cut cost". The transformed causal LM (before fine-tuning) gets the same training-free measures as
a structural variant: held-out LM loss and zero-shot accuracy.
"""
from __future__ import annotations

import copy
import gc
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from exaone_bench.compression import post_training
from exaone_bench.compression.calibration import calibration_for
from exaone_bench.compression.post_training import pruning
from exaone_bench.compression.registry import cut_head
from exaone_bench.config.experiment import Experiment, Variant
from exaone_bench.config.metrics import NAMES
from exaone_bench.config.setup import Setup
from exaone_bench.config.verdict import judge
from exaone_bench.data.batches import encode
from exaone_bench.data.split import Split
from exaone_bench.evaluation.classification import classification_metrics, summarize
from exaone_bench.evaluation.cost import flops_per_token, on_disk
from exaone_bench.evaluation.intervals import delta_ci
from exaone_bench.evidence.records import DeltaInterval, PostTrainingResult
from exaone_bench.pipeline.baseline import BaselineCache
from exaone_bench.pipeline.fitting import Fitter
from exaone_bench.pipeline.measures import Measures, shape, torch_threads
from exaone_bench.pipeline.variant import cut
from exaone_bench.pipeline.seed_parts import model_fingerprint
from exaone_bench.training.loop import predict, train


def run(experiment: Experiment, variant: Variant, *, setup: Setup, split: Split, load_base: Callable,
        fitter: Fitter, measures: Measures, baselines: BaselineCache, head=None) -> PostTrainingResult:
    """Transform `variant.target`'s kept classifiers by `variant.post_training`; judge them against themselves before."""
    s, name = setup, f"{experiment.name}[{variant.id}]"
    t0, started = time.perf_counter(), time.time()
    base = baselines.get() if fitter.needs_baseline() and variant.compression else None
    if base is None:
        baselines.start_seeds()
    torch.set_num_threads(torch_threads(s))
    t_load = time.perf_counter()
    causal_lm, tokenizer, _ = load_base()
    c = s.calibration
    removed = []
    if variant.compression:  # the structural target, cut exactly as its own item cuts it
        removed, tokenizer = cut(causal_lm, tokenizer, variant.compression, s, split,
                                 where=f"{Path(experiment.path).name}[{variant.id}].targets: {variant.target}")
    # scores of the transform (Wanda's input norms) on blocks of the target's own vocabulary
    calib = calibration_for(tokenizer, c.samples, c.seq_len, c.seed, texts=split.texts["train"])
    t_compress = time.perf_counter() - t_load
    fingerprint = model_fingerprint(causal_lm, tokenizer, s.hash)
    head = cut_head(head, removed) if head is not None else None  # recovery starts from the task model's head
    parts = fitter.seed_parts(causal_lm, tokenizer, fitter.teacher(base), name, fingerprint, keep=True, head=head)

    # the training-free measures, on the transformed causal LM (as a structural variant gets them)
    source_lm_loss = measures.lm_loss(causal_lm, tokenizer)
    lm = copy.deepcopy(causal_lm)
    post_training.apply(lm, copy.deepcopy(variant.post_training), calib, f"{name}.post_training")
    lm_loss, zero_shot = measures.lm_loss(lm, tokenizer), measures.zero_shot_of_variant(lm, tokenizer)
    del lm

    test = encode(tokenizer, split.texts["test"], split.labels["test"], s.training.max_length)
    train_split = encode(tokenizer, split.texts["train"], split.labels["train"], s.training.max_length) \
        if variant.recovery_steps else None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    per_seed, preds, record, cost = [], [], {}, {}
    for part in parts:
        model = fitter.kept_classifier(causal_lm, part, pad)
        rec = post_training.apply(model, copy.deepcopy(variant.post_training), calib, f"{name}.post_training")
        if variant.recovery_steps:
            rec["recovery"] = recover(model, train_split, s.training, variant.recovery_steps, part["seed"], pad, s.dtype)
        logits = predict(model, test, pad, s.evaluation.batch_size, s.dtype)
        per_seed.append(classification_metrics(split.labels["test"], logits))
        preds.append(logits.argmax(1))
        if part["seed"] == 0:
            record, cost = rec, stored_bytes(model, rec)
            cost["flops_per_token"] = flops_per_token(model.config, s.evaluation.latency.seq_len)
        del model
        gc.collect()
    metrics, preds = summarize(per_seed), np.stack(preds)
    source = summarize([p["metrics"] for p in parts])
    source_preds = np.stack([p["preds"] for p in parts])
    ci = delta_ci(split.labels["test"], preds, source_preds, s.evaluation.bootstrap, s.evaluation.confidence)
    verdict, message = judge(name, variant.expect, metrics, source, ci, against=variant.target)
    base = base or baselines.get()
    params = {**shape(causal_lm), **cost}
    result = PostTrainingResult(
        name=name, experiment=experiment.name, variant_id=variant.id, hypothesis=experiment.hypothesis,
        motivation=experiment.motivation, description=variant.description, compression=variant.compression,
        removed=removed, expect={m: e.describe(variant.target) for m, e in variant.expect.items()},
        target=variant.target, post_training=variant.post_training, transform=record, source_metrics=source,
        params=params, metrics=metrics, per_seed=per_seed, deltas={m: metrics[m] - source[m] for m in NAMES},
        ci=DeltaInterval.each(ci), verdict=verdict, message=message, level_ci=measures.level_intervals(preds),
        lm_loss_before_recovery=lm_loss, base_lm_loss=source_lm_loss, zero_shot=zero_shot,
        delta_params_pct=100.0 * (params["total_parameters"] / base.params["total_parameters"] - 1),
        config=causal_lm.config.to_dict(), flop_ratio=params["flops_per_token"] / base.params["flops_per_token"],
        training={"seconds": 0.0, "kept_by": sorted({p.get("built_by") or "" for p in parts})},
        setup_hash=s.hash, model_fingerprint=fingerprint or "",
        seconds={"compress": round(t_compress, 2), "total": round(time.perf_counter() - t0, 2)},
        worker={"pid": os.getpid(), "started": started, "finished": time.time()})
    del causal_lm
    gc.collect()
    return result


def recover(model, data, training, steps: int, seed: int, pad: int, dtype: str) -> dict:
    """A short recovery of a sparsified classifier under the setup's loop: `steps` steps, its zeros kept.

    The mask is the transform's zeros; after every optimizer step the pruned weights are set back
    to zero (fixed-mask fine-tuning), so the sparsity it reports is still measured from the tensors.
    """

    modules = post_training.targets(model)
    masks = {n: (m.weight != 0) for n, m in modules.items()}

    def keep_zeros(*_):
        with torch.no_grad():
            for n, m in modules.items():
                m.weight.mul_(masks[n])

    short = training.model_copy(update={"steps": steps, "warmup_steps": min(training.warmup_steps, steps // 10),
                                         "eval_every": 0})
    result = train(model, data, short, seed, pad, dtype=dtype, on_step=keep_zeros)
    return {"steps": steps, "seconds": round(result.seconds, 2), "final_loss": round(result.losses[-1], 4),
            "measured": pruning.measured(modules)}


def stored_bytes(model, record: dict) -> dict:
    """Bytes on disk of a transformed classifier, measured as for every row; quantized rows also packed.

    Packed: the same file with the stored integers at their measured bit-width (two int4 values
    per byte) instead of the int8 torchao holds them in on a CPU.
    """
    size = on_disk(model)
    out = {"model_size_mb": size["safetensors_bytes"] / 1e6, "safetensors_bytes": size["safetensors_bytes"],
           "zstd_bytes": size["zstd_bytes"]}
    m = record.get("measured", {})
    if "packed_bytes" in m:
        out["packed_bytes"] = size["safetensors_bytes"] - m["in_memory_bytes"] + m["packed_bytes"]
    return out


__all__ = ["run", "stored_bytes"]
