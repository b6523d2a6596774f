"""The training-free measures every row gets, bound to one setup and its split: shape, LM loss, zero-shot.

The baseline, a structural variant, a post-training row and a comparison model are all measured
by these same functions, so their columns mean the same thing.
"""
from __future__ import annotations

import torch

from exaone_bench.compression.surgery import shape_summary
from exaone_bench.config.setup import Setup
from exaone_bench.core.validate import SpecError
from exaone_bench.data.batches import encode
from exaone_bench.data.split import Split
from exaone_bench.evaluation import zero_shot
from exaone_bench.evaluation.classification import classification_metrics
from exaone_bench.evaluation.intervals import level_ci
from exaone_bench.evaluation.lm_loss import lm_loss_on_texts
from exaone_bench.evidence.records import Interval
from exaone_bench.models.classifier import classifier_from
from exaone_bench.training.loop import predict

SHAPE_PARAMS = {"number_of_layers": "num_hidden_layers", "number_of_heads": "num_attention_heads",
                "number_of_kv_heads": "num_key_value_heads", "hidden_dim": "hidden_size",
                "intermediate_size": "intermediate_size", "vocab_size": "vocab_size",
                "number_of_experts": "num_experts"}  # a MoE's routed experts per sparse layer


def torch_threads(setup: Setup) -> int:
    """The torch threads a model of this setup trains and is measured with (0 in the setup: torch's default)."""
    return setup.training.threads or torch.get_num_threads()


def shape(causal_lm) -> dict:
    """The contract's shape params (experts only for a MoE), from the same summary the removal records use."""
    summary = shape_summary(causal_lm)
    return {**{k: summary[v] for k, v in SHAPE_PARAMS.items() if v in summary}, "total_parameters": summary["parameters"]}


class Measures:
    """LM loss, zero-shot accuracy and metric intervals under `setup`, on `split`'s held-out texts."""

    def __init__(self, setup: Setup, split: Split):
        self.setup, self.split = setup, split
        if setup.evaluation.zero_shot.enabled:
            self.label_words()  # a wrong count of label words fails before anything trains

    def level_intervals(self, preds) -> dict[str, Interval]:
        """Each metric's bootstrap CI on the test split, from every seed's predictions (seeds x items)."""
        e = self.setup.evaluation
        return Interval.each(level_ci(self.split.labels["test"], preds, e.bootstrap, e.confidence))

    def before_recovery(self, causal_lm, tokenizer, head, split: str = "test") -> dict | None:
        """The task model's classifier on the cut backbone, before any recovery: metrics and predictions on `split`
        (the test split the run decides on; `exaone-bench cuts` reads validation, for motivations).

        One forward pass, no training, deterministic. None without a task head (`original: pretrained`).
        """
        if head is None:
            return None
        torch.set_num_threads(torch_threads(self.setup))
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        model = classifier_from(causal_lm, self.split.num_labels, 0, pad, head)
        labels = self.split.labels[split]
        data = encode(tokenizer, self.split.texts[split], labels, self.setup.training.max_length)
        logits = predict(model, data, pad, self.setup.evaluation.batch_size, self.setup.dtype)
        return {"metrics": classification_metrics(labels, logits), "preds": logits.argmax(1)[None]}

    def label_words(self) -> list[str]:
        """The zero-shot choices, one per label id: the setup's, else the data's label names."""
        try:
            return self.setup.evaluation.zero_shot.words_for(self.split.label_names)
        except ValueError as e:
            raise SpecError(f"{self.setup.path}: evaluation.zero_shot.choices: {e}") from e

    def lm_loss(self, causal_lm, tokenizer, texts: int | None = None) -> float:
        """Held-out LM loss on the first `texts` (default `evaluation.lm_loss_texts`) validation reviews: structural
        damage."""
        texts = texts or self.setup.evaluation.lm_loss_texts
        return lm_loss_on_texts(causal_lm, tokenizer, self.split.texts["validation"][:texts])

    def zero_shot_of_variant(self, causal_lm, tokenizer) -> dict[str, float]:
        """`zero_shot` of a variant right after its cut; empty when `evaluation.zero_shot.variants` is off."""
        return self.zero_shot(causal_lm, tokenizer) if self.setup.evaluation.zero_shot.variants else {}

    def zero_shot(self, causal_lm, tokenizer, threads: int | None = None) -> dict[str, float]:
        """Training-free, through lm-evaluation-harness: the label words' zero-shot accuracy on the test
        split (and its stderr), and every metric of the setup's extra harness tasks (`lm_eval.<task>.<metric>`).

        `threads`: torch threads for the harness's forwards (default: the setup's, as for training).
        """
        z, extra = self.setup.evaluation.zero_shot, self.setup.evaluation.lm_eval_tasks
        tasks = {t.task: t.include_path for t in extra}
        if z.enabled:
            task_dir, split_task = zero_shot.split_task(self.setup.data.source, self.split.texts["test"],
                                                        self.split.labels["test"], self.label_words())
            tasks[split_task] = str(task_dir)
        if not tasks:
            return {}
        torch.set_num_threads(threads or torch_threads(self.setup))
        rows = zero_shot.evaluate(causal_lm, tokenizer, tasks, z.batch_size)
        out = {f"lm_eval.{t.task}.{metric}": value for t in extra for metric, value in rows[t.task].items()}
        if z.enabled:
            out["zero_shot_accuracy"] = rows[split_task]["acc"]
            out["zero_shot_accuracy_stderr"] = rows[split_task].get("acc_stderr", float("nan"))
        return out
