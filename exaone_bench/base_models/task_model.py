"""The task model: the setup's LM trained once, long, on the training split with a real teacher's soft labels.

With `original: task` every variant is cut from this model, not from the LM: a small LM learns
nothing from a teacher inside a few hundred steps, so the knowledge is trained in once (gold labels
plus KL to the teacher over the transfer set, `task_model:` steps) and every variant then
measures what a cut removes from a model that knows the task. The directory holds the causal LM
(`from_pretrained` loads it like any base model: the cuts, LM loss and zero-shot work unchanged),
its tokenizer, and the classifier's head (`head.safetensors`), with run_meta.json saying how and
where it was trained. Cached by the hash of everything that made it; shipped for the default setup.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from exaone_bench.base_models.embeddings import contextual, mapped, mapped_with_glove
from exaone_bench.base_models.load import cached_config, load_model
from exaone_bench.base_models.teacher import SHIPPED, Teacher
from exaone_bench.config.setup import Setup, TrainingSetup
from exaone_bench.core.cache import atomic_dir, located, shipped_or_built, stable_hash, write_checksums
from exaone_bench.core.machine import bf16_units, ran_on
from exaone_bench.core.paths import data_dir
from exaone_bench.core.validate import SpecError
from exaone_bench.data.batches import Encoded, encode
from exaone_bench.data.split import Split
from exaone_bench.evaluation.classification import classification_metrics
from exaone_bench.models.classifier import classifier_from
from exaone_bench.training.feature_match import FeatureMatch, targets
from exaone_bench.training.loop import predict, train

HEAD = "head.safetensors"


def check_embedding_layer(setup: Setup, teacher_config=None) -> None:
    """`task_model.embedding_layer` must name one of the teacher's layers (its count: the final norm's input); checked
    before anything is built when the teacher's config is on disk (`teacher_config`: the loaded teacher's)."""
    teacher, task = setup.training.teacher, setup.task_model
    if not setup.reads_teacher_layer:
        return
    config = teacher_config or cached_config(teacher.source)
    if config is not None and task.embedding_layer > config.num_hidden_layers:
        raise SpecError(f"{setup.path or 'setup'}: task_model.embedding_layer: {task.embedding_layer}, but the teacher "
                        f"{teacher.source} has {config.num_hidden_layers} layers (0 to {config.num_hidden_layers})")


def base_identity(source: str) -> str:
    """What names the base model without loading it: a built-in's recipe hash, a local directory's
    config and weight checksums, or the hub id (a fresh clone need not build the base to find a shipped task model)."""
    from exaone_bench.base_models.exaone_tiny.recipe import DEFAULT
    from exaone_bench.base_models.load import resolve
    from exaone_bench.core.cache import sha256_file

    if source == DEFAULT.name:
        return f"{DEFAULT.name}:{DEFAULT.hash}"
    src = resolve(source, build=False)
    files = sorted(Path(src.location).glob("*.safetensors")) + [Path(src.location) / "config.json"]
    found = [f for f in files if f.is_file()]
    return stable_hash([sha256_file(f) for f in found]) if found else source


def key(setup: Setup, split_name: str, teacher_key: str, base_sha: str) -> str:
    """What the task model depends on: the base weights, the split, the teacher's labels and the schedule."""
    return stable_hash({"base": base_sha, "split": split_name, "teacher": teacher_key,
                        "task_model": setup.task_model.keyed(),
                        "max_length": setup.training.max_length, "version": 1})


def schedule(setup: Setup) -> TrainingSetup:
    """The task model's training block: the setup's loop with the task model's steps, lr and distillation."""
    t = setup.task_model
    return TrainingSetup(steps=t.steps, batch_size=t.batch_size, lr=t.lr, warmup_steps=t.warmup_steps,
                         weight_decay=t.weight_decay, max_length=setup.training.max_length, seeds=1,
                         recovery="distill", distill_alpha=t.distill_alpha, distill_temperature=t.distill_temperature,
                         threads=t.threads, length_bucket=setup.training.length_bucket)


@dataclass
class Student:
    """Everything a task model's training run starts from: the LM, its classifier and the encoded transfer set."""

    source: str            # the base model's name (load.resolve)
    causal_lm: object
    model: object          # the classifier on the LM's backbone (models/classifier.py), trained in place
    tokenizer: object
    pad: int
    data: Encoded          # the teacher's transfer texts with their gold labels
    training: TrainingSetup
    dtype: str             # the training's autocast dtype
    aux: FeatureMatch | None


def student(setup: Setup, split: Split, teacher: Teacher, say: Callable[[str], None] = print) -> Student:
    """The setup's LM made ready to train into the task model: teacher embeddings, frozen table and feature term as
    the `task_model:` block says (shared by `build` and the lever screen, benchmarks/bench_task_model_levers.py)."""
    causal_lm, tokenizer, src = load_model(setup.model, trust_remote_code=setup.trust_remote_code)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    training = schedule(setup)
    torch.set_num_threads(training.threads or torch.get_num_threads())
    bf16 = bf16_units() if setup.task_model.dtype == "auto" else setup.task_model.dtype == "bfloat16"
    if setup.task_model.embeddings != "pretrained":  # the teacher's knowledge of words as the student's input embeddings
        _teacher_embeddings(setup, causal_lm, tokenizer, split, bf16, say)
    model = classifier_from(causal_lm, split.num_labels, setup.task_model.seed, pad)
    if setup.task_model.freeze_embeddings:  # the optimiser (training.optim.decay_groups) skips a frozen table
        model.get_input_embeddings().weight.requires_grad_(False)
    if setup.task_model.dropout:  # on the classifier only: the LM whose config is saved keeps its own rate
        for module in model.modules():
            if hasattr(module, "attention_dropout"):
                module.attention_dropout = setup.task_model.dropout
    data = encode(tokenizer, teacher.transfer_texts(), teacher.gold(), training.max_length)
    aux = None
    if setup.task_model.features > 0:  # feature distillation: the pooled state regressed on the teacher's features
        aux = FeatureMatch(targets(teacher.features(say), setup.task_model.feature_dims), causal_lm.config.hidden_size,
                           setup.task_model.features, pad)
    return Student(src.name, causal_lm, model, tokenizer, pad, data, training, "bfloat16" if bf16 else "float32", aux)


