"""The typed result records: one encoding each way, strict about keys, arrays kept out of it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from exaone_bench.evidence.records import BaselineResult, DeltaInterval, FloorResult, Interval, VariantResult, from_dict


def _baseline() -> BaselineResult:
    return BaselineResult(
        setup_hash="abc", params={"total_parameters": 10}, config={"num_hidden_layers": 2},
        per_seed=[{"accuracy": 0.7}], level_ci={"accuracy": Interval(0.65, 0.75)}, metrics={"accuracy": 0.7},
        lm_loss_before_recovery=5.0, base_lm_loss=5.0, training={"seconds": 1.0}, model={"source": "m"},
        floors={"majority_class": {"accuracy": 0.5}}, seconds=3.0,
        preds=np.zeros((1, 4), dtype=int), train_logits=np.zeros(0))


def _variant() -> VariantResult:
    return VariantResult(
        name="drop_layers[last1]", stage="compression", strategy="drop_layers", variant_id="last1",
        setup_hash="abc", experiment="drop_layers", hypothesis="h", motivation="", description="",
        compression={"drop_layers": [1]}, removed=[{"strategy": "drop_layers", "removed": {"layers": [1]}}],
        expect={"accuracy": "accuracy >= baseline -0.050"}, params={"total_parameters": 6}, config={},
        per_seed=[{"accuracy": 0.68}], level_ci={"accuracy": Interval(0.6, 0.7)}, metrics={"accuracy": 0.68},
        deltas={"accuracy": -0.02}, ci={"accuracy": DeltaInterval(-0.05, 0.01, False)}, verdict="inconclusive",
        message="m", lm_loss_before_recovery=6.0, base_lm_loss=5.0, training={}, delta_params_pct=-40.0,
        flop_ratio=0.6, model_fingerprint="f", seconds={"total": 2.0}, worker={"pid": 1})


def test_records_round_trip_through_json_by_their_stage():
    for record in (_baseline(), _variant(), FloorResult(name="floor:majority_class", metrics={"accuracy": 0.5})):
        doc = json.loads(json.dumps(record.to_dict()))
        back = from_dict(doc)
        assert type(back) is type(record) and back == record and back.to_dict() == doc
    variant = from_dict(_variant().to_dict())
    assert isinstance(variant.ci["accuracy"], DeltaInterval) and variant.ci["accuracy"].ci_low == -0.05
    assert isinstance(variant.level_ci["accuracy"], Interval)


def test_arrays_stay_in_memory_and_out_of_the_encoding():
    doc = _baseline().to_dict()
    assert "preds" not in doc and "train_logits" not in doc
    assert doc["name"] == "baseline" and doc["stage"] == "baseline" and doc["level_ci"]["accuracy"] == {
        "ci_low": 0.65, "ci_high": 0.75}
    assert BaselineResult.from_dict(doc).preds is None


def test_unknown_or_missing_keys_fail_naming_the_record_and_key():
    doc = _variant().to_dict()
    with pytest.raises(ValueError, match=r"drop_layers\[last1\]: unknown key 'verdikt' in a VariantResult"):
        VariantResult.from_dict({**doc, "verdikt": "confirmed"})
    del doc["deltas"]
    with pytest.raises(ValueError, match=r"drop_layers\[last1\]: a VariantResult needs 'deltas'"):
        VariantResult.from_dict(doc)
    bad_ci = {**_variant().to_dict(), "ci": {"accuracy": {"ci_low": 0.0, "ci_high": 1.0}}}
    with pytest.raises(ValueError, match=r"drop_layers\[last1\]\.ci\.accuracy: a DeltaInterval needs 'distinguishable'"):
        VariantResult.from_dict(bad_ci)
