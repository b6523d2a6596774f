"""The strategy registry: apply a `compression:` block, record what was removed, replay it.

A `compression:` block maps strategy names to their specs, e.g. `{drop_layers: [6, 7]}`;
only experiments/final.yaml combines several (applied in the order written). Each strategy
validates its spec completely before it touches a weight, so a bad spec leaves the model as it was.

Strategies are found, not listed (core/registry.py): every module of compression/strategies/ that
declares `NAME` (see contract.py), then every module named under the `exaone_bench.strategies` entry-point group of
an installed distribution. Adding one is adding its file.
"""
from __future__ import annotations

import copy
from typing import Any

import torch

from exaone_bench.compression.calibration import Calibration
from exaone_bench.compression.contract import validate_module
from exaone_bench.compression.surgery import shape_summary, sync_config
from exaone_bench.core.registry import Registry
from exaone_bench.core.validate import NotApplicable, SpecError
from exaone_bench.models.architecture import check_supported, full_model

ENTRY_POINTS = "exaone_bench.strategies"


STRATEGIES = Registry("strategy", package="exaone_bench.compression.strategies", group=ENTRY_POINTS,
                      validate=validate_module)


def _strategy(name: str, where: str):
    if name not in STRATEGIES:
        raise SpecError(f"{where}: unknown strategy '{name}'; choose one of {list(STRATEGIES)}")
    return STRATEGIES[name]


def not_applicable(config, compression: dict) -> str:
    """Why a `compression:` block cannot cut this architecture at all ('' when every factor can).

    A strategy may declare `applies(config) -> str | None` (contract.py): prune_experts, for one,
    has nothing to cut in a dense model. The collector skips such a variant with this reason
    instead of failing the file: one experiment suite serves every generation.
    """
    for name in compression:
        applies = getattr(_strategy(name, "compression"), "applies", None)
        reason = applies(config) if applies is not None else None
        if reason:
            return f"{name}: {reason}"
    return ""


def check(config, compression: dict, where: str = "compression") -> None:
    """Validate every factor of a `compression:` block against a config, without weights or scores.

    The collector runs this against the base model's config, so a bad spec fails at collection.
    Each factor is checked against the base shapes; the shapes after earlier factors of a
    combined variant are checked again by `apply`, still before any training.
    """
    if not isinstance(compression, dict) or not compression:
        raise SpecError(f"{where}: expected a mapping of strategy -> spec, got {compression!r}")
    for name, spec in compression.items():
        _strategy(name, f"{where}.{name}").check(config, copy.deepcopy(spec), f"{where}.{name}")


def apply_one(model, name: str, spec: Any, calib: Calibration | None = None, where: str = "compression") -> dict:
    """Validate, score, cut and re-derive the config for one strategy; return its removal record."""
    where = f"{where}.{name}"
    strategy = _strategy(name, where)
    check_supported(model)
    calib = calib if calib is not None else Calibration()
    before = shape_summary(model)
    record = {"strategy": name, "spec": copy.deepcopy(spec), **strategy.plan(model, spec, calib, where), "before": before}
    strategy.cut(model, record, calib)
    sync_config(model)
    record["after"] = shape_summary(model)
    return record


def apply(model, compression: dict, calib: Calibration | None = None, where: str = "compression") -> list[dict]:
    """Apply every strategy of a `compression:` block in order; the records are plain data."""
    if not isinstance(compression, dict) or not compression:
        raise SpecError(f"{where}: expected a mapping of strategy -> spec, got {compression!r}")
    for name in compression:
        _strategy(name, f"{where}.{name}")
    reason = not_applicable(full_model(model).config, compression)
    if reason:  # the collector skips these when it knows the config; a model fetched later lands here
        raise NotApplicable(f"{where}.{reason}")
    calib = calib if calib is not None else Calibration()
    return [apply_one(model, name, spec, calib, where) for name, spec in compression.items()]


def replay(model, removed: list[dict], calib: Calibration | None = None) -> None:
    """Rebuild a variant from the base model and its removal records: no scoring, same cuts."""
    calib = calib if calib is not None else Calibration()
    for record in removed:
        strategy = _strategy(record["strategy"], "removed")
        check_supported(model)
        strategy.cut(model, record, calib)
        sync_config(model)
        if shape_summary(model) != record["after"]:
            raise SpecError(f"replay of {record['strategy']} gave {shape_summary(model)}, record says {record['after']}")


def cut_head(head: torch.Tensor, removed: list[dict]) -> torch.Tensor:
    """A task model's classifier head (labels, hidden) after the cuts: a strategy that changes the residual
    width declares `cut_head(weight, record)` (contract.py); the others leave the head as it is."""
    for record in removed:
        follow = getattr(_strategy(record["strategy"], "removed"), "cut_head", None)
        if follow is not None:
            head = follow(head, record)
    return head


def words(record: dict) -> str:
    """What one removal record removed, in its strategy's own words."""
    return _strategy(record["strategy"], "removed").words(record["removed"])


def describe(record: dict) -> str:
    """One line a person reads: what a removal record removed and what it cost in parameters."""
    b, a = record["before"]["parameters"], record["after"]["parameters"]
    return f"{record['strategy']}: removed {words(record)}; parameters {b:,} -> {a:,} ({(a - b) / b:+.1%})"


__all__ = ["STRATEGIES", "Calibration", "apply", "apply_one", "check", "cut_head", "describe", "not_applicable", "replay",
           "words"]
