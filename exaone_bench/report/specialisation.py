"""Size versus specialisation: fine-tuned compressed models set against larger models used zero-shot.

The report's answer to "is a compressed, fine-tuned small model better than a bigger model used
as it is?": one chart (accuracy against parameters, log scale) and one generated paragraph, both
from the same result records as the tables. A fine-tuned row's accuracy is a mean over seeds with
a bootstrap CI; a zero-shot row's is one pass with the harness's stderr. The two are not paired
item by item, so the difference's CI is the normal approximation with both variances added
(wider than a paired CI: a "beats" it reports holds a fortiori).
"""
from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

from exaone_bench.config.metrics import ZERO_SHOT
from exaone_bench.evidence.records import BaselineResult, ReferenceResult, VariantResult

CHART = "size_vs_specialisation.png"


def label(row) -> str:
    """A row's short name in the chart and the paragraph (a comparison model by its source's last part)."""
    if isinstance(row, ReferenceResult):
        return Path(row.model["source"]).name
    return row.name


def zero_shot_rows(doc: dict) -> list:
    """Models scored as they are: the baseline's base model and every comparison model with a zero-shot figure."""
    rows = [doc["baseline"], *doc.get("references", [])]
    return [r for r in rows if ZERO_SHOT.name in r.zero_shot]


def fine_tuned_rows(doc: dict) -> list:
    """Fine-tuned classifiers: the baseline, every variant, and the comparison models fine-tuned under the setup."""
    return [doc["baseline"], *doc["variants"], *[r for r in doc.get("references", []) if r.fine_tuned]]


