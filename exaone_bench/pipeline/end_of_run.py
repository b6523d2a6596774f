"""The measurements taken once every item has finished: latency of every model, then the comparison rows.

Both want the machine to themselves (latency is timed interleaved with nothing else running; a
comparison model is scored with every core), so the session runs them after the last item.
"""
from __future__ import annotations

from typing import Callable

from exaone_bench.compression import post_training
from exaone_bench.config.setup import Setup
from exaone_bench.evaluation.latency import Latency
from exaone_bench.evidence.records import PostTrainingResult, ReferenceResult, VariantResult
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
