"""L1 and L2 penalties added to the training loss by our own code (not the optimizer's
weight_decay), so their value is visible, logged and identical for every optimizer.

    L1 = l1 * sum |w|      L2 = l2 * sum w^2

summed over the weight matrices of Linear layers and the kernels of Conv layers; biases and
BatchNorm parameters are not penalised. For a stacked model (trainer.replicas) the sum over all
copies' weights is the sum of each copy's penalty, so each copy's gradient is its own.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from runner.models.stacked import StackedLinear


def penalized_weights(model: nn.Module) -> list:
    return [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d, StackedLinear))]


def _total(t: torch.Tensor, per_copy: bool) -> torch.Tensor:
    return t.flatten(1).sum(1) if per_copy else t.sum()


def l1_penalty(weights: list, lam: float, per_copy: bool = False) -> torch.Tensor:
    return lam * sum(_total(w.abs(), per_copy) for w in weights)


def l2_penalty(weights: list, lam: float, per_copy: bool = False) -> torch.Tensor:
    return lam * sum(_total(w.pow(2), per_copy) for w in weights)


def penalty(weights: list, l1: float, l2: float, per_copy: bool = False) -> torch.Tensor | None:
    """The combined penalty, or None when both lambdas are zero (nothing added to the graph).
    per_copy: the weights are stacked copies (dim 0); one penalty per copy."""
    terms = []
    if l1 > 0:
        terms.append(l1_penalty(weights, l1, per_copy))
    if l2 > 0:
        terms.append(l2_penalty(weights, l2, per_copy))
    return sum(terms) if terms else None
