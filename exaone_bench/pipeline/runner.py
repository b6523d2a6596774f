"""The runner: one setup's split, fine-tuning, measures and baseline, put together once per process.

It builds the pieces and hands each pipeline only what it uses (the setup, the split, `load_base`,
the fitter, the measures, the baseline cache): a structural variant (variant.py), a post-training
row (post_training.py), the baseline (baseline.py) and comparison rows (comparison.py).
"""
from __future__ import annotations

from pathlib import Path

from exaone_bench.base_models.load import load_model
from exaone_bench.base_models.task_model import TaskModel, read_head
from exaone_bench.base_models.teacher import Teacher
from exaone_bench.config.experiment import Experiment, Variant
from exaone_bench.config.setup import Setup
from exaone_bench.data.split import DataSpec, Split
from exaone_bench.evaluation.latency import Latency
from exaone_bench.evidence.records import BaselineResult, VariantResult
from exaone_bench.pipeline import post_training, variant
from exaone_bench.pipeline.baseline import BaselineCache
from exaone_bench.pipeline.fitting import Fitter
from exaone_bench.pipeline.measures import Measures


class Runner:
    """Holds the fixed split and the setup; runs one item at a time."""

    def __init__(self, setup: Setup, progress: bool = False, run_dir: Path | None = None):
        self.setup = setup
        spec = DataSpec.of(setup.data)
        self.split = Split.load(spec)
        self.measures = Measures(setup, self.split)  # a wrong count of label words fails here
        # the teacher's labels and the task model are verified (or built once) before anything is cut
        self.teacher = Teacher(setup.training.teacher, self.split, spec.split_dir.name) if setup.training.teacher else None
        self.original = TaskModel(setup, self.split, spec.split_dir.name) if setup.original == "task" else None
        self.head = read_head(self.original.ensure()) if self.original is not None else None
        n_train = len(self.split.texts["train"])
        teacher_logits = self.teacher.logits()[:n_train] if self.teacher is not None else None
        self.fitter = Fitter(setup, self.split, run_dir, progress, teacher_logits)
        self.baselines = BaselineCache(setup, self.split, self.load_base, self.fitter, self.measures, self.head,
                                       self.teacher.meta() if self.teacher is not None else {})
        self.timer = Latency(setup.evaluation.latency, setup.device, self.split.num_labels)

    def load_base(self):
        """The original (the task model's causal LM, or the setup's LM), its tokenizer and source. Weights stay
        fp32 (the master copy); `dtype: bfloat16` means bf16 autocast compute. `device: auto`: accelerate places it."""
        s = self.setup
        source = str(self.original.dir) if self.original is not None else s.model
        return load_model(source, dtype="float32", device=s.device, trust_remote_code=s.trust_remote_code)

    def baseline(self) -> BaselineResult:
        """The uncompressed model under this setup (baseline.py): trained once per setup hash, then read back."""
        return self.baselines.get()

    def latencies(self, configs: list[dict], transforms: list[dict | None] | None = None) -> list[float]:
        """Median latency (ms) of a classifier of each architecture (and kernel), under the setup's protocol."""
        return self.timer.latencies(configs, transforms)

    def run_variant(self, experiment: Experiment, item: Variant) -> VariantResult:
        """One item: a post-training row or a structural variant, each through its own pipeline."""
        pipeline = post_training if experiment.stage == "post_training" else variant
        return pipeline.run(experiment, item, setup=self.setup, split=self.split, load_base=self.load_base,
                            fitter=self.fitter, measures=self.measures, baselines=self.baselines, head=self.head)