def difference(fine_tuned, zero_shot, confidence: float) -> tuple[float, float, float]:
    """(fine-tuned minus zero-shot accuracy, CI low, CI high): unpaired, normal approximation."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    ci = fine_tuned.level_ci["accuracy"]
    se_fine = (ci.ci_high - ci.ci_low) / (2 * z)
    se_zero = zero_shot.zero_shot.get(ZERO_SHOT.name + "_stderr", 0.0)
    delta = fine_tuned.metrics["accuracy"] - zero_shot.zero_shot[ZERO_SHOT.name]
    half = z * (se_fine ** 2 + se_zero ** 2) ** 0.5
    return delta, delta - half, delta + half


def paragraph(doc: dict) -> list[str]:
    """Did a smaller fine-tuned model beat a larger zero-shot one here, by how much, with what CI."""
    confidence = doc["setup"]["evaluation"]["confidence"]
    pct = f"{100 * confidence:.0f}%"
    base: BaselineResult = doc["baseline"]
    tuned = fine_tuned_rows(doc)
    lines = []
    for big in zero_shot_rows(doc):
        size = big.params["total_parameters"]
        zero = big.zero_shot[ZERO_SHOT.name]
        smaller = [r for r in tuned if r.params["total_parameters"] < size and "accuracy" in r.level_ci]
        stderr = big.zero_shot.get(ZERO_SHOT.name + "_stderr", 0.0)
        head = f"**{label(big)}** zero-shot ({size:,} parameters): accuracy {zero:.3f} ± {stderr:.3f} (stderr)"
        majority = base.floors.get("majority_class", {}).get("accuracy")
        if majority is not None and zero - NormalDist().inv_cdf(0.5 + confidence / 2) * stderr <= majority:
            head += f", not above always answering the majority class ({majority:.3f}): no zero-shot ability on this task"
            if big is base:
                head += " to lose, so the variants' zero-shot column cannot show damage"
        head += "."
        if big is base:
            d, lo, hi = difference(base, base, confidence)
            lines.append(f"- {head} Fine-tuning the same model under the setup adds {d:+.3f} "
                         f"({pct} CI [{lo:+.3f}, {hi:+.3f}]): {base.metrics['accuracy']:.3f}.")
            continue
        if not smaller:
            lines.append(f"- {head} No fine-tuned model here is smaller, so nothing smaller can beat it.")
            continue
        scored = [(r, *difference(r, big, confidence)) for r in smaller]
        # the smallest that beats it; of equal size, the more accurate
        beating = sorted([s for s in scored if s[2] > 0], key=lambda s: (s[0].params["total_parameters"], -s[1]))
        if beating:
            r, d, lo, hi = beating[0]
            lines.append(f"- {head} Yes: {len(beating)} of the {len(smaller)} smaller fine-tuned models beat it "
                         f"(the whole {pct} CI of the difference above 0). The smallest, **{label(r)}** "
                         f"({r.params['total_parameters']:,} parameters, {size / r.params['total_parameters']:.1f}x fewer), "
                         f"reaches {r.metrics['accuracy']:.3f}: {d:+.3f} ({pct} CI [{lo:+.3f}, {hi:+.3f}]).")
        else:
            r, d, lo, hi = max(scored, key=lambda s: s[1])
            verb = "loses to it" if hi < 0 else "cannot be told apart from it"
            lines.append(f"- {head} No: none of the {len(smaller)} smaller fine-tuned models beats it; the best, "
                         f"**{label(r)}** ({r.params['total_parameters']:,} parameters), {verb}: "
                         f"{r.metrics['accuracy']:.3f}, {d:+.3f} ({pct} CI [{lo:+.3f}, {hi:+.3f}]).")
    for ref in doc.get("references", []):
        if ref.fine_tuned and "accuracy" in ref.metrics:
            delta = ref.metrics["accuracy"] - base.metrics["accuracy"]
            lines.append(f"- **{label(ref)}** fine-tuned under the same setup: {ref.metrics['accuracy']:.3f} "
                         f"({delta:+.3f} against the baseline's {base.metrics['accuracy']:.3f}).")
    if lines:
        lines.insert(0, f"Differences are fine-tuned minus zero-shot accuracy on the same test split; the {pct} CI "
                        "adds the seed-and-item bootstrap variance of the fine-tuned mean to the zero-shot stderr "
                        "(unpaired, so wider than a paired CI).")
        lines.insert(1, "")
    return lines


def chart(doc: dict, out: Path) -> str | None:
    """Accuracy against parameters (log scale): fine-tuned rows, zero-shot rows and the floors; the file name."""
    if not zero_shot_rows(doc):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = doc["baseline"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    variants: list[VariantResult] = doc["variants"]
    if variants:
        ax.scatter([r.params["total_parameters"] for r in variants], [r.metrics["accuracy"] for r in variants],
                   s=18, c="tab:blue", label="compressed, fine-tuned")
    ax.scatter(base.params["total_parameters"], base.metrics["accuracy"], marker="*", s=90, c="k",
               label="baseline, fine-tuned")
    for ref in doc.get("references", []):
        if ref.fine_tuned and "accuracy" in ref.metrics:
            ax.scatter(ref.params["total_parameters"], ref.metrics["accuracy"], marker="D", s=40, c="tab:orange")
            ax.annotate(f"{label(ref)} fine-tuned", (ref.params["total_parameters"], ref.metrics["accuracy"]),
                        fontsize=6, xytext=(3, 2), textcoords="offset points")
    for i, row in enumerate(zero_shot_rows(doc)):
        x, y = row.params["total_parameters"], row.zero_shot[ZERO_SHOT.name]
        ax.errorbar(x, y, yerr=row.zero_shot.get(ZERO_SHOT.name + "_stderr", 0.0), fmt="D", mfc="none",
                    c="tab:orange" if row is not base else "k", ms=7, capsize=3,
                    label="zero-shot (± stderr)" if i == 0 else None)
        ax.annotate(f"{label(row)} zero-shot", (x, y), fontsize=6, xytext=(4, -9), textcoords="offset points")
    for (name, floor), style in zip(base.floors.items(), (":", "-.")):
        ax.axhline(floor["accuracy"], color="gray", ls=style, lw=1, label=f"floor: {name.replace('_', ' ')}")
    ax.set_xscale("log")
    ax.set(xlabel="parameters (log scale)", ylabel="test accuracy",
           title="size versus specialisation: fine-tuned against zero-shot")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(out / CHART, dpi=110)
    plt.close(fig)
    return CHART


__all__ = ["chart", "difference", "paragraph"]
