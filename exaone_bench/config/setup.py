"""experiments/setup.yaml typed: the one fixed setup every variant and the baseline share; its hash keys every cache."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from exaone_bench.config.metrics import COSTS
from exaone_bench.config.schema import _build, _build_list, _hash, _nested, read_yaml
from exaone_bench.config.verdict import Expectation
from exaone_bench.core.validate import SpecError, as_int, positive

# Bumped whenever the training loop's numbers change, so that no baseline cached by an older loop
# is compared with variants trained by a newer one. 2: last-layer pooling (models/pooling.py), fused AdamW.
# 3: every seed-0 cost holds the classifier's bytes on disk (safetensors, zstd).
LOOP_VERSION = 3


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
    """Label-word zero-shot accuracy on the test split through lm-evaluation-harness (evaluation/zero_shot.py)."""

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
