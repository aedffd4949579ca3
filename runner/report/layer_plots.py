"""Per-layer diagnostics of one run from layers.csv and first_layer_hist.csv: gradient norms
per layer (log scale), weight mean and std per layer (and saturation for sigmoid/tanh), and
the first layer's weight histogram after the first and the last epoch."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from runner.report.style import epoch_axis, legend, log_y, pyplot, save


def _layer_colors(layers: list):
    plt = pyplot()
    cmap = plt.get_cmap("viridis")
    n = max(len(layers) - 1, 1)
    return {name: cmap(i / n) for i, name in enumerate(layers)}


LEGEND_INSIDE = 4  # layers whose legend fits inside a panel; more stand beside it


def plot_grad_norms(df: pd.DataFrame, title: str, path: Path) -> Path:
    plt = pyplot()
    layers = list(dict.fromkeys(df["layer"]))
    colors = _layer_colors(layers)
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for name in layers:
        d = df[df["layer"] == name]
        ax.plot(
            d["epoch"],
            d["grad_norm"],
            marker="o" if len(d) <= 30 else None,
            markersize=3,
            color=colors[name],
            label=name,
        )
    scale = log_y(ax, df["grad_norm"])
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"weight-gradient L2 norm (mean over steps{', ' + scale if scale else ''})")
    ax.set_title(f"{title}\ngradient norm per layer (input side dark, output side light)")
    epoch_axis(ax, int(df["epoch"].max()))
    # a deep network's layers spread over the whole log axis, so no corner is free: beside it
    legend(ax, outside=len(layers) > LEGEND_INSIDE, ncol=2 if len(layers) > 12 else 1, fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def plot_weight_stats(df: pd.DataFrame, title: str, path: Path) -> Path:
    plt = pyplot()
    layers = list(dict.fromkeys(df["layer"]))
    colors = _layer_colors(layers)
    has_sat = "saturation" in df and df["saturation"].notna().any()
    panels = [
        ("weight_mean", "weight mean"),
        ("weight_std", "weight std"),
        ("weight_change", "relative change since init ||W-W0||/||W0||"),
    ]
    if has_sat:
        panels.append(("saturation", "saturated activations (%)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    for ax, (col, label) in zip(axes[0], panels):
        for name in layers:
            d = df[df["layer"] == name]
            if d[col].notna().any():
                ys = 100 * d[col] if col == "saturation" else d[col]
                # a line needs two epochs: with few, the points themselves (one epoch drew nothing)
                ax.plot(d["epoch"], ys, color=colors[name], label=name, marker="o" if len(d) <= 30 else None,
                        markersize=3)  # fmt: skip
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        epoch_axis(ax, int(df["epoch"].max()))
    if len(layers) > LEGEND_INSIDE:  # beside the last panel: inside the first it hid that panel's lines
        handles, labels = axes[0][0].get_legend_handles_labels()  # every layer (the output has no saturation)
        legend(axes[0][-1], outside=True, handles=handles, labels=labels, fontsize=9,
               ncol=2 if len(layers) > 12 else 1)  # fmt: skip
    else:
        legend(axes[0][0], fontsize=8)
    fig.suptitle(f"{title}: weights per layer")
    fig.tight_layout()
    return save(fig, path)


def plot_first_layer_hist(hist: pd.DataFrame, title: str, path: Path) -> Path:
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4.5))
    epochs = sorted(hist["epoch"].unique())
    # the first epoch filled, the last as an outline over it: two filled shapes blend into a third colour
    for epoch, color, filled in zip(epochs, ("#1f77b4", "#d62728"), (True, False)):
        d = hist[hist["epoch"] == epoch]
        ax.stairs(
            d["count"],
            list(d["bin_left"]) + [d["bin_right"].iloc[-1]],
            fill=filled,
            alpha=0.45 if filled else 1.0,
            linewidth=0 if filled else 2,
            color=color,
            label=f"after epoch {epoch}",
        )
    ax.set_xlabel("weight value")
    ax.set_ylabel("number of weights")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))  # counts: no tick at 2.5 weights
    ax.set_title(f"{title}\nfirst layer's weights")
    ax.legend()
    fig.tight_layout()
    return save(fig, path)


def plot_steps(steps: pd.DataFrame, title: str, path: Path) -> Path:
    """Per-step loss and total gradient norm (trainer.log_steps), log scales where they fit."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(8, 6.2), sharex=True)
    for ax, col, label, color in (
        (axes[0], "loss", "training loss (batch)", "#1f77b4"),
        (axes[1], "grad_norm", "total gradient L2 norm", "#d62728"),
    ):
        ax.plot(steps["step"], steps[col], color=color, linewidth=0.8)
        scale = log_y(ax, steps[col])
        ax.set_ylabel(f"{label} ({scale})" if scale else label)
    starts = steps.groupby("epoch")["step"].min()
    marked = 1 < len(starts) <= 30  # more boundary lines than that would grey out the plot
    for ax in axes if marked else ():
        for s in starts.iloc[1:]:
            ax.axvline(s - 0.5, color="grey", alpha=0.25, linewidth=0.8)
    axes[1].set_xlabel(
        "optimizer step"
        + (
            " (grey lines: epoch boundaries)"
            if marked
            else f" ({len(starts)} epochs of {len(steps) // max(len(starts), 1)} steps)"
        )
    )
    axes[0].set_title(f"{title}\nloss and gradient norm at every step")
    fig.tight_layout()
    return save(fig, path)
