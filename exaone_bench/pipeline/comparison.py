"""Comparison models: other models set beside the compressed ones, zero-shot and, when asked, fine-tuned.

Each entry of the setup's `compare:` list becomes one ReferenceResult (stage `reference`): the
model as it is, scored zero-shot by the same harness task as the variants, and, with
`fine_tune: true`, the same classifier fine-tune (every seed, the setup's training block) as the
baseline. Rows are cached per setup hash and entry like the baseline, so the report can ask
"does a small fine-tuned model beat a larger one used as it is?" without paying for it twice.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from filelock import FileLock

from exaone_bench.config.setup import CompareSetup, Setup
from exaone_bench.core.cache import atomic_dir, stable_hash, verify_checksums, write_checksums
from exaone_bench.core.paths import data_dir
from exaone_bench.evidence.records import ReferenceResult
from exaone_bench.pipeline.fitting import Fitter
from exaone_bench.pipeline.measures import Measures, shape


def cache_dir(entry: CompareSetup, setup: Setup) -> Path:
    key = stable_hash({"setup": setup.hash, "source": entry.source, "fine_tune": entry.fine_tune})
    return data_dir() / "cache" / "references" / key


def reference_row(entry: CompareSetup, setup: Setup, fitter: Fitter, measures: Measures) -> ReferenceResult:
    """The comparison model's row under `setup`: read back, or measured once and cached."""
    out = cache_dir(entry, setup)
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not verify_checksums(out):
            row = measure(entry, setup, fitter, measures)
            with atomic_dir(out) as tmp:
                (tmp / "result.json").write_text(json.dumps(row.to_dict(), indent=2) + "\n")
                write_checksums(tmp, ["result.json"])
    return ReferenceResult.from_dict(json.loads((out / "result.json").read_text()), f"compare {entry.source}")


def measure(entry: CompareSetup, setup: Setup, fitter: Fitter, measures: Measures) -> ReferenceResult:
    """Load the model through the same `from_pretrained` path as the base model; score it; fine-tune if asked."""
    from exaone_bench.base_models.load import load_model

    t0 = time.perf_counter()
    s = setup
    causal_lm, tokenizer, src = load_model(entry.source, dtype="float32", device=s.device,
                                           trust_remote_code=s.trust_remote_code)
    row = ReferenceResult(name=f"compare:{src.name}", model={"source": src.name, "kind": src.kind, "location": src.location},
                          setup_hash=s.hash, params=shape(causal_lm),
                          # measured at the session's end with nothing else running: every core
                          zero_shot=measures.zero_shot(causal_lm, tokenizer, threads=os.cpu_count()),
                          fine_tuned=entry.fine_tune)
    if entry.fine_tune:  # no run dir: nothing another variant built is this model
        fitted = fitter.fit_and_evaluate(causal_lm, tokenizer, name=row.name)
        row.metrics, row.per_seed, row.training = fitted["metrics"], fitted["per_seed"], fitted["training"]
        row.params.update(fitted["cost"])
        row.level_ci = measures.level_intervals(fitted["preds"])
    row.seconds = round(time.perf_counter() - t0, 1)
    return row


__all__ = ["reference_row"]
