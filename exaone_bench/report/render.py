"""The markdown comparison report: tables (tabulate), plots (matplotlib), the justified best model.

Every number in a sentence comes from the same result records (evidence/records.py) as the tables; the same function
renders the report at session end and from MLflow alone (`exaone-bench report`), so both agree.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from tabulate import tabulate

from exaone_bench.config.verdict import VERDICT_TEXT, Expectation
from exaone_bench.report import beside, bytes_frontier, layer_curve, specialisation
from exaone_bench.report.best_model import identical_models, justification, selection
from exaone_bench.report.plots import _plots
from exaone_bench.report.specialisation import CHART, label
from exaone_bench.report.tables import _pm, _strategy_table, _zero, _zstd_mb, removed_text


def too_close(doc: dict) -> list[str]:
    """Bounds nearer to zero than the setup's seed-noise floor: a variant without an effect cannot confirm them."""
    floor = doc["baseline"].noise_floor
    return [f"`{r.name}` {m} {end}" for r in doc["variants"] for m, b in r.bounds.items() if m in floor
            for end in Expectation(m, b.get("min_delta"), b.get("max_delta")).inside(floor[m])]


def resolution(doc: dict) -> list[str]:
    """What differences this setup can resolve, and which bounds sit inside that (said before reading verdicts)."""
    floor, t = doc["baseline"].noise_floor, doc["setup"]["training"]
    if not floor:
        return []
    close = too_close(doc)
    return ["## What this setup can resolve", "",
            f"Seed-noise floor of a delta (95% CI half-width of the baseline against itself, its {t['seeds']} seeds "
            "drawn independently on each side, the test items shared): "
            + ", ".join(f"{m} ±{v:.3f}" for m, v in floor.items()) + ". A variant without an effect whose training "
            "diverges from the baseline's as far as another seed's gets a CI this wide around zero. Each variant's CI "
            "pairs its seed i with the baseline's seed i (same data order and head initialisation), so a variant that "
            "stays closer to the baseline resolves finer: a bound nearer to zero than the floor is decided by an effect "
            "beyond it or by that closeness.", "",
            ("Bounds inside the floor: " + "; ".join(close) + ".") if close else "No bound lies inside the floor.", ""]


def machines(doc: dict) -> str:
    """The line naming the machine(s) the session's rows were measured on (a merged report: each shard's)."""
    if doc.get("shards"):
        return "Machines: " + "; ".join(f"shard `{rid}` on {m or 'an unrecorded machine'}"
                                        for rid, m in zip(doc["shards"], doc["machines"])) + "."
    m = doc.get("tags", {}).get("machine")
    return (f"Machine: {m}. Times, latencies and the last bits of every float are this machine's; another CPU of "
            "the same cloud kind may differ." if m else
            "Machine: not recorded (a session logged before sessions named their machine).")


def reason(failed: dict) -> str:
    """A failure's one line: the exception as the item saw it, else the last line of its message."""
    if failed.get("reason"):
        return failed["reason"]
    lines = [line.strip() for line in (failed.get("error") or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def without_baseline(doc: dict, out: Path) -> Path:
    """The report of a session that ended before it had a baseline: what it was, and why each item failed."""
    setup = doc["setup"]
    failed = doc.get("failed", [])
    lines = ["# exaone-bench report: no baseline", "",
             f"Model `{setup['model']}`; data `{setup['data']['source']}`. Setup hash `{doc.get('setup_hash', '')}`; "
             f"MLflow run `{doc.get('run_id', '')}`.", "",
             f"This session ended without a baseline, so nothing can be compared: {len(failed)} item(s) failed"
             + (f" and the run was {doc['tags']['incomplete']}" if doc.get("tags", {}).get("incomplete") else "")
             + ". Each failure, with its reason:", ""]
    lines += [f"- `{f['name']}`: `{reason(f)}`" for f in failed] or ["- (none recorded)"]
    readme = out / "README.md"
    readme.write_text("\n".join(lines) + "\n")
    return readme


def render(doc: dict, out: Path) -> Path:
    """Write README.md and the PNGs into `out`; return the README path."""
    out.mkdir(parents=True, exist_ok=True)
    if doc["baseline"] is None:
        return without_baseline(doc, out)
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
             "falls on all of them alike.", "", machines(doc), ""]
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
    if base.before_recovery:  # original: task: the model every variant is cut from, as shipped
        m = base.before_recovery
        rows.insert(0, ["task model (the original: trained once with the teacher)", f"{m['accuracy']:.3f}",
                        f"{m['precision']:.3f}", "", "—", f"{base.params['total_parameters']:,}", "—"])
    for name, m in base.floors.items():
        rows.append([name.replace("_", " "), f"{m['accuracy']:.3f}", f"{m['precision']:.3f}", "", "—", "no LLM", "—"])
    if base.teacher:
        m = base.teacher["test"]
        rows.append([f"teacher: {base.teacher['name']} probe (labels the transfer set)", f"{m['accuracy']:.3f}",
                     f"{m['precision']:.3f}", "", "—", "", "—"])
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
        lines += [f"- {m}" for r in rows for m in (r.message, r.before_recovery_message) if m] + [""]
    same = identical_models(doc["variants"])
    if same:
        lines += ["## Identical models", "", "These variants removed exactly the same parts (for example, a score "
                  "chose the layers another variant names), so each group is one model, trained once.", ""] + same + [""]
    lines += [f"- `{failed['name']}` crashed: `{reason(failed)}`" for failed in doc.get("failed", [])]
    if images:
        lines += ["## Plots", ""] + [f"![{i}]({i})" for i in images
                                     if i not in (CHART, bytes_frontier.CHART, layer_curve.CHART)] + [""]
    lines += layer_curve.section(doc) + beside.section(doc)
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
    early = {v: ", ".join(r.name for r in doc["variants"] if r.before_recovery_verdict == v) or "none" for v in VERDICT_TEXT}
    if any(r.before_recovery_verdict for r in doc["variants"]):
        lines += [f"Before recovery (the task model's own head on the cut backbone, against the task model): confirmed: "
                  f"{early['confirmed']}. Rejected: {early['rejected']}. Inconclusive: {early['inconclusive']}.", ""]
    lines += resolution(doc)
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
