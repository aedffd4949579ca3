"""Render every plot of one run directory from its files alone (metrics.csv, confusion_*.csv,
predictions.csv), so any finished run can be re-plotted later."""

from __future__ import annotations

import json
from pathlib import Path

from runner.errors import reading
from runner.files import read_table
from runner.registry.data import SPLITS
from runner.report.metrics import read_metrics
from runner.train.rows import HIST_COLUMNS, LAYER_COLUMNS, PREDICTION_COLUMNS, STEP_COLUMNS


def _summary(run_dir: Path) -> dict:
    """The run's summary.json, or nothing where it is missing or damaged (plots still render)."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _train_label(run_dir: Path) -> str:
    try:
        from omegaconf import OmegaConf

        mode = OmegaConf.load(run_dir / "config.yaml").trainer.train_metrics
    except Exception:  # noqa: BLE001 - an old or hand-made run dir: plain label
        return "train"
    return "train (running mean)" if mode == "running" else "train"


def render_run(run_dir: Path) -> list:
    """Every plot the run's files allow. Whatever fails while drawing from one file (a value that
    is not a number) stops it with one line naming that file: `reading` below."""
    from runner.report.confusion import plot_confusion
    from runner.report.curves import plot_curves
    from runner.report.predictions import plot_predictions

    run_dir = Path(run_dir)
    plots = run_dir / "plots"
    summary = _summary(run_dir)
    name = summary.get("name") or run_dir.name
    replicas = summary.get("replicas") if isinstance(summary.get("replicas"), int) else 1
    made = []
    metrics = run_dir / "metrics.csv"
    if metrics.is_file():
        df = read_metrics(metrics)
        with reading(metrics, "metrics.csv"):
            if len(df):
                made.append(plot_curves(df, f"{name}: learning curves", plots / "curves.png", _train_label(run_dir)))
    for split in SPLITS:
        path = run_dir / f"confusion_{split}.csv"
        if path.is_file():
            table = read_table(path, "confusion matrix", index_col=0, keep_default_na=False)
            with reading(path, "confusion matrix"):
                made.append(plot_confusion(table, f"{name}: confusion matrix ({split})",
                                           plots / f"confusion_{split}.png", replicas))  # fmt: skip
    from runner.report import layer_plots

    # the diagnostics' files, each drawn when the run wrote rows into it (probes, log_steps)
    for file, columns, drawings in (
        ("layers.csv", LAYER_COLUMNS, [(layer_plots.plot_grad_norms, "grad_norms"),
                                       (layer_plots.plot_weight_stats, "weight_stats")]),
        ("steps.csv", STEP_COLUMNS, [(layer_plots.plot_steps, "steps")]),
        ("first_layer_hist.csv", HIST_COLUMNS, [(layer_plots.plot_first_layer_hist, "first_layer_hist")]),
    ):  # fmt: skip
        path = run_dir / file
        if path.is_file():
            table = read_table(path, file, columns)
            with reading(path, file):
                made += [draw(table, name, plots / f"{stem}.png") for draw, stem in drawings if len(table)]
    pred = run_dir / "predictions.csv"
    if pred.is_file():
        p = read_table(pred, "predictions.csv", PREDICTION_COLUMNS)
        with reading(pred, "predictions.csv"):
            made.append(plot_predictions(p, f"{name}: predictions vs ground truth", plots / "predictions.png"))
    return made
