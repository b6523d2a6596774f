"""The baseline: the uncompressed model under the setup, trained once per setup hash and cached.

Its seed parts (seed_parts.py) are built in parallel by whichever xdist workers need the baseline,
then merged with the LM loss, shape, CIs and floors into one checksummed directory that every
later run reads back instead of training again.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from filelock import FileLock

from exaone_bench.config.setup import Setup
from exaone_bench.core.cache import atomic_dir, verify_checksums, write_checksums
from exaone_bench.core.paths import data_dir
from exaone_bench.data.split import Split
from exaone_bench.evaluation.floors import floors
from exaone_bench.evaluation.intervals import noise_floor
from exaone_bench.evidence.records import BaselineResult
from exaone_bench.pipeline.fitting import Fitter, combine
from exaone_bench.pipeline.measures import Measures, shape, torch_threads
from exaone_bench.pipeline.seed_parts import shared_seeds, write_part


def merged_dir(setup: Setup) -> Path:
    """Where the baseline of this setup is kept once its seeds are merged."""
    return data_dir() / "cache" / "baselines" / f"merged-{setup.hash}"


def cached_noise_floor(setup: Setup) -> dict[str, float] | None:
    """The seed-noise floor of this setup's baseline when it is cached already (read before anything runs), else None."""
    out = merged_dir(setup)
    if not (out / "result.json").is_file():
        return None
    return json.loads((out / "result.json").read_text()).get("noise_floor") or None


class BaselineCache:
    """The baseline of one setup: `get()` reads it back, training what is missing first.

    `load_base` returns the original (model, tokenizer, source); `fitter` fine-tunes its seeds and
    `measures` gives the training-free columns, the same as every variant gets.
    """

    def __init__(self, setup: Setup, split: Split, load_base: Callable, fitter: Fitter, measures: Measures,
                 head=None, teacher: dict | None = None):
        self.setup, self.split, self.load_base, self.fitter, self.measures = setup, split, load_base, fitter, measures
        self.head = head  # the task model's classifier head: recovery starts from it (None: a seeded head)
        self.teacher = teacher or {}  # the teacher's meta (its test metrics stand beside the floors)
        self._loaded: BaselineResult | None = None  # read back (and checksummed) once per process

    def start_seeds(self) -> None:
        """Build, without waiting, the baseline seeds no other worker holds (none once all are taken)."""
        if self._loaded is None and not verify_checksums(self.dir()):
            self.build_seeds(wait=False)

    def dir(self) -> Path:
        return merged_dir(self.setup)

    def get(self) -> BaselineResult:
        """The uncompressed model under this setup: trained once per setup hash, then read back.

        Its seeds are built in parallel by whichever xdist workers need the baseline, so a worker
        waits for at most one seed instead of for the whole baseline.
        """
        if self._loaded is not None:
            return self._loaded
        out = self.dir()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not verify_checksums(out):  # absent, interrupted or corrupt: (re)build
            parts = self.build_seeds()
            with FileLock(str(out) + ".lock"):
                if not verify_checksums(out):
                    self._merge(out, parts)
        arrays = np.load(out / "arrays.npz")
        self._loaded = BaselineResult.from_dict(json.loads((out / "result.json").read_text()), "baseline")
        self._loaded.preds, self._loaded.train_logits = arrays["preds"], arrays["train_logits"]
        self._loaded.before_preds = arrays["before_preds"] if "before_preds" in arrays.files else np.zeros(0)
        return self._loaded

    def seeds_dir(self) -> Path:
        """Seed parts of the baseline, keyed without the seed count: `--quick` reuses the full run's seed 0."""
        return data_dir() / "cache" / "baselines" / f"seeds-{self.setup.seed_hash}"

    def build_seeds(self, wait: bool = True) -> list[dict]:
        """Every seed part of the baseline, built side by side by the workers that need it.

        With wait=False a worker builds the seeds no other worker holds and returns at once: it
        then trains its own variant while the others finish theirs.
        """
        loaded: dict = {}
        return shared_seeds(self.seeds_dir(), list(range(self.setup.training.seeds)),
                            lambda d, seed: self._build_seed(d, seed, loaded), wait)

    def _build_seed(self, d: Path, seed: int, loaded: dict) -> None:
        with open(self.seeds_dir() / "build.log", "a") as log:  # one line per seed built: never trained twice
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()} building baseline "
                      f"{self.setup.hash} seed {seed}\n")
        t0 = time.perf_counter()
        if not loaded:
            causal_lm, tokenizer, _ = self.load_base()
            loaded.update(causal_lm=causal_lm, tokenizer=tokenizer, enc=self.fitter.encoded(tokenizer))
        teacher = self.fitter.teacher(None)
        part = self.fitter.fit_seed(loaded["causal_lm"], loaded["tokenizer"], loaded["enc"], seed,
                                    None if teacher is None else teacher[seed], name="baseline", head=self.head)
        part["build_seconds"], part["built_by"] = round(time.perf_counter() - t0, 1), "baseline"
        write_part(d, part)

    def _merge(self, out: Path, parts: list[dict]) -> None:
        t0 = time.perf_counter()
        causal_lm, tokenizer, src = self.load_base()
        torch.set_num_threads(torch_threads(self.setup))
        lm_loss = self.measures.lm_loss(causal_lm, tokenizer)
        before = self.measures.before_recovery(causal_lm, tokenizer, self.head)
        fitted = combine(parts)
        result = BaselineResult(
            model={"source": src.name, "kind": src.kind, "location": src.location},
            setup_hash=self.setup.hash, params={**shape(causal_lm), **fitted["cost"]},
            config=causal_lm.config.to_dict(),
            metrics=fitted["metrics"], per_seed=fitted["per_seed"], training=fitted["training"],
            level_ci=self.measures.level_intervals(fitted["preds"]),
            noise_floor=noise_floor(self.split.labels["test"], fitted["preds"], self.setup.evaluation.bootstrap,
                                    self.setup.evaluation.confidence),
            lm_loss_before_recovery=lm_loss, base_lm_loss=lm_loss, zero_shot=self.measures.zero_shot(causal_lm, tokenizer),
            floors=floors(self.split.texts["train"], self.split.labels["train"], self.split.texts["test"],
                          self.split.labels["test"]),
            before_recovery=before["metrics"] if before else {},
            teacher={"name": self.teacher["teacher"], "test": self.teacher["test"], "labels": self.teacher["spec"]}
            if self.teacher else {},
            # worker-seconds: the seeds may have been built side by side
            seconds=round(sum(p["build_seconds"] for p in parts) + time.perf_counter() - t0, 1))
        with atomic_dir(out) as tmp:
            (tmp / "result.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
            np.savez(tmp / "arrays.npz", preds=fitted["preds"], train_logits=fitted.get("train_logits", np.zeros(0)),
                     before_preds=before["preds"] if before else np.zeros(0))
            write_checksums(tmp, ["result.json", "arrays.npz"])
