"""experiments/setup.yaml typed: the one fixed setup every variant and the baseline share; its hash keys every cache."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from exaone_bench.config.metrics import COSTS
from exaone_bench.config.schema import Schema, build, read_yaml
from exaone_bench.config.verdict import Expectation
from exaone_bench.core.validate import SpecError

# Bumped whenever the training loop's numbers change, so that no baseline cached by an older loop
# is compared with variants trained by a newer one. 2: last-layer pooling (models/pooling.py), fused AdamW.
# 3: every seed-0 cost holds the classifier's bytes on disk (safetensors, zstd).
LOOP_VERSION = 3


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _positive(value, kind: str = "int"):
    if value <= 0:
        raise ValueError(f"expected a positive {kind}, got {value!r}")
    return value


class DataSetup(Schema):
    """The labelled data: the built-in source or a local file, its column names and encoding, the split's seed."""

    source: str = "rotten_tomatoes"
    seed: int = Field(0, ge=0, le=2**31)
    text_column: str = "text"        # a bring-your-own file's columns, e.g. review / stars
    label_column: str = "label"
    encoding: str = "utf-8"          # of a bring-your-own file, e.g. latin-1

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v):
        import codecs

        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown encoding '{v}' (e.g. utf-8, latin-1, cp1252)") from None
        return v


class LoraSetup(Schema):
    """`recovery: lora`: rank-r adapters on these decoder linear maps (peft), the score head trained in full."""

    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])

    @field_validator("rank")
    @classmethod
    def _rank(cls, v):
        return _positive(v)

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, v):
        return _positive(v, "float")

    @field_validator("dropout")
    @classmethod
    def _dropout(cls, v):
        if not 0 <= v < 1:
            raise ValueError(f"expected a value in [0, 1), got {v!r}")
        return v

    @field_validator("target_modules")
    @classmethod
    def _modules(cls, v):
        if not v or not all(v):
            raise ValueError(f"expected a non-empty list of module names, got {v!r}")
        return v


def _without_later_defaults(block, exclude: set[str] | None = None) -> dict:
    """`block` as a dict for a cache key, its `LATER` keys dropped where they hold their defaults."""
    out = block.model_dump(exclude=exclude)
    for name in block.LATER:
        if out[name] == type(block).model_fields[name].default:
            out.pop(name)
    return out


class TeacherSetup(Schema):
    """A real pretrained LM made into a classifier of the setup's task: soft labels over the transfer set.

    The transfer set is the training texts and `copies` augmented copies of each (data/augment.py);
    the labels are a one-time job (base_models/teacher.py), cached by hash and shipped for the default.
    """

    source: str = "smollm2-135m"     # any model source: a built-in name, a local directory, a hub id
    copies: int = Field(4, ge=0, le=100)
    drop: float = Field(0.1, ge=0, lt=1)
    swap: float = Field(0.1, ge=0, lt=1)
    ngram: float = Field(0.25, ge=0, le=1)
    seed: int = 0
    # texts the teacher LM writes, prompted with training texts (base_models/sampled.py), added to the transfer set;
    # the student's gold label for one is the teacher's choice. Kept and shipped beside the labels (sampling is machine-bound)
    sampled: int = Field(0, ge=0, le=1_000_000)
    sample_tokens: int = Field(32, ge=1, le=512)  # new tokens per written text (it ends at its first line break)
    # real unlabelled texts of the task's domain (data/unlabelled.py) added to the transfer set, labelled by the teacher;
    # the source: "imdb" (sentences of IMDB reviews, a registry package) or a local file with one text per line
    unlabelled: int = Field(0, ge=0, le=1_000_000)
    unlabelled_source: str = "imdb"
    max_length: int = 64             # tokens of the teacher's tokenizer
    batch_size: int = 64
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bf16 where the machine has bf16 units
    threads: int = Field(0, ge=0, le=256)                   # 0: torch's default (all cores): a one-time job

    LATER: ClassVar[tuple[str, ...]] = ("sampled", "sample_tokens", "unlabelled", "unlabelled_source")  # added after the first labels shipped

    @field_validator("unlabelled_source")
    @classmethod
    def _source(cls, v):
        if v != "imdb" and not Path(v).expanduser().is_file():
            raise ValueError(f"'{v}' is neither imdb nor a file with one text per line")
        return v

    def keyed(self) -> dict:
        """What the labels depend on: every key; a later key at its default leaves the dict, so labels made
        before it existed keep their name and hash."""
        return _without_later_defaults(self)


