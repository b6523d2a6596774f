"""The markdown comparison report: tables (tabulate), plots (matplotlib), the justified best model.

Every number in a sentence comes from the same result records (result.py) as the tables; the same function
renders the report at session end and from MLflow alone (`exaone-bench report`), so both agree.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from tabulate import tabulate

from .metrics import PRIMARY, ZERO_SHOT
from .models.variants import STRATEGIES, words
from .result import BaselineResult, VariantResult
from .spec import VERDICT_TEXT, Expectation
from . import bytes_frontier, specialisation
from .specialisation import CHART, label


def _pm(metrics: dict, key: str) -> str:
    return f"{metrics[key]:.3f} ± {metrics.get(key + '_sd', 0.0):.3f}"


def removed_text(records: list[dict]) -> str:
    """What a variant removed, in each strategy's own words, from its removal records."""
    return "; ".join(words(rec) for rec in records)


def selection(doc: dict) -> tuple[VariantResult | None, list[VariantResult]]:
    """The best compressed model by the setup's declared rule, and every candidate that qualified."""
    rule = doc["setup"]["selection"]
    bounds = [Expectation.parse(m, b, "selection") for m, b in rule["constraints"].items()]
    qualified = []
    for r in doc["variants"]:
        if all(b.holds(r.deltas[b.metric]) for b in bounds):
            qualified.append(r)
    # ties on the objective go to the better primary metric, then to the name (deterministic)
    qualified.sort(key=lambda r: (r.params[rule["objective"]], PRIMARY.sort_key(r.metrics[PRIMARY.name]), r.name))
    return (qualified[0] if qualified else None), qualified


def identical_models(variants: list[VariantResult]) -> list[str]:
    """One line per group of variants that built the very same model (trained once, numbers shared)."""
    groups: dict[str, list[VariantResult]] = {}
    for r in variants:
        if r.model_fingerprint:
            groups.setdefault(r.model_fingerprint, []).append(r)
    lines = []
    for fingerprint, rows in groups.items():
        if len(rows) > 1:
            names = ", ".join(f"`{r.name}`" for r in rows)
            trained_by = ", ".join(f"`{b}`" for b in sorted({b for r in rows for b in r.training.get("built_by", []) if b}))
            lines.append(f"- {names} removed {removed_text(rows[0].removed) or 'the same parts'} and built the same model "
                         f"(weights, config and vocabulary; fingerprint `{fingerprint}`): its seeds were trained once, "
                         f"by {trained_by}, and every number in their rows is shared.")
    return lines


def _zero(row) -> str:
    """A row's zero-shot accuracy (lm-eval, before any training), or a dash when it was not measured."""
    value = row.zero_shot.get(ZERO_SHOT.name)
    return "—" if value is None else f"{value:.3f}"


def _zstd_mb(row) -> str:
    """The classifier's safetensors file after zstd (storage.py), in MB; a dash when it was not measured."""
    n = row.params.get("zstd_bytes")
    return "—" if n is None else f"{n / 1e6:.2f}"


def _strategy_table(rows: list[VariantResult], base: BaselineResult) -> str:
    table = []
    for r in rows:
        ci = r.ci["accuracy"]
        table.append([
            r.variant_id, removed_text(r.removed), f"{r.params['total_parameters']:,}", f"{r.params['model_size_mb']:.2f}",
            _zstd_mb(r),
            f"{r.delta_params_pct:+.1f}%", f"{r.lm_loss_before_recovery:.3f}", _zero(r), _pm(r.metrics, "accuracy"),
            _pm(r.metrics, "precision"), f"{r.deltas['accuracy']:+.3f} [{ci.ci_low:+.3f}, {ci.ci_high:+.3f}]",
            "yes" if ci.distinguishable else "no", f"{r.params['inference_latency_ms']:.2f}",
            f"{r.speedup:.2f}x / {r.flop_ratio:.2f}", r.verdict])
    headers = ["variant", "removed", "params", "size MB", "zstd MB", "Δ params", f"LM loss before recovery (base {base.lm_loss_before_recovery:.3f})",
               f"zero-shot accuracy before recovery (base {_zero(base)})", "accuracy", "precision", "Δ accuracy [95% CI]", "distinguishable", "latency ms", "speedup / FLOP ratio", "verdict"]
    return tabulate(table, headers=headers, tablefmt="github")


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
    for extra in (specialisation.chart(doc, out), bytes_frontier.chart(doc, out)):
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


