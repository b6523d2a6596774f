"""The report's post-training section: transformed rows, accuracy against bytes on disk, and which lever buys more per byte.

Structural variants and post-training rows are set on one axis, the bytes a user would ship (the
classifier's safetensors file after zstd, evaluation/cost.py), so that "remove a third of the width"
and "store the same weights in int8" are compared at equal footing. Every sentence is computed
from the same result records as the tables.
"""
from __future__ import annotations

from pathlib import Path

from tabulate import tabulate

from exaone_bench.compression import post_training
from exaone_bench.evidence.records import PostTrainingResult
from exaone_bench.export.gguf import reason_not_offered
from exaone_bench.report.best_model import rule_bounds

CHART = "accuracy_vs_bytes.png"


def _mb(n) -> str:
    return "—" if n is None else f"{n / 1e6:.2f}"


def _source(doc: dict, row: PostTrainingResult):
    """The fine-tuned model a post-training row was applied to, as the report holds it (None if not in this run)."""
    if row.target == "baseline":
        return doc["baseline"]
    return next((v for v in doc["variants"] if v.name == row.target), None)


def _kind(row) -> str:
    if not isinstance(row, PostTrainingResult):
        return "baseline" if row.stage == "baseline" else "structural"
    return "quantization" if post_training.kernel(row.post_training) else "sparsity"


def points(doc: dict) -> list:
    """Every fine-tuned row with bytes on disk: the baseline, structural variants, post-training rows."""
    rows = [doc["baseline"], *doc["variants"], *doc.get("post_training", [])]
    return [r for r in rows if r.params.get("zstd_bytes")]


def chart(doc: dict, out: Path) -> str | None:
    """accuracy_vs_bytes.png: accuracy against zstd bytes (log), one marker per lever, the Pareto front."""
    rows = points(doc)
    if not doc.get("post_training") or len(rows) < 2:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    style = {"baseline": ("k", "*", 90), "structural": ("tab:blue", "o", 22), "quantization": ("tab:orange", "s", 26),
             "sparsity": ("tab:green", "^", 26)}
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for kind, (color, marker, size) in style.items():
        mine = [r for r in rows if _kind(r) == kind]
        if mine:
            ax.scatter([r.params["zstd_bytes"] for r in mine], [r.metrics["accuracy"] for r in mine], c=color,
                       marker=marker, s=size, label=kind)
    front = pareto(rows)
    ax.plot([r.params["zstd_bytes"] for r in front], [r.metrics["accuracy"] for r in front], "r--", lw=1,
            label="Pareto front")
    for r in front:
        ax.annotate(r.name.replace("post_training", "pt"), (r.params["zstd_bytes"], r.metrics["accuracy"]), fontsize=6,
                    xytext=(3, 2), textcoords="offset points")
    ax.axhline(doc["baseline"].floors["tfidf_logreg"]["accuracy"], color="gray", ls=":", label="TF-IDF + LR floor")
    ax.set_xscale("log")
    ax.set(xlabel="classifier bytes on disk after zstd (log scale)", ylabel="test accuracy (mean over seeds)",
           title="accuracy vs bytes: structural cuts and post-training transforms")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / CHART, dpi=110)
    plt.close(fig)
    return CHART


def pareto(rows: list) -> list:
    """Rows no smaller file beats on accuracy, smallest first."""
    front, best = [], float("-inf")
    for r in sorted(rows, key=lambda r: (r.params["zstd_bytes"], -r.metrics["accuracy"])):
        if r.metrics["accuracy"] > best:
            front.append(r)
            best = r.metrics["accuracy"]
    return front


def table(doc: dict) -> str:
    rows = []
    for r in doc.get("post_training", []):
        ci = r.ci["accuracy"]
        rows.append([r.variant_id, post_training.words(r.transform), _mb(r.params["safetensors_bytes"]),
                     _mb(r.params["zstd_bytes"]), _mb(r.params.get("packed_bytes")),
                     f"{r.lm_loss_before_recovery:.3f} ({r.base_lm_loss:.3f})",
                     f"{r.metrics['accuracy']:.3f} ± {r.metrics.get('accuracy_sd', 0):.3f}",
                     f"{r.metrics['precision']:.3f} ± {r.metrics.get('precision_sd', 0):.3f}",
                     f"{r.deltas['accuracy']:+.3f} [{ci.ci_low:+.3f}, {ci.ci_high:+.3f}]",
                     f"{r.params['inference_latency_ms']:.2f}" if "inference_latency_ms" in r.params else "—", r.verdict])
    return tabulate(rows, headers=["row (transform@model)", "what it did (measured)", "MB", "zstd MB", "packed MB",
                                   "LM loss (untransformed)", "accuracy", "precision", "Δ accuracy vs untransformed [95% CI]",
                                   "latency ms", "verdict"], tablefmt="github", disable_numparse=True)


