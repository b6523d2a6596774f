"""The pipeline of one variant under the fixed setup: compress, measure damage, fine-tune per seed, evaluate.

The baseline it is compared with lives in baseline.py (trained once per setup hash), seed
sharing and model fingerprints in seeds.py, the verdict in verdict.py and latency in latency.py.
Within one run, two variants that build the very same model share its seeds: it is trained once.
"""
from __future__ import annotations

import copy
import gc
import os
import time
from pathlib import Path

import numpy as np
import torch

from . import lora, zero_shot
from .baseline import BaselineCache
from .compress import calibration_for
from .data import DataSpec, load_split
from .evaluate import (classification_metrics, delta_ci, flops_per_token, level_ci,
                       lm_loss_on_texts, summarize)
from .metrics import NAMES
from .models.base import load_model
from .models.variants import apply
from .models.variants.surgery import shape_summary
from .latency import Latency
from .result import BaselineResult, DeltaInterval, Interval, VariantResult
from .seeds import model_fingerprint, shared_seeds, write_part
from .spec import Experiment, Setup, Variant
from .train import classifier_from, encode, predict, train
from .validate import SpecError
from .verdict import judge

SHAPE_PARAMS = {"number_of_layers": "num_hidden_layers", "number_of_heads": "num_attention_heads",
                "number_of_kv_heads": "num_key_value_heads", "hidden_dim": "hidden_size",
                "intermediate_size": "intermediate_size", "vocab_size": "vocab_size",
                "number_of_experts": "num_experts"}  # a MoE's routed experts per sparse layer


