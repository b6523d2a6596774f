"""Experiment files read into typed experiments, every compression spec checked against the strategy and transform registries."""
from __future__ import annotations

import copy
from pathlib import Path

from exaone_bench.compression.registry import STRATEGIES, not_applicable
from exaone_bench.compression.registry import check as check_compression
from exaone_bench.config.experiment import STAGES, Experiment, Variant, target_label
from exaone_bench.config.schema import read_yaml
from exaone_bench.config.verdict import Expectation
from exaone_bench.core.validate import SpecError, as_int, check_keys

EXPERIMENT_KEYS = ("strategy", "hypothesis", "motivation", "stage", "expect", "variants", "targets")


VARIANT_KEYS = ("id", "compression", "expect", "marks", "description")


POST_TRAINING_KEYS = ("id", "post_training", "recovery_steps", "expect", "marks", "description")
BEFORE = "before_recovery"


def _expectations(raw, where) -> tuple[dict[str, Expectation], dict[str, Expectation]]:
    """(after recovery, before recovery): bounds on the recovered model, and under `before_recovery:` on the
    task model's head right after the cut (`original: task`)."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping of metric -> {{min_delta, max_delta}}")
    before = raw.get(BEFORE) or {}
    if not isinstance(before, dict):
        raise SpecError(f"{where}.{BEFORE}: expected a mapping of metric -> {{min_delta, max_delta}}")
    return ({m: Expectation.parse(m, v, f"{where}.{m}") for m, v in raw.items() if m != BEFORE},
            {m: Expectation.parse(m, v, f"{where}.{BEFORE}.{m}") for m, v in before.items()})


def _variant_entries(raw: dict, where: str, keys: tuple, body: str):
    """(where, mapping, id) of each variant of a file, its keys checked and its id unique."""
    if not isinstance(raw["variants"], list) or not raw["variants"]:
        raise SpecError(f"{where}.variants: expected a non-empty list")
    seen = set()
    for i, v in enumerate(raw["variants"]):
        vwhere = f"{where}[{v.get('id', i) if isinstance(v, dict) else i}]"
        check_keys(v, keys, vwhere)
        if "id" not in v or body not in v:
            raise SpecError(f"{vwhere}: a variant needs 'id' and '{body}'")
        vid = str(v["id"])
        if vid in seen:
            raise SpecError(f"{vwhere}.id: duplicate variant id '{vid}'")
        seen.add(vid)
        yield vwhere, v, vid


def _expect_and_marks(v: dict, expect: tuple[dict, dict], vwhere: str) -> tuple[dict, dict, list]:
    """A variant's expectations after and before recovery (the file's, overridden by its own; at least one)
    and its marks."""
    after, before = _expectations(v.get("expect"), f"{vwhere}.expect")
    after, before = {**expect[0], **after}, {**expect[1], **before}
    if not after and not before:
        raise SpecError(f"{vwhere}: no expectation: give expect: at file or variant level")
    marks = v.get("marks", [])
    if not isinstance(marks, list) or not all(isinstance(m, str) for m in marks):
        raise SpecError(f"{vwhere}.marks: expected a list of marker names")
    return after, before, marks


def load_experiment(path: str | Path, config=None) -> Experiment:
    """Parse and validate one experiment file; every error names the file, variant and key.

    With the base model's `config`, every compression spec is also checked against its shapes.
    """
    path = Path(path)
    raw = read_yaml(path)
    where = str(path)
    if isinstance(raw, dict) and True in raw:  # YAML 1.1 reads a bare `on:` key as the boolean true
        raise SpecError(f"{where}: `on:` reads as true in YAML; name the fine-tuned models under `targets:`")
    check_keys(raw, EXPERIMENT_KEYS, where)
    for key in ("strategy", "hypothesis", "variants"):
        if key not in raw:
            raise SpecError(f"{where}: missing required key '{key}'")
    stage = raw.get("stage", "compression")
    if stage not in STAGES:
        raise SpecError(f"{where}.stage: '{stage}' is not one of {list(STAGES)}")
    if stage == "post_training" or raw["strategy"] == "post_training" or "targets" in raw:
        return load_post_training(path, raw, config)
    strategy = raw["strategy"]
    if strategy != "combined" and strategy not in STRATEGIES:
        raise SpecError(f"{where}.strategy: unknown strategy '{strategy}'; choose one of {list(STRATEGIES)}")
    expect = _expectations(raw.get("expect"), f"{where}.expect")
    variants = []
    for vwhere, v, vid in _variant_entries(raw, where, VARIANT_KEYS, "compression"):
        comp = v["compression"]
        if not isinstance(comp, dict) or not comp:
            raise SpecError(f"{vwhere}.compression: expected a mapping of strategy -> spec")
        for name in comp:
            if name not in STRATEGIES:
                raise SpecError(f"{vwhere}.compression: unknown strategy '{name}'; choose one of {list(STRATEGIES)}")
        if stage == "compression" and list(comp) != [strategy]:
            raise SpecError(f"{vwhere}.compression: one factor per variant: only '{strategy}' belongs in "
                            f"{path.name} (combine factors in final.yaml)")
        skip = not_applicable(config, comp) if config is not None else ""
        if config is not None and not skip:  # the shapes a strategy cuts: EXAONE 4.5's are its text config's
            check_compression(config.get_text_config(), comp, f"{vwhere}.compression")
        v_expect, v_before, marks = _expect_and_marks(v, expect, vwhere)
        variants.append(Variant(vid, comp, v_expect, marks, str(v.get("description", "")), skip, expect_before=v_before))
    return Experiment(str(path), path.stem, strategy, str(raw["hypothesis"]).strip(),
                      str(raw.get("motivation", "")).strip(), stage, expect[0], variants)


def load_post_training(path: Path, raw: dict, config=None) -> Experiment:
    """A post-training file: transforms (compression/post_training/) applied to fine-tuned models, without retraining
    (or, with `recovery_steps: N` on a sparsity transform, after N steps of the setup's loop, zeros kept).

    `targets:` names the fine-tuned models a transform is applied to: `baseline`, or
    `<experiment>[<variant>]` of a sibling file, whose compression is built first (the same cut,
    so the same model as that variant's item). Each variant x target is one item,
    `<variant>@<target>`; expectations are relative to the same classifiers before the transform.
    """
    from exaone_bench.compression import post_training

    where = str(path)
    if raw.get("stage") != "post_training" or raw["strategy"] != "post_training":
        raise SpecError(f"{where}: a file with post-training transforms needs `strategy: post_training` and "
                        "`stage: post_training`")
    targets = raw.get("targets") or ["baseline"]
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets) or len(set(targets)) != len(targets):
        raise SpecError(f"{where}.targets: expected a list of distinct fine-tuned models (baseline or "
                        f"<experiment>[<variant>]), got {targets!r}")
    compressions = {t: _target_compression(path, t, f"{where}.targets") for t in targets}
    labels = [target_label(t) for t in targets]
    if len(set(labels)) != len(labels):
        raise SpecError(f"{where}.targets: two targets share a variant id in {targets}; item ids are <variant>@<target's id>")
    expect = _expectations(raw.get("expect"), f"{where}.expect")
    variants = []
    for vwhere, v, vid in _variant_entries(raw, where, POST_TRAINING_KEYS, "post_training"):
        spec = post_training.check(v["post_training"], f"{vwhere}.post_training")
        recovery = as_int(v.get("recovery_steps", 0), f"{vwhere}.recovery_steps", 0, 1_000_000)
        if recovery and post_training.kernel(spec):
            raise SpecError(f"{vwhere}.recovery_steps: quantized weights (torchao tensor subclasses) are not trained "
                            "here; a short recovery applies to the sparsity transforms")
        v_expect, v_before, marks = _expect_and_marks(v, expect, vwhere)
        if v_before:
            raise SpecError(f"{vwhere}.expect.{BEFORE}: a post-training row is measured after its transform only; "
                            "bound before_recovery in the structural files")
        for target, compression in compressions.items():
            skip = not_applicable(config, compression) if config is not None and compression else ""
            variants.append(Variant(f"{vid}@{target_label(target)}", compression, v_expect, marks,
                                    str(v.get("description", "")), skip, spec, target, recovery))
    return Experiment(str(path), path.stem, "post_training", str(raw["hypothesis"]).strip(),
                      str(raw.get("motivation", "")).strip(), "post_training", expect[0], variants)


def _target_compression(path: Path, target: str, where: str) -> dict:
    """The compression spec a post-training target builds: {} for the baseline, else the named variant's."""
    if target == "baseline":
        return {}
    name, _, rest = target.partition("[")
    if not rest.endswith("]") or not name:
        raise SpecError(f"{where}: '{target}' is neither baseline nor <experiment>[<variant>]")
    sibling = path.parent / f"{name}.yaml"
    if not sibling.is_file():
        raise SpecError(f"{where}: '{target}' names {sibling.name}, which is not beside {path.name}")
    other = load_experiment(sibling)
    if other.stage == "post_training":
        raise SpecError(f"{where}: '{target}' is a post-training file; a target is a structural variant")
    found = {v.id: v for v in other.variants}.get(rest[:-1])
    if found is None:
        raise SpecError(f"{where}: {sibling.name} has no variant '{rest[:-1]}' (it has {sorted(v.id for v in other.variants)})")
    return copy.deepcopy(found.compression)
