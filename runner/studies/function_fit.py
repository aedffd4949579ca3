"""Deep vs shallow on a function: MLPs of different depths with about the same number of
parameters fit each of study.function_fit.functions.

    dlrun experiment=function_fit

Writes function_fit.csv (fn, depth, hidden, params, final_train_loss, final_test_loss,
best_test_loss, convergence_epoch), one run folder per model under <fn>/depth<d>/,
plots/loss_<fn>.png (log scale) and plots/predictions_<fn>.png.
"""

from __future__ import annotations

import math
from pathlib import Path

from runner.files import read_table, write_csv
from runner.formatting import number
from runner.report.metrics import read_metrics
from runner.report.predictions import PREDICTIONS, draw_fits
from runner.report.style import legend, pyplot, save
from runner.studies.common import convergence_epoch, derive, finish, md_table, read_rows, train
from runner.train.rows import PREDICTION_COLUMNS

CSV_COLUMNS = [
    "fn",
    "depth",
    "hidden",
    "params",
    "final_train_loss",
    "final_test_loss",
    "best_test_loss",
    "convergence_epoch",
]


def mlp_params(depth: int, width: int, n_in: int = 1, n_out: int = 1) -> int:
    """Parameters of an MLP with `depth` hidden layers of `width` units (weights and biases)."""
    return (n_in + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * n_out


def width_for(target: int, depth: int, n_in: int = 1, n_out: int = 1) -> int:
    """The width whose MLP of `depth` hidden layers comes closest to `target` parameters."""
    a, b, c = depth - 1, n_in + 1 + (depth - 1) + n_out, n_out - target
    w = -c / b if a == 0 else (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    candidates = {max(1, math.floor(w)), max(1, math.ceil(w))}
    return min(candidates, key=lambda k: (abs(mlp_params(depth, k, n_in, n_out) - target), k))


def _plot(fn: str, runs: list, title: str, out: Path) -> list:
    plt = pyplot()
    colors = plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    for i, (label, run_dir) in enumerate(runs):
        m = read_metrics(run_dir / "metrics.csv")
        color = colors(i / max(len(runs) - 1, 1))
        ax.plot(m["epoch"], m["train_loss"], color=color, linestyle="--")
        ax.plot(m["epoch"], m["test_loss"], color=color, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error (log scale)")
    ax.set_title(f"{title}: {fn}\nloss per epoch (train dashed, test solid)")
    legend(ax, fontsize=9)
    fig.tight_layout()
    loss_png = save(fig, out / f"loss_{fn}.png")

    fig, ax = plt.subplots(figsize=(10.5, 4.6))  # room for the legend at the right
    fits = [(label, read_table(run_dir / PREDICTIONS, PREDICTIONS, PREDICTION_COLUMNS)) for label, run_dir in runs]
    draw_fits(ax, fits[0][1], fits, fontsize=9)
    ax.set_title(f"{title}: {fn}\npredictions against the ground truth")
    fig.tight_layout()
    return [loss_png, save(fig, out / f"predictions_{fn}.png")]


def run(cfg, study_dir: Path, label: str = "") -> dict:
    ff, plateau = cfg.study.function_fit, cfg.study.plateau
    rows = []
    for fn in ff.functions:
        for depth in ff.depths:
            width = width_for(ff.target_params, depth)
            hidden = [width] * depth
            sub = derive(
                cfg,
                **{
                    "task": "train",
                    "dataset.fn": fn,
                    "dataset.low": None,
                    "dataset.high": None,
                    "model.hidden": hidden,
                    "name": f"{fn}-depth{depth}",
                },
            )
            run_dir = study_dir / fn / f"depth{depth}"
            s = train(sub, run_dir, f"{label}[{fn} depth {depth}] ")
            losses = read_metrics(run_dir / "metrics.csv")["train_loss"].tolist()
            rows.append(
                [
                    fn,
                    depth,
                    "-".join(map(str, hidden)),
                    s["params"],
                    s["final"].get("train_loss"),
                    s["final"].get("test_loss"),
                    s["best"].get("test_loss"),
                    convergence_epoch(losses, plateau.rel, plateau.window),
                ]
            )
    write_csv(study_dir / "function_fit.csv", CSV_COLUMNS, rows)
    return report(cfg, study_dir)


def report(cfg, study_dir: Path) -> dict:
    """Plots, report and summary from function_fit.csv and the models' run folders."""
    ff, plateau = cfg.study.function_fit, cfg.study.plateau
    rows = read_rows(study_dir / "function_fit.csv", CSV_COLUMNS, text=("fn", "hidden"))
    plots = []
    for fn in ff.functions:
        runs = [
            (f"depth {r['depth']}: {r['hidden']} ({r['params']:,} params)", study_dir / fn / f"depth{r['depth']}")
            for r in rows
            if r["fn"] == fn
        ]
        plots += _plot(fn, runs, "function_fit", study_dir / "plots")
    table = md_table(
        [
            "function",
            "depth",
            "hidden",
            "params",
            "final train MSE",
            "final test MSE",
            "best test MSE",
            "converged at epoch",
        ],
        [
            [
                r["fn"],
                r["depth"],
                r["hidden"],
                f"{r['params']:,}",
                number(r["final_train_loss"], 3),
                number(r["final_test_loss"], 3),
                number(r["best_test_loss"], 3),
                "-" if r["convergence_epoch"] is None else r["convergence_epoch"],
            ]
            for r in rows
        ],
    )
    ratios = {fn: _deep_over_shallow(rows, fn) for fn in ff.functions}
    md = [
        f"MLPs with {len(ff.depths)} depths ({', '.join(map(str, ff.depths))} hidden layers), each sized to about "
        f"{ff.target_params} parameters, fit each function with {cfg.optimizer.name} (lr {cfg.optimizer.lr:g}) and "
        f"MSE for {cfg.trainer.epochs} epochs on {cfg.dataset.n_train} points.",
        "",
        f"Converged at epoch: the first epoch whose train loss is within {100 * plateau.rel:g}% of the lowest "
        f"train loss of the last {plateau.window} epochs (study.plateau).",
        "",
        *table,
        "",
        "Deepest over shallowest final test MSE: " + ", ".join(f"{fn} {r:.3g}" for fn, r in ratios.items()),
        "",
        "## Plots",
        "",
        *[f"![{p.stem}](plots/{p.name})" for p in plots],
        "",
    ]
    return finish(
        cfg,
        study_dir,
        "Deep vs shallow: fitting functions",
        md,
        {"deep_over_shallow_test_mse": ratios, "models": len(rows)},
    )


def _deep_over_shallow(rows: list, fn: str) -> float:
    mine = [r for r in rows if r["fn"] == fn]
    shallow, deep = min(mine, key=lambda r: r["depth"]), max(mine, key=lambda r: r["depth"])
    test = "final_test_loss"
    return float(deep[test] / shallow[test]) if shallow[test] else float("nan")
