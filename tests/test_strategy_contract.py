"""A strategy is one file: a throw-away strategy in a temporary module, registered only through its
package metadata (the `exaone_bench.strategies` entry point), appears in collection, a suite run,
the report and `compress` without any other file being edited."""
from __future__ import annotations

import json
import sys
import textwrap

import pytest
import yaml
from transformers import AutoConfig

from exaone_bench.compression.contract import choose_score, validate_module
from exaone_bench.compression.registry import STRATEGIES, describe
from exaone_bench.core.validate import SpecError
from exaone_bench.export.checkpoint import compress
from exaone_bench.report.tables import removed_text, score_reasons

pytest_plugins = ["pytester"]

MODULE = '''
"""Drop the last N decoder layers: `{count: N}`, or `{count: N, by: block_influence}` for a record of the scores."""
from torch import nn

from exaone_bench.compression.importance import compute
from exaone_bench.models.architecture import decoder_layers
from exaone_bench.compression.contract import choose_score
from exaone_bench.core.validate import as_int, check_keys

NAME = "drop_last"
UNITS = ("layer",)
REMOVED = ("layers", "layers")


def check(config, spec, where):
    check_keys(spec, ("count", "by"), where)
    choose_score(UNITS, spec.get("by"), f"{where}.by")
    return as_int(spec.get("count"), f"{where}.count", 1, config.num_hidden_layers - 1)


def plan(model, spec, calib, where):
    n, count = model.config.num_hidden_layers, check(model.config, spec, where)
    scores = {}
    if "by" in spec:
        scores[spec["by"]] = [float(s) for s in compute(spec["by"], model, calib, where)]
    return {"removed": {"layers": list(range(n - count, n))}, "kept": {"layers": list(range(n - count))},
            "scores": scores}


def cut(model, record, calib=None):
    keep = record["kept"]["layers"]
    model.get_decoder().layers = nn.ModuleList([decoder_layers(model)[i] for i in keep])
    if getattr(model.config, "layer_types", None) is not None:
        model.config.layer_types = [model.config.layer_types[i] for i in keep]


def words(removed):
    return f"the last {len(removed['layers'])} layer(s)"
'''

EXPERIMENT = """
strategy: drop_last
hypothesis: The micro model's last layer can go.
expect:
  accuracy: {min_delta: -1.0}
variants:
  - id: tail1
    compression: {drop_last: {count: 1, by: block_influence}}
"""

SETUP = """
model: {model}
training: {{steps: 4, batch_size: 8, lr: 1.0e-3, warmup_steps: 1, max_length: 24, seeds: 1}}
evaluation: {{batch_size: 256, bootstrap: 20, latency: {{repeats: 2, warmup: 1}}, zero_shot: {{enabled: false}}}}
calibration: {{samples: 4, seq_len: 16}}
"""


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A directory holding the strategy module and the dist-info that names it, put on sys.path."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "throwaway_strategy.py").write_text(MODULE)
    info = root / "throwaway_strategy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: throwaway-strategy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[exaone_bench.strategies]\ndrop_last = throwaway_strategy\n")
    monkeypatch.syspath_prepend(str(root))
    STRATEGIES.refresh()
    yield root
    monkeypatch.undo()
    sys.modules.pop("throwaway_strategy", None)
    STRATEGIES.refresh()


def test_builtin_strategies_are_discovered_from_their_files():
    assert {"drop_layers", "prune_heads", "reduce_mlp", "reduce_hidden_dim", "trim_vocab"} <= set(STRATEGIES)
    assert "drop_last" not in STRATEGIES  # only where its distribution is installed


def test_scores_are_chosen_through_the_one_registry():
    assert choose_score(STRATEGIES["drop_layers"].UNITS, "angular_distance", "x.by") == "angular_distance"
    assert choose_score(STRATEGIES["reduce_mlp"].UNITS, None, "x.by") == "mlp_channel_importance"
    with pytest.raises(SpecError, match=r"x\.by: unknown score 'head_importance'; choose one of \['mlp_channel_importance'\]"):
        choose_score(STRATEGIES["reduce_mlp"].UNITS, "head_importance", "x.by")


def test_a_module_missing_part_of_the_contract_is_refused(tmp_path):
    import types

    broken = types.ModuleType("broken")
    broken.NAME, broken.UNITS, broken.REMOVED = "broken", ("layer",), ("layers", "layers")
    with pytest.raises(TypeError, match=r"lacks \['check', 'plan', 'cut', 'words'\]"):
        validate_module(broken)


def test_throwaway_strategy_compresses_and_reports_without_other_edits(plugin_dir, micro_reference, tmp_path):
    assert "drop_last" in STRATEGIES
    variant = tmp_path / "tail.yaml"
    variant.write_text("compression: {drop_last: {count: 1, by: block_influence}}\n")
    out = tmp_path / "out"
    removed = compress(str(micro_reference), variant, out, calibration=4, seq_len=16)
    layers = AutoConfig.from_pretrained(micro_reference).num_hidden_layers
    assert AutoConfig.from_pretrained(out).num_hidden_layers == layers - 1
    assert yaml.safe_load((out / "removed.yaml").read_text())["removed"][0]["removed"] == {"layers": [layers - 1]}
    assert describe(removed[0]).startswith("drop_last: removed the last 1 layer(s); parameters ")
    assert removed_text(removed) == "the last 1 layer(s)"
    assert score_reasons(removed)[0].startswith("drop_last removed the 1 layers with the lowest block_influence")


def test_throwaway_strategy_is_collected_run_and_reported(plugin_dir, pytester, micro_reference, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(plugin_dir))
    pytester.makefile(".yaml", **{"experiments/setup": SETUP.format(model=micro_reference),
                                  "experiments/drop_last": EXPERIMENT})
    collected = pytester.runpytest_subprocess("experiments", "--collect-only", "-q", "-m", "drop_last")
    assert "experiments/drop_last.yaml::drop_last[tail1]" in collected.stdout.str()
    run = pytester.runpytest_subprocess("experiments", "-p", "no:cacheprovider")
    run.assert_outcomes(passed=1)
    results = json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())
    assert [v["strategy"] for v in results["variants"]] == ["drop_last"]
    readme = (pytester.path / "reports" / "latest" / "README.md").read_text()
    assert "## drop_last" in readme and "the last 1 layer(s)" in readme
    assert textwrap.dedent("drop_last removed the 1 layers with the lowest block_influence") in readme or \
        "drop_last[tail1]" in readme