def build(setup: Setup, split: Split, teacher: Teacher, out: Path, say: Callable[[str], None] = print) -> Path:
    """Train the task model from the setup's LM over the teacher's transfer set; write it to `out`."""
    t0 = time.perf_counter()
    s = student(setup, split, teacher, say)
    causal_lm, model, tokenizer, pad, training = s.causal_lm, s.model, s.tokenizer, s.pad, s.training

    def on_step(step: int, steps: int, tokens: int, seconds: float) -> None:
        if step % 200 == 0 or step == steps:
            say(f"task model: step {step}/{steps}, {tokens / seconds:,.0f} tokens/s, "
                f"ETA {(steps - step) * seconds / step:,.0f} s")

    result = train(model, s.data, training, setup.task_model.seed, pad, teacher.logits(), dtype=s.dtype, on_step=on_step,
                   aux=s.aux)
    scores = {}
    for name in ("validation", "test"):
        enc = encode(tokenizer, split.texts[name], split.labels[name], training.max_length)
        scores[name] = classification_metrics(split.labels[name], predict(model, enc, pad, 128))  # fp32, as the suite reads it
    getattr(causal_lm, causal_lm.base_model_prefix).load_state_dict(getattr(model, model.base_model_prefix).state_dict())
    meta = {"base": s.source, "task_model": setup.task_model.model_dump(), "teacher": teacher.dir.name,
            "transfer_texts": len(s.data.ids), "steps": training.steps, "dtype": s.dtype,
            "final_loss": round(float(np.mean(result.losses[-50:])), 4), "tokens_per_second": round(result.tokens_per_second),
            "validation": scores["validation"], "test": scores["test"], "seconds": round(time.perf_counter() - t0, 1),
            "ran_on": ran_on(torch.get_num_threads())}
    with atomic_dir(out) as tmp:
        causal_lm.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        from safetensors.torch import save_file

        save_file({"weight": model.score.weight.detach().contiguous()}, str(tmp / HEAD))
        (tmp / "run_meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        write_checksums(tmp, sorted(p.name for p in tmp.iterdir() if p.is_file()))
    return out


def _teacher_embeddings(setup: Setup, causal_lm, tokenizer, split: Split, bf16: bool, say: Callable[[str], None]) -> None:
    """Replace the student's input embedding rows with the teacher's (base_models/embeddings.py), in place."""
    teacher_lm, teacher_tokenizer, _ = load_model(setup.training.teacher.source)
    table = causal_lm.get_input_embeddings().weight
    if setup.task_model.embeddings == "teacher":
        table.data = mapped(tokenizer, table.data, teacher_tokenizer, teacher_lm.get_input_embeddings().weight.data)
        return
    if setup.task_model.embeddings == "teacher_glove":
        say("teacher embeddings: the teacher's input rows beside GloVe's word vectors of the training texts")
        table.data = mapped_with_glove(tokenizer, table.data, teacher_tokenizer,
                                       teacher_lm.get_input_embeddings().weight.data, split.texts["train"])
        return
    layer = setup.task_model.embedding_layer
    check_embedding_layer(setup, teacher_lm.config)

    def report(k: int, n: int) -> None:
        if k == n or k % 2560 == 0:
            say(f"teacher embeddings: {k:,}/{n:,} training texts read at layer {layer}")

    table.data = contextual(tokenizer, table.data, teacher_lm, teacher_tokenizer, split.texts["train"], layer,
                            bf16=bf16, on_batch=report)


def read_head(directory: Path) -> torch.Tensor:
    """The task model's classifier head (num_labels, hidden)."""
    from safetensors.torch import load_file

    return load_file(str(Path(directory) / HEAD))["weight"]


class TaskModel:
    """The original of a setup with `original: task`: verified when shipped, else built once here and cached."""

    def __init__(self, setup: Setup, split: Split, split_name: str, local: bool = False):
        # local: this machine's cache even where the task model (and its teacher's labels) are shipped: a rebuild
        self.setup, self.split = setup, split
        self.teacher = Teacher(setup.training.teacher, split, split_name, local)
        name = f"task-{key(setup, split_name, self.teacher.dir.name, base_identity(setup.model))}"
        self.dir = located(SHIPPED, data_dir() / "models", name, local)

    def ensure(self, say: Callable[[str], None] = print, rebuild: bool = False) -> Path:
        """The task model's directory, checked against its checksums; built when absent or asked to (never over a
        shipped one). Its teacher's labels are made ready first (not rebuilt here)."""
        def make() -> None:
            self.teacher.ensure(say)
            build(self.setup, self.split, self.teacher, self.dir, say)

        return shipped_or_built(self.dir, self.dir.parent == SHIPPED, make, rebuild)

    def meta(self) -> dict:
        return json.loads((self.ensure() / "run_meta.json").read_text())
