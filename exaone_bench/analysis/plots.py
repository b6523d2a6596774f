"""Matplotlib figures of the analysis: spectra per layer, block influence, head importance."""
from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402

matplotlib.use("Agg")  # files only: no display on the machines this runs on


def rank_per_layer(table, path: Path) -> Path:
    """Stable rank and rank / min(rows, cols) of each 2-D weight, per layer and block type."""
    mats = table[table["layer_index"].notna() & table["rank"].notna()].copy()
    mats["rank_ratio"] = mats["rank"].astype(float) / mats[["rows", "cols"]].min(axis=1)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for kind, group in mats.groupby("block_type", sort=False):
        x = group["layer_index"].astype(int)
        axes[0].plot(x, group["stable_rank"], marker="o", ms=3, label=kind)
        axes[1].plot(x, group["rank_ratio"], marker="o", ms=3, label=kind)
    axes[0].set(title="stable rank ||W||_F^2 / sigma_max^2", xlabel="layer", ylabel="stable rank")
    axes[1].set(title="numerical rank / min(rows, cols)", xlabel="layer", ylabel="rank ratio", ylim=(0, 1.05))
    axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def block_influence(layers, path: Path) -> Path:
    """Bar chart of block influence (1 - cos) per layer with angular distance beside it."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = layers["layer_index"]
    ax.bar(x - 0.2, layers["block_influence"], width=0.4, label="block influence (1 - cos)")
    ax.bar(x + 0.2, layers["angular_distance"], width=0.4, label="angular distance / pi")
    ax.set(title="How much each layer changes the residual stream (low = redundant)", xlabel="layer", ylabel="score")
    ax.set_xticks(list(x))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def head_heatmap(heads, path: Path) -> Path:
    """Layer x head heatmap of head importance (|dLoss/dGate|)."""
    fig, ax = plt.subplots(figsize=(max(5, heads.shape[1] * 0.35 + 2), max(3, heads.shape[0] * 0.3 + 1)))
    im = ax.imshow(heads, aspect="auto", cmap="viridis")
    ax.set(title="head importance |dL/d gate|", xlabel="query head", ylabel="layer")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