class TaskModelSetup(Schema):
    """How the original is made with `original: task`: the LM trained once, long, with the teacher's labels."""

    steps: int = 2880
    batch_size: int = 32
    lr: float = 1e-3
    warmup_steps: int = 100
    weight_decay: float = 0.01
    distill_alpha: float = Field(0.5, ge=0, le=1)  # weight of the gold labels; 1 - alpha on KL to the teacher
    distill_temperature: float = 2.0
    seed: int = 0
    # the student's input embeddings: its own, the teacher's input rows mapped through the text (teacher), or the
    # teacher's residual stream entering layer `embedding_layer`, averaged over each token's uses in the training texts (teacher_context),
    # or the mapped rows beside GloVe's word vectors of the words each token is part of (teacher_glove; fetched by npm)
    embeddings: Literal["pretrained", "teacher", "teacher_context", "teacher_glove"] = "pretrained"
    embedding_layer: int = Field(8, ge=0)
    features: float = Field(0.0, ge=0)  # weight of the feature term: the pooled state regressed on the teacher's (0: off)
    feature_dims: int = Field(128, ge=1)  # the teacher features' principal components the term keeps
    # keep the input embeddings as they start (the teacher's, mapped): a word the training texts never use keeps its
    # place among the words they do (Kim 2014's static vectors), and the table's parameters cannot fit the transfer set
    freeze_embeddings: bool = False
    # dropout on the attention probabilities while the task model trains (EXAONE 4's one dropout); the task model is
    # saved with its LM's own config, so variants cut from it recover without it
    dropout: float = Field(0.0, ge=0, lt=1)
    dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    threads: int = Field(0, ge=0, le=256)

    @field_validator("steps", "batch_size")
    @classmethod
    def _counts(cls, v):
        return _positive(v)

    LATER: ClassVar[tuple[str, ...]] = ("embedding_layer", "features", "feature_dims", "freeze_embeddings",
                                        "dropout")  # keys added after the first task models

    def keyed(self) -> dict:
        """What a task model depends on: every key but `threads`; a later key at its default leaves the dict, so a
        task model made before it existed keeps its name and hash."""
        return _without_later_defaults(self, exclude={"threads"})


class TrainingSetup(Schema):
    """The one fixed fine-tune every variant and the baseline get."""

    steps: int = 300                 # fixed optimizer steps; never a time limit
    batch_size: int = 32
    lr: float = 1e-3
    schedule: Literal["cosine", "linear", "constant"] = "cosine"  # after warm-up
    warmup_steps: int = 20
    weight_decay: float = 0.01
    max_length: int = 64
    length_bucket: int = 32          # batches per length-sorted window: wider pads less (training.loop.batch_order)
    seeds: int = 3                   # every model trains once per seed 0..seeds-1
    recovery: Literal["finetune", "distill", "lora"] = "finetune"  # distill: KL to the baseline's logits; lora: peft
    distill_alpha: float = 0.5       # weight of the label loss; 1 - alpha on the KL term
    distill_temperature: float = 2.0
    eval_every: int = 0              # >0: validation accuracy every N steps, keep the best
    threads: int = Field(1, ge=0, le=256)  # torch threads, fixed so that -n 0 and -n 2 agree; 0: torch's default
    gradient_checkpointing: bool = False  # trade compute for activation memory on large models
    lora: LoraSetup = Field(default_factory=LoraSetup)
    teacher: TeacherSetup | None = None  # with recovery: distill, KL to the teacher's labels of the training texts

    @field_validator("steps", "batch_size", "max_length", "length_bucket", "seeds")
    @classmethod
    def _counts(cls, v):
        return _positive(v)

    @field_validator("lr")
    @classmethod
    def _lr(cls, v):
        return _positive(v, "float")

    @field_validator("distill_alpha")
    @classmethod
    def _alpha(cls, v):
        if not 0 <= v <= 1:
            raise ValueError(f"expected a value in [0, 1], got {v}")
        return v

    @model_validator(mode="after")
    def _within_steps(self):
        for key in ("warmup_steps", "eval_every"):
            value = getattr(self, key)
            if not 0 <= value <= self.steps:
                raise ValueError(f".{key}: {value} is out of range [0, {self.steps}]")
        return self


class LatencySetup(Schema):
    batch_size: int = 1
    seq_len: int = 32
    warmup: int = 5
    repeats: int = 30
    threads: int = 1

    @field_validator("*")
    @classmethod
    def _counts(cls, v):
        return _positive(v)


