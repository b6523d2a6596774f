"""Run of one model under the fixed setup: compress, measure damage, fine-tune per seed, evaluate.

The baseline (the uncompressed model under the same setup) is computed once per setup hash,
cached on disk with checksums, and shared by pytest-xdist workers through a file lock. Within one
run, two variants that build the very same model (same weights, config and vocabulary) share its
seeds the same way: it is trained once.
"""
from __future__ import annotations

import copy
import gc
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from .cache import atomic_dir, verify_checksums, write_checksums
from .compress import calibration_for
from .data import DataSpec, load_split
from .evaluate import (classification_metrics, delta_ci, floors, flops_per_token, latency_ms, level_ci,
                       lm_loss_on_texts, model_size_mb, summarize)
from .metrics import NAMES
from .models.base import load_model
from .models.variants import apply
from .models.variants.surgery import shape_summary
from .paths import data_dir
from .spec import VERDICT_TEXT, Experiment, Setup, Variant
from .train import classifier_from, encode, predict, train

SHAPE_PARAMS = {"number_of_layers": "num_hidden_layers", "number_of_heads": "num_attention_heads",
                "number_of_kv_heads": "num_key_value_heads", "hidden_dim": "hidden_size",
                "intermediate_size": "intermediate_size", "vocab_size": "vocab_size"}


