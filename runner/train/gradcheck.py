"""Gradient checking: an engine's gradients of the full training loss against central finite
differences computed here, in float64: autograd's (check_torch), or the NumPy engine's
hand-written backward (runner/scratch/gradcheck.py), through the same compare().

    dlrun task=gradcheck dataset=gurmukhi model=cnn regularizer=[l1,l2,dropout]

The loss is the one training minimises: the data loss on a fixed batch plus the L1/L2
penalties, with the model in train mode (BatchNorm uses the batch's statistics) and every
Dropout replaced by one fixed mask, so the loss is a deterministic function of the weights.
For a sample of entries of every parameter tensor:

    numeric   = (L(p + h) - L(p - h)) / (2h)
    rel_error = |analytic - numeric| / max(|analytic|, |numeric|, floor)

    floor     = max(gradcheck.floor, 100 * machine_eps * |L| / (h * tol))

The check passes when every rel_error is below `gradcheck.tol` (default 1e-4). The floor is
where rounding takes over: each loss value carries rounding of up to ~100 machine_eps * |L|, which
the difference divides by h, so a gradient smaller than the floor (a BatchNorm-cancelled bias,
a nearly dead unit) is compared to that level instead of to itself. h starts at
`gradcheck.eps` (1e-5); an entry that misses the tolerance is measured again at 10h and h/10
and keeps its smallest error (see check_gradients). A correct gradient lands near 1e-8 in
float64; a derivative that is off by even 1% lands near 1e-2.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from runner.say import say
from runner.train.gradcheck_result import CSV_COLUMNS, Entry, GradcheckResult
from runner.train.probes import weight_layers


class FixedMaskDropout(nn.Module):
    """Dropout whose mask is drawn once (on the first call) and reused, so the loss is a
    function of the weights alone."""

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        self.p, self.generator, self.mask = p, generator, None

    def forward(self, x):
        if self.mask is None:
            keep = torch.rand(x.shape, generator=self.generator, dtype=x.dtype) >= self.p
            self.mask = keep.to(x.dtype) / (1 - self.p)
        return x * self.mask


def fix_dropout_masks(model: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Dropout):
                setattr(parent, name, FixedMaskDropout(child.p, g))
    return model


def parameter_names(model: nn.Module) -> list:
    """(layer, param name, tensor) for every parameter, layers named as in layers.csv
    (conv1, fc1, ..., out) and BatchNorm layers bn1, bn2, ..."""
    names = {id(layer.module): layer.name for layer in weight_layers(model)}
    bn = 0
    out = []
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            bn += 1
            names[id(module)] = f"bn{bn}"
        for pname, p in module.named_parameters(recurse=False):
            out.append((names.get(id(module), type(module).__name__), pname, p))
    return out


def _central_difference(loss: Callable[[], float], flat, i: int, h: float) -> float:
    """flat: a 1-D view of one parameter (a torch tensor or a NumPy array), changed in place."""
    orig = float(flat[i])
    flat[i] = orig + h
    plus = loss()
    flat[i] = orig - h
    minus = loss()
    flat[i] = orig
    return (plus - minus) / (2 * h)


# A loss is a long chain of float64 operations (BatchNorm's statistics among them): its
# rounding was measured here at up to ~20 machine epsilons of |L|. 100 leaves room.
ROUNDING_MARGIN = 100


def rounding_floor(loss: float, h: float, tol: float) -> float:
    """Below this size a gradient cannot be measured to `tol` by a central difference of step h:
    each loss value carries rounding of about ROUNDING_MARGIN * machine-epsilon * |loss|,
    which the difference divides by h."""
    return ROUNDING_MARGIN * np.finfo(np.float64).eps * loss / h / tol


def check_gradients(
    model: nn.Module,
    loss_fn: Callable[[nn.Module], torch.Tensor],
    samples: int,
    eps: float,
    tol: float,
    floor: float,
    seed: int = 0,
) -> GradcheckResult:
    """Compare autograd with central differences on `samples` entries of every parameter."""
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model)
    loss.backward()
    tensors = []
    for layer, pname, p in parameter_names(model):
        analytic = p.grad.detach().reshape(-1).clone() if p.grad is not None else torch.zeros(p.numel(), dtype=p.dtype)
        tensors.append((layer, pname, p.data.view(-1), analytic.numpy()))

    def value() -> float:
        with torch.no_grad():
            return loss_fn(model).item()

    return compare(tensors, value, abs(loss.item()), samples, eps, tol, floor, seed)


def compare(tensors: list, loss: Callable[[], float], scale: float, samples: int, eps: float, tol: float,
            floor: float, seed: int = 0) -> GradcheckResult:  # fmt: skip
    """The check itself, for any engine: `tensors` are (layer, param, a 1-D view of its values
    that the differences change in place, the analytic gradient as a 1-D array); `loss()` the
    loss at the current values; `scale` |L| at the start.

    An entry that misses `tol` at step eps is measured again at 10*eps and eps/10 and keeps
    its smallest error: a ReLU kink or max-pool switch inside +-h spoils a large step and
    rounding spoils a small one, but a wrong derivative is wrong at every step."""
    rng = np.random.default_rng(seed)
    rows = []
    for layer, pname, flat, analytic in tensors:
        for i in rng.choice(len(flat), size=min(samples, len(flat)), replace=False):
            i, a = int(i), float(analytic[int(i)])
            best = None
            for h in (eps, 10 * eps, eps / 10):
                numeric = _central_difference(loss, flat, i, h)
                err = abs(a - numeric) / max(abs(a), abs(numeric), floor, rounding_floor(scale, h, tol))
                if best is None or err < best[1]:
                    best = (numeric, err, h)
                if err < tol:
                    break
            rows.append(Entry(layer, pname, i, a, *best))
    return GradcheckResult(rows, tol)


def fixed_batch(data, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n training samples, the same ones for either engine; x in float64, y as the loss takes it."""
    train = data.splits["train"]
    idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n]
    y = train.y[idx].cpu()
    return train.x[idx].cpu().double(), (y.double() if not data.classification else y)


