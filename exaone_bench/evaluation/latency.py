"""Latency of classifiers under the setup's protocol: interleaved forwards, fixed threads, warm-up excluded.

The session times every architecture of a run after its last item, with nothing else running,
so that the numbers compare models rather than moments of a shared machine.
"""
from __future__ import annotations

import gc
import json
import statistics
import time

import psutil
import torch
from transformers import AutoConfig

from exaone_bench.config.setup import LatencySetup
from exaone_bench.models.classifier import sequence_classifier


@torch.no_grad()
def latency_ms(models: list, batch_size: int, seq_len: int, warmup: int, repeats: int, threads: int) -> list[float]:
    """Median forward latency (ms) of each model on fixed random tokens, fixed threads, warm-up excluded.

    The models' forwards are interleaved (one forward of each, `repeats` rounds), so that a slow
    spell of a shared machine falls on every model alike instead of on whichever was being timed.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        inputs = []
        for model in models:
            model.eval()
            gen = torch.Generator().manual_seed(0)
            inputs.append(torch.randint(3, model.config.vocab_size, (batch_size, seq_len), generator=gen).to(model.device))
            for _ in range(warmup):
                model(input_ids=inputs[-1])
        times: list[list[float]] = [[] for _ in models]
        sync = torch.cuda.synchronize if any(x.is_cuda for x in inputs) else (lambda: None)
        for _ in range(repeats):
            for model, x, out in zip(models, inputs, times):
                sync()
                t = time.perf_counter()
                model(input_ids=x)
                sync()
                out.append((time.perf_counter() - t) * 1000)
    finally:
        torch.set_num_threads(previous)
    return [float(statistics.median(t)) for t in times]


def latency_memory_budget(device: str) -> int:
    """Bytes of weights held at once while latencies are interleaved: a quarter of the device's free memory.

    The rest is left to activations, the allocator and whatever else runs on the machine.
    """
    if device == "cuda":
        return torch.cuda.mem_get_info()[0] // 4
    return psutil.virtual_memory().available // 4


class Latency:
    """Times a classifier of each architecture (random weights: they do not change the time)."""

    def __init__(self, protocol: LatencySetup, device: str, num_labels: int):
        # device: the setup's (cpu, cuda, auto); `where` picks the one latency is timed on
        self.protocol, self.device, self.num_labels = protocol, device, num_labels

    def latencies(self, configs: list[dict], transforms: list[dict | None] | None = None) -> list[float]:
        """Median batch-1 latency (ms) of a classifier of each architecture, under the setup's protocol.

        Weights do not change the time, so each model is built from its config with random
        weights, and identical architectures are timed once. `transforms[i]`, when given, is a
        post-training transform that changes the forward's kernel (weight-only quantization):
        model i is timed with it applied, so a dequantize-on-the-fly path shows its real cost. The session calls this after the
        last item with nothing else running. The models' forwards are interleaved, as many models
        at a time as fit in `latency_memory_budget`: timed one after another on a shared machine,
        two identical architectures can differ by more than the effect being measured.
        """
        transforms = transforms or [None] * len(configs)
        keys = [json.dumps([c, t], sort_keys=True) for c, t in zip(configs, transforms)]
        distinct = dict(zip(keys, zip(configs, transforms)))  # one model per architecture and kernel
        lat, ms = self.protocol, {}
        for group in self._groups({k: c for k, (c, _) in distinct.items()}, latency_memory_budget(self.where())):
            models = [self._random_classifier(*distinct[k]) for k in group]
            ms.update(zip(group, latency_ms(models, lat.batch_size, lat.seq_len, lat.warmup, lat.repeats, lat.threads)))
            del models
            gc.collect()
        return [ms[k] for k in keys]

    def where(self) -> str:
        """Where latency is timed: the GPU when the setup runs on one, else the CPU."""
        return "cuda" if self.device != "cpu" and torch.cuda.is_available() else "cpu"

    def _random_classifier(self, config: dict, transform: dict | None = None, device: str | None = None):
        config = dict(config)
        cfg = AutoConfig.for_model(config.pop("model_type"), **config)
        cfg.num_labels = self.num_labels
        cfg.pad_token_id = cfg.pad_token_id if cfg.pad_token_id is not None else cfg.eos_token_id
        torch.manual_seed(0)
        with torch.device(device or self.where()):
            model = sequence_classifier(cfg)
        if transform is not None:
            from exaone_bench.compression import post_training

            post_training.apply(model, transform)
        return model

    def _groups(self, configs: dict[str, dict], budget: int) -> list[list[str]]:
        """Keys of consecutive configs whose fp32 weights together fit in `budget` bytes (one at least)."""
        groups, size = [], budget
        for key, c in configs.items():
            nbytes = 4 * sum(p.numel() for p in self._random_classifier(c, device="meta").parameters())
            if size + nbytes > budget:
                groups.append([])
                size = 0
            groups[-1].append(key)
            size += nbytes
        return groups
