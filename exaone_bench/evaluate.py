"""Evaluation: scikit-learn metrics, a bootstrap CI of the delta vs baseline, size, latency, FLOPs.

The delta CI resamples both sources of noise: seeds (which fine-tuning runs) and test items
(which examples), paired on the same items for variant and baseline.
"""
from __future__ import annotations


import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score

from .models.architecture import head_dim
from .metrics import BOUNDED
from .train import pad


def classification_metrics(labels: np.ndarray, logits: np.ndarray) -> dict:
    """accuracy, macro precision/recall/F1 and cross-entropy of one model's test predictions."""
    pred = logits.argmax(1)
    probs = torch.softmax(torch.as_tensor(logits, dtype=torch.float64), -1).numpy()
    return {
        "accuracy": float(accuracy_score(labels, pred)),
        "precision": float(precision_score(labels, pred, average="macro", zero_division=0)),
        "recall": float(recall_score(labels, pred, average="macro", zero_division=0)),
        "f1": float(f1_score(labels, pred, average="macro", zero_division=0)),
        "eval_loss": float(log_loss(labels, probs, labels=list(range(logits.shape[1])))),
    }


def summarize(per_seed: list[dict]) -> dict:
    """Mean and sample sd over seeds of every metric."""
    out = {}
    for key in per_seed[0]:
        values = [m[key] for m in per_seed]
        out[key] = float(np.mean(values))
        out[f"{key}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return out


def _macro_precision(labels, preds, n_classes):
    """Macro precision of each row of `preds` (resamples x items) against `labels` (same shape)."""
    out = np.zeros(len(preds))
    for c in range(n_classes):
        predicted = preds == c
        tp = (predicted & (labels == c)).sum(1)
        n = predicted.sum(1)
        out += np.where(n > 0, tp / np.maximum(n, 1), 0.0)
    return out / n_classes


def _resample(labels, preds, items, rng, n_classes) -> tuple[float, float]:
    """(accuracy, macro precision) of one bootstrap draw: the given items, seeds drawn with replacement."""
    p = preds[rng.integers(0, len(preds), len(preds))][:, items]
    y = np.broadcast_to(labels[items], p.shape)
    return float((p == y).mean()), float(_macro_precision(y, p, n_classes).mean())


def _interval(values, confidence) -> dict:
    lo, hi = np.quantile(values, [(1 - confidence) / 2, 1 - (1 - confidence) / 2])
    return {"ci_low": float(lo), "ci_high": float(hi)}


def delta_ci(labels: np.ndarray, variant_preds: np.ndarray, baseline_preds: np.ndarray, resamples: int,
             confidence: float, seed: int = 0) -> dict:
    """Bootstrap CI of (variant - baseline) for accuracy and macro precision.

    `*_preds` are (seeds, items) predicted labels. Each resample draws items with replacement
    (shared by both models) and, independently for each model, seeds with replacement.
    """
    rng = np.random.default_rng(seed)
    n_classes = int(max(labels.max(), variant_preds.max(), baseline_preds.max())) + 1
    deltas = []
    for _ in range(resamples):
        items = rng.integers(0, len(labels), len(labels))
        v = _resample(labels, variant_preds, items, rng, n_classes)
        b = _resample(labels, baseline_preds, items, rng, n_classes)
        deltas.append((v[0] - b[0], v[1] - b[1]))
    out = {}
    for i, metric in enumerate(BOUNDED):
        ci = _interval([d[i] for d in deltas], confidence)
        out[metric] = {**ci, "distinguishable": bool(ci["ci_low"] > 0 or ci["ci_high"] < 0)}
    return out


def level_ci(labels: np.ndarray, preds: np.ndarray, resamples: int, confidence: float, seed: int = 0) -> dict:
    """Bootstrap CI of one model's accuracy and macro precision over seeds x test items."""
    rng = np.random.default_rng(seed)
    n_classes = int(max(labels.max(), preds.max())) + 1
    draws = [_resample(labels, preds, rng.integers(0, len(labels), len(labels)), rng, n_classes)
             for _ in range(resamples)]
    return {m: _interval([d[i] for d in draws], confidence) for i, m in enumerate(BOUNDED)}


def layer_flops(config, seq_len: float, mlp: str = "dense") -> tuple[float, float]:
    """One decoder layer's forward FLOPs per token: (query side: q/o projections, attention, MLP; keys and values).

    A sparse (MoE) layer's MLP counts what a token runs through: its router, its top-k routed
    experts and the shared experts, not every expert it holds.
    """
    h, hd = config.hidden_size, head_dim(config)
    q, kv = config.num_attention_heads, config.num_key_value_heads
    if mlp == "sparse":
        active = config.num_experts_per_tok + getattr(config, "num_shared_experts", 0)
        mlp_flops = 2 * 3 * h * config.moe_intermediate_size * active + 2 * h * config.num_experts
    else:
        mlp_flops = 2 * 3 * h * config.intermediate_size
    return 2 * h * q * hd * 2 + mlp_flops + 2 * 2 * q * hd * seq_len, 2 * h * kv * hd * 2


def flops_per_token(config, seq_len: int, with_lm_head: bool = False) -> float:
    """Analytic forward FLOPs per token: 2 x matmul weights + attention over `seq_len` context."""
    h = config.hidden_size
    head = 2 * h * config.vocab_size if with_lm_head else 2 * h * getattr(config, "num_labels", 2)
    kinds = getattr(config, "mlp_layer_types", None) or ["dense"] * config.num_hidden_layers
    return float(sum(sum(layer_flops(config, seq_len, kind)) for kind in kinds) + head)


@torch.no_grad()
def lm_loss(causal_lm, batches) -> float:
    """Next-token cross-entropy (nats/token) of a causal LM over `batches`, padding excluded.

    Each batch is a (n, len) tensor of token ids (every position real) or an (ids, mask) pair.
    The one LM loss of the package: the suite's damage measure and the reference's hold-out losses.
    """
    causal_lm.eval()
    total, count = 0.0, 0
    for batch in batches:
        x, mask = batch if isinstance(batch, tuple) else (batch, torch.ones_like(batch))
        x, mask = x.to(causal_lm.device), mask.to(causal_lm.device)
        logits = causal_lm(input_ids=x, attention_mask=mask).logits[:, :-1].float()
        target = x[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                 ignore_index=-100, reduction="sum")
        total += float(loss)
        count += int((target != -100).sum())
    return total / max(count, 1)


def lm_loss_on_texts(causal_lm, tokenizer, texts: list[str], batch_size: int = 64, max_length: int = 128) -> float:
    """Held-out next-token cross-entropy (nats/token) of a causal LM on `texts`, in length-sorted batches."""
    ids = tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
    ids = [x for x in ids if len(x) > 1]
    order = np.argsort([len(x) for x in ids], kind="stable")  # length-sorted batches: little padding
    return lm_loss(causal_lm, (pad([ids[i] for i in order[j : j + batch_size]], pad_id=0)
                               for j in range(0, len(order), batch_size)))


def floors(train_texts, train_labels, test_texts, test_labels, seed: int = 0) -> dict:
    """Reference rows that need no LLM: majority class and TF-IDF + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    labels = np.asarray(test_labels)
    majority = np.bincount(np.asarray(train_labels)).argmax()
    n = int(max(labels.max(), np.max(train_labels))) + 1
    major_logits = np.full((len(labels), n), -5.0)
    major_logits[:, majority] = 5.0
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    clf = LogisticRegression(max_iter=2000, C=4.0, random_state=seed)
    clf.fit(vec.fit_transform(train_texts), train_labels)
    tfidf_logits = clf.predict_log_proba(vec.transform(test_texts))
    return {"majority_class": classification_metrics(labels, major_logits),
            "tfidf_logreg": classification_metrics(labels, tfidf_logits)}
