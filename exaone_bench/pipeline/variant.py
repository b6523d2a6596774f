"""The pipeline of one structural variant: cut it from the original, measure the damage, fine-tune per seed, judge.

Within one run, two variants that build the very same model share their seeds: it is trained once
(seed_parts.py). The baseline it is compared with comes from baseline.py, trained once per setup hash.
"""
from __future__ import annotations

import copy
import gc
import os
import time
from pathlib import Path
from typing import Callable

import torch

from exaone_bench.compression.calibration import calibration_for
from exaone_bench.compression.registry import apply, cut_head
from exaone_bench.config.experiment import Experiment, Variant
from exaone_bench.config.metrics import NAMES
from exaone_bench.config.setup import Setup
from exaone_bench.config.verdict import judge
from exaone_bench.data.split import Split
from exaone_bench.evaluation.intervals import delta_ci
from exaone_bench.evidence.records import DeltaInterval, VariantResult
from exaone_bench.pipeline.baseline import BaselineCache
from exaone_bench.pipeline.fitting import Fitter, memory_mb
from exaone_bench.pipeline.measures import Measures, shape, torch_threads
from exaone_bench.pipeline.seed_parts import model_fingerprint


def run(experiment: Experiment, variant: Variant, *, setup: Setup, split: Split, load_base: Callable,
        fitter: Fitter, measures: Measures, baselines: BaselineCache, head=None) -> VariantResult:
    """Cut `variant` from the original `load_base` returns, measure it before and after the setup's recovery.

    `head`: the task model's classifier head (`original: task`): cut with the backbone, it scores the
    variant before recovery and is where recovery starts; None: variants are cut from the LM itself.
    """
    s, name = setup, f"{experiment.name}[{variant.id}]"
    t0, started = time.perf_counter(), time.time()
    # Distillation needs the baseline before training. Otherwise this worker first builds the
    # baseline seeds no other worker holds (none, once they are all taken) and trains its
    # variant while the others finish theirs; the baseline is read back for the comparison.
    if fitter.needs_baseline():
        base = baselines.get()
    else:
        base = None
        baselines.start_seeds()
    torch.set_num_threads(torch_threads(s))
    t_load = time.perf_counter()  # the compress time excludes the baseline seeds built above
    causal_lm, tokenizer, _ = load_base()
    removed, tokenizer = cut(causal_lm, tokenizer, variant.compression, s, split,
                             where=f"{Path(experiment.path).name}[{variant.id}].compression")
    t_compress = time.perf_counter() - t_load
    lm_loss = measures.lm_loss(causal_lm, tokenizer)
    zero_shot_before = measures.zero_shot_of_variant(causal_lm, tokenizer)
    head = cut_head(head, removed) if head is not None else None
    before = measures.before_recovery(causal_lm, tokenizer, head)
    fingerprint = model_fingerprint(causal_lm, tokenizer, s.hash)
    fitted = fitter.fit_and_evaluate(causal_lm, tokenizer, fitter.teacher(base), name, fingerprint, head)
    base = base or baselines.get()
    ci = delta_ci(split.labels["test"], fitted["preds"], base.preds, s.evaluation.bootstrap, s.evaluation.confidence)
    deltas = {m: fitted["metrics"][m] - base.metrics[m] for m in NAMES}
    verdict, message = judge(name, variant.expect, fitted["metrics"], base.metrics, ci) if variant.expect else ("", "")
    early = before_recovery(name, variant, before, base, s, split.labels["test"])
    params = {**shape(causal_lm), **fitted["cost"]}
    result = VariantResult(
        name=name, experiment=experiment.name, variant_id=variant.id, strategy=experiment.strategy,
        stage=experiment.stage, hypothesis=experiment.hypothesis, motivation=experiment.motivation,
        description=variant.description, compression=variant.compression, removed=removed,
        expect={m: e.describe() for m, e in variant.expect.items()},
        bounds={m: {"min_delta": e.min_delta, "max_delta": e.max_delta} for m, e in variant.expect.items()},
        params=params, metrics=fitted["metrics"], per_seed=fitted["per_seed"], deltas=deltas,
        ci=DeltaInterval.each(ci), verdict=verdict, message=message, level_ci=measures.level_intervals(fitted["preds"]),
        lm_loss_before_recovery=lm_loss, base_lm_loss=base.lm_loss_before_recovery, zero_shot=zero_shot_before,
        delta_params_pct=100.0 * (params["total_parameters"] / base.params["total_parameters"] - 1),
        config=causal_lm.config.to_dict(),
        flop_ratio=params["flops_per_token"] / base.params["flops_per_token"],
        training=fitted["training"], setup_hash=s.hash, model_fingerprint=fingerprint,
        seconds={"compress": round(t_compress, 2), "total": round(time.perf_counter() - t0, 2)},
        # where and when it ran: a benchmark lays out each worker's timeline from these
        worker={"pid": os.getpid(), "started": started, "finished": time.time()}, **early)
    del causal_lm
    gc.collect()
    result.memory = memory_mb()
    return result


def cut(causal_lm, tokenizer, compression: dict, setup: Setup, split: Split, where: str) -> tuple[list, object]:
    """Cut `compression` from `causal_lm` in place, scored on the setup's calibration blocks of the training split:
    the removal records and the tokenizer the cut model reads (trim_vocab gives it a new one)."""
    c = setup.calibration
    calib = calibration_for(tokenizer, c.samples, c.seq_len, c.seed, texts=split.texts["train"])
    removed = apply(causal_lm, copy.deepcopy(compression), calib, where=where)
    return removed, calib.tokenizer


def before_recovery(name: str, variant: Variant, before: dict | None, base, s: Setup, labels) -> dict:
    """The record's before-recovery fields: metrics, deltas to the task model itself, their CIs and the
    verdict of the variant's `before_recovery` bounds (one deterministic pass: the CI resamples test items)."""
    if before is None:
        return {}
    metrics = before["metrics"]
    out = {"before_recovery": metrics, "before_recovery_deltas": {m: metrics[m] - base.before_recovery[m] for m in NAMES}}
    ci = delta_ci(labels, before["preds"], base.before_preds, s.evaluation.bootstrap,
                  s.evaluation.confidence)
    out["before_recovery_ci"] = DeltaInterval.each(ci)
    if variant.expect_before:
        verdict, message = judge(f"{name} before recovery", variant.expect_before, metrics, base.before_recovery, ci,
                                 against="the task model")
        out.update(before_recovery_verdict=verdict, before_recovery_message=message)
    return out
