"""Where training goes in weight space: the same MLP trained from study.trajectory.runs seeds,
its weights recorded every study.trajectory.every epochs (and at initialisation and after the
last epoch), projected to 2-D with PCA, for the first layer alone and for the whole model.

    dlrun experiment=trajectory_pca

Writes trajectory_pca.csv (run, seed, epoch, train_loss, test_acc, layer1_pc1, layer1_pc2,
all_pc1, all_pc2), explained_variance.csv (weights, pc1, pc2: the share of the variance each
component explains, for first_layer and all), one run folder per seed under run<k>/ (with
the weights it recorded, trajectory.npz), and plots/trajectories.png.
PCA is computed here: snapshots centred, then the eigenvectors of the small snapshots x
snapshots Gram matrix give the principal directions without forming a params x params matrix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from runner.errors import reading
from runner.files import atomic_write, read_json, write_csv
from runner.formatting import number, percent
from runner.report.style import legend, pyplot, save
from runner.studies.common import derive, finish, md_table, read_rows, train
from runner.train.base import RunHooks

CSV_COLUMNS = ["run", "seed", "epoch", "train_loss", "test_acc", "layer1_pc1", "layer1_pc2", "all_pc1", "all_pc2"]
VARIANCE_COLUMNS = ["weights", "pc1", "pc2"]


def pca_2d(snapshots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(coordinates [n, 2], explained variance ratio [2]) of the rows of `snapshots`."""
    x = snapshots - snapshots.mean(axis=0, keepdims=True)
    gram = x @ x.T
    vals, vecs = np.linalg.eigh(gram)  # ascending
    order = np.argsort(vals)[::-1][:2]
    vals, vecs = np.clip(vals[order], 0, None), vecs[:, order]
    coords = vecs * np.sqrt(vals)  # = x @ (unit principal directions)
    total = float(np.trace(gram)) or 1.0
    return coords, vals / total


SNAPSHOTS = "trajectory.npz"  # in each run's folder: its weights at every recorded epoch


class _Recorder(RunHooks):
    """Keeps the weights at initialisation, every `every` epochs and after the last epoch, so
    each trajectory ends at the trained model even when `every` does not divide the epochs; at
    the run's end (before its DONE) they go to <run>/trajectory.npz, so a stopped study run
    again keeps the runs it finished."""

    def __init__(self, every: int, run_dir: Path):
        self.every, self.run_dir, self.snaps, self.last = every, run_dir, [], None

    def _take(self, engine, epoch: int, loss, acc) -> None:
        flat = torch.cat([p.detach().reshape(-1) for p in engine.model.parameters()])
        self.snaps.append((epoch, np.nan if loss is None else loss, np.nan if acc is None else acc,
                           flat.cpu().numpy().copy()))  # fmt: skip

    def on_start(self, engine) -> None:
        self._take(engine, 0, None, None)

    def on_epoch(self, engine, row) -> None:
        self.last = row
        if row.epoch % self.every == 0:
            self._take(engine, row.epoch, row.train_loss, row.test_acc)

    def on_end(self, engine) -> None:
        row = self.last
        if row is not None and self.snaps[-1][0] != row.epoch:
            self._take(engine, row.epoch, row.train_loss, row.test_acc)
        start, stop = _first_layer(engine.model)
        epoch, loss, acc, flat = zip(*self.snaps)
        arrays = {"epoch": np.array(epoch), "train_loss": np.array(loss, dtype=float),
                  "test_acc": np.array(acc, dtype=float), "weights": np.stack(flat),
                  "first_layer": np.array([start, stop])}  # fmt: skip
        atomic_write(self.run_dir / SNAPSHOTS, lambda f: np.savez(f, **arrays))


def _first_layer(model: torch.nn.Module) -> tuple[int, int]:
    """Where the first Linear layer's weight lies in the flattened parameters."""
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear)).weight
    start = 0
    for p in model.parameters():
        if p is first:
            return start, start + p.numel()
        start += p.numel()
    raise ValueError("the first Linear layer's weight is not among the model's parameters")


def read_snapshots(run_dir: Path) -> list:
    """A run's recorded snapshots: (epoch, train loss or None, test accuracy or None, first-layer
    weights, all weights), the weights in float64 for the PCA."""
    path = Path(run_dir) / SNAPSHOTS
    with reading(path, "trajectory snapshots"), np.load(path, allow_pickle=False) as z:
        start, stop = (int(v) for v in z["first_layer"])
        weights = z["weights"].astype(np.float64)
        cells = [[None if np.isnan(v) else float(v) for v in z[k]] for k in ("train_loss", "test_acc")]
        return [(int(e), loss, acc, w[start:stop], w) for e, loss, acc, w in zip(z["epoch"], *cells, weights)]


