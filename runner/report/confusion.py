"""A confusion matrix CSV (rows: true class, columns: predicted class) as a labelled heatmap:
colour = share of the true class, text = count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from runner.report.style import pyplot, save


def plot_confusion(table: pd.DataFrame, title: str, path: Path, replicas: int = 1) -> Path:
    """`replicas` > 1: the counts pool that many copies, each of which saw every sample once."""
    plt = pyplot()
    classes = [str(c) for c in table.index]
    counts = table.to_numpy(dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    share = 100 * counts / np.maximum(totals, 1)
    k = len(classes)
    size = max(5.5, 0.55 * k + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
    ax.grid(False)
    ax.set_xticks(range(k), classes)  # names that would collide slant when saved (style.save)
    ax.set_yticks(range(k), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    f"{counts[i, j]}",
                    ha="center",
                    va="center",
                    fontsize=9 if k <= 12 else 7,
                    color="white" if share[i, j] > 60 else "black",
                )
    acc = 100 * np.trace(counts) / max(counts.sum(), 1)
    seen = f"{counts.sum():,} samples"
    if replicas > 1:
        seen = f"{counts.sum() // replicas:,} samples x {replicas} replicas, pooled"
    ax.set_title(f"{title}\naccuracy {acc:.2f}% on {seen}")
    cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("share of the true class (%)")
    fig.tight_layout()
    return save(fig, path)
