"""The layer-removal curve: which layers each rule removes, the losses it measures, and what the report says of them."""
from __future__ import annotations

import random

import pytest
import torch
from conftest import tiny_exaone_config
from transformers import Exaone4ForCausalLM

from exaone_bench.compression.calibration import Calibration
from exaone_bench.compression.importance import block_influence
from exaone_bench.evaluation import layer_curve
from exaone_bench.evaluation.lm_loss import lm_loss
from exaone_bench.evidence.records import LayerCurveResult, from_dict
from exaone_bench.report import layer_curve as section


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Exaone4ForCausalLM(tiny_exaone_config(num_hidden_layers=5)).eval()


def test_each_rule_removes_the_layers_it_names_and_the_loss_is_measured_on_a_copy(model):
    batch = torch.randint(3, 97, (4, 16), generator=torch.Generator().manual_seed(1))
    influence = block_influence(model, Calibration(input_ids=batch)).tolist()
    said = []
    curve = layer_curve.measure(model, lambda m: lm_loss(m, [batch]), influence, [1, 2, 5, 7], draws=2, seed=3,
                                say=said.append)
    assert curve["base_loss"] == round(lm_loss(model, [batch]), 4)
    assert len(model.model.layers) == 5 and model.config.num_hidden_layers == 5  # the uncut model is left whole
    points = {(p["rule"], p["k"], p["draw"]): p for p in curve["points"]}
    assert {k for _, k, _ in points} == {1, 2}  # a count that leaves no layer is skipped
    lowest = sorted(range(5), key=influence.__getitem__)
    assert points[("block_influence", 2, 0)]["layers"] == sorted(lowest[:2])
    assert points[("last", 2, 0)]["layers"] == [3, 4] and points[("last", 1, 0)]["layers"] == [4]
    rng = random.Random(3)  # the draws follow the seed, in the order the curve takes them
    expected = [sorted(rng.sample(range(5), k)) for k in (1, 2) for _ in range(2)]
    assert [p["layers"] for p in curve["points"] if p["rule"] == "random"] == expected
    # each point's loss is that of the model with exactly those layers removed
    from exaone_bench.compression.registry import apply
    import copy

    cut = copy.deepcopy(model)
    apply(cut, {"drop_layers": [3, 4]})
    assert points[("last", 2, 0)]["loss"] == round(lm_loss(cut, [batch]), 4) != curve["base_loss"]
    assert len(said) == 2 and said[0].startswith("layer curve: k = 1 done (block_influence ")
    assert layer_curve.measure(model, lambda m: lm_loss(m, [batch]), influence, [1, 2, 5, 7], 2, 3) == curve


def curve_record(losses: dict[int, tuple[float, list[float], float]]) -> LayerCurveResult:
    """A curve of a 30-layer model from {k: (influence loss, random draws' losses, last-k loss)}."""
    points = []
    for k, (influence, draws, last) in losses.items():
        points.append({"rule": "block_influence", "k": k, "draw": 0, "layers": list(range(k)), "loss": influence})
        points += [{"rule": "random", "k": k, "draw": d, "layers": list(range(k)), "loss": v} for d, v in enumerate(draws)]
        points.append({"rule": "last", "k": k, "draw": 0, "layers": list(range(30 - k, 30)), "loss": last})
    return LayerCurveResult(setup_hash="abc", base_loss=4.93, texts=200, influence=[0.1] * 30, points=points, seconds=1.0)


def test_the_report_says_at_which_k_the_order_holds_and_draws_the_curve(tmp_path):
    curve = curve_record({1: (5.0, [5.4, 5.6], 6.5), 2: (5.1, [5.9, 6.1], 7.7), 4: (5.6, [6.0, 7.0], 6.2),
                          8: (5.9, [8.0, 9.0], 20.0)})
    assert from_dict(curve.to_dict()) == curve  # as MLflow's metrics.json holds it
    assert section.ordering(curve) == ([2, 8], [4])
    lines = section.section({"layer_curve": curve, "variants": []})
    text = "\n".join(lines)
    assert "| 2   | 5.10                 | 6.00 ± 0.10 | 7.70     | yes" in text
    assert "| 4   | 5.60                 | 6.50 ± 0.50 | 6.20     | no" in text
    assert "holds at k = 2, 8 and **does not** at k = 4." in text
    assert "4.93 with none removed" in text and "2 seeded draws" in text
    whole = curve_record({2: (5.1, [5.9], 7.7)})
    assert "holds at every k >= 2 measured (2)." in "\n".join(section.section({"layer_curve": whole, "variants": []}))
    assert section.section({"layer_curve": None, "variants": []}) == []
    assert section.chart({"layer_curve": curve, "variants": []}, tmp_path) == section.CHART
    assert (tmp_path / section.CHART).stat().st_size > 10_000
