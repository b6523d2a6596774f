"""Zero-shot evaluation time through lm-evaluation-harness on the full test split, per model and label words.

Prints, for exaone-tiny (and SmolLM2-135M with --smollm2), at 1 and at 2 torch threads: the wall
time of `Runner.zero_shot` on every test review (the harness call the suite makes for each
variant before recovery), the requests the harness ran, and the accuracy. Two label-word pairs:
the default setup's (one token each in exaone-tiny's vocabulary, so the harness reuses one
forward per review for both words) and `positive` / `negative` (several tokens: a forward per
word).

    python benchmarks/bench_zero_shot.py [--smollm2]
"""
from __future__ import annotations

import argparse
import time

import records

from exaone_bench.base_models.load import load_model
from exaone_bench.config.setup import load_setup
from exaone_bench.pipeline.runner import Runner

GOAL = "<= 15 s for one exaone-tiny variant on the 1,276-review test split on the 2-core machine"
PAIRS = {"setup": None, "multi_token": ["positive", "negative"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smollm2", action="store_true", help="also SmolLM2-135M (minutes per pass on 2 cores)")
    args = parser.parse_args()
    setup = load_setup(records.ROOT / "experiments" / "setup.yaml")
    runner = Runner(setup)
    figures = {"test_reviews": len(runner.split.texts["test"]), "setup_choices": "/".join(runner.measures.label_words())}
    for source in ["exaone-tiny"] + (["smollm2-135m"] if args.smollm2 else []):
        model, tokenizer, _ = load_model(source)
        key = source.replace("-", "_")
        figures[f"{key}_parameters"] = sum(p.numel() for p in model.parameters())
        if source == "exaone-tiny":
            runner.measures.zero_shot(model, tokenizer, 2)  # imports lm_eval once per process: not a variant's cost
        for pair, words in PAIRS.items():
            setup.evaluation.zero_shot.choices = words or load_setup(setup.path).evaluation.zero_shot.choices
            # SmolLM2: 2 threads only, each pass costs minutes
            for threads in (1, 2) if source == "exaone-tiny" else (2,):
                t = time.perf_counter()
                row = runner.measures.zero_shot(model, tokenizer, threads)
                wall = time.perf_counter() - t
                figures[f"{key}_{pair}_{threads}thread_s"] = round(wall, 2)
                figures[f"{key}_{pair}_accuracy"] = round(row["zero_shot_accuracy"], 4)
                print(f"{source:<14} {pair:<12} {'/'.join(runner.measures.label_words()):<20} {threads} thread(s): "
                      f"{wall:6.1f} s  accuracy {row['zero_shot_accuracy']:.4f}", flush=True)
        del model
    records.append(records.name("bench_zero_shot", "--smollm2" if args.smollm2 else ""), figures, GOAL,
                   headline=["exaone_tiny_setup_2thread_s", "exaone_tiny_setup_1thread_s", "exaone_tiny_setup_accuracy"])

if __name__ == "__main__":
    main()
