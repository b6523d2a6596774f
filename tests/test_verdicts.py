"""Verdicts are decided by the delta's CI against each bound: rejected, confirmed or inconclusive."""
from __future__ import annotations

import pytest

from exaone_bench.config.experiment import Variant
from exaone_bench.config.verdict import Expectation, judge
from exaone_bench.core.validate import SpecError


def variant(**bounds) -> Variant:
    expect = {m: Expectation.parse(m, b, f"test.expect.{m}") for m, b in bounds.items()}
    return Variant(id="v", compression={"drop_layers": [1]}, expect=expect, marks=[])


def verdict(v: Variant, lo: float, hi: float, delta: float | None = None) -> tuple[str, str]:
    delta = (lo + hi) / 2 if delta is None else delta
    metrics = {m: 0.70 + delta for m in v.expect}
    base = {m: 0.70 for m in v.expect}
    ci = {m: {"ci_low": lo, "ci_high": hi} for m in v.expect}
    return judge("drop_layers[v]", v.expect, metrics, base, ci)


@pytest.mark.parametrize("lo, hi, expected", [
    (-0.020, +0.010, "confirmed"),     # the whole CI keeps "no more than 3 points lost"
    (-0.045, -0.010, "inconclusive"),  # the CI straddles -0.03: noise cannot tell
    (-0.080, -0.040, "rejected"),      # the whole CI lies beyond the bound
    (-0.030, +0.000, "confirmed"),     # an end exactly on the bound keeps it
])
def test_a_min_delta_bound_is_decided_by_the_whole_interval(lo, hi, expected):
    assert verdict(variant(accuracy={"min_delta": -0.03}), lo, hi)[0] == expected


def test_a_mean_beyond_the_bound_with_a_straddling_ci_is_inconclusive_not_rejected():
    # The old rule rejected on the mean alone; a machine with other float bits could flip it.
    name, message = verdict(variant(accuracy={"min_delta": -0.03}), -0.060, +0.002, delta=-0.031)
    assert name == "inconclusive"
    assert message.endswith("-> inconclusive (a CI straddles its bound)")
    assert "CI [-0.060, +0.002] straddles accuracy >= baseline -0.030" in message


@pytest.mark.parametrize("lo, hi, expected", [
    (-0.060, -0.020, "confirmed"),     # the control: removing the first layers must hurt
    (-0.030, +0.010, "inconclusive"),
    (+0.000, +0.030, "rejected"),
])
def test_a_control_with_max_delta(lo, hi, expected):
    assert verdict(variant(accuracy={"max_delta": -0.01}), lo, hi)[0] == expected


def test_every_bound_must_be_inside_to_confirm_and_one_beyond_rejects():
    v = variant(accuracy={"min_delta": -0.03}, precision={"min_delta": -0.03})
    metrics, base = {"accuracy": 0.69, "precision": 0.60}, {"accuracy": 0.70, "precision": 0.70}
    inside, beyond = {"ci_low": -0.02, "ci_high": 0.0}, {"ci_low": -0.15, "ci_high": -0.05}
    assert judge("x", v.expect, metrics, base, {"accuracy": inside, "precision": beyond})[0] == "rejected"
    straddles = {"ci_low": -0.05, "ci_high": 0.0}
    assert judge("x", v.expect, metrics, base, {"accuracy": inside, "precision": straddles})[0] == "inconclusive"
    assert judge("x", v.expect, metrics, base, {"accuracy": inside, "precision": inside})[0] == "confirmed"


def test_a_bound_on_a_metric_without_a_ci_fails_early():
    with pytest.raises(SpecError, match=r"test\.expect\.recall: 'recall' has no CI of its delta; .*\['accuracy', 'precision'\]"):
        variant(recall={"min_delta": -0.03})
    with pytest.raises(SpecError, match=r"'acc' is not a metric"):
        variant(acc={"min_delta": -0.03})


def test_a_bound_nearer_to_zero_than_the_floor_is_named_end_by_end():
    e = Expectation("accuracy", min_delta=-0.01, max_delta=0.05)
    assert e.inside(0.02) == ["min_delta -0.010"]
    assert e.inside(0.06) == ["min_delta -0.010", "max_delta +0.050"]
    assert Expectation("accuracy", min_delta=-0.03).inside(0.02) == []


def _wrong_first(n_wrong: list[int], items: int = 2000):
    """(seeds, items) predictions of a two-class task whose labels are all 0: seed s gets its first n_wrong[s] wrong."""
    import numpy as np

    preds = np.zeros((len(n_wrong), items), dtype=int)
    for s, n in enumerate(n_wrong):
        preds[s, :n] = 1
    return np.zeros(items, dtype=int), preds


def test_seeds_are_paired_so_a_shared_seed_effect_cancels_in_the_delta():
    from exaone_bench.evaluation.intervals import delta_ci, noise_floor

    # The baseline's seeds differ by 20 points; the variant loses 2 more points under each seed.
    labels, base = _wrong_first([200, 600])
    _, variant = _wrong_first([240, 640])
    paired = delta_ci(labels, variant, base, 400, 0.95)["accuracy"]
    assert -0.03 < paired["ci_low"] < paired["ci_high"] < -0.01 and paired["distinguishable"]
    unpaired = delta_ci(labels, variant, base, 400, 0.95, paired=False)["accuracy"]
    assert unpaired["ci_low"] < -0.15 and unpaired["ci_high"] > 0.15 and not unpaired["distinguishable"]
    # The floor is the unpaired width of the baseline against itself: what a variant diverging as far as a seed gets.
    assert noise_floor(labels, base, 400, 0.95)["accuracy"] > 0.15
    with pytest.raises(ValueError, match="paired seeds need as many on each side, not 1 and 2"):
        delta_ci(labels, variant[:1], base, 10, 0.95)
