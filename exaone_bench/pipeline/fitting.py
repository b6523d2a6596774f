"""Fine-tuning classifiers under the setup's one loop: one trained, evaluated part per seed.

Every model a row reports (the baseline, a variant, a post-training target, a comparison model)
is fine-tuned here, so they all train under the same conditions. Parts are shared between
processes through seed_parts.py: a model another worker already trained is read, not trained again.
"""
from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import torch

from exaone_bench.config.setup import Setup
from exaone_bench.core.paths import data_dir
from exaone_bench.data.batches import encode
from exaone_bench.data.split import Split
from exaone_bench.evaluation.classification import classification_metrics, summarize
from exaone_bench.evaluation.cost import flops_per_token, on_disk
from exaone_bench.models.classifier import classifier_from
from exaone_bench.pipeline.measures import torch_threads
from exaone_bench.pipeline.seed_parts import shared_seeds, write_part
from exaone_bench.training import lora
from exaone_bench.training.loop import predict, train


class Fitter:
    """Trains and evaluates classifiers of `setup` on `split`; `live` (set by the session) shows each step."""

    def __init__(self, setup: Setup, split: Split, run_dir: Path | None = None, progress: bool = False,
                 teacher_logits: np.ndarray | None = None):
        # run_dir: this run's scratch space shared by its workers (None: variants share nothing)
        # teacher_logits: a teacher's labels of the training texts (training.teacher), what `distill` teaches
        self.setup, self.split, self.run_dir, self.progress = setup, split, run_dir, progress
        self.teacher_logits = teacher_logits
        self.live = None  # progress.WorkerProgress of this process: the live lines

    def encoded(self, tokenizer) -> dict:
        """The splits the loop reads, tokenised once per model (validation only for early stopping)."""
        s = self.setup
        splits = ("train", "validation", "test") if s.training.eval_every else ("train", "test")
        return {n: encode(tokenizer, self.split.texts[n], self.split.labels[n], s.training.max_length) for n in splits}

    def fit_seed(self, causal_lm, tokenizer, enc: dict, seed: int, teacher_logits=None, keep: bool = False,
                 name: str = "", head: torch.Tensor | None = None) -> dict:
        """Fine-tune one classifier with `seed` on the train split and evaluate it on test.

        Seed 0 also measures the size, bytes on disk and FLOPs of the trained classifier. Latency is
        not measured here: another worker may be training beside it (evaluation/latency.py). `keep`: the
        part also holds the classifier's weights (`state`), for what is applied after training.
        `name`: the model being trained, for the live progress lines. `head`: the task model's classifier
        head (cut to this backbone), where recovery starts from; None: a head drawn from the seed.
        """
        s = self.setup
        torch.set_num_threads(torch_threads(s))
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        model = classifier_from(causal_lm, self.split.num_labels, seed, pad, head)
        if s.training.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        lora_model, trained = None, model
        if s.training.recovery == "lora":  # adapters on the decoder's linear maps; merged before anything is measured
            lora_model, trained = lora.wrap(model, s.training.lora)
        validation = enc.get("validation")
        if self.live is not None:
            self.live.seed(name, seed, s.training.seeds, s.training.steps)
        state = lora.training_state(trained)
        with lora.cuda_peak(trained.device) as peak:
            result = train(trained, enc["train"], s.training, seed, pad, teacher_logits, validation, self.progress, s.dtype,
                           on_step=self.live.step if self.live is not None else None)
        if lora_model is not None:
            model = lora.merged(lora_model)
        test_logits = predict(model, enc["test"], pad, s.evaluation.batch_size, s.dtype)
        part = {"seed": seed, "metrics": classification_metrics(self.split.labels["test"], test_logits),
                "preds": test_logits.argmax(1), "curve": [round(x, 4) for x in result.losses[:: max(1, len(result.losses) // 100)]],
                "seconds": result.seconds, "tokens_per_second": result.tokens_per_second,
                "memory": {**state, **peak, "peak_rss_mb": memory_mb()["peak_rss_mb"]}}
        if self.needs_baseline() and teacher_logits is None:  # a baseline seed: it teaches
            part["train_logits"] = predict(model, enc["train"], pad, s.evaluation.batch_size, s.dtype)
        if seed == 0:
            size = on_disk(model)
            part["cost"] = {"model_size_mb": size["safetensors_bytes"] / 1e6, "safetensors_bytes": size["safetensors_bytes"],
                            "zstd_bytes": size["zstd_bytes"],
                            "flops_per_token": flops_per_token(model.config, s.evaluation.latency.seq_len)}
        if keep:
            part["state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        del model, trained, lora_model
        gc.collect()
        return part

    def seed_parts(self, causal_lm, tokenizer, teacher: np.ndarray | None = None, name: str = "",
                   fingerprint: str | None = None, keep: bool = False, head: torch.Tensor | None = None) -> list[dict]:
        """One fine-tuned, evaluated part per seed of the setup; each names the variant that trained it (`built_by`).

        `teacher`: per-seed logits on the train split that teach under `recovery: distill` (the
        baseline's). With the model's `fingerprint`, a seed another process built is read, not
        trained again: within this run (its run dir) for a variant, or, with `keep` (each part also
        holds its classifier's weights, what post-training transforms are applied to), across runs
        in data/cache/classifiers/. A model without a fingerprint (offloaded weights) is trained here.
        """
        enc: dict = {}  # tokenised on the first seed trained here: a shared model may need none

        def fit(seed: int) -> dict:
            if not enc:
                enc.update(self.encoded(tokenizer))
            part = self.fit_seed(causal_lm, tokenizer, enc, seed, None if teacher is None else teacher[seed], keep=keep,
                                 name="kept" if keep else name, head=head)
            return {**part, "built_by": name}

        seeds = list(range(self.setup.training.seeds))
        if fingerprint is not None and keep:
            where = data_dir() / "cache" / "classifiers" / fingerprint
        elif fingerprint is not None and self.run_dir is not None:
            where = self.run_dir / f"model-{fingerprint}"
        else:
            return [fit(seed) for seed in seeds]
        return shared_seeds(where, seeds, lambda d, seed: write_part(d, fit(seed)))

    def fit_and_evaluate(self, causal_lm, tokenizer, teacher: np.ndarray | None = None, name: str = "",
                         fingerprint: str | None = None, head: torch.Tensor | None = None) -> dict:
        """Fine-tune one classifier per seed on the train split and evaluate it on test (`combine`d)."""
        return combine(self.seed_parts(causal_lm, tokenizer, teacher, name, fingerprint, head=head))

    def needs_baseline(self) -> bool:
        """Whether recovery distils from the baseline's logits (recovery: distill without a teacher)."""
        return self.setup.training.recovery == "distill" and self.teacher_logits is None

    def teacher(self, base) -> np.ndarray | None:
        """Per seed, the train-split logits `distill` teaches: the teacher's (the same for every seed), else
        the baseline's; None when the setup does not distil."""
        if self.setup.training.recovery != "distill":
            return None
        if self.teacher_logits is not None:
            return np.repeat(self.teacher_logits[None], self.setup.training.seeds, axis=0)
        return base.train_logits if base is not None else None

    def kept_classifier(self, causal_lm, part: dict, pad: int):
        """The fine-tuned classifier of one kept seed part: its architecture from `causal_lm`, its weights from the part."""
        model = classifier_from(causal_lm, self.split.num_labels, part["seed"], pad)
        if "state" in part:
            model.load_state_dict(part["state"])
        else:
            from safetensors.torch import load_model as load_weights

            load_weights(model, part["weights"], device=str(model.device))
        return model.eval()


def combine(parts: list[dict]) -> dict:
    """Seed parts (in seed order) -> mean/sd metrics, stacked predictions, cost of seed 0, training summary."""
    parts = sorted(parts, key=lambda p: p["seed"])
    out = {"metrics": summarize([p["metrics"] for p in parts]), "per_seed": [p["metrics"] for p in parts],
           "preds": np.stack([p["preds"] for p in parts]), "cost": parts[0]["cost"],
           "training": {"seconds": round(sum(p["seconds"] for p in parts), 2),
                        "memory": [p.get("memory") for p in parts],
                        "tokens_per_second": round(float(np.mean([p["tokens_per_second"] for p in parts])), 1),
                        "loss_curves": [p["curve"] for p in parts],
                        "built_by": [p.get("built_by") for p in parts]}}
    if all("train_logits" in p for p in parts):
        out["train_logits"] = np.stack([p["train_logits"] for p in parts])
    return out


def memory_mb() -> dict:
    """This process's peak RSS so far and its RSS now (MB): flat across variants means nothing leaks."""
    import resource

    import psutil

    rss = psutil.Process().memory_info().rss / 2**20
    # the kernel's high-water mark is updated lazily: it can trail the RSS read a moment later
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rss)
    return {"peak_rss_mb": round(peak, 1), "rss_mb": round(rss, 1)}
