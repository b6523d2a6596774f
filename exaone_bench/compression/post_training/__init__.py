"""Post-training transforms: weight quantization and unstructured / 2:4 sparsity, applied after fine-tuning.

Beside the structural strategies (which remove parts and retrain), these keep every part and
change how its weights are stored: the questions they answer are "what do the same bytes buy with
the standard tools?" and "does a structural cut beat int8 at the same size?". A transform is one
module of this package that reads top to bottom like a strategy:

    NAME   = "magnitude"                  # the key of a `post_training:` block
    check(spec, where) -> spec            # validate and normalise the spec alone; raise SpecError
    apply(model, spec, calib) -> record   # change the target weights in place; plain data back
    words(record) -> str                  # what it did, for the report, from the measured record

Targets are the decoder layers' linear maps (scope.py). Every record states what was measured from the tensors after
the transform (achieved sparsity, bit-width, packed bytes), never only what was asked for.
"""
from __future__ import annotations

from exaone_bench.compression.post_training.scope import targets
from exaone_bench.core.registry import Registry
from exaone_bench.core.validate import SpecError

TRANSFORMS = Registry("transform", package=__name__, group="exaone_bench.transforms")


def check(spec: dict, where: str) -> dict:
    """A `post_training:` block ({transform: spec}, one transform) validated before anything runs."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise SpecError(f"{where}: expected one transform, e.g. {{magnitude: {{sparsity: 0.5}}}}, got {spec!r}")
    (name, body), = spec.items()
    if name not in TRANSFORMS:
        raise SpecError(f"{where}: unknown transform '{name}'; choose one of {sorted(TRANSFORMS)}")
    return {name: TRANSFORMS[name].check(body, f"{where}.{name}")}


def apply(model, spec: dict, calib=None, where: str = "post_training") -> dict:
    """Apply the block's one transform to `model` in place; return its record."""
    (name, body), = check(spec, where).items()
    return {"transform": name, "spec": body, **TRANSFORMS[name].apply(model, body, calib)}


def words(record: dict) -> str:
    """What a transform did, in its module's words, from its record (and the recovery after it, if any)."""
    text = TRANSFORMS[record["transform"]].words(record)
    if "recovery" in record:
        r = record["recovery"]
        text += f"; {r['steps']} recovery steps, zeros kept ({100 * r['measured']['sparsity']:.1f} % after)"
    return text


def kernel(spec: dict) -> str | None:
    """The kernel a transform's forward runs instead of the dense one (quantization), or None.

    Sparsity keeps dense storage: its forward is the dense model's, so its latency is the dense
    architecture's; a quantized forward is a different kernel and is timed as one.
    """
    (name, _), = spec.items()
    return getattr(TRANSFORMS[name], "KERNEL", None)


__all__ = ["TRANSFORMS", "apply", "check", "kernel", "targets", "words"]
