"""Learning curves of one run from its metrics.csv: loss and accuracy per epoch, train vs val
vs test."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from runner.report.style import SPLIT_STYLE, epoch_axis, legend, pyplot, save


def _band(ax, metrics: pd.DataFrame, col: str, scale: float, style: dict) -> None:
    """Replicated runs: shade mean +- one standard deviation over the copies. One epoch gets an
    error bar instead: a band over a single point has no width and draws nothing."""
    std = metrics.get(f"{col}_std")
    if std is None or not std.notna().any():
        return
    mean = metrics[col]
    if len(metrics) == 1:
        ax.errorbar(metrics["epoch"], scale * mean, yerr=scale * std, fmt="none", ecolor=style.get("color"), capsize=4)
        return
    ax.fill_between(
        metrics["epoch"], scale * (mean - std), scale * (mean + std), color=style.get("color"), alpha=0.18, linewidth=0
    )


def plot_curves(metrics: pd.DataFrame, title: str, path: Path, train_label: str = "train") -> Path:
    """train_label says how train metrics were taken (a running mean over the epoch or a full pass)."""
    plt = pyplot()
    has_acc = any(metrics.get(f"{s}_acc", pd.Series(dtype=float)).notna().any() for s in SPLIT_STYLE)
    ncols = 2 if has_acc else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.5 * ncols, 4.5), squeeze=False)
    ax_loss = axes[0][0]
    marker = "o" if len(metrics) <= 30 else None
    for split, style in SPLIT_STYLE.items():
        label = train_label if split == "train" else split
        col = f"{split}_loss"
        if col in metrics and metrics[col].notna().any():
            ax_loss.plot(metrics["epoch"], metrics[col], label=label, marker=marker, markersize=3, **style)
            _band(ax_loss, metrics, col, 1.0, style)
        if has_acc and f"{split}_acc" in metrics and metrics[f"{split}_acc"].notna().any():
            axes[0][1].plot(
                metrics["epoch"], 100 * metrics[f"{split}_acc"], label=label, marker=marker, markersize=3, **style
            )
            _band(axes[0][1], metrics, f"{split}_acc", 100.0, style)
    ax_loss.set_xlabel("epoch")
    if has_acc:
        ax_loss.set_ylabel("cross-entropy loss")
        ax_loss.set_title("Loss")
        axes[0][1].set_xlabel("epoch")
        axes[0][1].set_ylabel("accuracy (%)")
        axes[0][1].set_title("Accuracy")
    else:
        ax_loss.set_ylabel("mean squared error")
        ax_loss.set_yscale("log")
        ax_loss.set_title("Loss (log scale)")
    for ax in axes[0]:
        epoch_axis(ax, int(metrics["epoch"].max()) if len(metrics) else 0)
        legend(ax)
    if any(c.endswith("_std") for c in metrics.columns):
        title += f" (mean of replicas, {'error bars' if len(metrics) == 1 else 'band'} = ±1 std)"
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)
