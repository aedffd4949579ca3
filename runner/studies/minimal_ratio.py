"""Minimal ratio against loss at critical points: a small regression MLP is trained on the
function dataset until its gradient norm falls below study.minimal_ratio.grad_threshold;
the Hessian of the loss is then computed exactly and

    minimal ratio = (number of positive eigenvalues) / (number of parameters).

    dlrun experiment=minimal_ratio

Each repeat: full-batch Adam on the MSE for `steps` steps, stopping early once the gradient
norm is below the threshold; if it is not, up to `grad_steps` more steps minimise ||grad L||^2
instead, which pulls the weights to a nearby critical point (a minimum, a saddle or a flat
region alike). Everything is float64; the Hessian is torch.autograd.functional.hessian of the
loss as a function of the flattened parameters, so it is exact up to rounding.

Writes minimal_ratio.csv (repeat, seed, loss, grad_norm, converged, phase, params,
eigenvalues, positive, minimal_ratio) and plots/minimal_ratio.png; while it runs, the
repeats done so far are in repeats.json, and a stopped study run again goes on after them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from runner.files import write_csv
from runner.report.style import pyplot, save
from runner.say import say
from runner.studies.common import finish, md_table, read_rows

CSV_COLUMNS = [
    "repeat",
    "seed",
    "loss",
    "grad_norm",
    "converged",
    "phase",
    "params",
    "eigenvalues",
    "positive",
    "minimal_ratio",
]


def flat_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    """The MSE as a function of one flat parameter vector, and that vector's starting value."""
    from torch.func import functional_call

    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    sizes = [p.numel() for _, p in model.named_parameters()]

    def loss(theta: torch.Tensor) -> torch.Tensor:
        params = {n: t.reshape(s) for n, t, s in zip(names, theta.split(sizes), shapes)}
        return torch.nn.functional.mse_loss(functional_call(model, params, (x,)), y)

    theta = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return loss, theta


def train_to_critical_point(loss, theta: torch.Tensor, cfg) -> tuple[torch.Tensor, str]:
    """Adam on the loss, then (if needed) on the squared gradient norm; returns the end point
    and the phase it ended in ("loss" or "grad_norm")."""
    theta = theta.clone().requires_grad_(True)
    opt = torch.optim.Adam([theta], lr=cfg.lr)
    for _ in range(cfg.steps):
        value = loss(theta)
        (g,) = torch.autograd.grad(value, theta)
        if g.norm() < cfg.grad_threshold:
            return theta.detach(), "loss"
        opt.zero_grad()
        theta.grad = g
        opt.step()
    opt = torch.optim.Adam([theta], lr=cfg.lr)
    for _ in range(cfg.grad_steps):
        (g,) = torch.autograd.grad(loss(theta), theta, create_graph=True)
        sq = g.pow(2).sum()
        if sq.sqrt() < cfg.grad_threshold:
            break
        opt.zero_grad()
        sq.backward()
        opt.step()
    return theta.detach(), "grad_norm"


def hessian_spectrum(loss, theta: torch.Tensor) -> np.ndarray:
    h = torch.autograd.functional.hessian(loss, theta)
    h = (h + h.T) / 2  # symmetric up to rounding; make it exactly so for eigvalsh
    return torch.linalg.eigvalsh(h).numpy()


def run(cfg, study_dir: Path, label: str = "") -> dict:
    from runner.data import device as device_data
    from runner.models import build_model, count_params
    from runner.train.engine import seed_everything

    mr = cfg.study.minimal_ratio
    data = device_data.load(cfg.dataset, Path(cfg.data_dir), cfg.seed, torch.device("cpu"))
    x, y = data.splits["train"].x.double(), data.splits["train"].y.double()
    done = RepeatsDone(study_dir, cfg)
    rows = done.rows
    if rows:
        say(f"{label}{len(rows)} of {mr.repeats} repeats finished earlier, kept ({study_dir / REPEATS})")
    for r in range(len(rows), mr.repeats):
        seed = cfg.seed + r
        seed_everything(seed)
        model = build_model(cfg, data.input_shape, 1).double()
        loss, theta = flat_loss(model, x, y)
        theta, phase = train_to_critical_point(loss, theta, mr)
        theta_g = theta.clone().requires_grad_(True)
        value = loss(theta_g)
        (g,) = torch.autograd.grad(value, theta_g)
        value = value.detach()
        eig = hessian_spectrum(loss, theta)
        positive = int((eig > 0).sum())
        rows.append(
            [
                r,
                seed,
                float(value),
                float(g.norm()),
                bool(g.norm() < mr.grad_threshold),
                phase,
                count_params(model),
                len(eig),
                positive,
                positive / len(eig),
            ]
        )
        done.save()
        if cfg.trainer.progress != "quiet":
            say(f"{label}repeat {r + 1}/{mr.repeats}: loss {float(value):.4g}, grad norm {float(g.norm()):.2e}, "
                f"minimal ratio {positive / len(eig):.3f}")  # fmt: skip
    write_csv(study_dir / "minimal_ratio.csv", CSV_COLUMNS, rows)
    done.remove()
    return report(cfg, study_dir)


