"""Typed schemas of the YAML the user writes: the setup, experiment files and their expectations."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from .metrics import BOUNDED, COSTS, NAMES
from .models.variants import STRATEGIES, check as check_compression, not_applicable
from .validate import SpecError, as_int, check_keys, positive


# Bumped whenever the training loop's numbers change, so that no baseline cached by an older loop
# is compared with variants trained by a newer one. 2: last-layer pooling (pooling.py), fused AdamW.
# 3: every seed-0 cost holds the classifier's bytes on disk (safetensors, zstd).
LOOP_VERSION = 3


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content (safe loader); unreadable or malformed files name themselves."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise SpecError(f"{path}: cannot be read as YAML ({e})") from e


# --------------------------------------------------------------------------------------------
# Typed schemas of experiments/setup.yaml and experiments/<strategy>.yaml
# --------------------------------------------------------------------------------------------
STAGES = ("compression", "final", "post_training")


def _build(cls, raw: Any, where: str):
    """Instantiate a dataclass from a mapping: unknown keys and wrong types fail with the key named."""
    if raw is None:
        raw = {}
    check_keys(raw, [f.name for f in dataclasses.fields(cls)], where)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value = raw[f.name]
        sub = f.metadata.get("schema")
        if sub is not None:
            value = _build(sub, value, f"{where}.{f.name}")
        kwargs[f.name] = value
    obj = cls(**kwargs)
    check = getattr(obj, "check", None)
    if check is not None:
        check(where)
    return obj


def _nested(cls):
    return dataclasses.field(default_factory=cls, metadata={"schema": cls})


def _build_list(cls, raw: Any, where: str) -> list:
    """A YAML list of mappings, each built as `cls` (already-built items pass through)."""
    if not isinstance(raw, list):
        raise SpecError(f"{where}: expected a list, got {raw!r}")
    return [item if isinstance(item, cls) else _build(cls, item, f"{where}[{i}]") for i, item in enumerate(raw)]


@dataclasses.dataclass
class DataSetup:
    source: str = "rotten_tomatoes"
    seed: int = 0

    def check(self, where):
        if not isinstance(self.source, str):
            raise SpecError(f"{where}.source: expected a string, got {self.source!r}")
        as_int(self.seed, f"{where}.seed", 0, 2**31)


@dataclasses.dataclass
class LoraSetup:
    """`recovery: lora`: rank-r adapters on these decoder linear maps (peft), the score head trained in full."""

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: list = dataclasses.field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])

    def check(self, where):
        positive(self.rank, f"{where}.rank")
        positive(float(self.alpha), f"{where}.alpha", float)
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise SpecError(f"{where}.dropout: expected a value in [0, 1), got {self.dropout!r}")
        names = self.target_modules
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise SpecError(f"{where}.target_modules: expected a non-empty list of module names, got {names!r}")
        self.alpha, self.dropout = float(self.alpha), float(self.dropout)


@dataclasses.dataclass
class TrainingSetup:
    """The one fixed fine-tune every variant and the baseline get."""

    steps: int = 300                 # fixed optimizer steps; never a time limit
    batch_size: int = 32
    lr: float = 1e-3
    schedule: str = "cosine"         # cosine | linear | constant, after warm-up
    warmup_steps: int = 20
    weight_decay: float = 0.01
    max_length: int = 64
    length_bucket: int = 32          # batches per length-sorted window: wider pads less (train.batch_order)
    seeds: int = 3                   # every model trains once per seed 0..seeds-1
    recovery: str = "finetune"       # finetune | distill (KL to the baseline's logits) | lora (peft adapters, merged)
    distill_alpha: float = 0.5       # weight of the label loss; 1 - alpha on the KL term
    distill_temperature: float = 2.0
    eval_every: int = 0              # >0: validation accuracy every N steps, keep the best
    threads: int = 1                 # torch threads, fixed so that -n 0 and -n 2 agree; 0: torch's default
    gradient_checkpointing: bool = False  # trade compute for activation memory on large models
    lora: LoraSetup = dataclasses.field(default_factory=LoraSetup, metadata={"schema": LoraSetup})

    def check(self, where):
        for key in ("steps", "batch_size", "max_length", "length_bucket", "seeds"):
            positive(getattr(self, key), f"{where}.{key}")
        positive(float(self.lr), f"{where}.lr", float)
        if self.schedule not in ("cosine", "linear", "constant"):
            raise SpecError(f"{where}.schedule: '{self.schedule}' is not one of cosine, linear, constant")
        if self.recovery not in ("finetune", "distill", "lora"):
            raise SpecError(f"{where}.recovery: '{self.recovery}' is not one of finetune, distill, lora")
        as_int(self.warmup_steps, f"{where}.warmup_steps", 0, self.steps)
        as_int(self.eval_every, f"{where}.eval_every", 0, self.steps)
        as_int(self.threads, f"{where}.threads", 0, 256)
        if not 0 <= self.distill_alpha <= 1:
            raise SpecError(f"{where}.distill_alpha: expected a value in [0, 1], got {self.distill_alpha}")
        self.lr = float(self.lr)


@dataclasses.dataclass
class LatencySetup:
    batch_size: int = 1
    seq_len: int = 32
    warmup: int = 5
    repeats: int = 30
    threads: int = 1

    def check(self, where):
        for f in dataclasses.fields(self):
            positive(getattr(self, f.name), f"{where}.{f.name}")


@dataclasses.dataclass
class ZeroShotSetup:
    """Label-word zero-shot accuracy on the test split through lm-evaluation-harness (zero_shot.py)."""

    enabled: bool = True
    choices: list | None = None      # one label word per label id, in id order; None: the data's label names
    batch_size: int = 64

    def check(self, where):
        if not isinstance(self.enabled, bool):
            raise SpecError(f"{where}.enabled: expected true or false, got {self.enabled!r}")
        positive(self.batch_size, f"{where}.batch_size")
        if self.choices is not None:
            words = self.choices
            if (not isinstance(words, list) or len(words) < 2
                    or not all(isinstance(w, str) and w.strip() == w and w for w in words)):
                raise SpecError(f"{where}.choices: expected a list of at least two label words (no surrounding "
                                f"spaces), got {words!r}")
            if len(set(words)) != len(words):
                raise SpecError(f"{where}.choices: label words must differ, got {words!r}")


@dataclasses.dataclass
class HarnessTask:
    """An lm-evaluation-harness task the user holds locally: its name and the directory of its YAML."""

    task: str = ""
    include_path: str = ""

    def check(self, where):
        if not isinstance(self.task, str) or not self.task:
            raise SpecError(f"{where}.task: expected the harness task's name, got {self.task!r}")
        path = Path(str(self.include_path)).expanduser()
        if not self.include_path or not path.is_dir():
            raise SpecError(f"{where}.include_path: '{self.include_path}' is not a directory holding the task's "
                            "YAML (nothing is fetched: the task and its data must be local)")
        self.include_path = str(path.resolve())


@dataclasses.dataclass
class EvaluationSetup:
    batch_size: int = 128
    bootstrap: int = 1000            # resamples of seeds x test items for the delta CI
    confidence: float = 0.95
    lm_loss_texts: int = 500         # validation texts (the split's first N) for the LM loss before recovery
    latency: LatencySetup = _nested(LatencySetup)
    zero_shot: ZeroShotSetup = _nested(ZeroShotSetup)
    lm_eval_tasks: list = dataclasses.field(default_factory=list)  # [HarnessTask], zero-shot beside the split's

    def check(self, where):
        positive(self.batch_size, f"{where}.batch_size")
        positive(self.bootstrap, f"{where}.bootstrap")
        positive(self.lm_loss_texts, f"{where}.lm_loss_texts")
        if not 0.5 < self.confidence < 1:
            raise SpecError(f"{where}.confidence: expected a value in (0.5, 1), got {self.confidence}")
        self.lm_eval_tasks = _build_list(HarnessTask, self.lm_eval_tasks, f"{where}.lm_eval_tasks")
        names = [t.task for t in self.lm_eval_tasks]
        if len(set(names)) != len(names):
            raise SpecError(f"{where}.lm_eval_tasks: a task is named twice in {names}")


@dataclasses.dataclass
class CalibrationSetup:
    samples: int = 32                # training-split blocks used by importance scores
    seq_len: int = 64
    seed: int = 0

    def check(self, where):
        as_int(self.samples, f"{where}.samples", 0, 100_000)
        positive(self.seq_len, f"{where}.seq_len")


@dataclasses.dataclass
class SelectionSetup:
    """The declared rule for the best compressed model: minimise `objective` under constraints."""

    objective: str = "total_parameters"
    constraints: dict = dataclasses.field(
        default_factory=lambda: {"accuracy": {"min_delta": -0.02}, "precision": {"min_delta": -0.02}})

    def check(self, where):
        if self.objective not in COSTS:
            raise SpecError(f"{where}.objective: '{self.objective}' is not a size or cost measure; choose one of {list(COSTS)}")
        for metric, bound in self.constraints.items():
            Expectation.parse(metric, bound, f"{where}.constraints.{metric}")


@dataclasses.dataclass
class CompareSetup:
    """A comparison model: evaluated zero-shot, and fine-tuned under the setup's one fixed loop if asked.

    Its rows (stage `reference`) stand beside the compressed ones and are never candidates for the
    best compressed model.
    """

    source: str = ""
    fine_tune: bool = False          # the setup's training block, every seed: its budget is the setup's

    def check(self, where):
        if not isinstance(self.source, str) or not self.source:
            raise SpecError(f"{where}.source: expected a model source (a built-in name, a local directory or "
                            f"a hub id), got {self.source!r}")
        if not isinstance(self.fine_tune, bool):
            raise SpecError(f"{where}.fine_tune: expected true or false, got {self.fine_tune!r}")


@dataclasses.dataclass
class Setup:
    """experiments/setup.yaml: the one fixed setup shared by every variant; its hash keys the caches."""

    model: str = "exaone-tiny"
    device: str = "cpu"
    dtype: str = "float32"
    trust_remote_code: bool = False
    data: DataSetup = _nested(DataSetup)
    training: TrainingSetup = _nested(TrainingSetup)
    evaluation: EvaluationSetup = _nested(EvaluationSetup)
    calibration: CalibrationSetup = _nested(CalibrationSetup)
    selection: SelectionSetup = _nested(SelectionSetup)
    compare: list = dataclasses.field(default_factory=list)  # [CompareSetup]: rows beside, not part of, the setup
    tracking_uri: str | None = None
    path: str = ""

    def check(self, where):
        if self.device not in ("cpu", "cuda", "auto"):
            raise SpecError(f"{where}.device: '{self.device}' is not one of cpu, cuda, auto")
        if self.dtype not in ("float32", "bfloat16"):
            raise SpecError(f"{where}.dtype: '{self.dtype}' is not one of float32, bfloat16")
        self.compare = _build_list(CompareSetup, self.compare, f"{where}.compare")
        sources = [c.source for c in self.compare]
        if len(set(sources)) != len(sources):
            raise SpecError(f"{where}.compare: a model is listed twice in {sources}")
        for i, c in enumerate(self.compare):
            if not c.fine_tune and not self.evaluation.zero_shot.enabled:
                raise SpecError(f"{where}.compare[{i}]: '{c.source}' is neither fine-tuned nor scored zero-shot "
                                "(evaluation.zero_shot.enabled is false): it would have no row")

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("path")
        return out

    def cache_key(self) -> dict:
        """What a cached result depends on: the resolved setup and the training loop's version.

        The comparison models are rows beside the suite, not part of what a baseline or a variant
        is trained under: listing another one retrains nothing.
        """
        key = {**self.as_dict(), "loop": LOOP_VERSION}
        key.pop("compare")
        if self.training.recovery != "lora":  # the adapters' settings change nothing another recovery trains
            key["training"].pop("lora")
        return key

    @property
    def hash(self) -> str:
        return _hash(self.cache_key())

    @property
    def seed_hash(self) -> str:
        """The hash of what one seed's run depends on: the setup without the seed count.

        A `--quick` run (one seed) and the full run share their seed-0 baseline through it.
        """
        key = self.cache_key()
        key["training"].pop("seeds")
        return _hash(key)

    def flat(self) -> dict:
        """The resolved setup as one flat dict (`training.lr` = 0.001), for logging."""
        def walk(prefix, value, out):
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else k, v, out)
            else:
                out[prefix] = value
            return out
        return walk("", self.as_dict(), {})


def load_setup(path: str | Path, **overrides) -> Setup:
    """Read and validate a setup file; CLI overrides (model, device, dtype) win over the file."""
    path = Path(path)
    raw = read_yaml(path) or {}
    raw = {**raw, **{k: v for k, v in overrides.items() if v is not None}}
    setup = _build(Setup, raw, str(path))
    setup.path = str(path)
    return setup


# A hypothesis's verdict and how a person reads it; `verdict.judge` decides it from the CIs.
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


@dataclasses.dataclass
class Variant:
    id: str
    compression: dict
    expect: dict[str, Expectation]
    marks: list[str]
    description: str = ""
    not_applicable: str = ""  # why the base model has nothing this variant could cut (the item is skipped)
    # stage post_training: the transform ({name: spec}) and the fine-tuned model it is applied to
    # ("baseline", or "<experiment>[<variant>]" whose `compression` this variant then builds first)
    post_training: dict = dataclasses.field(default_factory=dict)
    target: str = ""
    recovery_steps: int = 0  # post_training: steps of the setup's loop after a sparsity transform, its zeros kept


@dataclasses.dataclass
class Experiment:
    """experiments/<name>.yaml: a hypothesis, the expected outcome and the variants that test it."""

    path: str
    name: str
    strategy: str
    hypothesis: str
    motivation: str
    stage: str
    expect: dict[str, Expectation]
    variants: list[Variant]


EXPERIMENT_KEYS = ("strategy", "hypothesis", "motivation", "stage", "expect", "variants", "targets")
VARIANT_KEYS = ("id", "compression", "expect", "marks", "description")
POST_TRAINING_KEYS = ("id", "post_training", "recovery_steps", "expect", "marks", "description")


def _expectations(raw, where) -> dict[str, Expectation]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: expected a mapping of metric -> {{min_delta, max_delta}}")
    return {m: Expectation.parse(m, v, f"{where}.{m}") for m, v in raw.items()}


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


def _expect_and_marks(v: dict, expect: dict, vwhere: str) -> tuple[dict, list]:
    """A variant's expectations (the file's, overridden by its own; at least one) and its marks."""
    v_expect = {**expect, **_expectations(v.get("expect"), f"{vwhere}.expect")}
    if not v_expect:
        raise SpecError(f"{vwhere}: no expectation: give expect: at file or variant level")
    marks = v.get("marks", [])
    if not isinstance(marks, list) or not all(isinstance(m, str) for m in marks):
        raise SpecError(f"{vwhere}.marks: expected a list of marker names")
    return v_expect, marks


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
        v_expect, marks = _expect_and_marks(v, expect, vwhere)
        variants.append(Variant(vid, comp, v_expect, marks, str(v.get("description", "")), skip))
    return Experiment(str(path), path.stem, strategy, str(raw["hypothesis"]).strip(),
                      str(raw.get("motivation", "")).strip(), stage, expect, variants)


def load_post_training(path: Path, raw: dict, config=None) -> Experiment:
    """A post-training file: transforms (post_training/) applied to fine-tuned models, without retraining
    (or, with `recovery_steps: N` on a sparsity transform, after N steps of the setup's loop, zeros kept).

    `targets:` names the fine-tuned models a transform is applied to: `baseline`, or
    `<experiment>[<variant>]` of a sibling file, whose compression is built first (the same cut,
    so the same model as that variant's item). Each variant x target is one item,
    `<variant>@<target>`; expectations are relative to the same classifiers before the transform.
    """
    from . import post_training

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
        v_expect, marks = _expect_and_marks(v, expect, vwhere)
        for target, compression in compressions.items():
            skip = not_applicable(config, compression) if config is not None and compression else ""
            variants.append(Variant(f"{vid}@{target_label(target)}", compression, v_expect, marks,
                                    str(v.get("description", "")), skip, spec, target, recovery))
    return Experiment(str(path), path.stem, "post_training", str(raw["hypothesis"]).strip(),
                      str(raw.get("motivation", "")).strip(), "post_training", expect, variants)


def target_label(target: str) -> str:
    """`reduce_mlp[keep-75]` -> `keep-75`: an item id without nested brackets or a strategy's name
    (`-k reduce_mlp` selects that strategy's own items, not the transforms of one of them)."""
    return target.partition("[")[2][:-1] if "[" in target else target


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
