"""The pieces every model is made of: the configured activation, the FC block with its
regularization layers, and the weight initialisations (all named in runner/registry/)."""

from __future__ import annotations

import math

import torch.nn as nn

from runner.registry import load
from runner.registry.activations import ACTIVATIONS
from runner.registry.models import INITS


def activation(act_cfg) -> nn.Module:
    return ACTIVATIONS[act_cfg.name].module(act_cfg)


def fc_block(in_features: int, widths: list, act_cfg, reg) -> nn.Sequential:
    """Linear -> [BatchNorm1d] -> activation -> [Dropout] for each hidden width.

    Dropout follows the activation of every hidden FC layer (never the input, the conv stack
    or the output layer): the placement the classic studies use.
    """
    layers = []
    for width in widths:
        layers.append(nn.Linear(in_features, width))
        if reg.batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation(act_cfg))
        if reg.dropout > 0:
            layers.append(nn.Dropout(reg.dropout))
        in_features = width
    return nn.Sequential(*layers)


def xavier(weight, gain: float) -> None:
    """Glorot uniform with gain 1 (the classic studies' choice, whatever the activation)."""
    nn.init.xavier_uniform_(weight)


def kaiming(weight, gain: float) -> None:
    """He normal, fan_in: N(0, gain^2 / fan_in), the gain from the activation's entry."""
    nn.init.normal_(weight, 0.0, gain / math.sqrt(weight[0].numel()))


def initialise(model: nn.Module, init_name: str, act_cfg) -> None:
    """Fill every Linear and Conv2d weight with the init's rule and zero the biases; BatchNorm
    keeps weight 1, bias 0. An init without a torch rule (`default`) leaves PyTorch's own."""
    rule = INITS[init_name].torch
    if rule is None:
        return
    fill, gain = load(rule), ACTIVATIONS[act_cfg.name].gain(act_cfg)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            fill(m.weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
