"""The report's charts: accuracy against size and cost, and the scores that chose each cut."""
from __future__ import annotations

from pathlib import Path

from exaone_bench.compression.registry import STRATEGIES
from exaone_bench.evidence.records import VariantResult
from exaone_bench.report import bytes_frontier, layer_curve, specialisation


def _annotate(ax, pts: list[tuple[float, float, str]]) -> None:
    """Label each point; variants at the same point (e.g. the same layers removed) share one label."""
    at: dict[tuple[float, float], list[str]] = {}
    for x, y, name in pts:
        at.setdefault((x, y), []).append(name)
    for (x, y), names in at.items():
        ax.annotate(" = ".join(names), (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")


def _plots(doc: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base, variants = doc["baseline"], doc["variants"]
    names: list[str] = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        names.append(name)

    pts = [(r.params["total_parameters"], r.metrics["accuracy"], r.name) for r in variants]
    pts.append((base.params["total_parameters"], base.metrics["accuracy"], "baseline"))
    front, best = [], -1.0
    for p in sorted(pts, key=lambda p: (p[0], -p[1])):  # Pareto: no smaller model is more accurate
        if p[1] > best:
            front.append(p)
            best = p[1]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], c="tab:blue", s=18)
    ax.plot([p[0] for p in front], [p[1] for p in front], "r--o", ms=5, label="Pareto front")
    _annotate(ax, pts)
    ax.axhline(base.floors["tfidf_logreg"]["accuracy"], color="gray", ls=":", label="TF-IDF + LR floor")
    ax.set(xlabel="total parameters", ylabel="test accuracy (mean over seeds)", title="accuracy vs parameters")
    ax.legend(fontsize=7)
    save(fig, "accuracy_vs_parameters.png")

    fig, ax = plt.subplots(figsize=(7, 4.5))
    pts = [(r.params["inference_latency_ms"], r.metrics["accuracy"], r.name) for r in variants]
    ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, c="tab:blue")
    _annotate(ax, pts)
    ax.scatter(base.params["inference_latency_ms"], base.metrics["accuracy"], c="k", marker="*", s=80, label="baseline")
    ax.set(xlabel="inference latency ms (median, batch 1)", ylabel="test accuracy", title="accuracy vs latency")
    ax.legend(fontsize=7)
    save(fig, "accuracy_vs_latency.png")

    chart = unit_scores(variants)
    if chart is not None:
        strategy, score_name, scores, removers = chart
        noun = STRATEGIES[strategy].REMOVED[1]
        fig, ax = plt.subplots(figsize=(7, 3.6))
        ax.bar(range(len(scores)), scores, color="tab:gray", label=score_name)
        for i, (variant_id, gone) in enumerate(removers):
            ax.scatter(gone, [max(scores) * (1.05 + 0.07 * i)] * len(gone), marker="v", s=30, label=f"removed by {variant_id}")
        ax.set(xlabel=noun, ylabel=score_name, title=f"{strategy}: per-unit score and the {noun} removed")
        ax.set_xticks(range(len(scores)))
        ax.legend(fontsize=7)
        save(fig, "importance_vs_removed.png")
    for extra in (specialisation.chart(doc, out), bytes_frontier.chart(doc, out), layer_curve.chart(doc, out)):
        if extra:
            names.append(extra)
    return names


MAX_CHART_UNITS = 64  # a bar per unit stays readable up to about this many


def _units(rec: dict) -> tuple[str, list, int]:
    """(the removed key a record's scores rank, its removed units, how many units a score has one value for).

    Per-layer records (a list of units per layer) are scored per layer: one row of values per layer.
    """
    key = STRATEGIES[rec["strategy"]].REMOVED[0]
    gone = rec["removed"][key]
    per_layer = bool(gone) and isinstance(gone[0], list)
    return key, gone, len(gone) if per_layer else len(gone) + len(rec["kept"][key])


def unit_scores(variants: list[VariantResult]):
    """The first single-factor strategy whose records score each of its units once (a 1-D score as long
    as its unit count, at most MAX_CHART_UNITS): (strategy, score, scores, [(variant id, removed units)])."""
    for r in variants:
        for rec in r.removed[:1]:
            key, _, units = _units(rec)
            for name, values in rec["scores"].items():
                if values and not isinstance(values[0], list) and len(values) == units <= MAX_CHART_UNITS:
                    removers = [(v.variant_id, v.removed[0]["removed"][key]) for v in variants
                                if len(v.removed) == 1 and v.removed[0]["strategy"] == rec["strategy"]]
                    return rec["strategy"], name, values, removers
    return None