def score_reasons(records: list[dict]) -> list[str]:
    """For each removal record: how the removed units scored against the kept ones."""
    import numpy as np

    out = []
    for rec in records:
        noun = STRATEGIES[rec["strategy"]].REMOVED[1]
        _, gone, units = _units(rec)
        for name, values in rec["scores"].items():
            if not values or len(values) != units:  # e.g. a score per block start, not per unit
                out.append(f"{rec['strategy']} chose {words(rec)} by {name}.")
                continue
            scores = np.asarray(values, dtype=float)
            if scores.ndim == 2:  # per layer: each layer's removed units against its kept ones
                mask = np.zeros_like(scores, dtype=bool)
                for layer, idx in enumerate(gone):
                    mask[layer, idx] = True
            else:
                mask = np.zeros(len(scores), dtype=bool)
                mask[gone] = True
            if mask.all() or not mask.any():
                continue
            out.append(f"{rec['strategy']} removed the {int(mask.sum())} {noun} with the lowest {name} "
                       f"(mean {scores[mask].mean():.4g} against {scores[~mask].mean():.4g} for the kept).")
        if not rec["scores"]:
            out.append(f"{rec['strategy']} removed the units named in the spec ({rec['spec']}), not chosen by a score.")
    return out


def justification(best: VariantResult | None, qualified: list[VariantResult], doc: dict) -> list[str]:
    """Sentences built from the numbers in the tables."""
    rule = doc["setup"]["selection"]
    bounds = " and ".join(Expectation.parse(m, b, "").describe() for m, b in rule["constraints"].items())
    base = doc["baseline"]
    lines = [f"Rule: the smallest `{rule['objective']}` among variants whose mean {bounds}.", ""]
    if best is None:
        lines.append(f"No variant qualifies: none of the {len(doc['variants'])} variants kept {bounds}.")
        return lines
    r, ci = best, best.ci
    lines += [
        f"**{r.name}** ({len(qualified)} of {len(doc['variants'])} variants qualified). It removed "
        f"{removed_text(r.removed)}: {r.params['total_parameters']:,} parameters instead of "
        f"{base.params['total_parameters']:,} ({r.delta_params_pct:+.1f}%), {r.params['model_size_mb']:.2f} MB, "
        f"{r.params['inference_latency_ms']:.2f} ms per batch-1 forward ({r.speedup:.2f}x the baseline's speed).",
        "",
        "Why these parts: " + " ".join(score_reasons(r.removed)) + (f" ({r.description})" if r.description else ""),
        "",
        f"What it kept: {r.params['number_of_layers']} layers, {r.params['number_of_heads']} query / "
        f"{r.params['number_of_kv_heads']} KV heads, hidden {r.params['hidden_dim']}, MLP {r.params['intermediate_size']}, "
        f"vocab {r.params['vocab_size']}"
        + (f", {r.params['number_of_experts']} routed experts per sparse layer." if "number_of_experts" in r.params else "."),
        "",
        f"What it cost: accuracy {r.metrics['accuracy']:.3f} vs {base.metrics['accuracy']:.3f} "
        f"(Δ {r.deltas['accuracy']:+.3f}, 95% CI [{ci['accuracy'].ci_low:+.3f}, {ci['accuracy'].ci_high:+.3f}], "
        f"{'distinguishable' if ci['accuracy'].distinguishable else 'not distinguishable'} from the baseline); precision "
        f"{r.metrics['precision']:.3f} vs {base.metrics['precision']:.3f} (Δ {r.deltas['precision']:+.3f}, "
        f"CI [{ci['precision'].ci_low:+.3f}, {ci['precision'].ci_high:+.3f}]). LM loss before recovery "
        f"{r.lm_loss_before_recovery:.3f} vs {base.lm_loss_before_recovery:.3f} nats.",
    ]
    return lines


