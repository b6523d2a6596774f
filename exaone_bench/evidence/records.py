"""The typed records of what one model scored: a floor, the baseline, or a variant.

One record flows forward: the runner builds it, the plugin carries it from an xdist worker to
the controller as JSON, the session logs it to MLflow (`metrics.json`) and writes results.json,
and the report reads it back from MLflow. `to_dict` / `from_dict` are the only encoding; a
document with a key a record does not declare, or without one it requires, is an error, so a
renamed field cannot be read back as silently missing.
"""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields

import numpy as np


def _not_saved():
    """A field held in memory only (arrays the comparison needs), never encoded."""
    return field(default=None, repr=False, compare=False, metadata={"saved": False})


def _each(kind, **default):
    """A dict field whose values are records of `kind` (encoded and decoded value by value)."""
    return field(metadata={"items": kind}, **default)


class Record:
    """to_dict / from_dict for the dataclasses below."""

    @classmethod
    def from_dict(cls, doc: dict, where: str = ""):
        where = where or str(doc.get("name", cls.__name__))
        declared = {f.name: f for f in fields(cls) if f.metadata.get("saved", True)}
        unknown = sorted(set(doc) - set(declared))
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r} in a {cls.__name__}")
        missing = [n for n, f in declared.items()
                   if n not in doc and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            raise ValueError(f"{where}: a {cls.__name__} needs {missing[0]!r}")
        kwargs = {}
        for name, value in doc.items():
            kind = declared[name].metadata.get("items")
            kwargs[name] = {k: kind.from_dict(v, f"{where}.{name}.{k}") for k, v in value.items()} if kind else value
        return cls(**kwargs)

    @classmethod
    def each(cls, raw: dict[str, dict]) -> dict:
        """metric -> record of this kind, from the plain dicts an interval function returns."""
        return {k: cls(**v) for k, v in raw.items()}

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            if not f.metadata.get("saved", True):
                continue
            value = getattr(self, f.name)
            out[f.name] = {k: v.to_dict() for k, v in value.items()} if f.metadata.get("items") else value
        return out


@dataclass
class Interval(Record):
    """A bootstrap confidence interval of a metric's level."""

    ci_low: float
    ci_high: float


@dataclass
class DeltaInterval(Record):
    """A bootstrap confidence interval of a variant-minus-baseline delta; distinguishable: it excludes 0."""

    ci_low: float
    ci_high: float
    distinguishable: bool


@dataclass(kw_only=True)
class Result(Record):
    """What every logged model has: a name, its stage and the quality metrics (metrics.QUALITY)."""

    name: str
    stage: str                       # floor, baseline, compression, final, post_training or reference
    strategy: str = "none"
    metrics: dict[str, float]        # mean over seeds, with <metric>_sd beside each


@dataclass(kw_only=True)
class FloorResult(Result):
    """A classifier without the LLM (majority class, TF-IDF + logistic regression) on the same split."""

    stage: str = "floor"


@dataclass(kw_only=True)
class ModelResult(Result):
    """A fine-tuned classifier of the setup: the baseline or a variant."""

    variant_id: str
    setup_hash: str
    params: dict                     # shape and cost (runner.SHAPE_PARAMS, metrics.COST); latency added last
    config: dict                     # the causal LM's config.to_dict(): latency rebuilds the architecture
    per_seed: list[dict]
    level_ci: dict[str, Interval] = _each(Interval)
    lm_loss_before_recovery: float
    base_lm_loss: float
    training: dict                   # seconds, tokens/s, loss curves, which variant trained each seed
    # before recovery, training-free (evaluation/zero_shot.py): zero_shot_accuracy and its stderr, and
    # lm_eval.<task>.<metric> for the setup's extra harness tasks; empty when switched off
    zero_shot: dict[str, float] = field(default_factory=dict)
    # `original: task`: the task model's head on this backbone right after the cut, before any recovery
    # (one forward pass on the test split); empty when variants are cut from the pretrained LM
    before_recovery: dict[str, float] = field(default_factory=dict)


@dataclass(kw_only=True)
class BaselineResult(ModelResult):
    """The uncompressed model under the setup, with the floors it is read against."""

    name: str = "baseline"
    stage: str = "baseline"
    variant_id: str = "baseline"
    model: dict                      # where the base model came from (source, kind, location)
    floors: dict[str, dict[str, float]]  # each floor's metrics (logged as a FloorResult)
    seconds: float                   # worker-seconds: the seeds may have been built side by side
    teacher: dict = field(default_factory=dict)   # the teacher's name and test metrics (training.teacher), beside the floors
    noise_floor: dict[str, float] = field(default_factory=dict)  # per metric: the delta CI half-width of the baseline
    # against itself, the smallest difference this setup resolves (evaluation.intervals.noise_floor)
    preds: np.ndarray | None = _not_saved()         # per seed x test item: the delta CIs resample them
    before_preds: np.ndarray | None = _not_saved()  # 1 x test item: the task model's own predictions
    train_logits: np.ndarray | None = _not_saved()  # per seed: what `recovery: distill` teaches


@dataclass(kw_only=True)
class VariantResult(ModelResult):
    """One compressed model against the baseline: what it removed, its deltas and its verdict."""

    experiment: str
    hypothesis: str
    motivation: str
    description: str
    compression: dict                # the variant's spec, as written
    removed: list[dict]              # removal records (plain data, replayable)
    expect: dict[str, str]           # each bound, in words
    bounds: dict[str, dict] = field(default_factory=dict)  # each bound as numbers: {metric: {min_delta, max_delta}}
    deltas: dict[str, float]
    ci: dict[str, DeltaInterval] = _each(DeltaInterval)
    verdict: str                     # confirmed, inconclusive or rejected (verdict.judge)
    message: str
    delta_params_pct: float
    flop_ratio: float
    model_fingerprint: str
    seconds: dict[str, float]        # compress, total
    worker: dict                     # pid, started, finished: a benchmark lays out timelines from it
    memory: dict | None = None       # the worker's RSS after the variant
    speedup: float | None = None     # baseline latency / this latency, set by the latency step
    # `original: task`: the cut before recovery against the task model itself, and its own bounds' verdict
    before_recovery_deltas: dict[str, float] = field(default_factory=dict)
    before_recovery_ci: dict[str, DeltaInterval] = _each(DeltaInterval, default_factory=dict)
    before_recovery_verdict: str = ""     # confirmed, inconclusive, rejected; "" when no bound was set
    before_recovery_message: str = ""


@dataclass(kw_only=True)
class PostTrainingResult(VariantResult):
    """A post-training transform of fine-tuned classifiers (stage post_training), without retraining or after a
    short recovery that keeps its zeros.

    `target` is the fine-tuned model it was applied to (the baseline, or a structural variant whose
    `compression` and `removed` this record repeats); `deltas`, `ci` and the verdict compare each
    seed's classifier after the transform with the same classifier before it (`source_metrics`).
    `transform` is the transform's record, measured from the tensors (compression/post_training/).
    """

    stage: str = "post_training"
    target: str
    post_training: dict              # the transform as written ({name: spec})
    transform: dict                  # its record: what it measured (sparsity, bits, packed bytes), kernel
    source_metrics: dict[str, float]


@dataclass(kw_only=True)
class ReferenceResult(Result):
    """A comparison model of the setup (`compare:`): zero-shot, and fine-tuned when asked.

    A row of its own beside the compressed models, never a candidate for the best compressed one.
    `metrics` (and their CIs) are the fine-tuned classifier's, empty when it was not fine-tuned.
    """

    stage: str = "reference"
    model: dict                      # where it came from (source, kind, location)
    setup_hash: str
    params: dict                     # total_parameters; the classifier's cost too when fine-tuned
    zero_shot: dict[str, float]      # as ModelResult.zero_shot, of the model as it is
    fine_tuned: bool
    metrics: dict[str, float] = field(default_factory=dict)
    per_seed: list[dict] = field(default_factory=list)
    level_ci: dict[str, Interval] = _each(Interval, default_factory=dict)
    training: dict = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(kw_only=True)
class LayerCurveResult(Result):
    """The layer-removal curve of the uncut LM (`evaluation.layer_curve`, evaluation/layer_curve.py).

    `points`: one {rule, k, draw, layers, loss} per model measured (block_influence, random draws, last);
    `influence`: the block influence per layer that chose the first rule's layers.
    """

    name: str = "layer_curve"
    stage: str = "layer_curve"
    metrics: dict[str, float] = field(default_factory=dict)
    setup_hash: str
    base_loss: float                 # nats/token, no layer removed
    texts: int                       # validation texts the loss is measured on
    influence: list[float]
    points: list[dict]
    seconds: float


def from_dict(doc: dict) -> Result:
    """The record a logged document holds, by its stage."""
    kind = {"floor": FloorResult, "baseline": BaselineResult, "reference": ReferenceResult,
            "post_training": PostTrainingResult, "layer_curve": LayerCurveResult}.get(doc.get("stage"), VariantResult)
    return kind.from_dict(doc)


__all__ = ["BaselineResult", "DeltaInterval", "FloorResult", "Interval", "LayerCurveResult", "ModelResult", "PostTrainingResult", "Record",
           "ReferenceResult", "Result", "VariantResult", "from_dict"]
