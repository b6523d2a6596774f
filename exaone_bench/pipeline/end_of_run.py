"""The measurements taken once every item has finished: latency of every model, the comparison rows, the layer curve.

Each wants the machine to itself (latency is timed interleaved with nothing else running; a
comparison model is scored with every core), so the session runs them after the last item.
"""
from __future__ import annotations

import os
import time
from typing import Callable

import torch

from exaone_bench.compression import post_training
from exaone_bench.compression.calibration import calibration_for
from exaone_bench.compression.importance import block_influence
from exaone_bench.config.setup import Setup
from exaone_bench.evaluation import layer_curve as curve
from exaone_bench.evaluation.latency import Latency
from exaone_bench.evidence.records import LayerCurveResult, PostTrainingResult, ReferenceResult, VariantResult
from exaone_bench.pipeline.comparison import reference_row
from exaone_bench.pipeline.fitting import Fitter
from exaone_bench.pipeline.measures import Measures


def latencies(timer: Latency, baseline_config: dict, rows: list[VariantResult]) -> list[float]:
    """Median latency (ms) of the baseline, then of each row, under the setup's protocol.

    A quantized row runs another kernel and is timed with it; a sparse row is its dense architecture.
    """
    transforms = [None] + [r.post_training if isinstance(r, PostTrainingResult) and post_training.kernel(r.post_training)
                           else None for r in rows]
    return timer.latencies([baseline_config] + [r.config for r in rows], transforms)


def comparison_rows(setup: Setup, fitter: Fitter, measures: Measures,
                    say: Callable[[str], None] = lambda text: None) -> list[ReferenceResult]:
    """The row of every `compare:` model of the setup: read back, or measured once and cached."""
    rows = []
    for entry in setup.compare:
        say(f"session end: comparison model {entry.source} (zero-shot{', then fine-tuned' if entry.fine_tune else ''})")
        rows.append(reference_row(entry, setup, fitter, measures))
    return rows


def layer_curve(setup: Setup, load_base: Callable, measures: Measures, train_texts: list[str],
                say: Callable[[str], None] = lambda text: None) -> LayerCurveResult | None:
    """`evaluation.layer_curve` of the uncut LM (None when the setup asks for none): the layers each rule removes are
    chosen with the calibration sample the variants' scores use; the loss is the LM loss before recovery's, on the
    curve's own number of validation texts."""
    spec = setup.evaluation.layer_curve
    if spec is None:
        return None
    t0 = time.perf_counter()
    torch.set_num_threads(os.cpu_count())  # the machine to itself, as for the comparison models
    causal_lm, tokenizer, _ = load_base()
    c = setup.calibration
    influence = block_influence(causal_lm, calibration_for(tokenizer, c.samples, c.seq_len, c.seed, texts=train_texts))
    n = causal_lm.config.num_hidden_layers
    say(f"session end: layer-removal curve, {len(spec.counts)} counts x 3 rules ({spec.draws} random draws) of {n} "
        f"layers, LM loss on {spec.texts} validation texts")
    points = curve.measure(causal_lm, lambda model: measures.lm_loss(model, tokenizer, spec.texts), influence.tolist(),
                           spec.counts, spec.draws, setup.data.seed, say)
    return LayerCurveResult(setup_hash=setup.hash, base_loss=points["base_loss"], texts=spec.texts,
                            influence=[round(float(v), 6) for v in influence], points=points["points"],
                            seconds=round(time.perf_counter() - t0, 1))
