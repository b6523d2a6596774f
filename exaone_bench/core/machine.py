"""The machine a run executes on, named as every measured figure should name it: CPU, cores, bf16 units, torch, GPU.

Float bits, speed and even which dtype is fast differ between CPUs of one cloud kind (an AVX2-only CPU runs bf16
matmuls many times slower than fp32, one with AMX many times faster), so a time, a latency or a claim of
bit-identity means something only beside the machine that produced it.
"""
from __future__ import annotations

import os
import platform
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of CPUs with bf16 matmul units


@cache
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), else what `platform` knows of it."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def bf16_flags() -> list[str]:
    """The bf16 matmul units this CPU advertises (AMX, AVX-512 bf16), none on another CPU."""
    flags = set()
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return [f for f in BF16_FLAGS if f in flags]


def cores() -> int:
    """The cores this process may run on (its affinity, where the OS says), not every core of the host."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def gpu() -> str | None:
    """The CUDA device's name where this process's torch sees one. Read from torch once it is imported (core stays
    importable without it): a process that never imported torch runs nothing on a GPU."""
    torch = sys.modules.get("torch")
    return torch.cuda.get_device_name(0) if torch is not None and torch.cuda.is_available() else None


def bf16_units() -> bool:
    """Whether this machine runs bf16 matmuls fast: a CUDA GPU, or a CPU with AMX or AVX-512 bf16."""
    return gpu() is not None or bool(bf16_flags())


def describe() -> dict:
    """This machine as plain data: for a run's tags and a shipped file's `ran_on`."""
    try:
        version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        version = "not installed"
    return {"cpu": cpu_name(), "cores": cores(), "bf16_units": bf16_flags(), "torch": version, "gpu": gpu()}


def ran_on(threads: int) -> dict:
    """Where a one-time job whose output is shipped ran (a teacher's labels, a task model), as its meta file keeps
    it: `cuda` names the GPU, else `processor` the CPU (`threads`: the torch threads it used)."""
    machine = describe()
    return {"machine": platform.machine(), "processor": machine["cpu"], "threads": threads, "cuda": machine["gpu"],
            "torch": machine["torch"], "bf16_units": machine["bf16_units"]}


def summary(machine: dict) -> str:
    """One line a report can print: 'Intel(R) Xeon(R) Processor, 2 cores, amx_bf16, torch 2.13.0+cpu'."""
    parts = [machine["cpu"], f"{machine['cores']} cores", "/".join(machine["bf16_units"]) or "no bf16 units",
             f"torch {machine['torch']}"]
    return ", ".join(parts + ([f"GPU {machine['gpu']}"] if machine.get("gpu") else []))