class Runner:
    """Holds the fixed split and the setup; builds, trains and evaluates one model at a time."""

    def __init__(self, setup: Setup, progress: bool = False, run_dir: Path | None = None):
        # run_dir: this run's scratch space shared by its workers (None: variants share nothing)
        self.setup, self.progress, self.run_dir = setup, progress, run_dir
        self.data_spec = DataSpec(source=setup.data.source, seed=setup.data.seed)
        split = load_split(self.data_spec)
        self.texts = {name: list(split[name]["text"]) for name in split}
        self.labels = {name: np.asarray(split[name]["label"]) for name in split}
        self.num_labels = split["train"].features["label"].num_classes
        self.label_names = split["train"].features["label"].names
        self._baseline: dict | None = None  # read back (and checksummed) once per process

    # -- building blocks -----------------------------------------------------------------
    def device(self) -> str:
        """cpu, cuda, or auto: accelerate's device_map places the model (GPUs first, then CPU)."""
        return self.setup.device

    def load_base(self):
        s = self.setup
        # Weights stay fp32 (the master copy); dtype: bfloat16 means bf16 autocast compute.
        model, tokenizer, src = load_model(s.model, dtype="float32", device=self.device(),
                                           trust_remote_code=s.trust_remote_code)
        return model, tokenizer, src

    def threads(self) -> int:
        return self.setup.training.threads or torch.get_num_threads()

    def encoded(self, tokenizer):
        """The splits the loop reads, tokenised once per model (validation only for early stopping)."""
        s = self.setup
        splits = ("train", "validation", "test") if s.training.eval_every else ("train", "test")
        return {n: encode(tokenizer, self.texts[n], self.labels[n], s.training.max_length) for n in splits}

    def fit_seed(self, causal_lm, tokenizer, enc: dict, seed: int, teacher_logits=None) -> dict:
        """Fine-tune one classifier with `seed` on the train split and evaluate it on test.

        Seed 0 also measures the size and FLOPs of the trained classifier. Latency is not measured
        here: another worker may be training beside it (see `latency`).
        """
        s = self.setup
        torch.set_num_threads(self.threads())
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        model = classifier_from(causal_lm, self.num_labels, seed, pad)
        if s.training.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        validation = enc.get("validation")
        result = train(model, enc["train"], s.training, seed, pad, teacher_logits, validation, self.progress, s.dtype)
        test_logits = predict(model, enc["test"], pad, s.evaluation.batch_size, s.dtype)
        part = {"seed": seed, "metrics": classification_metrics(self.labels["test"], test_logits),
                "preds": test_logits.argmax(1), "curve": [round(x, 4) for x in result.losses[:: max(1, len(result.losses) // 100)]],
                "seconds": result.seconds, "tokens_per_second": result.tokens_per_second}
        if s.training.recovery == "distill" and teacher_logits is None:  # a baseline seed: it teaches
            part["train_logits"] = predict(model, enc["train"], pad, s.evaluation.batch_size, s.dtype)
        if seed == 0:
            part["cost"] = {"model_size_mb": model_size_mb(model),
                            "flops_per_token": flops_per_token(model.config, s.evaluation.latency.seq_len)}
        del model
        gc.collect()
        return part

    @staticmethod
    def combine(parts: list[dict]) -> dict:
        """Seed parts (in seed order) -> mean/sd metrics, stacked predictions, cost of seed 0, training summary."""
        parts = sorted(parts, key=lambda p: p["seed"])
        out = {"metrics": summarize([p["metrics"] for p in parts]), "per_seed": [p["metrics"] for p in parts],
               "preds": np.stack([p["preds"] for p in parts]), "cost": parts[0]["cost"],
               "training": {"seconds": round(sum(p["seconds"] for p in parts), 2),
                            "tokens_per_second": round(float(np.mean([p["tokens_per_second"] for p in parts])), 1),
                            "loss_curves": [p["curve"] for p in parts],
                            "built_by": [p.get("built_by") for p in parts]}}
        if all("train_logits" in p for p in parts):
            out["train_logits"] = np.stack([p["train_logits"] for p in parts])
        return out

    def fit_and_evaluate(self, causal_lm, tokenizer, base: dict | None = None, name: str = "",
                         fingerprint: str | None = None) -> dict:
        """Fine-tune one classifier per seed on the train split and evaluate it on test (`combine`d).

        `base`: the baseline, whose logits teach under `recovery: distill`. With a run dir and the
        model's `fingerprint`, a model another variant of this run built is not trained again; each
        seed part names the variant that trained it (`built_by`).
        """
        teacher = base["train_logits"] if base is not None and self.setup.training.recovery == "distill" else None
        enc: dict = {}  # tokenised on the first seed trained here: a shared model may need none

        def fit(seed: int) -> dict:
            if not enc:
                enc.update(self.encoded(tokenizer))
            part = self.fit_seed(causal_lm, tokenizer, enc, seed, None if teacher is None else teacher[seed])
            return {**part, "built_by": name}

        seeds = list(range(self.setup.training.seeds))
        if self.run_dir is None or fingerprint is None:
            return self.combine([fit(seed) for seed in seeds])
        return self.combine(shared_seeds(self.run_dir / f"model-{fingerprint}", seeds,
                                         lambda d, seed: write_part(d, fit(seed))))

    def latencies(self, configs: list[dict]) -> list[float]:
        """Median batch-1 latency (ms) of a classifier of each architecture, under the setup's protocol.

        Weights do not change the time, so each model is built from its config with random
        weights, and identical architectures are timed once. The session calls this after the
        last item with nothing else running. The models' forwards are interleaved, as many models
        at a time as fit in `latency_memory_budget`: timed one after another on a shared machine,
        two identical architectures can differ by more than the effect being measured.
        """
        keys = [json.dumps(c, sort_keys=True) for c in configs]
        distinct = dict(zip(keys, configs))  # one config per architecture
        lat, ms = self.setup.evaluation.latency, {}
        for group in self._latency_groups(distinct, latency_memory_budget(self.latency_device())):
            models = [self._random_classifier(distinct[k]) for k in group]
            ms.update(zip(group, latency_ms(models, lat.batch_size, lat.seq_len, lat.warmup, lat.repeats, lat.threads)))
            del models
            gc.collect()
        return [ms[k] for k in keys]

    def latency_device(self) -> str:
        """Where latency is timed: the GPU when the setup runs on one, else the CPU."""
        return "cuda" if self.setup.device != "cpu" and torch.cuda.is_available() else "cpu"

    def _random_classifier(self, config: dict, device: str | None = None):
        from transformers import AutoConfig, AutoModelForSequenceClassification

        config = dict(config)
        cfg = AutoConfig.for_model(config.pop("model_type"), **config)
        cfg.num_labels = self.num_labels
        cfg.pad_token_id = cfg.pad_token_id if cfg.pad_token_id is not None else cfg.eos_token_id
        torch.manual_seed(0)
        with torch.device(device or self.latency_device()):
            return AutoModelForSequenceClassification.from_config(cfg)

    def _latency_groups(self, configs: dict[str, dict], budget: int) -> list[list[str]]:
        """Keys of consecutive configs whose fp32 weights together fit in `budget` bytes (one at least)."""
        groups, size = [], budget
        for key, c in configs.items():
            nbytes = 4 * sum(p.numel() for p in self._random_classifier(c, device="meta").parameters())
            if size + nbytes > budget:
                groups.append([])
                size = 0
            groups[-1].append(key)
            size += nbytes
        return groups

    def lm_loss(self, causal_lm, tokenizer) -> float:
        """Held-out LM loss on the first `evaluation.lm_loss_texts` validation reviews: structural damage."""
        return lm_loss_on_texts(causal_lm, tokenizer, self.texts["validation"][: self.setup.evaluation.lm_loss_texts])

    def shape(self, causal_lm) -> dict:
        """The contract's shape params, from the same summary the removal records use."""
        summary = shape_summary(causal_lm)
        return {**{k: summary[v] for k, v in SHAPE_PARAMS.items()}, "total_parameters": summary["parameters"]}

    # -- the baseline, cached --------------------------------------------------------------
    def baseline_dir(self) -> Path:
        return data_dir() / "cache" / "baselines" / f"merged-{self.setup.hash}"

    def baseline(self) -> dict:
        """The uncompressed model under this setup: trained once per setup hash, then read back.

        Its seeds are built in parallel by whichever xdist workers need the baseline, so a worker
        waits for at most one seed instead of for the whole baseline.
        """
        from filelock import FileLock

        if self._baseline is not None:
            return self._baseline
        out = self.baseline_dir()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not verify_checksums(out):  # absent, interrupted or corrupt: (re)build
            parts = self._baseline_seeds()
            with FileLock(str(out) + ".lock"):
                if not verify_checksums(out):
                    self._merge_baseline(out, parts)
        result = json.loads((out / "result.json").read_text())
        arrays = np.load(out / "arrays.npz")
        result["preds"], result["train_logits"] = arrays["preds"], arrays["train_logits"]
        self._baseline = result
        return result

    def seeds_dir(self) -> Path:
        """Seed parts of the baseline, keyed without the seed count: `--quick` reuses the full run's seed 0."""
        return data_dir() / "cache" / "baselines" / f"seeds-{self.setup.seed_hash}"

    def _baseline_seeds(self, wait: bool = True) -> list[dict]:
        """Every seed part of the baseline, built side by side by the workers that need it."""
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
            loaded.update(causal_lm=causal_lm, tokenizer=tokenizer, enc=self.encoded(tokenizer))
        part = self.fit_seed(loaded["causal_lm"], loaded["tokenizer"], loaded["enc"], seed)
        part["build_seconds"], part["built_by"] = round(time.perf_counter() - t0, 1), "baseline"
        write_part(d, part)

    def _merge_baseline(self, out: Path, parts: list[dict]) -> None:
        t0 = time.perf_counter()
        causal_lm, tokenizer, src = self.load_base()
        torch.set_num_threads(self.threads())
        lm_loss = self.lm_loss(causal_lm, tokenizer)
        fitted = self.combine(parts)
        result = {
            "name": "baseline", "stage": "baseline", "strategy": "none", "variant_id": "baseline",
            "model": {"source": src.name, "kind": src.kind, "location": src.location},
            "setup_hash": self.setup.hash, "params": {**self.shape(causal_lm), **fitted["cost"]},
            "config": causal_lm.config.to_dict(),
            "metrics": fitted["metrics"], "per_seed": fitted["per_seed"], "training": fitted["training"],
            "level_ci": level_ci(self.labels["test"], fitted["preds"], self.setup.evaluation.bootstrap,
                                 self.setup.evaluation.confidence),
            "lm_loss_before_recovery": lm_loss, "base_lm_loss": lm_loss,
            "floors": floors(self.texts["train"], self.labels["train"], self.texts["test"], self.labels["test"]),
            # worker-seconds: the seeds may have been built side by side
            "seconds": round(sum(p["build_seconds"] for p in parts) + time.perf_counter() - t0, 1),
        }
        with atomic_dir(out) as tmp:
            (tmp / "result.json").write_text(json.dumps(result, indent=2) + "\n")
            np.savez(tmp / "arrays.npz", preds=fitted["preds"], train_logits=fitted.get("train_logits", np.zeros(0)))
            write_checksums(tmp, ["result.json", "arrays.npz"])

    # -- one variant -------------------------------------------------------------------------
    def run_variant(self, experiment: Experiment, variant: Variant) -> dict:
        s, name = self.setup, f"{experiment.name}[{variant.id}]"
        t0, started = time.perf_counter(), time.time()
        # Distillation needs the baseline before training. Otherwise this worker first builds the
        # baseline seeds no other worker holds (none, once they are all taken) and trains its
        # variant while the others finish theirs; the baseline is read back for the comparison.
        if s.training.recovery == "distill":
            base = self.baseline()
        else:
            base = None
            if self._baseline is None and not verify_checksums(self.baseline_dir()):
                self._baseline_seeds(wait=False)
        torch.set_num_threads(self.threads())
        t_load = time.perf_counter()  # the compress time excludes the baseline seeds built above
        causal_lm, tokenizer, src = self.load_base()
        c = s.calibration
        calib = calibration_for(tokenizer, c.samples, c.seq_len, c.seed, texts=self.texts["train"])
        removed = apply(causal_lm, copy.deepcopy(variant.compression), calib,
                        where=f"{Path(experiment.path).name}[{variant.id}].compression")
        tokenizer = calib.tokenizer
        t_compress = time.perf_counter() - t_load
        lm_loss = self.lm_loss(causal_lm, tokenizer)
        fingerprint = model_fingerprint(causal_lm, tokenizer, s.hash)
        fitted = self.fit_and_evaluate(causal_lm, tokenizer, base, name, fingerprint)
        base = base or self.baseline()
        ci = delta_ci(self.labels["test"], fitted["preds"], base["preds"], s.evaluation.bootstrap,
                      s.evaluation.confidence)
        deltas = {m: fitted["metrics"][m] - base["metrics"][m] for m in NAMES}
        verdict, message = judge(name, variant, fitted["metrics"], base["metrics"], ci)
        params = {**self.shape(causal_lm), **fitted["cost"]}
        result = {
            "name": name, "experiment": experiment.name, "variant_id": variant.id,
            "strategy": experiment.strategy, "stage": experiment.stage, "hypothesis": experiment.hypothesis,
            "motivation": experiment.motivation, "description": variant.description,
            "compression": variant.compression, "removed": removed,
            "expect": {m: e.describe() for m, e in variant.expect.items()},
            "params": params, "metrics": fitted["metrics"], "per_seed": fitted["per_seed"],
            "deltas": deltas, "ci": ci, "verdict": verdict, "message": message,
            "level_ci": level_ci(self.labels["test"], fitted["preds"], s.evaluation.bootstrap, s.evaluation.confidence),
            "lm_loss_before_recovery": lm_loss, "base_lm_loss": base["lm_loss_before_recovery"],
            "delta_params_pct": 100.0 * (params["total_parameters"] / base["params"]["total_parameters"] - 1),
            "config": causal_lm.config.to_dict(),
            "flop_ratio": params["flops_per_token"] / base["params"]["flops_per_token"],
            "training": fitted["training"], "setup_hash": s.hash, "model_fingerprint": fingerprint,
            "seconds": {"compress": round(t_compress, 2), "total": round(time.perf_counter() - t0, 2)},
            # where and when it ran: a benchmark lays out each worker's timeline from these
            "worker": {"pid": os.getpid(), "started": started, "finished": time.time()},
        }
        del causal_lm
        gc.collect()
        result["memory"] = memory_mb()
        return result


def latency_memory_budget(device: str) -> int:
    """Bytes of weights held at once while latencies are interleaved: a quarter of the device's free memory.

    The rest is left to activations, the allocator and whatever else runs on the machine.
    """
    if device == "cuda":
        return torch.cuda.mem_get_info()[0] // 4
    import psutil

    return psutil.virtual_memory().available // 4


def shared_seeds(root: Path, seeds: list[int], build, wait: bool = True) -> list[dict]:
    """The seed parts under `root/<seed>/`, each built once by whichever process gets to it first.

    First pass: build every seed no other process holds (a held lock is skipped, not waited on),
    so two workers that need the same model train different seeds side by side. Second pass: wait
    for the rest. `build(dir, seed)` writes one part; an absent or corrupt part is (re)built.
    With wait=False only the first pass runs and nothing is read back.
    """
    from filelock import FileLock, Timeout

    parts: dict[int, dict | None] = {}
    for blocking in (False, True) if wait else (False,):
        for seed in [x for x in seeds if x not in parts]:
            d = root / str(seed)
            d.parent.mkdir(parents=True, exist_ok=True)
            try:
                with FileLock(str(d) + ".lock", timeout=-1 if blocking else 0):
                    if not verify_checksums(d):
                        build(d, seed)
                    parts[seed] = read_part(d) if wait else None
            except Timeout:  # another process is building this seed: take the next one
                continue
    return [parts[seed] for seed in seeds] if wait else []


def write_part(d: Path, part: dict) -> None:
    """One seed's result, atomically: JSON fields, numpy arrays (predictions, logits), checksums."""
    part = dict(part)
    arrays = {k: part.pop(k) for k in ("preds", "train_logits") if k in part}
    with atomic_dir(d) as tmp:
        (tmp / "part.json").write_text(json.dumps(part, indent=2) + "\n")
        np.savez(tmp / "arrays.npz", **arrays)
        write_checksums(tmp, ["part.json", "arrays.npz"])


def read_part(d: Path) -> dict:
    part = json.loads((d / "part.json").read_text())
    arrays = np.load(d / "arrays.npz")
    return {**part, **{k: arrays[k] for k in arrays.files}}


def model_fingerprint(causal_lm, tokenizer, *context) -> str | None:
    """sha256 of a model's config, vocabulary and weights, plus `context`: equal only for the same model.

    The directory it was loaded from is not part of it: the same model from two data dirs is one
    model. None when some weights are offloaded (meta tensors under a device map): such a model
    is not shared.
    """
    state = causal_lm.state_dict()
    if any(t.is_meta for t in state.values()):
        return None
    config = {k: v for k, v in causal_lm.config.to_dict().items() if k != "_name_or_path"}
    h = hashlib.sha256(json.dumps([config, tokenizer.get_vocab(), context],
                                  sort_keys=True, default=str).encode())
    for name, tensor in state.items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def memory_mb() -> dict:
    """This process's peak RSS so far and its RSS now (MB): flat across variants means nothing leaks."""
    import resource

    import psutil

    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1)}


def judge(name: str, variant: Variant, metrics: dict, baseline: dict, ci: dict) -> tuple[str, str]:
    """Verdict from the delta's CI against every bound, so that noise alone never decides it.

    rejected (the item fails): for some bound, the whole CI lies beyond it;
    confirmed: for every bound, the whole CI lies inside it;
    inconclusive (the item passes; report and terminal say so): otherwise, a CI straddles a bound.
    Two machines whose floats differ can then move a verdict to or from inconclusive, but a
    decisive verdict flips only if both CIs miss the true delta.
    """
    decisions, lines = [], []
    for metric, e in variant.expect.items():
        value, base, lo, hi = metrics[metric], baseline[metric], ci[metric]["ci_low"], ci[metric]["ci_high"]
        decisions.append(e.decide(lo, hi))
        lines.append(f"{metric} {value:.3f} vs baseline {base:.3f} (delta {value - base:+.3f}, CI [{lo:+.3f}, {hi:+.3f}]"
                     f" {decisions[-1]} {e.describe()})")
    verdict = "rejected" if "beyond" in decisions else "confirmed" if set(decisions) == {"inside"} else "inconclusive"
    return verdict, f"{name}: {'; '.join(lines)} -> {VERDICT_TEXT[verdict]}"


__all__ = ["Runner", "judge"]
