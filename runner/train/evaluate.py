"""Loss, accuracy and confusion matrix of a model on a device-resident split, in eval mode."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class EvalResult:
    loss: float
    acc: float | None  # None for regression
    confusion: torch.Tensor | None = None  # [true, predicted] counts


def batch_loss(out: torch.Tensor, y: torch.Tensor, classification: bool, reduction: str = "mean"):
    if classification:
        return F.cross_entropy(out, y, reduction=reduction)
    return F.mse_loss(out, y, reduction=reduction)


@torch.no_grad()
def evaluate(model, split, classification: bool, batch_size: int, num_classes: int = 0,
             confusion: bool = False) -> EvalResult:
    was_training = model.training
    model.eval()
    n = len(split)
    dev = split.x.device
    loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.int64, device=dev)
    conf = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=dev) if confusion else None
    for i in range(0, n, batch_size):
        xb, yb = split.x[i:i + batch_size], split.y[i:i + batch_size]
        out = model(xb)
        loss_sum += batch_loss(out, yb, classification, reduction="sum").double()
        if classification:
            pred = out.argmax(1)
            correct += (pred == yb).sum()
            if conf is not None:
                conf += torch.bincount(yb * num_classes + pred, minlength=num_classes * num_classes)
    model.train(was_training)
    # regression: mean squared error per target element (targets are [N, 1])
    loss = float(loss_sum) / n
    acc = float(correct) / n if classification else None
    return EvalResult(loss, acc, conf.view(num_classes, num_classes).cpu() if conf is not None else None)