def kernels(doc: dict) -> list[str]:
    """One sentence per quantized kernel: its latency against the same architecture in float."""
    lines = []
    for r in doc["post_training"]:
        kernel, source = r.transform.get("kernel"), _source(doc, r)
        if not kernel or source is None or "inference_latency_ms" not in r.params:
            continue
        ms, float_ms = r.params["inference_latency_ms"], source.params["inference_latency_ms"]
        verb = "slower" if ms > float_ms else "faster"
        lines.append(f"- `{r.name}` runs {kernel}: {ms:.2f} ms per batch-1 forward against {float_ms:.2f} ms for "
                     f"`{r.target}` in float ({ms / float_ms:.2f}x, {verb} on this CPU).")
    if any(not r.transform.get("kernel") for r in doc["post_training"]):
        lines.append("- Sparse rows keep dense storage and run the dense float kernel: their zeros are stored and "
                     "multiplied, so their latency is their architecture's, and only zstd sees the zeros.")
    return lines


def levers(doc: dict, best) -> list[str]:
    """Which lever buys more per byte here: the best structural cut, int8 of the baseline, and the two together."""
    base = doc["baseline"]
    bound = next((b for b in rule_bounds(doc) if b.metric == "accuracy"), None)
    ok = (lambda r: bound.holds(r.metrics["accuracy"] - base.metrics["accuracy"])) if bound else (lambda r: True)
    size0, acc0 = base.params["zstd_bytes"], base.metrics["accuracy"]

    def says(r) -> str:
        return (f"`{r.name}` {r.params['zstd_bytes']:,} bytes ({size0 / r.params['zstd_bytes']:.2f}x smaller), "
                f"accuracy {r.metrics['accuracy']:.3f} ({r.metrics['accuracy'] - acc0:+.3f})")

    lines = [f"Against the baseline ({size0:,} bytes after zstd, accuracy {acc0:.3f}); \"ok\": the row keeps the "
             f"selection rule's {bound.describe() if bound else 'constraints (none on accuracy)'}:", ""]
    int8 = [r for r in doc.get("post_training", []) if r.transform.get("transform") == "int8"]
    candidates = {"structural": best,
                  "quantization": next((r for r in int8 if r.target == "baseline"), None),
                  "both": next((r for r in int8 if best is not None and r.target == best.name), None)}
    for lever, r in candidates.items():
        if r is not None:
            lines.append(f"- {lever}: {says(r)}{', ok' if ok(r) else ', outside the rule'}.")
    fine = [r for r in points(doc) if ok(r)]
    if fine:
        small = min(fine, key=lambda r: (r.params["zstd_bytes"], -r.metrics["accuracy"]))
        on_cut = isinstance(small, PostTrainingResult) and small.target != "baseline"
        lines += ["", f"Smallest file within the rule: {says(small)} — lever: {_kind(small)}"
                  + (f" on the structural cut `{small.target}`" if on_cut else "") + "."]
    s, q = candidates["structural"], candidates["quantization"]
    if s is not None and q is not None and ok(s) and ok(q):
        winner, other = (s, q) if s.params["zstd_bytes"] < q.params["zstd_bytes"] else (q, s)
        lines += ["", f"Per byte, {'the structural cut' if winner is s else 'int8'} buys more on this model: "
                  f"{size0 / winner.params['zstd_bytes']:.2f}x fewer bytes against {size0 / other.params['zstd_bytes']:.2f}x, "
                  "both within the rule."]
    elif s is not None and q is not None:
        kept = [r for r in (s, q) if ok(r)]
        if kept:
            lines += ["", f"Only {'the structural cut' if kept[0] is s else 'int8'} stays within the rule here."]
    return lines


def gguf_sentence(doc: dict) -> str:
    """Whether `exaone-bench export-gguf` is offered for this base model, and why not when it is not."""
    from transformers import AutoConfig

    config = dict(doc["baseline"].config)
    reason = reason_not_offered(AutoConfig.for_model(config.pop("model_type"), **config))
    if not reason:
        return "GGUF: `exaone-bench export-gguf --model DIR --out F.gguf` writes this model family and reads it back."
    return f"GGUF: not offered for this model: {reason}."


def section(doc: dict, best) -> list[str]:
    """The report's post-training section; empty when the run had no post-training rows."""
    rows = doc.get("post_training", [])
    if not rows:
        return []
    first = rows[0]
    lines = ["## Post-training transforms", "", f"Hypothesis: {first.hypothesis}", ""]
    if first.motivation:
        lines += [f"Motivation: {first.motivation}", ""]
    targets = sorted({r.target for r in rows})
    note = ""
    if best is not None and best.name not in targets:
        note = f" The selection rule now chooses `{best.name}`, which the post-training file does not name."
    retrained = "" if any("recovery" in r.transform for r in rows) else " without retraining"
    lines += [f"Applied{retrained} to the fine-tuned classifiers of {', '.join(f'`{t}`' for t in targets)}; each "
              "row is compared with the same classifiers untransformed (paired by seed). Bytes: the classifier's "
              f"safetensors file, that file after zstd level {_zstd_level()}, and for quantized rows the same file with "
              "the integers packed at their measured bit-width." + note, "", table(doc), ""]
    lines += [f"- {r.message}" for r in rows] + [""]
    lines += kernels(doc) + [""]
    lines += ["### Which lever buys more per byte", ""] + levers(doc, best) + [""]
    lines += [gguf_sentence(doc), ""]
    return lines


def _zstd_level() -> int:
    from exaone_bench.evaluation.cost import ZSTD_LEVEL

    return ZSTD_LEVEL


__all__ = ["CHART", "chart", "pareto", "points", "section"]
