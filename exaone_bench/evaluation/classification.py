"""Classification metrics of one model on the test split (scikit-learn), and their mean and sd over seeds."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score


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
