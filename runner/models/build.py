"""Build the configured network: `mlp` (flatten -> FC block -> output) or `cnn`
(3x3 conv -> [BatchNorm2d] -> activation -> 2x2 max-pool per entry of model.conv, then the
FC block and the output layer)."""

from __future__ import annotations

import math

import torch.nn as nn

from runner.models.layers import activation, fc_block, initialise
from runner.registry.models import MODELS


def conv_stack(in_channels: int, channels: list, act_cfg, reg) -> nn.Sequential:
    layers = []
    for c in channels:
        layers.append(nn.Conv2d(in_channels, c, kernel_size=3, padding=1))
        if reg.batchnorm:
            layers.append(nn.BatchNorm2d(c))
        layers += [activation(act_cfg), nn.MaxPool2d(2)]
        in_channels = c
    return nn.Sequential(*layers)


class Net(nn.Module):
    """features (conv stack, may be empty) -> flatten -> hidden (FC block) -> head ->
    head_post (empty, or the activation and dropout when model.head_activation is set)."""

    def __init__(
        self, features: nn.Sequential, flat: int, hidden: nn.Sequential, head: nn.Linear, head_post: nn.Sequential
    ):
        super().__init__()
        self.features, self.hidden, self.head, self.head_post = features, hidden, head, head_post
        self.flat = flat

    def forward(self, x):
        x = self.features(x)
        return self.head_post(self.head(self.hidden(x.flatten(1))))


def build_model(cfg, input_shape: tuple, num_outputs: int) -> nn.Module:
    m, act, reg = cfg.model, cfg.activation, cfg.regularizer
    if MODELS[m.name].conv:
        c, h, w = input_shape
        features = conv_stack(c, list(m.conv), act, reg)
        stages = len(m.conv)
        flat = m.conv[-1] * (h >> stages) * (w >> stages)
    else:
        features = nn.Sequential()
        flat = math.prod(input_shape)
    hidden = fc_block(flat, list(m.hidden), act, reg)
    head = nn.Linear(m.hidden[-1] if m.hidden else flat, num_outputs)
    head_post = nn.Sequential()
    if m.head_activation:
        head_post.append(activation(act))
        if reg.dropout > 0:
            head_post.append(nn.Dropout(reg.dropout))
    net = Net(features, flat, hidden, head, head_post)
    initialise(net, cfg.init.name, act)
    return net


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
