"""Every number a variant is judged or chosen by, declared once with its direction.

The verdict, the selection rule, MLflow and the report read these declarations: a metric's
name, whether higher is better, and whether its variant-minus-baseline delta has a bootstrap CI
(`evaluate.delta_ci`), which is what lets an expectation bound it. Costs are what the
selection rule may minimise; the zero-shot accuracy is measured before any training.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    has_ci: bool          # the delta's CI is computed, so a bound on it can be decided
    description: str

    def better(self, a: float, b: float) -> bool:
        """Whether value `a` is better than `b` by this metric's direction."""
        return a > b if self.higher_is_better else a < b

    def sort_key(self, value: float) -> float:
        """Ascending order of this key is best first."""
        return -value if self.higher_is_better else value


QUALITY = (
    Metric("accuracy", True, True, "test accuracy"),
    Metric("precision", True, True, "macro precision on test"),
    Metric("recall", True, False, "macro recall on test"),
    Metric("f1", True, False, "macro F1 on test"),
    Metric("eval_loss", False, False, "test cross-entropy (nats)"),
)


COST = (
    Metric("total_parameters", False, False, "parameters of the causal LM"),
    Metric("model_size_mb", False, False, "fp32 classifier weights (MB)"),
    Metric("safetensors_bytes", False, False, "the classifier's safetensors file (bytes)"),
    Metric("zstd_bytes", False, False, "that file after zstd (storage.ZSTD_LEVEL)"),
    Metric("inference_latency_ms", False, False, "median batch-1 forward (ms)"),
    Metric("flops_per_token", False, False, "forward FLOPs per token"),
)


# Training-free, before recovery, through lm-evaluation-harness (evaluation/zero_shot.py): a second measure of
# damage beside the LM loss, and what a comparison model scores as it is.
ZERO_SHOT = Metric("zero_shot_accuracy", True, False, "label-word zero-shot accuracy on test (lm-eval)")


BY_NAME = {m.name: m for m in QUALITY + COST + (ZERO_SHOT,)}


NAMES = tuple(m.name for m in QUALITY)                 # quality metrics, in table order


BOUNDED = tuple(m.name for m in QUALITY if m.has_ci)   # the ones an expectation may bound


COSTS = tuple(m.name for m in COST)                    # what the selection rule may minimise


PRIMARY = QUALITY[0]                                   # breaks ties between equal costs
