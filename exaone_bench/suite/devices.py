"""One accelerator per xdist worker: worker i sees exactly the i-th GPU of the caller's list.

With `--device cuda` (or `device: auto`) and `-n N`, every worker would otherwise open `cuda:0`.
The controller takes the caller's GPUs (`CUDA_VISIBLE_DEVICES` when set, else every device
torch counts), hands worker i the i-th through its workerinput, and the worker sets
`CUDA_VISIBLE_DEVICES` in its `pytest_configure`, before anything initialises CUDA (importing
torch does not). With one worker (or none) nothing is set: `device: auto` keeps accelerate's
placement over every GPU for a model larger than one.
"""
from __future__ import annotations

import os

from exaone_bench.core.validate import SpecError

ENV = "CUDA_VISIBLE_DEVICES"


def caller_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES entries."""
    listed = os.environ.get(ENV)
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def plan(device: str, workers: int, gpus: list[str] | None = None) -> list[str] | None:
    """The GPU of each worker, or None when workers need no assignment (CPU, or at most one worker).

    More workers than GPUs is an error: two workers on one GPU contend for its memory and time.
    """
    if device == "cpu" or workers <= 1:
        return None
    gpus = caller_gpus() if gpus is None else gpus
    if device == "auto" and not gpus:
        return None  # auto without a GPU runs on the CPU
    if workers > len(gpus):
        seen = f"{ENV}={os.environ[ENV]}" if ENV in os.environ else "torch.cuda.device_count()"
        raise SpecError(f"-n {workers} with device {device}: {len(gpus)} GPU(s) visible ({seen}); one GPU per worker: "
                        f"use -n {len(gpus) or 1}" + ("" if gpus else " or --device cpu"))
    return gpus[:workers]


def worker_index(worker_id: str) -> int:
    """xdist's worker id `gw3` -> 3."""
    return int(worker_id.removeprefix("gw"))


__all__ = ["ENV", "caller_gpus", "plan", "worker_index"]
