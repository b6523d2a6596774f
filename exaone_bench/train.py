"""The one training loop: sequence classification on the fixed split, same data, loop and seed.

Every model (baseline and variant) becomes a sequence classifier (models/classifier.py) on its own
backbone: the causal LM's decoder weights are copied in, a fresh `score` head is initialised
from the seed, and the last non-padding token's hidden state is classified (the last layer runs
at that token only: pooling.py). A fixed number of fused AdamW steps, deterministic batch order,
dynamic padding. `distill` adds a KL term to the baseline's (teacher's) logits on the same
training examples (Minitron-style recovery).
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .models.classifier import sequence_classifier
from .pooling import last_token_only
from .spec import TrainingSetup


@dataclass
class Encoded:
    """A tokenised split: token id lists (no padding) and labels."""

    ids: list[list[int]]
    labels: np.ndarray

    def batch(self, index, pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, mask = pad([self.ids[i] for i in index], pad_id)
        return x, mask, torch.as_tensor(self.labels[index], dtype=torch.long)


def pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded token ids and their attention mask, as wide as the longest row."""
    width = max(map(len, rows))
    x = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, ids in enumerate(rows):
        x[r, : len(ids)] = torch.as_tensor(ids)
        mask[r, : len(ids)] = 1
    return x, mask


def encode(tokenizer, texts: list[str], labels, max_length: int) -> Encoded:
    ids = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    ids = [x if x else [tokenizer.eos_token_id] for x in ids]
    return Encoded(ids, np.asarray(labels, dtype=np.int64))


def classifier_from(causal_lm, num_labels: int, seed: int, pad_token_id: int):
    """A sequence classifier sharing the causal LM's backbone weights; the head is seeded."""
    config = causal_lm.config.__class__.from_dict(causal_lm.config.to_dict())
    config.num_labels, config.pad_token_id = num_labels, pad_token_id
    config.architectures = None
    torch.manual_seed(seed)
    model = sequence_classifier(config, dtype=causal_lm.dtype).to(causal_lm.device)
    backbone = getattr(model, model.base_model_prefix)
    backbone.load_state_dict(getattr(causal_lm, causal_lm.base_model_prefix).state_dict())
    # drawn on the CPU and copied: the same head on every device (a CPU generator cannot fill a GPU tensor)
    gen = torch.Generator().manual_seed(seed)
    head = torch.empty(model.score.weight.shape, dtype=model.score.weight.dtype)
    with torch.no_grad():
        model.score.weight.copy_(head.normal_(0.0, config.initializer_range, generator=gen))
    return model


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


def train(model, data: Encoded, setup: TrainingSetup, seed: int, pad_id: int, teacher_logits: np.ndarray | None = None,
          validation: Encoded | None = None, progress: bool = False, dtype: str = "float32", on_step=None) -> TrainResult:
    """Fine-tune `model` in place for setup.steps steps; returns losses and throughput.

    `on_step(step, steps, tokens, seconds)` is called after every step (the live progress lines).
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    opt = torch.optim.AdamW(decay_groups(model, setup.weight_decay), lr=setup.lr, fused=True)
    teacher = torch.as_tensor(teacher_logits) if teacher_logits is not None else None
    result, best, best_state = TrainResult(), -1.0, None
    model.train()
    start = time.perf_counter()
    bar = tqdm(batch_order([len(x) for x in data.ids], setup, seed), desc="fine-tune", disable=not progress, mininterval=2.0)
    with last_token_only(model):  # the classifier reads one token: see pooling.py
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
