"""The report's layer-removal section: LM loss before recovery against layers removed, per rule, and the drop_layers
variants' accuracy after recovery beside it.

The curve comes from the session's LayerCurveResult (evaluation/layer_curve.py); the accuracies from
the drop_layers variants of the same run. The section says, for every k >= 2, whether the order the
literature reports (block influence < random < last k in LM loss) holds, and where it does not.
"""
from __future__ import annotations

from pathlib import Path
from statistics import mean, pstdev

from tabulate import tabulate

from exaone_bench.report.beside import single_factor

CHART = "layer_removal_curve.png"
WORDS = {"block_influence": "lowest block influence", "random": "random", "last": "the last k"}  # evaluation.layer_curve.RULES


def by_rule(curve) -> dict[int, dict[str, list[float]]]:
    """k -> rule -> the losses measured (one per random draw)."""
    out: dict[int, dict[str, list[float]]] = {}
    for p in curve.points:
        out.setdefault(p["k"], {}).setdefault(p["rule"], []).append(p["loss"])
    return dict(sorted(out.items()))


def in_order(losses: dict[str, list[float]]) -> bool:
    """At one k: block influence < the random draws' mean < last k."""
    m = {rule: mean(v) for rule, v in losses.items()}
    return m["block_influence"] < m["random"] < m["last"]


def ordering(curve) -> tuple[list[int], list[int]]:
    """(the k >= 2 where block influence < random mean < last k holds, those where it does not)."""
    at = {k: in_order(losses) for k, losses in by_rule(curve).items() if k >= 2}
    return [k for k, ok in at.items() if ok], [k for k, ok in at.items() if not ok]


def dropped_layer_rows(doc: dict) -> list:
    """The run's single-factor drop_layers variants: (k, rule in words, variant)."""
    rows = []
    for r in single_factor(doc["variants"]).get("drop_layers", []):
        spec = r.compression["drop_layers"]
        rule = spec["by"].replace("_", " ") if isinstance(spec, dict) else f"listed ({r.variant_id})"  # one series each
        rows.append((len(r.removed[0]["removed"]["layers"]), rule, r))
    return sorted(rows, key=lambda x: (x[0], x[1]))


def section(doc: dict) -> list[str]:
    """The markdown lines of the section (none when the run measured no curve)."""
    curve = doc.get("layer_curve")
    if curve is None:
        return []
    curves = by_rule(curve)
    draws = max(len(v["random"]) for v in curves.values())
    rows = [[k, f"{mean(losses['block_influence']):.2f}", f"{mean(losses['random']):.2f} ± {pstdev(losses['random']):.2f}",
             f"{mean(losses['last']):.2f}", "yes" if in_order(losses) else "no"] for k, losses in curves.items()]
    holds, fails = ordering(curve)
    lines = ["## Layer-removal curve", "",
             f"Held-out LM loss (nats/token, the first {curve.texts} validation texts) of the uncut model with k layers "
             f"removed, before any recovery; {curve.base_loss:.2f} with none removed. Three rules choose the layers: "
             f"the k of lowest block influence on the calibration sample, k at random ({draws} seeded draws: mean ± "
             "sd), and the last k.", "",
             tabulate(rows, headers=["k", "by block influence", "random", "last k",
                                     "influence < random < last"], tablefmt="github", disable_numparse=True), ""]
    if holds and not fails:
        lines += [f"The order block influence < random < last k holds at every k >= 2 measured ({_ks(holds)}).", ""]
    elif fails:
        lines += [f"The order block influence < random < last k holds at k = {_ks(holds) or 'none'} and **does not** "
                  f"at k = {_ks(fails)}.", ""]
    variants = dropped_layer_rows(doc)
    if variants:
        base = doc["baseline"]
        lines += ["The drop_layers variants of this run, after the recovery (accuracy: mean ± sd over seeds):", "",
                  tabulate([[k, rule, f"`{r.name}`", f"{r.lm_loss_before_recovery:.2f}",
                             f"{r.metrics['accuracy']:.3f} ± {r.metrics.get('accuracy_sd', 0):.3f}",
                             f"{r.deltas['accuracy']:+.3f}"] for k, rule, r in variants]
                           + [[0, "", "baseline", f"{base.lm_loss_before_recovery:.2f}",
                               f"{base.metrics['accuracy']:.3f} ± {base.metrics.get('accuracy_sd', 0):.3f}", ""]],
                           headers=["k", "chosen", "variant", "LM loss before recovery", "accuracy after recovery",
                                    "Δ accuracy"], tablefmt="github", disable_numparse=True), ""]
    return lines + [f"![{CHART}]({CHART})", ""]


def _ks(ks: list[int]) -> str:
    return ", ".join(map(str, ks))


def chart(doc: dict, out: Path) -> str | None:
    """LM loss against k per rule (random: mean with its sd) and, beside it, the variants' accuracy after recovery."""
    curve = doc.get("layer_curve")
    if curve is None:
        return None
    import matplotlib.pyplot as plt

    curves = by_rule(curve)
    variants = dropped_layer_rows(doc)
    fig, axes = plt.subplots(1, 2 if variants else 1, figsize=(11 if variants else 6, 4.2), squeeze=False)
    ax = axes[0][0]
    for rule, style in zip(WORDS, ("g-o", "b-s", "r-^")):
        ks = [k for k in curves if rule in curves[k]]
        ys = [mean(curves[k][rule]) for k in ks]
        ax.plot([0, *ks], [curve.base_loss, *ys], style, ms=4, label=WORDS[rule])
        if rule == "random":
            sd = [pstdev(curves[k][rule]) for k in ks]
            ax.fill_between(ks, [y - s for y, s in zip(ys, sd)], [y + s for y, s in zip(ys, sd)], color="b", alpha=0.15)
    ax.set(xlabel="layers removed (k)", ylabel="held-out LM loss, nats/token", title="LM loss before recovery")
    ax.legend(fontsize=8)
    if variants:
        ax = axes[0][1]
        base = doc["baseline"]
        for rule in sorted({rule for _, rule, _ in variants}):
            pts = [(k, r.metrics["accuracy"], r.metrics.get("accuracy_sd", 0)) for k, ru, r in variants if ru == rule]
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], fmt="o", capsize=3,
                        label=rule)
        ax.axhline(base.metrics["accuracy"], color="k", ls="--", lw=1, label="baseline")
        ax.axhline(base.floors["tfidf_logreg"]["accuracy"], color="gray", ls=":", label="TF-IDF + LR floor")
        ax.set(xlabel="layers removed (k)", ylabel="test accuracy after recovery", title="accuracy after recovery")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / CHART, dpi=110)
    plt.close(fig)
    return CHART
