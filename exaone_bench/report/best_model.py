"""The best compressed model under the setup's declared rule, and the numbers that justify it."""
from __future__ import annotations

from exaone_bench.config.metrics import PRIMARY
from exaone_bench.config.setup import SelectionSetup
from exaone_bench.config.verdict import Expectation
from exaone_bench.evidence.records import VariantResult
from exaone_bench.report.tables import removed_text, score_reasons


def rule_bounds(doc: dict) -> list[Expectation]:
    """The selection rule's bounds, as the setup declared them (a results document holds the setup as read)."""
    return SelectionSetup.model_construct(**doc["setup"]["selection"]).bounds()


def selection(doc: dict) -> tuple[VariantResult | None, list[VariantResult]]:
    """The best compressed model by the setup's declared rule, and every candidate that qualified."""
    rule = doc["setup"]["selection"]
    bounds = rule_bounds(doc)
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


def justification(best: VariantResult | None, qualified: list[VariantResult], doc: dict) -> list[str]:
    """Sentences built from the numbers in the tables."""
    rule = doc["setup"]["selection"]
    bounds = " and ".join(b.describe() for b in rule_bounds(doc))
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