class Runner:
    """Holds the fixed split and the setup; builds, trains and evaluates one model at a time."""

    def __init__(self, setup: Setup, progress: bool = False, run_dir: Path | None = None):
        # run_dir: this run's scratch space shared by its workers (None: variants share nothing)
        self.setup, self.progress, self.run_dir = setup, progress, run_dir
        self.live = None  # progress.WorkerProgress of this process, set by the session: the live lines
        self.data_spec = DataSpec(source=setup.data.source, seed=setup.data.seed)
        split = load_split(self.data_spec)
        self.texts = {name: list(split[name]["text"]) for name in split}
        self.labels = {name: np.asarray(split[name]["label"]) for name in split}
        self.num_labels = split["train"].features["label"].num_classes
        self.label_names = split["train"].features["label"].names
        self.baselines = BaselineCache(self)
        self.timer = Latency(setup.evaluation.latency, setup.device, self.num_labels)
        if setup.evaluation.zero_shot.enabled:
            self.label_words()  # a wrong count of label words fails before anything trains

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

    def fit_seed(self, causal_lm, tokenizer, enc: dict, seed: int, teacher_logits=None, keep: bool = False,
                 name: str = "") -> dict:
        """Fine-tune one classifier with `seed` on the train split and evaluate it on test.

        Seed 0 also measures the size, bytes on disk and FLOPs of the trained classifier. Latency is
        not measured here: another worker may be training beside it (see `latency`). `keep`: the
        part also holds the classifier's weights (`state`), for what is applied after training.
        `name`: the model being trained, for the live progress lines.
        """
        s = self.setup
        torch.set_num_threads(self.threads())
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        model = classifier_from(causal_lm, self.num_labels, seed, pad)
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
        part = {"seed": seed, "metrics": classification_metrics(self.labels["test"], test_logits),
                "preds": test_logits.argmax(1), "curve": [round(x, 4) for x in result.losses[:: max(1, len(result.losses) // 100)]],
                "seconds": result.seconds, "tokens_per_second": result.tokens_per_second,
                "memory": {**state, **peak, "peak_rss_mb": memory_mb()["peak_rss_mb"]}}
        if s.training.recovery == "distill" and teacher_logits is None:  # a baseline seed: it teaches
            part["train_logits"] = predict(model, enc["train"], pad, s.evaluation.batch_size, s.dtype)
        if seed == 0:
            size = disk_bytes(model)
            part["cost"] = {"model_size_mb": size["safetensors_bytes"] / 1e6, **size,
                            "flops_per_token": flops_per_token(model.config, s.evaluation.latency.seq_len)}
        if keep:
            part["state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        del model, trained, lora_model
        gc.collect()
        return part

    @staticmethod
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

    def fit_and_evaluate(self, causal_lm, tokenizer, base: BaselineResult | None = None, name: str = "",
                         fingerprint: str | None = None) -> dict:
        """Fine-tune one classifier per seed on the train split and evaluate it on test (`combine`d)."""
        return self.combine(self.seed_parts(causal_lm, tokenizer, base, name, fingerprint))

    def seed_parts(self, causal_lm, tokenizer, base: BaselineResult | None = None, name: str = "",
                   fingerprint: str | None = None, keep: bool = False) -> list[dict]:
        """One fine-tuned, evaluated part per seed of the setup; each names the variant that trained it (`built_by`).

        `base`: the baseline, whose logits teach under `recovery: distill`. With the model's
        `fingerprint`, a seed another process built is read, not trained again: within this run
        (its run dir) for a variant, or, with `keep` (each part also holds its classifier's weights,
        what post-training transforms are applied to), across runs in data/cache/classifiers/.
        A model without a fingerprint (offloaded weights) is trained here and held in memory.
        """
        from .paths import data_dir

        teacher = base.train_logits if base is not None and self.setup.training.recovery == "distill" else None
        enc: dict = {}  # tokenised on the first seed trained here: a shared model may need none

        def fit(seed: int) -> dict:
            if not enc:
                enc.update(self.encoded(tokenizer))
            part = self.fit_seed(causal_lm, tokenizer, enc, seed, None if teacher is None else teacher[seed], keep=keep,
                                 name="kept" if keep else name)
            return {**part, "built_by": name}

        seeds = list(range(self.setup.training.seeds))
        if fingerprint is not None and keep:
            where = data_dir() / "cache" / "classifiers" / fingerprint
        elif fingerprint is not None and self.run_dir is not None:
            where = self.run_dir / f"model-{fingerprint}"
        else:
            return [fit(seed) for seed in seeds]
        return shared_seeds(where, seeds, lambda d, seed: write_part(d, fit(seed)))

    def kept_classifier(self, causal_lm, part: dict, pad: int):
        """The fine-tuned classifier of one kept seed part: its architecture from `causal_lm`, its weights from the part."""
        model = classifier_from(causal_lm, self.num_labels, part["seed"], pad)
        if "state" in part:
            model.load_state_dict(part["state"])
        else:
            from safetensors.torch import load_model as load_weights

            load_weights(model, part["weights"], device=str(model.device))
        return model.eval()

    def zero_shot(self, causal_lm, tokenizer, threads: int | None = None) -> dict[str, float]:
        """Training-free, through lm-evaluation-harness: the label words' zero-shot accuracy on the test
        split (and its stderr), and every metric of the setup's extra harness tasks (`lm_eval.<task>.<metric>`).

        `threads`: torch threads for the harness's forwards (default: the setup's, as for training).
        """
        z, extra = self.setup.evaluation.zero_shot, self.setup.evaluation.lm_eval_tasks
        tasks = {t.task: t.include_path for t in extra}
        if z.enabled:
            task_dir, split_task = zero_shot.split_task(self.setup.data.source, self.texts["test"], self.labels["test"],
                                                        self.label_words())
            tasks[split_task] = str(task_dir)
        if not tasks:
            return {}
        torch.set_num_threads(threads or self.threads())
        rows = zero_shot.evaluate(causal_lm, tokenizer, tasks, z.batch_size)
        out = {f"lm_eval.{t.task}.{metric}": value for t in extra for metric, value in rows[t.task].items()}
        if z.enabled:
            out["zero_shot_accuracy"] = rows[split_task]["acc"]
            out["zero_shot_accuracy_stderr"] = rows[split_task].get("acc_stderr", float("nan"))
        return out

    def label_words(self) -> list[str]:
        """The zero-shot choices, one per label id: the setup's, else the data's label names."""
        words = self.setup.evaluation.zero_shot.choices or list(self.label_names)
        if len(words) != self.num_labels:
            raise SpecError(f"{self.setup.path}: evaluation.zero_shot.choices: {len(words)} label words {words} "
                            f"for {self.num_labels} labels ({', '.join(self.label_names)})")
        return words

    def lm_loss(self, causal_lm, tokenizer) -> float:
        """Held-out LM loss on the first `evaluation.lm_loss_texts` validation reviews: structural damage."""
        return lm_loss_on_texts(causal_lm, tokenizer, self.texts["validation"][: self.setup.evaluation.lm_loss_texts])

    def shape(self, causal_lm) -> dict:
        """The contract's shape params (experts only for a MoE), from the same summary the removal records use."""
        summary = shape_summary(causal_lm)
        return {**{k: summary[v] for k, v in SHAPE_PARAMS.items() if v in summary}, "total_parameters": summary["parameters"]}

    def baseline(self) -> BaselineResult:
        """The uncompressed model under this setup (baseline.py): trained once per setup hash, then read back."""
        return self.baselines.get()

    def latencies(self, configs: list[dict], transforms: list[dict | None] | None = None) -> list[float]:
        """Median latency (ms) of a classifier of each architecture (and kernel), under the setup's protocol (latency.py)."""
        return self.timer.latencies(configs, transforms)

    # -- one variant -------------------------------------------------------------------------
    def run_variant(self, experiment: Experiment, variant: Variant) -> VariantResult:
        if experiment.stage == "post_training":  # a transform of fine-tuned classifiers: post_training_run.py
            from . import post_training_run

            return post_training_run.run(self, experiment, variant)
        s, name = self.setup, f"{experiment.name}[{variant.id}]"
        t0, started = time.perf_counter(), time.time()
        # Distillation needs the baseline before training. Otherwise this worker first builds the
        # baseline seeds no other worker holds (none, once they are all taken) and trains its
        # variant while the others finish theirs; the baseline is read back for the comparison.
        if s.training.recovery == "distill":
            base = self.baseline()
        else:
            base = None
            self.baselines.start_seeds()
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
        zero_shot_before = self.zero_shot(causal_lm, tokenizer)
        fingerprint = model_fingerprint(causal_lm, tokenizer, s.hash)
        fitted = self.fit_and_evaluate(causal_lm, tokenizer, base, name, fingerprint)
        base = base or self.baseline()
        ci = delta_ci(self.labels["test"], fitted["preds"], base.preds, s.evaluation.bootstrap,
                      s.evaluation.confidence)
        deltas = {m: fitted["metrics"][m] - base.metrics[m] for m in NAMES}
        verdict, message = judge(name, variant, fitted["metrics"], base.metrics, ci)
        params = {**self.shape(causal_lm), **fitted["cost"]}
        result = VariantResult(
            name=name, experiment=experiment.name, variant_id=variant.id, strategy=experiment.strategy,
            stage=experiment.stage, hypothesis=experiment.hypothesis, motivation=experiment.motivation,
            description=variant.description, compression=variant.compression, removed=removed,
            expect={m: e.describe() for m, e in variant.expect.items()},
            params=params, metrics=fitted["metrics"], per_seed=fitted["per_seed"], deltas=deltas,
            ci={m: DeltaInterval(**c) for m, c in ci.items()}, verdict=verdict, message=message,
            level_ci={m: Interval(**c) for m, c in level_ci(self.labels["test"], fitted["preds"], s.evaluation.bootstrap,
                                                             s.evaluation.confidence).items()},
            lm_loss_before_recovery=lm_loss, base_lm_loss=base.lm_loss_before_recovery, zero_shot=zero_shot_before,
            delta_params_pct=100.0 * (params["total_parameters"] / base.params["total_parameters"] - 1),
            config=causal_lm.config.to_dict(),
            flop_ratio=params["flops_per_token"] / base.params["flops_per_token"],
            training=fitted["training"], setup_hash=s.hash, model_fingerprint=fingerprint,
            seconds={"compress": round(t_compress, 2), "total": round(time.perf_counter() - t0, 2)},
            # where and when it ran: a benchmark lays out each worker's timeline from these
            worker={"pid": os.getpid(), "started": started, "finished": time.time()})
        del causal_lm
        gc.collect()
        result.memory = memory_mb()
        return result


def disk_bytes(model) -> dict:
    """The classifier's bytes on disk: its safetensors file and that file after zstd (storage.py)."""
    from .storage import on_disk

    size = on_disk(model)
    return {"safetensors_bytes": size["safetensors_bytes"], "zstd_bytes": size["zstd_bytes"]}


def memory_mb() -> dict:
    """This process's peak RSS so far and its RSS now (MB): flat across variants means nothing leaks."""
    import resource

    import psutil

    rss = psutil.Process().memory_info().rss / 2**20
    # the kernel's high-water mark is updated lazily: it can trail the RSS read a moment later
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rss)
    return {"peak_rss_mb": round(peak, 1), "rss_mb": round(rss, 1)}


__all__ = ["Runner"]
