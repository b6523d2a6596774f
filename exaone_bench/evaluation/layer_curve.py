"""The layer-removal curve: held-out LM loss of a causal LM with k of its layers removed, for each k and each rule.

The plot users know from ShortGPT (Men et al. 2024) and Gromov et al. (2024): which layers can go
before any recovery. Three rules choose the k layers: the k of lowest block influence (the layers
that change their input least on the calibration sample), k layers drawn at random (several draws,
seeded), and the last k. Forward passes only, on the uncut LM's copies: deterministic on one machine.
"""
from __future__ import annotations

import copy
import random
from typing import Callable

from exaone_bench.compression.registry import apply

RULES = ("block_influence", "random", "last")


def layers_for(rule: str, k: int, influence: list[float], rng: random.Random) -> list[int]:
    """The k layers `rule` removes from a model of len(influence) layers."""
    n = len(influence)
    if rule == "block_influence":
        return sorted(sorted(range(n), key=influence.__getitem__)[:k])
    if rule == "last":
        return list(range(n - k, n))
    if rule == "random":
        return sorted(rng.sample(range(n), k))
    raise ValueError(f"unknown rule {rule!r}; one of {RULES}")


def measure(causal_lm, loss: Callable, influence: list[float], counts: list[int], draws: int, seed: int = 0,
            say: Callable[[str], None] = lambda text: None) -> dict:
    """Every point of the curve: {base_loss, points: [{rule, k, draw, layers, loss}]}.

    `loss(model)`: the held-out LM loss of a model (the suite's LM loss before recovery); `influence`:
    block influence per layer of `causal_lm`. A count that would leave no layer is skipped.
    """
    n = len(influence)
    rng = random.Random(seed)
    points = []
    for k in (k for k in counts if k < n):
        for rule in RULES:
            for draw in range(draws if rule == "random" else 1):
                layers = layers_for(rule, k, influence, rng)
                cut = copy.deepcopy(causal_lm)
                apply(cut, {"drop_layers": layers}, where="evaluation.layer_curve")
                points.append({"rule": rule, "k": k, "draw": draw, "layers": layers, "loss": round(loss(cut), 4)})
                del cut
        done = ", ".join(f"{p['rule']} {p['loss']:.2f}" for p in points if p["k"] == k)
        say(f"layer curve: k = {k} done ({done})")
    return {"base_loss": round(loss(causal_lm), 4), "points": points}
