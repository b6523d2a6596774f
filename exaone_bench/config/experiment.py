"""An experiment file once validated: its hypothesis, stage and variants, each with its expectations."""
from __future__ import annotations

import dataclasses

from exaone_bench.config.verdict import Expectation

STAGES = ("compression", "final", "post_training")


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
    # `original: task`: bounds on the task model's head right after the cut (expect: {before_recovery: ...})
    expect_before: dict[str, Expectation] = dataclasses.field(default_factory=dict)


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


def target_label(target: str) -> str:
    """`reduce_mlp[keep-75]` -> `keep-75`: an item id without nested brackets or a strategy's name
    (`-k reduce_mlp` selects that strategy's own items, not the transforms of one of them)."""
    return target.partition("[")[2][:-1] if "[" in target else target
