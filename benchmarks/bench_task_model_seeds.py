"""Whether the task model's seeds err on the same reviews: each seed's scores, their agreement, ensemble and soup.

Three seeds of the task-model recipe score within a couple of points of each other (docs/reference.md).
If they erred on different reviews, averaging them would lift accuracy and a lever that lowers the
variance of one run (longer schedules, weight averages, more seeds) would be worth pursuing; if they
err on the same reviews, the plateau is the recipe's, not the draw's. This screen reads the task
models of `--seeds` (`task_model.seed` changed, nothing else; one missing here is built as
`exaone-bench original` builds it) and records, on validation and test: each seed's accuracy, how
often each pair of seeds predicts the same label, the share of reviews every seed gets wrong, the
accuracy of their averaged probabilities (an ensemble of N models) and of their averaged weights
(a uniform soup, Wortsman et al. 2022: one model; the seeds share the LM they start from). Nothing
is written but the record.

    python benchmarks/bench_task_model_seeds.py [--setup experiments/setup.yaml] [--seeds 0,1,2]
"""
from __future__ import annotations

import argparse
import copy
import itertools
import time

import numpy as np
import records
import torch

from exaone_bench.base_models.load import load_model
from exaone_bench.base_models.task_model import TaskModel, read_head
from exaone_bench.config.setup import load_setup
from exaone_bench.data.batches import encode
from exaone_bench.data.split import DataSpec, Split
from exaone_bench.evaluation.classification import classification_metrics
from exaone_bench.models.classifier import classifier_from
from exaone_bench.training.loop import predict

GOAL = "tell a task model's seed noise from its recipe's plateau by whether its seeds err on the same reviews"


def soup(models: list) -> dict:
    """The uniform average of the models' float weights (integer buffers taken from the first)."""
    states = [m.state_dict() for m in models]
    return {k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v
            for k, v in states[0].items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setup", default="experiments/setup.yaml")
    p.add_argument("--seeds", default="0,1,2", help="task_model.seed values, comma-separated")
    args = p.parse_args()
    machine = records.machine()
    setup = load_setup(args.setup)
    spec = DataSpec.of(setup.data)
    split = Split.load(spec)
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    models, tokenizer, pad = [], None, None
    for seed in seeds:
        tm_setup = setup.model_copy(update={"task_model": setup.task_model.model_copy(update={"seed": seed})})
        directory = TaskModel(tm_setup, split, spec.split_dir.name).ensure(print)
        causal_lm, tokenizer, _ = load_model(str(directory))
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        models.append(classifier_from(causal_lm, split.num_labels, seed, pad, read_head(directory)).eval())
        print(f"seed {seed}: {directory}", flush=True)
    figures: dict = {"seeds": seeds}
    held = {n: encode(tokenizer, split.texts[n], split.labels[n], setup.training.max_length) for n in ("validation", "test")}
    souped = copy.deepcopy(models[0])
    souped.load_state_dict(soup(models))
    for name, data in held.items():
        gold = np.asarray(split.labels[name])
        logits = [predict(m, data, pad, setup.evaluation.batch_size) for m in models]
        labels = [lg.argmax(-1) for lg in logits]
        probs = np.mean([torch.from_numpy(lg).softmax(-1).numpy() for lg in logits], 0)
        figures[name] = {
            "accuracy": [round(float((y == gold).mean()), 4) for y in labels],
            "agreement": {f"{a}-{b}": round(float((labels[i] == labels[j]).mean()), 4)
                          for (i, a), (j, b) in itertools.combinations(enumerate(seeds), 2)},
            "all_wrong": round(float(np.all(np.stack(labels) != gold, axis=0).mean()), 4),
            "ensemble": round(classification_metrics(gold, probs)["accuracy"], 4),
            "soup": round(classification_metrics(gold, predict(souped, data, pad, setup.evaluation.batch_size))["accuracy"], 4),
        }
        print(f"{name}: {figures[name]}", flush=True)
    figures["seconds"] = round(time.perf_counter() - t0, 1)
    figures["test_ensemble"], figures["test_soup"] = figures["test"]["ensemble"], figures["test"]["soup"]
    figures["test_best_seed"] = max(figures["test"]["accuracy"])
    modes = (f"--setup {args.setup}" if args.setup != "experiments/setup.yaml" else "",
             f"--seeds {args.seeds}" if args.seeds != "0,1,2" else "")
    records.append(records.name("bench_task_model_seeds", *modes), figures, GOAL, machine_before=machine,
                   headline=["test_best_seed", "test_ensemble", "test_soup"])


if __name__ == "__main__":
    main()
