"""The pieces every model is made of: the configured activation, the FC block with its
regularization layers, and the weight initialisations."""
from __future__ import annotations

import torch.nn as nn


def activation(cfg) -> nn.Module:
    if cfg.name == "relu":
        return nn.ReLU()
    if cfg.name == "sigmoid":
        return nn.Sigmoid()
    if cfg.name == "tanh":
        return nn.Tanh()
    if cfg.name == "leaky_relu":
        return nn.LeakyReLU(cfg.negative_slope)
    if cfg.name == "elu":
        return nn.ELU(cfg.alpha)
    if cfg.name == "gelu":
        return nn.GELU()
    raise ValueError(f"unknown activation {cfg.name}")  # validate() rules this out earlier


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


# gain names torch.nn.init understands, per activation
_KAIMING_NONLINEARITY = {"relu": "relu", "leaky_relu": "leaky_relu", "tanh": "tanh",
                         "sigmoid": "sigmoid", "elu": "relu", "gelu": "relu"}


def initialise(model: nn.Module, init_name: str, act_cfg) -> None:
    """xavier: Glorot uniform (gain 1); kaiming: He normal, fan_in, with the activation's gain.
    Biases start at zero; BatchNorm keeps weight 1, bias 0. `default` leaves PyTorch's own."""
    if init_name == "default":
        return
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            if init_name == "xavier":
                nn.init.xavier_uniform_(m.weight)
            else:
                nl = _KAIMING_NONLINEARITY[act_cfg.name]
                nn.init.kaiming_normal_(m.weight, a=act_cfg.negative_slope if nl == "leaky_relu" else 0,
                                        mode="fan_in", nonlinearity=nl)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
