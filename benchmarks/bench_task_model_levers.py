"""A paired screen of task-model levers: one run of the setup's task-model recipe, with weight averages kept beside it.

The seed spread of the task model (docs/reference.md) is as wide as the levers measured against
it one seed each, so this screen pairs them instead: it trains the recipe of `--setup` (its
`task_model:` block, `--set` keys changed) over the teacher's transfer set exactly as
`exaone-bench original` does — the same data order and head draw for a seed, so with no `--set`
it reproduces that task model's scores (`task_model.student` builds the student for both) — and reads, in the same run, the validation accuracy
every `--every` steps and the final scores of exponential moving averages (`--ema` decays) and
uniform averages of every 10th step's weights over the run's last fractions (`--swa`).
`--eos` appends the tokenizer's end-of-text token to every text (training and evaluation), so
the classifier pools the same token for each. `--teacher` changes a `training.teacher` key (the transfer set's
`copies`, say): its labels are built once and cached by hash like any teacher's, and the run is then paired by seed
only, since the data it draws from differ. Nothing else is written but the record.

    python benchmarks/bench_task_model_levers.py [--seed 0] [--model DIR] [--set weight_decay=0.1] [--teacher copies=10] [--eos]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import records
import torch
import yaml

from exaone_bench.base_models import task_model
from exaone_bench.base_models.teacher import Teacher
from exaone_bench.config.setup import load_setup
from exaone_bench.data.batches import encode
from exaone_bench.data.split import DataSpec, Split
from exaone_bench.evaluation.classification import classification_metrics
from exaone_bench.training.loop import predict, train

GOAL = "a task-model lever told apart from its recipe on one seed (paired), before three seeds are spent on it"
SWA_EVERY = 10  # steps between the weights a uniform average takes


class Averages:
    """Exponential moving averages (from the end of warm-up) and uniform tail averages of a model's float weights."""

    def __init__(self, model, decays: list[float], fractions: list[float], warmup: int, steps: int):
        self.decays, self.warmup, self.steps = decays, warmup, steps
        # state_dict's tensors share storage with the parameters the optimiser updates in place: read once, live after
        self.weights = {k: v for k, v in model.state_dict().items() if v.is_floating_point()}
        self.ema: dict[float, dict | None] = {d: None for d in decays}
        self.tail: dict[float, list] = {f: [None, 0] for f in fractions}  # [sum of weights, count]

    def step(self, step: int) -> None:
        names = list(self.weights)
        weights = [self.weights[k].float() for k in names]
        if step >= self.warmup:
            for d in self.decays:
                if self.ema[d] is None:
                    self.ema[d] = {k: v.clone() for k, v in zip(names, weights)}
                else:  # one fused call over every tensor: this runs on each of the run's steps
                    torch._foreach_lerp_(list(self.ema[d].values()), weights, 1 - d)
        for f, acc in self.tail.items():
            if step > self.steps * (1 - f) and step % SWA_EVERY == 0:
                if acc[0] is None:
                    acc[0] = {k: v.clone() for k, v in zip(names, weights)}
                else:
                    torch._foreach_add_(list(acc[0].values()), weights)
                acc[1] += 1

    def states(self) -> dict[str, dict]:
        """Each average by name, as weights to load over the model's own."""
        out = {f"ema_{d}": w for d, w in self.ema.items() if w is not None}
        out.update({f"swa_last_{f}": {k: v / n for k, v in s.items()} for f, (s, n) in self.tail.items() if n})
        return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setup", default="experiments/setup.yaml")
    p.add_argument("--seed", type=int, default=0, help="task_model.seed")
    p.add_argument("--model", default=None, help="the LM the task model starts from (default: the setup's `model:`)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a task_model key changed (YAML value)")
    p.add_argument("--teacher", action="append", default=[], metavar="KEY=VALUE",
                   help="a training.teacher key changed (YAML value)")
    p.add_argument("--eos", action="store_true", help="append the end-of-text token to every text")
    p.add_argument("--every", type=int, default=480, help="steps between validation reads of the run's own weights")
    p.add_argument("--ema", default="0.998,0.999,0.9995", help="EMA decays ('' for none)")
    p.add_argument("--swa", default="0.25,0.5", help="last fractions of the run averaged uniformly ('' for none)")
    args = p.parse_args()
    machine = records.machine()
    setup = load_setup(args.setup)
    changes = {"seed": args.seed, **{k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}}
    teacher_changes = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.teacher)}
    labels = setup.training.teacher
    setup = setup.model_copy(update={
        "model": args.model or setup.model,
        "task_model": type(setup.task_model).model_validate({**setup.task_model.model_dump(), **changes}),
        "training": setup.training.model_copy(update={"teacher": type(labels).model_validate(
            {**labels.model_dump(), **teacher_changes})})})
    spec = DataSpec.of(setup.data)
    split = Split.load(spec)
    teacher = Teacher(setup.training.teacher, split, spec.split_dir.name)
    teacher.ensure(print)
    t0 = time.perf_counter()
    student = task_model.student(setup, split, teacher, print)
    model, tokenizer, pad, training = student.model, student.tokenizer, student.pad, student.training

    def encoded(texts, labels):
        if not args.eos:
            return encode(tokenizer, texts, labels, training.max_length)
        enc = encode(tokenizer, texts, labels, training.max_length - 1)
        enc.ids = [ids + [tokenizer.eos_token_id] for ids in enc.ids]
        return enc

    data = encoded(teacher.transfer_texts(), teacher.gold()) if args.eos else student.data
    held = {n: encoded(split.texts[n], split.labels[n]) for n in ("validation", "test")}

    def scores(name: str) -> dict:
        return classification_metrics(split.labels[name], predict(model, held[name], pad, 128))

    floats = lambda text: [float(x) for x in text.split(",") if x]  # noqa: E731
    averages = Averages(model, floats(args.ema), floats(args.swa), training.warmup_steps, training.steps)
    curve = []

    def on_step(step: int, steps: int, tokens: int, seconds: float) -> None:
        averages.step(step)
        if step % args.every == 0 or step == steps:
            curve.append([step, round(scores("validation")["accuracy"], 4)])
            model.train()
            print(f"step {step}/{steps}: validation {curve[-1][1]:.4f}, {tokens / seconds:,.0f} tokens/s", flush=True)

    result = train(model, data, training, setup.task_model.seed, pad, teacher.logits(), dtype=student.dtype,
                   on_step=on_step, aux=student.aux)
    rows = {"run": {n: scores(n) for n in held}}
    own = {k: v.clone() for k, v in model.state_dict().items()}
    for name, weights in averages.states().items():
        model.load_state_dict({**own, **weights})
        rows[name] = {n: scores(n) for n in held}
    for name, row in rows.items():
        print(f"{name:16s} validation {row['validation']['accuracy']:.4f}  test {row['test']['accuracy']:.4f} / "
              f"{row['test']['precision']:.4f}")
    figures = {"seed": args.seed, "changes": {k: v for k, v in changes.items() if k != "seed"}, "eos": args.eos,
               **({"teacher_changes": teacher_changes} if teacher_changes else {}),
               "transfer_texts": len(teacher.transfer_texts()),
               "validation_curve": curve, "final_loss": round(float(np.mean(result.losses[-50:])), 4),
               "tokens_per_s": round(result.tokens_per_second), "seconds": round(time.perf_counter() - t0, 1),
               "validation": round(rows["run"]["validation"]["accuracy"], 4),
               "test_accuracy": round(rows["run"]["test"]["accuracy"], 4),
               "test_precision": round(rows["run"]["test"]["precision"], 4),
               "averages": {k: {"validation": round(r["validation"]["accuracy"], 4),
                                "test_accuracy": round(r["test"]["accuracy"], 4),
                                "test_precision": round(r["test"]["precision"], 4)} for k, r in rows.items() if k != "run"}}
    modes = (f"--setup {args.setup}" if args.setup != "experiments/setup.yaml" else "",
             f"--model {args.model}" if args.model else "",
             f"--seed {args.seed}" if args.seed else "", *(f"--set {s}" for s in args.set),
             *(f"--teacher {s}" for s in args.teacher), "--eos" if args.eos else "")
    records.append(records.name("bench_task_model_levers", *modes), figures, GOAL, machine_before=machine,
                   headline=["validation", "test_accuracy", "test_precision"])


if __name__ == "__main__":
    main()