def training_loss(cfg, data, model: nn.Module, n: int, seed: int) -> Callable[[nn.Module], torch.Tensor]:
    """The training loss of `model` on a fixed batch of n training samples, in float64."""
    from runner.train.evaluate import batch_loss
    from runner.train.penalties import penalized_weights, penalty

    x, y = fixed_batch(data, n, seed)
    l1, l2 = cfg.regularizer.l1, cfg.regularizer.l2

    def loss(m: nn.Module) -> torch.Tensor:
        total = batch_loss(m(x), y, data.classification)
        pen = penalty(penalized_weights(m), l1, l2)
        return total + pen if pen is not None else total

    return loss


def check_torch(cfg, data) -> tuple[GradcheckResult, int]:
    """(the result, the parameter count) of the torch engine's untrained network: autograd's gradients."""
    from runner.models import build_model, count_params

    model = build_model(cfg, data.input_shape, data.num_outputs).double()
    model = fix_dropout_masks(copy.deepcopy(model), cfg.seed).train()
    loss_fn = training_loss(cfg, data, model, cfg.gradcheck.batch, cfg.seed)
    gc = cfg.gradcheck
    return check_gradients(model, loss_fn, gc.samples, gc.eps, gc.tol, gc.floor, cfg.seed), count_params(model)


def run_gradcheck(cfg, run_dir: Path, label: str = "") -> dict:
    from omegaconf import OmegaConf

    from runner.console import print_table
    from runner.data import device as device_data
    from runner.errors import CheckFailed
    from runner.files import atomic_write_text, write_csv, write_json, write_marker
    from runner.registry import load
    from runner.registry.runs import ENGINES
    from runner.train.engine import seed_everything

    gc, engine = cfg.gradcheck, ENGINES[cfg.engine]
    seed_everything(cfg.seed)
    data = device_data.load(cfg.dataset, Path(cfg.data_dir), cfg.seed, torch.device("cpu"))
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    result, params = load(engine.gradcheck)(cfg, data)
    write_csv(run_dir / "gradcheck.csv", CSV_COLUMNS, result.rows)
    table = [
        (layer, param, str(n), f"{err:.2e}", "pass" if ok else "FAIL")
        for layer, param, n, err, ok in result.per_layer()
    ]
    print_table(
        f"{label}gradcheck of {cfg.name} ({engine.gradients}, {params:,} parameters, batch {gc.batch}, "
        f"h={gc.eps:g}, float64): max relative error per tensor, tolerance {gc.tol:g}",
        ["layer", "param", "checked", "max rel. error", "result"],
        table,
        cfg.trainer.progress,
    )
    verdict = "passed" if result.passed else "failed"
    summary = {
        "name": cfg.name,
        "task": "gradcheck",
        "status": "ok" if result.passed else "failed",
        "gradcheck": {
            "passed": result.passed,
            "max_rel_error": result.max_error,
            "tol": gc.tol,
            "eps": gc.eps,
            "batch": gc.batch,
            "checked": len(result.rows),
        },
        "params": params,
        "engine": cfg.engine,
        "device": "cpu",
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "tags": list(cfg.tags),
    }
    worst = result.worst
    line = (
        f"gradcheck {verdict}: max relative error {result.max_error:.2e} (tolerance {gc.tol:g}) at "
        f"{worst.layer}.{worst.param}[{worst.index}]; {len(result.rows)} entries in {run_dir / 'gradcheck.csv'}"
    )
    if not result.passed:
        summary["error"] = line
    write_json(run_dir / "summary.json", summary)
    from runner.report.gradcheck_report import write_gradcheck_report

    write_gradcheck_report(run_dir)  # a failed check gets its report too: it shows where
    if not result.passed:
        raise CheckFailed(line)
    write_marker(run_dir, "ok")
    say(f"{label}{line}")
    return summary