class ZeroShotSetup(Schema):
    """Label-word zero-shot accuracy on the test split through lm-evaluation-harness (evaluation/zero_shot.py)."""

    enabled: bool = True
    choices: list | None = None      # one label word per label id, in id order; None: the data's label names
    batch_size: int = 64
    # each variant too, right after its cut (false: the baseline and the comparison models only; on a model whose
    # forward passes are slow, each variant's costs what its fine-tune does)
    variants: bool = True

    @field_validator("batch_size")
    @classmethod
    def _batch(cls, v):
        return _positive(v)

    @field_validator("choices")
    @classmethod
    def _choices(cls, words):
        if words is None:
            return words
        if len(words) < 2 or not all(isinstance(w, str) and w.strip() == w and w for w in words):
            raise ValueError(f"expected a list of at least two label words (no surrounding spaces), got {words!r}")
        if len(set(words)) != len(words):
            raise ValueError(f"label words must differ, got {words!r}")
        return words

    def words_for(self, label_names: list[str]) -> list[str]:
        """One word per label id: the setup's, else the data's label names; words written for other data say so."""
        words = self.choices or list(label_names)
        if len(words) != len(label_names):
            raise ValueError(f"{len(words)} label words {words} for the data's {len(label_names)} labels "
                             f"{list(label_names)}: list one word per label in label order, or drop the key to use "
                             "the label names")
        return words


class HarnessTask(Schema):
    """An lm-evaluation-harness task the user holds locally: its name and the directory of its YAML."""

    task: str
    include_path: str

    @field_validator("task")
    @classmethod
    def _task(cls, v):
        if not v:
            raise ValueError(f"expected the harness task's name, got {v!r}")
        return v

    @field_validator("include_path")
    @classmethod
    def _local(cls, v):
        path = Path(v).expanduser()
        if not v or not path.is_dir():
            raise ValueError(f"'{v}' is not a directory holding the task's YAML (nothing is fetched: the task and "
                             "its data must be local)")
        return str(path.resolve())


class LayerCurveSetup(Schema):
    """The layer-removal curve (ShortGPT, Gromov et al.): held-out LM loss of the uncut LM with k layers removed, for
    each k and each way of choosing them, measured once at the session's end (forward passes only)."""

    counts: list[int] = Field(default_factory=lambda: [1, 2, 4, 8])  # k: how many layers each point removes
    draws: int = Field(3, ge=1, le=100)   # random layer sets per k (seeded by data.seed)
    texts: int = Field(200, ge=1)         # validation texts (the split's first N), as for lm_loss_texts

    @field_validator("counts")
    @classmethod
    def _counts(cls, v):
        if not v or any(k < 1 for k in v) or len(set(v)) != len(v):
            raise ValueError(f"expected distinct layer counts >= 1, got {v}")
        return sorted(v)


class EvaluationSetup(Schema):
    batch_size: int = 128
    bootstrap: int = 1000            # resamples of seeds x test items for the delta CI
    confidence: float = 0.95
    lm_loss_texts: int = 500         # validation texts (the split's first N) for the LM loss before recovery
    latency: LatencySetup = Field(default_factory=LatencySetup)
    zero_shot: ZeroShotSetup = Field(default_factory=ZeroShotSetup)
    lm_eval_tasks: list[HarnessTask] = Field(default_factory=list)  # zero-shot beside the split's
    layer_curve: LayerCurveSetup | None = None  # at the session's end: LM loss against layers removed (None: off)

    @field_validator("batch_size", "bootstrap", "lm_loss_texts")
    @classmethod
    def _counts(cls, v):
        return _positive(v)

    @field_validator("confidence")
    @classmethod
    def _confidence(cls, v):
        if not 0.5 < v < 1:
            raise ValueError(f"expected a value in (0.5, 1), got {v}")
        return v

    @field_validator("lm_eval_tasks")
    @classmethod
    def _distinct(cls, tasks):
        names = [t.task for t in tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"a task is named twice in {names}")
        return tasks


class CalibrationSetup(Schema):
    samples: int = Field(32, ge=0, le=100_000)  # training-split blocks used by importance scores
    seq_len: int = 64
    seed: int = 0

    @field_validator("seq_len")
    @classmethod
    def _seq_len(cls, v):
        return _positive(v)


class SelectionSetup(Schema):
    """The declared rule for the best compressed model: minimise `objective` under constraints."""

    objective: str = "total_parameters"
    constraints: dict[str, Any] = Field(
        default_factory=lambda: {"accuracy": {"min_delta": -0.02}, "precision": {"min_delta": -0.02}})

    @field_validator("objective")
    @classmethod
    def _cost(cls, v):
        if v not in COSTS:
            raise ValueError(f"'{v}' is not a size or cost measure; choose one of {list(COSTS)}")
        return v

    @field_validator("constraints")
    @classmethod
    def _bounds(cls, constraints):
        for metric, bound in constraints.items():
            try:
                Expectation.parse(metric, bound, metric)
            except SpecError as e:
                raise ValueError(f".{e}") from None
        return constraints

    def bounds(self) -> list[Expectation]:
        """The constraints as typed bounds: checked when the setup was read, so built here without a check."""
        return [Expectation(m, b.get("min_delta"), b.get("max_delta")) for m, b in self.constraints.items()]


