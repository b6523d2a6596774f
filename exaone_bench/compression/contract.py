"""The strategy contract: what one strategy module declares, and the checks every strategy shares.

A strategy is one module (in this package, or any installed package that names it under the
`exaone_bench.strategies` entry-point group) that reads top to bottom:

    NAME     = "drop_layers"              # the key of a `compression:` block
    UNITS    = ("layer", "layer_block")   # the importance units its `by:` may name
    REMOVED  = ("layers", "layers")       # (key of record["removed"] that its scores rank, noun)
    check(config, spec, where)            # validate against the config alone; raise SpecError
    plan(model, spec, calib, where)       # -> {"removed", "kept", "scores"}: plain data
    cut(model, record, calib)             # remove exactly record["kept"]'s complement, in place
    words(removed) -> str                 # what the report and `compress` say it removed
    applies(config) -> str | None         # optional: why this architecture has nothing to cut
    cut_head(weight, record) -> weight    # optional: how a task model's classifier head follows a width change

The registry (`compression.registry`) re-derives the config after `cut`, so a strategy writes only
what the config cannot infer from the weights (e.g. layer_types).
"""
from __future__ import annotations

from types import ModuleType

from exaone_bench.compression import importance
from exaone_bench.core.validate import SpecError

REQUIRED = ("NAME", "UNITS", "REMOVED", "check", "plan", "cut", "words")


def validate_module(module: ModuleType) -> ModuleType:
    """A strategy module that lacks part of the contract fails when it is registered, not mid-run."""
    missing = [a for a in REQUIRED if not hasattr(module, a)]
    if missing:
        raise TypeError(f"strategy module {module.__name__} lacks {missing} (see compression/contract.py)")
    unknown = [u for u in module.UNITS if not importance.for_units(u)]
    if unknown:
        raise TypeError(f"strategy {module.NAME}: no score is registered for unit(s) {unknown}")
    return module


def scores_for(units: tuple[str, ...]) -> tuple[str, ...]:
    """The score names a strategy's `by:` accepts: those registered for its units."""
    return importance.for_units(*units)


def choose_score(units: tuple[str, ...], by, where: str, default: bool = True) -> str:
    """The validated `by:` of a spec (the first score of `units` when absent and `default`)."""
    allowed = scores_for(units)
    if by is None and default:
        return allowed[0]
    if by not in allowed:
        raise SpecError(f"{where}: unknown score {by!r}; choose one of {list(allowed)}")
    return by