def render(doc: dict, out: Path) -> Path:
    """Write README.md and the PNGs into `out`; return the README path."""
    out.mkdir(parents=True, exist_ok=True)
    setup, base = doc["setup"], doc["baseline"]
    t, lat = setup["training"], setup["evaluation"]["latency"]
    images = _plots(doc, out) if doc["variants"] or doc.get("post_training") else []
    lines = ["# exaone-bench report", "",
             f"Model `{setup['model']}`; data `{setup['data']['source']}` (split seed {setup['data']['seed']}); "
             f"fine-tune {t['steps']} steps x batch {t['batch_size']}, lr {t['lr']}, {t['schedule']}, "
             f"recovery `{t['recovery']}`, {t['seeds']} seeds. Setup hash `{doc.get('setup_hash', '')}`; "
             + (f"merged from {len(doc['shards'])} sessions (shards) `{'`, `'.join(doc['shards'])}`." if doc.get("shards")
                else f"MLflow run `{doc.get('run_id', '')}`."), "",
             f"Latency: median of {lat['repeats']} batch-{lat['batch_size']} forwards of {lat['seq_len']} tokens "
             f"({lat['warmup']} warm-up passes excluded, {lat['threads']} thread), measured after the last variant "
             "with nothing else running, the models' forwards interleaved so that a slow spell of the machine "
             "falls on all of them alike.", ""]
    if len(doc.get("shards", [])) > 1:
        lines += ["Merged shards: each shard measured the latency of its own rows on its own machine at its end, "
                  "so latencies compare within a shard, not across shards.", ""]
    if doc.get("tags", {}).get("incomplete"):
        lines += [f"**Incomplete: the run was {doc['tags']['incomplete']}.** The rows below are the items that finished "
                  f"({len(doc['variants']) + len(doc.get('post_training', []))} of them); the rest did not run to the end.", ""]
    lines += ["## Baseline and floors", ""]
    def ci(row):
        c = row.level_ci.get("accuracy")
        return f"[{c.ci_low:.3f}, {c.ci_high:.3f}]" if c else ""

    rows = [["baseline (uncompressed, same setup)", _pm(base.metrics, "accuracy"), _pm(base.metrics, "precision"),
             ci(base), _zero(base), f"{base.params['total_parameters']:,}", _zstd_mb(base)]]
    for name, m in base.floors.items():
        rows.append([name.replace("_", " "), f"{m['accuracy']:.3f}", f"{m['precision']:.3f}", "", "—", "no LLM", "—"])
    for ref in doc.get("references", []):  # comparison models: rows beside the suite, never candidates
        tuned = ref.fine_tuned and "accuracy" in ref.metrics
        rows.append([f"{label(ref)} (comparison{', fine-tuned' if tuned else ', not fine-tuned'})",
                     _pm(ref.metrics, "accuracy") if tuned else "—", _pm(ref.metrics, "precision") if tuned else "—",
                     ci(ref), _zero(ref), f"{ref.params['total_parameters']:,}", _zstd_mb(ref)])
    lines += [tabulate(rows, headers=["model", "accuracy", "precision", "accuracy 95% CI", "zero-shot accuracy", "params",
                                      "zstd MB"],
                       tablefmt="github"), ""]
    if base.zero_shot:
        choices = setup["evaluation"]["zero_shot"]["choices"]
        words = " / ".join(f"`{w}`" for w in choices) + " for label ids " + ", ".join(map(str, range(len(choices)))) \
            if choices else "the data's label names"
        lines += [f"Zero-shot accuracy: lm-evaluation-harness scores each test review by the log-likelihood of every "
                  f"label word ({words}) after a prompt, before any training (for a variant: after the cut, before "
                  "recovery); the likelier word is the prediction.", ""]
    tfidf = base.floors["tfidf_logreg"]["accuracy"]
    if base.metrics["accuracy"] < tfidf:
        lines += [f"Caveat: the baseline's accuracy ({base.metrics['accuracy']:.3f}) is below the TF-IDF + LR floor "
                  f"({tfidf:.3f}): deltas below measure what compression does to this model, not to a classifier "
                  "that beats bag-of-words.", ""]
    by_strategy: dict[str, list] = {}
    for r in doc["variants"]:
        by_strategy.setdefault(r.experiment, []).append(r)
    for name, rows in by_strategy.items():
        lines += [f"## {name}", "", f"Hypothesis: {rows[0].hypothesis}", ""]
        if rows[0].motivation:
            lines += [f"Motivation: {rows[0].motivation}", ""]
        lines += [_strategy_table(rows, base), ""]
        lines += [f"- {r.message}" for r in rows] + [""]
    same = identical_models(doc["variants"])
    if same:
        lines += ["## Identical models", "", "These variants removed exactly the same parts (for example, a score "
                  "chose the layers another variant names), so each group is one model, trained once.", ""] + same + [""]
    for failed in doc.get("failed", []):
        lines += [f"- `{failed['name']}` crashed: `{failed['error'].strip().splitlines()[-1] if failed['error'] else ''}`"]
    if images:
        lines += ["## Plots", ""] + [f"![{i}]({i})" for i in images if i not in (CHART, bytes_frontier.CHART)] + [""]
    answer = specialisation.paragraph(doc)
    if answer:
        lines += ["## Size versus specialisation", "", "Did a smaller fine-tuned model beat a larger one used zero-shot?", ""]
        lines += answer + [""] + ([f"![{CHART}]({CHART})", ""] if CHART in images else [])
    best, qualified = selection(doc)
    frontier = bytes_frontier.section(doc, best)
    if frontier:
        lines += frontier + ([f"![{bytes_frontier.CHART}]({bytes_frontier.CHART})", ""] if bytes_frontier.CHART in images else [])
    lines += ["## Best compressed model", ""] + justification(best, qualified, doc) + [""]
    named = {v: ", ".join(r.name for r in doc["variants"] if r.verdict == v) or "none"
             for v in VERDICT_TEXT}
    lines += [f"Hypotheses confirmed (every CI inside its bound): {named['confirmed']}. "
              f"Rejected (a whole CI beyond its bound): {named['rejected']}. "
              f"Inconclusive (a CI straddles its bound; more seeds or test items would decide it): {named['inconclusive']}.", ""]
    finals = [r for r in doc["variants"] if r.stage == "final"]
    for f in finals:
        parts = [r for r in doc["variants"] if r.stage == "compression" and len(r.compression) == 1
                 and next(iter(r.compression.items())) in f.compression.items()]
        lines += [f"## Final combined: {f.name}", "",
                  tabulate([[r.name, removed_text(r.removed), f"{r.delta_params_pct:+.1f}%", f"{r.deltas['accuracy']:+.3f}",
                             f"{r.deltas['precision']:+.3f}", r.verdict] for r in [f, *parts]],
                           headers=["model", "removed", "Δ params", "Δ accuracy", "Δ precision", "verdict"], tablefmt="github"),
                  ""]
    readme = out / "README.md"
    readme.write_text("\n".join(lines))
    return readme


def publish(doc: dict, reports_dir: Path, stamp: str) -> Path:
    """reports/<stamp>/ and a copy at reports/latest/ (results.json there is kept)."""
    run_dir = render(doc, reports_dir / stamp).parent
    latest = reports_dir / "latest"
    latest.mkdir(parents=True, exist_ok=True)
    for f in run_dir.iterdir():
        shutil.copy(f, latest / f.name)
    return run_dir
