"""A fitted function against its ground truth, from predictions.csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from runner.report.style import legend, pyplot, save


def plot_predictions(pred: pd.DataFrame, title: str, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.5))  # room for the legend at the right
    ax.plot(pred["x"], pred["y_true"], color="black", linewidth=2, label="ground truth f(x)")
    ax.plot(pred["x"], pred["y_pred"], color="#d62728", linestyle="--", linewidth=2, label="model prediction")
    mse = float(((pred["y_pred"] - pred["y_true"]) ** 2).mean())
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"{title}\nMSE on a {len(pred):,}-point grid: {mse:.3g}")
    legend(ax, outside=True)  # a square wave's ground truth fills every corner
    fig.tight_layout()
    return save(fig, path)
