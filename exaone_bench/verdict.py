"""The verdict of a hypothesis: its expectations decided by the delta's confidence intervals."""
from __future__ import annotations

from .spec import VERDICT_TEXT, Variant


def judge(name: str, variant: Variant, metrics: dict, baseline: dict, ci: dict, against: str = "baseline") -> tuple[str, str]:
    """Verdict from the delta's CI against every bound, so that noise alone never decides it.

    rejected (the item fails): for some bound, the whole CI lies beyond it;
    confirmed: for every bound, the whole CI lies inside it;
    inconclusive (the item passes; report and terminal say so): otherwise, a CI straddles a bound.
    Two machines whose floats differ can then move a verdict to or from inconclusive, but a
    decisive verdict flips only if both CIs miss the true delta. `against` names what `baseline`
    holds (a post-training row is compared with its own untransformed model).
    """
    decisions, lines = [], []
    for metric, e in variant.expect.items():
        value, base, lo, hi = metrics[metric], baseline[metric], ci[metric]["ci_low"], ci[metric]["ci_high"]
        decisions.append(e.decide(lo, hi))
        lines.append(f"{metric} {value:.3f} vs {against} {base:.3f} (delta {value - base:+.3f}, CI [{lo:+.3f}, {hi:+.3f}]"
                     f" {decisions[-1]} {e.describe(against)})")
    verdict = "rejected" if "beyond" in decisions else "confirmed" if set(decisions) == {"inside"} else "inconclusive"
    return verdict, f"{name}: {'; '.join(lines)} -> {VERDICT_TEXT[verdict]}"
