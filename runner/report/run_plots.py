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
    layers = run_dir / "layers.csv"
    if layers.is_file():
        from runner.report.layer_plots import plot_grad_norms, plot_weight_stats

        df = read_table(layers, "layers.csv", LAYER_COLUMNS)
        with reading(layers, "layers.csv"):
            if len(df):
                made.append(plot_grad_norms(df, name, plots / "grad_norms.png"))
                made.append(plot_weight_stats(df, name, plots / "weight_stats.png"))
    steps = run_dir / "steps.csv"
    if steps.is_file():
        from runner.report.layer_plots import plot_steps

        st = read_table(steps, "steps.csv", STEP_COLUMNS)
        with reading(steps, "steps.csv"):
            if len(st):
                made.append(plot_steps(st, name, plots / "steps.png"))
    hist = run_dir / "first_layer_hist.csv"
    if hist.is_file():
        from runner.report.layer_plots import plot_first_layer_hist

        h = read_table(hist, "first_layer_hist.csv", HIST_COLUMNS)
        with reading(hist, "first_layer_hist.csv"):
            if len(h):
                made.append(plot_first_layer_hist(h, name, plots / "first_layer_hist.png"))
    pred = run_dir / "predictions.csv"
    if pred.is_file():
        p = read_table(pred, "predictions.csv", PREDICTION_COLUMNS)
        with reading(pred, "predictions.csv"):
            made.append(plot_predictions(p, f"{name}: predictions vs ground truth", plots / "predictions.png"))
    return made
