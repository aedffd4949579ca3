"""Loss, accuracy and confusion matrix of a model on a device-resident split, in eval mode.

With `replicas` (a stacked model, runner/models/stacked.py) every copy sees the same samples
and the loss and accuracy come back per replica; the confusion matrix pools all replicas.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from runner.train import precision as precision_mod


@dataclass
class EvalResult:
    loss: float | list  # a list per replica for a stacked model
    acc: float | list | None  # None for regression
    confusion: torch.Tensor | None = None  # [true, predicted] counts


def batch_loss(out: torch.Tensor, y: torch.Tensor, classification: bool, reduction: str = "mean"):
    if classification:
        return F.cross_entropy(out, y, reduction=reduction)
    return F.mse_loss(out, y, reduction=reduction)


def replica_losses(out: torch.Tensor, y: torch.Tensor, classification: bool, reduction: str = "mean"):
    """Per-replica loss of a stacked output out [R, B, K] against y [R, B] (or [R, B, 1] for
    regression): a vector [R], the mean or the sum over each replica's batch."""
    if classification:
        per = F.cross_entropy(out.flatten(0, 1), y.flatten(), reduction="none").view(out.shape[:2])
    else:
        per = F.mse_loss(out, y, reduction="none").flatten(2).mean(2)
    return per.mean(1) if reduction == "mean" else per.sum(1)


@torch.no_grad()
def evaluate(
    model,
    split,
    classification: bool,
    batch_size: int,
    num_classes: int = 0,
    confusion: bool = False,
    replicas: int = 0,
    precision: str = "fp32",
) -> EvalResult:
    was_training = model.training
    model.eval()
    n = len(split)
    dev = split.x.device
    shape = (replicas,) if replicas else ()
    loss_sum = torch.zeros(shape, dtype=torch.float64, device=dev)
    correct = torch.zeros(shape, dtype=torch.int64, device=dev)
    conf = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=dev) if confusion else None
    for i in range(0, n, batch_size):
        xb, yb = split.x[i : i + batch_size], split.y[i : i + batch_size]
        if replicas:  # every replica sees the same batch
            xb = xb.unsqueeze(0).expand(replicas, *xb.shape)
            yb = yb.unsqueeze(0).expand(replicas, *yb.shape)
        with precision_mod.autocast(precision, dev):
            out = model(xb)
        out = out.float()
        if replicas:
            loss_sum += replica_losses(out, yb, classification, reduction="sum").double()
        else:
            loss_sum += batch_loss(out, yb, classification, reduction="sum").double()
        if classification:
            pred = out.argmax(-1)
            correct += (pred == yb).sum(-1)
            if conf is not None:
                conf += torch.bincount((yb * num_classes + pred).flatten(), minlength=num_classes * num_classes)
    model.train(was_training)
    # regression: mean squared error per target element (targets are [N, 1])
    loss = (loss_sum / n).tolist()
    acc = (correct.double() / n).tolist() if classification else None
    return EvalResult(loss, acc, conf.view(num_classes, num_classes).cpu() if conf is not None else None)
