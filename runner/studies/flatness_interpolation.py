"""Flatness by interpolation: one small CNN trained twice, with a small and a large batch,
then evaluated along the line through both solutions,

    theta(a) = (1 - a) * theta_small + a * theta_large,   a from alpha_min to alpha_max,

so a = 0 is the small-batch model and a = 1 the large-batch one.

    dlrun experiment=flatness_interpolation

With BatchNorm in the model, its running statistics are recomputed for every theta(a) from
the training data (a pass in train mode with cumulative averaging), since interpolated
statistics would not match interpolated weights. Writes interpolation.csv (alpha,
train_loss, train_acc, test_loss, test_acc), the two runs under batch_<n>/, and
plots/interpolation.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from runner.files import write_csv
from runner.formatting import number, percent
from runner.report.style import legend, pyplot, save
from runner.studies.common import derive, finish, md_table, read_rows, train
from runner.train import batching, checkpoint
from runner.train.base import RunHooks
from runner.train.evaluate import evaluate

CSV_COLUMNS = ["alpha", "train_loss", "train_acc", "test_loss", "test_acc"]


class _Keep(RunHooks):
    """Keeps the trained engine (model and device data)."""

    engine = None

    def on_end(self, engine) -> None:
        self.engine = engine


def _trained(sub, run_dir: Path, label: str):
    """The engine of one of the two runs: the one just trained, or, for a run an earlier attempt
    of the study finished, one built from its config and given its final weights (model.pt)."""
    from runner.train.run import make_engine

    keep = _Keep()
    train(sub, run_dir, label, hooks=keep, needs=(checkpoint.MODEL,))
    if keep.engine is not None:
        return keep.engine
    engine = make_engine(sub)
    engine.load_weights(checkpoint.load(run_dir / checkpoint.MODEL)["weights"])
    return engine


@torch.no_grad()
def recompute_batchnorm(model: torch.nn.Module, x: torch.Tensor, batch_size: int) -> None:
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the pass
    model.train()
    for idx in batching.split(torch.arange(len(x), device=x.device), batch_size, smallest=2):
        model(x[idx])
    model.eval()


def run(cfg, study_dir: Path, label: str = "") -> dict:
    ip = cfg.study.interpolation
    engines = {}
    for bs in (ip.batch_small, ip.batch_large):
        sub = derive(cfg, **{"task": "train", "trainer.batch_size": bs, "name": f"interpolation-batch{bs}"})
        engines[bs] = _trained(sub, study_dir / f"batch_{bs}", f"{label}[batch {bs}] ")
    small, large = engines[ip.batch_small], engines[ip.batch_large]
    model, data = small.model, small.data
    a_state = {k: v.detach().clone() for k, v in small.model.state_dict().items()}
    b_state = {k: v.detach().clone() for k, v in large.model.state_dict().items()}
    train, test = (data.splits[s].sample(ip.eval_samples, cfg.seed) for s in ("train", "test"))
    rows = []
    for a in np.linspace(ip.alpha_min, ip.alpha_max, ip.steps):
        mixed = {
            k: ((1 - a) * a_state[k] + a * b_state[k]) if a_state[k].is_floating_point() else a_state[k]
            for k in a_state
        }
        model.load_state_dict(mixed)
        recompute_batchnorm(model, train.x, cfg.trainer.eval_batch_size)
        tr = evaluate(model, train, True, cfg.trainer.eval_batch_size)
        te = evaluate(model, test, True, cfg.trainer.eval_batch_size)
        rows.append([float(a), tr.loss, tr.acc, te.loss, te.acc])
    write_csv(study_dir / "interpolation.csv", CSV_COLUMNS, rows)
    return report(cfg, study_dir)


def report(cfg, study_dir: Path) -> dict:
    """Plot, report and summary from interpolation.csv."""
    ip = cfg.study.interpolation
    rows = read_rows(study_dir / "interpolation.csv", CSV_COLUMNS)
    png = _plot(rows, ip.batch_small, ip.batch_large, study_dir / "plots" / "interpolation.png")
    at = {round(r["alpha"], 6): r for r in rows}
    ends = [
        [
            f"a = {a:g} (batch {bs})",
            number(r["train_loss"]),  # significant digits: a trained end's loss can be 1e-4
            percent(r["train_acc"]),
            number(r["test_loss"]),
            percent(r["test_acc"]),
        ]
        for a, bs in ((0.0, ip.batch_small), (1.0, ip.batch_large))
        if (r := at.get(a)) is not None
    ]
    worst = max(rows, key=lambda r: r["train_loss"])
    barrier = _barrier(rows, at)
    md = [
        f"A CNN (conv {list(cfg.model.conv)}, FC {list(cfg.model.hidden)}, {cfg.activation.name}) trained on "
        f"{cfg.dataset.name} for {cfg.trainer.epochs} epochs with batch {ip.batch_small} and with batch "
        f"{ip.batch_large} (same seed), then evaluated at {ip.steps} points a in [{ip.alpha_min:g}, "
        f"{ip.alpha_max:g}] of theta(a) = (1 - a) theta_{ip.batch_small} + a theta_{ip.batch_large}.",
        "",
        *md_table(["point", "train loss", "train accuracy", "test loss", "test accuracy"], ends),
        "",
        *([barrier["line"], ""] if barrier else []),
        f"Highest train loss along the whole line, the extrapolated ends included: {worst['train_loss']:.4g} at "
        f"a = {worst['alpha']:.2f}.",
        "",
        "## Plot",
        "",
        f"![interpolation](plots/{png.name})",
        "",
    ]
    return finish(
        cfg,
        study_dir,
        "Flatness: interpolating between small- and large-batch solutions",
        md,
        {
            "points": len(rows),
            "max_train_loss": worst["train_loss"],
            "max_train_loss_alpha": worst["alpha"],
            **({k: barrier[k] for k in ("barrier_train_loss", "barrier_alpha")} if barrier else {}),
        },  # fmt: skip
    )


def _barrier(rows: list, at: dict) -> dict | None:
    """The loss barrier between the two solutions: the highest train loss for a in [0, 1] above
    the higher of the two ends (0 where the loss never rises above them). The maximum over the
    whole line is nearly always at an extrapolated end (a = -1 or 2) and says little of the path
    between the minima. None when the line lacks a = 0 or a = 1."""
    ends = [at.get(0.0), at.get(1.0)]
    if None in ends:
        return None
    between = [r for r in rows if -1e-9 <= r["alpha"] <= 1 + 1e-9]
    peak = max(between, key=lambda r: r["train_loss"])
    height = max(0.0, peak["train_loss"] - max(e["train_loss"] for e in ends))
    where = f"at a = {peak['alpha']:.2f}" if height > 0 else "at an end"
    said = (f"a barrier of {height:.4g} above the higher end" if height > 0
            else "no barrier: it never rises above the higher end")  # fmt: skip
    return {
        "barrier_train_loss": height,
        "barrier_alpha": peak["alpha"] if height > 0 else None,
        "line": f"Between the two solutions (0 <= a <= 1) the train loss peaks at {peak['train_loss']:.4g} {where}, "
        f"{said}.",
    }


def _plot(rows: list, bs_small: int, bs_large: int, path: Path) -> Path:
    plt = pyplot()
    a = [r["alpha"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, kind, ylabel, scale in (
        (axes[0], "loss", "cross-entropy loss (log scale)", 1),
        (axes[1], "acc", "accuracy (%)", 100),
    ):
        ax.plot(a, [scale * r[f"train_{kind}"] for r in rows], "--", color="#1f77b4", label="train")
        ax.plot(a, [scale * r[f"test_{kind}"] for r in rows], "-", color="#2ca02c", label="test")
        for x, name in ((0, f"batch {bs_small}"), (1, f"batch {bs_large}")):
            ax.axvline(x, color="grey", alpha=0.5, linewidth=1)
            ax.annotate(
                name,
                (x, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                fontsize=9,
                color="grey",
            )
        ax.set_xlabel("a in (1 - a) theta_small + a theta_large")
        ax.set_ylabel(ylabel)
        legend(ax)
    axes[0].set_yscale("log")
    fig.suptitle(f"Loss and accuracy between the batch-{bs_small} and batch-{bs_large} solutions")
    fig.tight_layout()
    return save(fig, path)