REPEATS = "repeats.json"  # the rows of the repeats done so far, while the study runs
KEEPS = (REPEATS,)  # what a rerun's clearing of the folder keeps (runner.studies.run_study)


class RepeatsDone:
    """The repeats a study finished, saved after each (atomically, with the config's fingerprint),
    so that the study stopped and run again goes on at the next repeat; those of another config
    (or a damaged file) are not kept."""

    def __init__(self, study_dir: Path, cfg):
        from runner.files import read_json
        from runner.train.checkpoint import fingerprint

        self.path, self.fingerprint = Path(study_dir) / REPEATS, fingerprint(cfg)
        saved = read_json(self.path) or {}
        rows = saved.get("rows") if saved.get("fingerprint") == self.fingerprint else None
        whole = isinstance(rows, list) and all(isinstance(r, list) and len(r) == len(CSV_COLUMNS) for r in rows)
        self.rows = rows if whole else []

    def save(self) -> None:
        from runner.files import write_json

        write_json(self.path, {"fingerprint": self.fingerprint, "rows": self.rows})

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def report(cfg, study_dir: Path) -> dict:
    """Plot, report and summary from minimal_ratio.csv."""
    mr = cfg.study.minimal_ratio
    rows = read_rows(study_dir / "minimal_ratio.csv", CSV_COLUMNS, text=("phase",))
    png = _plot(rows, mr.grad_threshold, study_dir / "plots" / "minimal_ratio.png")
    converged = sum(r["converged"] for r in rows)
    ratios = np.array([r["minimal_ratio"] for r in rows])
    params, eigenvalues = rows[0]["params"], rows[0]["eigenvalues"]
    md = [
        f"{mr.repeats} trainings of an MLP ({'-'.join(map(str, cfg.model.hidden))} hidden units, "
        f"{cfg.activation.name}, {params} parameters) on {cfg.dataset.fn} ({cfg.dataset.n_train} points), "
        f"each to a point where the gradient norm is below {mr.grad_threshold:g} ({converged} of {mr.repeats} "
        f"got there). Minimal ratio = share of positive Hessian eigenvalues.",
        "",
        *md_table(
            ["", "value"],
            [
                ["repeats", mr.repeats],
                ["reached the threshold", converged],
                ["minimal ratio, mean", f"{ratios.mean():.3f}"],
                ["minimal ratio, min / max", f"{ratios.min():.3f} / {ratios.max():.3f}"],
                ["eigenvalues per Hessian", eigenvalues],
            ],
        ),
        "",
        "## Plot",
        "",
        f"![minimal_ratio](plots/{png.name})",
        "",
    ]
    return finish(
        cfg,
        study_dir,
        "Minimal ratio of critical points",
        md,
        {
            "repeats": mr.repeats,
            "converged": converged,
            "params": params,
            "eigenvalues": eigenvalues,
            "minimal_ratio_mean": float(ratios.mean()),
        },
    )


def _plot(rows: list, threshold: float, path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for converged, marker, name in (
        (True, "o", f"gradient norm < {threshold:g}"),
        (False, "x", "did not reach the threshold"),
    ):
        pts = [r for r in rows if r["converged"] == converged]
        if pts:
            ax.scatter(
                [r["minimal_ratio"] for r in pts], [r["loss"] for r in pts], marker=marker, alpha=0.7, label=name
            )
    ax.set_xlabel("minimal ratio (share of positive Hessian eigenvalues)")
    ax.set_ylabel("training loss (MSE, log scale)")
    ax.set_yscale("log")
    ax.set_title("Critical points: minimal ratio against loss")
    ax.legend(fontsize=9)
    fig.tight_layout()
    return save(fig, path)