def run(cfg, study_dir: Path, label: str = "") -> dict:
    tr = cfg.study.trajectory
    per_run = []
    for k in range(tr.runs):
        seed = cfg.seed + k
        sub = derive(cfg, **{"task": "train", "seed": seed, "name": f"trajectory-run{k}"})
        run_dir = study_dir / f"run{k}"
        train(sub, run_dir, f"{label}[run {k}, seed {seed}] ", hooks=_Recorder(tr.every, run_dir), needs=(SNAPSHOTS,))
        per_run.append((k, seed, read_snapshots(run_dir)))
    layer1 = np.stack([s[3] for _, _, snaps in per_run for s in snaps])
    whole = np.stack([s[4] for _, _, snaps in per_run for s in snaps])
    c1, var1 = pca_2d(layer1)
    c2, var2 = pca_2d(whole)
    rows, i = [], 0
    for k, seed, snaps in per_run:
        for epoch, loss, acc, _, _ in snaps:
            rows.append([k, seed, epoch, loss, acc, c1[i, 0], c1[i, 1], c2[i, 0], c2[i, 1]])
            i += 1
    write_csv(study_dir / "trajectory_pca.csv", CSV_COLUMNS, rows)
    write_csv(
        study_dir / "explained_variance.csv",
        VARIANCE_COLUMNS,
        [["first_layer", *var1.tolist()], ["all", *var2.tolist()]],
    )
    return report(cfg, study_dir)


def report(cfg, study_dir: Path) -> dict:
    """Plot, report and summary from trajectory_pca.csv, explained_variance.csv and run0/."""
    tr = cfg.study.trajectory
    rows = read_rows(study_dir / "trajectory_pca.csv", CSV_COLUMNS)
    var = {
        r["weights"]: np.array([r["pc1"], r["pc2"]], dtype=float)
        for r in read_rows(study_dir / "explained_variance.csv", VARIANCE_COLUMNS, text=("weights",))
    }
    var1, var2 = var["first_layer"], var["all"]
    png = _plot(rows, var1, var2, study_dir / "plots" / "trajectories.png")
    last = {r["run"]: r for r in rows}  # each run's last snapshot
    finals = [[k, r["seed"], number(r["train_loss"]), percent(r["test_acc"])] for k, r in last.items()]
    md = [
        f"{tr.runs} runs of an MLP ({'-'.join(map(str, cfg.model.hidden))} hidden units, {cfg.activation.name}, "
        f"{cfg.optimizer.name} lr {cfg.optimizer.lr:g}) on {cfg.dataset.name}, seeds {cfg.seed}..{cfg.seed + tr.runs - 1}; "
        f"weights recorded at initialisation, every {tr.every} epoch(s) of {cfg.trainer.epochs} and at the end.",
        "",
        f"Share of the variance the two components explain: first layer {100 * var1.sum():.1f}% "
        f"({100 * var1[0]:.1f}% + {100 * var1[1]:.1f}%), whole model {100 * var2.sum():.1f}% "
        f"({100 * var2[0]:.1f}% + {100 * var2[1]:.1f}%).",
        "",
        *md_table(["run", "seed", "final train loss", "final test accuracy"], finals),
        "",
        "## Plot",
        "",
        f"![trajectories](plots/{png.name})",
        "",
    ]
    params = read_json(study_dir / "run0" / "summary.json")["params"]  # every run is the same model
    return finish(
        cfg,
        study_dir,
        "Training trajectories in weight space (PCA)",
        md,
        {
            "explained_variance_layer1": var1.tolist(),
            "explained_variance_all": var2.tolist(),
            "snapshots": len(rows),
            "params": params,
        },
    )


def _plot(rows: list, var1, var2, path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6))
    runs = sorted({r["run"] for r in rows})
    cmap = plt.get_cmap("tab10")
    for ax, prefix, var, name in ((axes[0], "layer1", var1, "first layer"), (axes[1], "all", var2, "whole model")):
        for k in runs:
            pts = [r for r in rows if r["run"] == k]
            xs, ys = [p[f"{prefix}_pc1"] for p in pts], [p[f"{prefix}_pc2"] for p in pts]
            ax.plot(xs, ys, "-o", color=cmap(k % 10), markersize=4, label=f"run {k} (seed {pts[0]['seed']})")
            ax.plot(xs[0], ys[0], marker="s", color=cmap(k % 10), markersize=7)
            if pts[-1]["train_loss"] is not None:
                ax.annotate(
                    f"{pts[-1]['train_loss']:.3g}",  # significant digits: a run can end near 0.001
                    (xs[-1], ys[-1]),
                    textcoords="offset points",
                    xytext=(5, 4),
                    fontsize=8,
                )
        ax.set_xlabel(f"PC 1 ({100 * var[0]:.1f}% of variance)")
        ax.set_ylabel(f"PC 2 ({100 * var[1]:.1f}% of variance)")
        ax.set_title(f"{name}: square = initialisation, label = final train loss")
    legend(axes[1], fontsize=8, loc="best")
    fig.suptitle("Training trajectories projected to their first two principal components")
    fig.tight_layout()
    return save(fig, path)
