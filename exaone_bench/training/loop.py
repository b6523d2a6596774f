"""The one training loop: sequence classification on the fixed split, same data, loop and seed.

Every model (baseline and variant) becomes a sequence classifier (models/classifier.py) on its own
backbone: the causal LM's decoder weights are copied in, a fresh `score` head is initialised
from the seed, and the last non-padding token's hidden state is classified (the last layer runs
at that token only: models/pooling.py). A fixed number of fused AdamW steps, deterministic batch order,
dynamic padding. `distill` adds a KL term to the baseline's (teacher's) logits on the same
training examples (Minitron-style recovery).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from exaone_bench.config.setup import TrainingSetup
from exaone_bench.data.batches import Encoded
from exaone_bench.models.pooling import last_token_only
from exaone_bench.training.optim import decay_groups, lr_factor


def batch_order(lengths: list[int], setup: TrainingSetup, seed: int) -> list[np.ndarray]:
    """The deterministic example indices of every step.

    Each epoch is a fresh permutation cut into windows of `setup.length_bucket` batches; inside a
    window the examples are sorted by length before batching, and the batches of the window are
    shuffled, so that length does not order the epoch. Wider windows pad less (padded tokens per
    real token fall towards 1) at the cost of less shuffled batches.
    """
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    out: list[np.ndarray] = []
    while len(out) < setup.steps:
        perm = rng.permutation(len(lengths))
        window = setup.batch_size * setup.length_bucket
        for w in range(0, len(perm) - setup.batch_size + 1, window):
            chunk = perm[w : w + window]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches = [chunk[i : i + setup.batch_size] for i in range(0, len(chunk) - setup.batch_size + 1, setup.batch_size)]
            out.extend(batches[i] for i in rng.permutation(len(batches)))
    return out[: setup.steps]


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0
    best_step: int | None = None
    validation_curve: list[tuple[int, float]] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0


def autocast(model, dtype: str):
    """bf16 compute over fp32 master weights (the optimizer never sees bf16), or plain fp32."""
    if dtype == "bfloat16":
        return torch.autocast(model.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict(model, data: Encoded, pad_id: int, batch_size: int = 128, dtype: str = "float32") -> np.ndarray:
    """Logits (n, num_labels) in the split's order; batches sorted by length to limit padding."""
    model.eval()
    order = np.argsort([len(x) for x in data.ids], kind="stable")
    out = np.zeros((len(data.ids), model.config.num_labels), dtype=np.float32)
    with last_token_only(model):
        for i in range(0, len(order), batch_size):
            index = order[i : i + batch_size]
            x, mask, _ = data.batch(index, pad_id)
            with autocast(model, dtype):
                logits = model(input_ids=x.to(model.device), attention_mask=mask.to(model.device)).logits
            out[index] = logits.float().cpu().numpy()
    return out


@contextlib.contextmanager
def _reading_score_input(model, seen: dict, active: bool):
    """Within the block, `seen["hidden"]` is the last input of the model's `score` head (when active)."""
    if not active:
        yield
        return
    handle = model.score.register_forward_pre_hook(lambda module, args: seen.__setitem__("hidden", args[0]))
    try:
        yield
    finally:
        handle.remove()


def train(model, data: Encoded, setup: TrainingSetup, seed: int, pad_id: int, teacher_logits: np.ndarray | None = None,
          validation: Encoded | None = None, progress: bool = False, dtype: str = "float32", on_step=None,
          aux: torch.nn.Module | None = None) -> TrainResult:
    """Fine-tune `model` in place for setup.steps steps; returns losses and throughput.

    `on_step(step, steps, tokens, seconds)` is called after every step (the live progress lines).
    `aux(index, hidden, input_ids)`, when given, is a loss added to every step's: it reads the
    hidden states the `score` head reads, and its own parameters train beside the model's.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    groups = decay_groups(model, setup.weight_decay)
    if aux is not None:
        aux.to(model.device)
        groups.append({"params": list(aux.parameters()), "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=setup.lr, fused=True)
    teacher = torch.as_tensor(teacher_logits) if teacher_logits is not None else None
    result, best, best_state = TrainResult(), -1.0, None
    model.train()
    start = time.perf_counter()
    bar = tqdm(batch_order([len(x) for x in data.ids], setup, seed), desc="fine-tune", disable=not progress, mininterval=2.0)
    seen: dict = {}
    with last_token_only(model), _reading_score_input(model, seen, aux is not None):  # models/pooling.py
        for step, index in enumerate(bar):
            for group in opt.param_groups:
                group["lr"] = setup.lr * lr_factor(step, setup)
            x, mask, y = data.batch(index, pad_id)
            result.tokens += int(mask.sum())  # counted on the CPU: no device sync per step
            x, mask, y = x.to(model.device), mask.to(model.device), y.to(model.device)
            with autocast(model, dtype):
                logits = model(input_ids=x, attention_mask=mask).logits.float()
            loss = F.cross_entropy(logits, y)
            if teacher is not None and setup.recovery == "distill":
                t = setup.distill_temperature
                kl = F.kl_div(F.log_softmax(logits / t, -1), F.log_softmax(teacher[index].to(logits.device) / t, -1),
                              log_target=True, reduction="batchmean") * t * t
                loss = setup.distill_alpha * loss + (1 - setup.distill_alpha) * kl
            if aux is not None:
                loss = loss + aux(index, seen.pop("hidden"), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            result.losses.append(loss.detach())
            if on_step is not None:
                on_step(step + 1, setup.steps, result.tokens, time.perf_counter() - start)
            if progress and step % 20 == 0:
                bar.set_postfix(loss=f"{float(loss):.3f}", tok_s=f"{result.tokens / (time.perf_counter() - start):,.0f}")
            if validation is not None and setup.eval_every and (step + 1) % setup.eval_every == 0:
                acc = float((predict(model, validation, pad_id, dtype=dtype).argmax(1) == validation.labels).mean())
                result.validation_curve.append((step + 1, acc))
                if acc > best:
                    best, result.best_step = acc, step + 1
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                model.train()
    result.seconds = time.perf_counter() - start
    result.losses = [float(v) for v in torch.stack(result.losses)] if result.losses else []
    if best_state is not None:  # early stopping on validation: keep the best checkpoint seen
        model.load_state_dict(best_state)
    model.eval()
    return result
