"""The optimiser's parameter groups and the learning-rate schedule (warm-up, then cosine, linear or constant)."""
from __future__ import annotations

import math

from exaone_bench.config.setup import TrainingSetup


def decay_groups(model, weight_decay: float) -> list[dict]:
    """AdamW parameter groups: matrices decay, norm weights and biases (1-D) do not."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def lr_multiplier(step: int, steps: int, warmup_steps: int, schedule: str = "cosine", floor: float = 0.0) -> float:
    """The learning-rate multiplier at `step`: linear warm-up, then cosine / linear decay to `floor`, or constant.

    The one schedule of the package: the fine-tune (floor 0) and the reference's pretraining
    (floor `min_lr_ratio`) both read it.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)
    decay = 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else 1.0 - progress
    return floor + (1 - floor) * decay


def lr_factor(step: int, setup: TrainingSetup) -> float:
    """The fine-tune's multiplier at `step` under the setup's schedule."""
    return lr_multiplier(step, setup.steps, setup.warmup_steps, setup.schedule)
