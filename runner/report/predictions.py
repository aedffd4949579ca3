"""A fitted function against its ground truth, from predictions.csv: one run's (plot_predictions),
and the fits of several runs in one figure (draw_fits: a study's models, a sweep's jobs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from runner.report.style import legend, pyplot, save

PREDICTIONS = "predictions.csv"


def plot_predictions(pred: pd.DataFrame, title: str, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.5))  # room for the legend at the right
    ax.plot(pred["x"], pred["y_true"], color="black", linewidth=2, label="ground truth f(x)")
    ax.plot(pred["x"], pred["y_pred"], color="#d62728", linestyle="--", linewidth=2, label="model prediction")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"{title}\nMSE on a {len(pred):,}-point grid: {mse(pred):.3g}")
    legend(ax, outside=True)  # a square wave's ground truth fills every corner
    fig.tight_layout()
    return save(fig, path)


def mse(pred: pd.DataFrame) -> float:
    return float(((pred["y_pred"] - pred["y_true"]) ** 2).mean())


def draw_fits(ax, truth: pd.DataFrame, fits: list, **legend_kw) -> None:
    """The ground truth in black and each (label, predictions) dashed over it, in viridis order;
    the legend at the right (a square wave's ground truth fills every corner)."""
    colors = pyplot().get_cmap("viridis")
    ax.plot(truth["x"], truth["y_true"], color="black", linewidth=2.5, label="ground truth")
    for i, (label, p) in enumerate(fits):
        ax.plot(p["x"], p["y_pred"], color=colors(i / max(len(fits) - 1, 1)), linestyle="--", linewidth=1.6,
                label=label)  # fmt: skip
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    legend(ax, outside=True, **legend_kw)


def plot_sweep_fits(df: pd.DataFrame, swept: list, sweep_dir: Path, title: str) -> Path | None:
    """A sweep over function data (its jobs wrote predictions.csv): every job's fit against the
    ground truth in one figure, the study's central picture (deep vs shallow, one width against
    another), which the report otherwise left in each job's folder. One panel per swept dataset
    value (each its own ground truth), one dashed line per job with its MSE over the grid; seeds
    swept beside other keys are averaged, as in the other plots."""
    from runner.files import read_table
    from runner.report.sweep_plots import _seed_groups
    from runner.report.sweep_tables import FINISHED, job_label, ordered_values, pair_label, plot_axes
    from runner.train.rows import PREDICTION_COLUMNS

    done = df[
        df["status"].isin(FINISHED) & df["dir"].map(lambda d: bool(d) and (sweep_dir / d / PREDICTIONS).is_file())
    ]
    if done.empty:
        return None
    keys = plot_axes(swept)
    over_seeds = len(keys) < len(swept)
    data_keys = [k for k in keys if k == "dataset" or k.startswith("dataset.")]  # each changes the ground truth
    line_keys = [k for k in keys if k not in data_keys]
    panels = [("", done)]
    if data_keys:
        combos = done[data_keys].drop_duplicates()
        order = {k: ordered_values(done, k) for k in data_keys}
        combos = combos.sort_values(data_keys, key=lambda s: s.map(lambda v, k=s.name: order[k].index(v)))
        panels = [(", ".join(pair_label(k, c[k]) for k in data_keys), done[(done[data_keys] == c).all(axis=1)])
                  for _, c in combos.iterrows()]  # fmt: skip
    plt = pyplot()
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(8.5 * ncols, 4.6 * nrows), squeeze=False)
    axes = grid.ravel()
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    seeds, truth = 0, None
    for ax, (panel_title, rows) in zip(axes, panels):
        # with seeds averaged, the jobs that differ only in their seed make one line (all of the
        # panel's where only dataset keys were swept beside the seed); else one line per job
        groups = [rows] if over_seeds and not line_keys else _seed_groups(rows, line_keys if over_seeds else [])
        truth, fits = None, []  # the panel's
        for jobs in groups:
            preds = [read_table(sweep_dir / d / PREDICTIONS, PREDICTIONS, PREDICTION_COLUMNS) for d in jobs["dir"]]
            truth = preds[0] if truth is None else truth
            p = preds[0].copy()
            if len(preds) > 1 and all(np.array_equal(q["x"], p["x"]) for q in preds):  # one grid: seeds averaged
                p["y_pred"] = np.mean([q["y_pred"] for q in preds], axis=0)
                seeds = max(seeds, len(preds))
            name = job_label(jobs.iloc[0], line_keys) if line_keys else ("mean" if len(preds) > 1 else "fit")
            fits.append((f"{name} (MSE {mse(p):.3g})", p))
        draw_fits(ax, truth, fits, fontsize=9)
        ax.set_title(panel_title)
    spread = f" (mean of {seeds} seeds)" if seeds > 1 else ""
    fig.suptitle(f"{title}: predictions against the ground truth{spread}\n(MSE over a {len(truth):,}-point grid of x)")
    fig.tight_layout()
    return save(fig, sweep_dir / "plots" / "fits.png")