class CompareSetup(Schema):
    """A comparison model: evaluated zero-shot, and fine-tuned under the setup's one fixed loop if asked.

    Its rows (stage `reference`) stand beside the compressed ones and are never candidates for the
    best compressed model.
    """

    source: str
    fine_tune: bool = False          # the setup's training block, every seed: its budget is the setup's

    @field_validator("source")
    @classmethod
    def _source(cls, v):
        if not v:
            raise ValueError(f"expected a model source (a built-in name, a local directory or a hub id), got {v!r}")
        return v


class Setup(Schema):
    """experiments/setup.yaml: the one fixed setup shared by every variant; its hash keys the caches."""

    model: str = "exaone-tiny"
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    dtype: Literal["float32", "bfloat16"] = "float32"
    trust_remote_code: bool = False
    original: Literal["pretrained", "task"] = "pretrained"  # what every variant is cut from: the LM, or its task model
    task_model: TaskModelSetup = Field(default_factory=TaskModelSetup)  # how the task model is trained, once
    data: DataSetup = Field(default_factory=DataSetup)
    training: TrainingSetup = Field(default_factory=TrainingSetup)
    evaluation: EvaluationSetup = Field(default_factory=EvaluationSetup)
    calibration: CalibrationSetup = Field(default_factory=CalibrationSetup)
    selection: SelectionSetup = Field(default_factory=SelectionSetup)
    compare: list[CompareSetup] = Field(default_factory=list)  # rows beside, not part of, the setup
    tracking_uri: str | None = None
    # where this setup's experiment files lie and its reports go, relative to the project root: a study of another
    # model keeps files of its own (experiments/smollm2/) and never overwrites the default's reports
    experiments: str = "experiments"
    reports: str = "reports"
    beside: str | None = None        # another study's results.json, set beside this one in the report (report/beside.py)
    path: str = Field("", exclude=True)  # where it was read from; not part of what it says

    @field_validator("compare")
    @classmethod
    def _distinct(cls, compare):
        sources = [c.source for c in compare]
        if len(set(sources)) != len(sources):
            raise ValueError(f"a model is listed twice in {sources}")
        return compare

    @model_validator(mode="after")
    def _task_needs_a_teacher(self):
        if self.original == "task" and self.training.teacher is None:
            raise ValueError(".training.teacher: `original: task` is trained from a teacher's labels; name one, "
                             "e.g. teacher: {source: smollm2-135m}")
        return self

    @model_validator(mode="after")
    def _each_compare_has_a_row(self):
        for i, c in enumerate(self.compare):
            if not c.fine_tune and not self.evaluation.zero_shot.enabled:
                raise ValueError(f".compare[{i}]: '{c.source}' is neither fine-tuned nor scored zero-shot "
                                 "(evaluation.zero_shot.enabled is false): it would have no row")
        return self

    def as_dict(self) -> dict:
        return self.model_dump()

    def cache_key(self) -> dict:
        """What a cached result depends on: the resolved setup and the training loop's version.

        The comparison models are rows beside the suite, not part of what a baseline or a variant
        is trained under: listing another one retrains nothing.
        """
        key = {**self.as_dict(), "loop": LOOP_VERSION}
        for where in ("compare", "experiments", "reports", "beside"):
            key.pop(where)
        key["evaluation"].pop("layer_curve")  # measured at the session's end, on the uncut LM: no cached result uses it
        key["evaluation"]["zero_shot"].pop("variants")  # rows of the variants only: no cached result uses it
        for name, field in DataSetup.model_fields.items():  # a file's column names at their defaults: the hashes they had
            if name not in ("source", "seed") and key["data"][name] == field.default:
                key["data"].pop(name)
        if self.training.recovery != "lora":  # the adapters' settings change nothing another recovery trains
            key["training"].pop("lora")
        if self.original == "pretrained":  # the task model's schedule changes nothing cut from the LM itself
            key.pop("original"), key.pop("task_model")
        else:
            key["task_model"] = self.task_model.keyed()
        if key["training"]["teacher"] is None:  # setups without a teacher keep the hashes they had
            key["training"].pop("teacher")
        else:  # as its labels are keyed: a key added later, at its default, leaves the setup's hash as it was
            key["training"]["teacher"] = self.training.teacher.keyed()
            key["training"]["teacher"].pop("threads")
        return key

    @property
    def hash(self) -> str:
        return _hash(self.cache_key())

    @property
    def reads_teacher_layer(self) -> bool:
        """Whether the task model's input embeddings are the teacher's states at `task_model.embedding_layer`."""
        return self.original == "task" and self.training.teacher is not None and \
            self.task_model.embeddings == "teacher_context"

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
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping, got {type(raw).__name__} {raw!r}")
    raw = {**raw, **{k: v for k, v in overrides.items() if v is not None}}
    raw.pop("path", None)
    setup = build(Setup, raw, str(path))
    setup.path = str(path)
    return setup
