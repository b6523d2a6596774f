"""The verdict of a hypothesis: its expectations decided by the delta's confidence intervals."""
from __future__ import annotations

import dataclasses
from typing import Any

from exaone_bench.config.metrics import BOUNDED, NAMES
from exaone_bench.core.validate import SpecError, check_keys

# A hypothesis's verdict and how a person reads it; `judge` (below) decides it from the CIs.
VERDICT_TEXT = {"confirmed": "hypothesis confirmed", "inconclusive": "inconclusive (a CI straddles its bound)",
                "rejected": "hypothesis rejected"}


@dataclasses.dataclass(frozen=True)
class Expectation:
    """One metric's expected outcome relative to the baseline, decided by the delta's CI."""

    metric: str
    min_delta: float | None = None   # variant - baseline >= min_delta
    max_delta: float | None = None   # variant - baseline <= max_delta

    @classmethod
    def parse(cls, metric: str, raw: Any, where: str) -> "Expectation":
        if metric not in BOUNDED:
            known = "has no CI of its delta" if metric in NAMES else "is not a metric"
            raise SpecError(f"{where}: '{metric}' {known}; a bound is decided by its CI, so choose from "
                            f"{list(BOUNDED)}")
        check_keys(raw, ("min_delta", "max_delta"), where)
        if not raw:
            raise SpecError(f"{where}: give min_delta and/or max_delta")
        for key, value in raw.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) > 1e6:
                raise SpecError(f"{where}.{key}: expected a number, got {value!r}")
        return cls(metric, raw.get("min_delta"), raw.get("max_delta"))

    def inside(self, floor: float) -> list[str]:
        """The ends of this bound nearer to zero than `floor` (e.g. "min_delta -0.010"): a variant without an effect
        has a CI at least that wide around zero, so such an end is decided only by an effect beyond it."""
        return [f"{key} {value:+.3f}" for key, value in (("min_delta", self.min_delta), ("max_delta", self.max_delta))
                if value is not None and abs(value) < floor]

    def holds(self, delta: float) -> bool:
        """Whether one delta (a mean, or an end of its CI) keeps the bound."""
        return (self.min_delta is None or delta >= self.min_delta) and (self.max_delta is None or delta <= self.max_delta)

    def decide(self, ci_low: float, ci_high: float) -> str:
        """'inside' when the whole CI keeps the bound, 'beyond' when the whole CI breaks it, else 'straddles'."""
        if self.holds(ci_low) and self.holds(ci_high):
            return "inside"
        if (self.min_delta is not None and ci_high < self.min_delta) or (self.max_delta is not None and ci_low > self.max_delta):
            return "beyond"
        return "straddles"

    def describe(self, against: str = "baseline") -> str:
        parts = []
        if self.min_delta is not None:
            parts.append(f"{self.metric} >= {against} {self.min_delta:+.3f}")
        if self.max_delta is not None:
            parts.append(f"{self.metric} <= {against} {self.max_delta:+.3f}")
        return " and ".join(parts)


def judge(name: str, expect: dict[str, Expectation], metrics: dict, baseline: dict, ci: dict, against: str = "baseline") -> tuple[str, str]:
    """Verdict from the delta's CI against every bound, so that noise alone never decides it.

    rejected (the item fails): for some bound, the whole CI lies beyond it;
    confirmed: for every bound, the whole CI lies inside it;
    inconclusive (the item passes; report and terminal say so): otherwise, a CI straddles a bound.
    Two machines whose floats differ can then move a verdict to or from inconclusive, but a
    decisive verdict flips only if both CIs miss the true delta. `against` names what `baseline`
    holds (a post-training row is compared with its own untransformed model).
    """
    decisions, lines = [], []
    for metric, e in expect.items():
        value, base, lo, hi = metrics[metric], baseline[metric], ci[metric]["ci_low"], ci[metric]["ci_high"]
        decisions.append(e.decide(lo, hi))
        lines.append(f"{metric} {value:.3f} vs {against} {base:.3f} (delta {value - base:+.3f}, CI [{lo:+.3f}, {hi:+.3f}]"
                     f" {decisions[-1]} {e.describe(against)})")
    verdict = "rejected" if "beyond" in decisions else "confirmed" if set(decisions) == {"inside"} else "inconclusive"
    return verdict, f"{name}: {'; '.join(lines)} -> {VERDICT_TEXT[verdict]}"
