"""R same-shape networks as one stacked model (trainer.replicas): one kernel per layer for all
copies instead of R small ones.

Every copy is first built and initialised on its own (runner/models/build.py, seed + r), then
its parameters are stacked, so replica r starts exactly where a single run with seed + r
would. Inputs and outputs carry the replica first: x [R, B, ...] -> logits [R, B, K].

    Linear       -> StackedLinear: weights [R, out, in], one batched matmul (baddbmm)
    BatchNorm1d  -> one BatchNorm1d over R*W features (per-replica statistics, as before)
    Conv2d       -> one grouped Conv2d with groups=R on [B, R*C, H, W]
    BatchNorm2d  -> one BatchNorm2d over R*C channels
    activations, dropout, max-pool are elementwise or per channel: shared as they are

The copies share no parameter, and the training loss is the sum of their losses, so each
copy's gradient, Adam or SGD update and L1/L2 penalty are those it would get alone.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn


class StackedLinear(nn.Module):
    def __init__(self, linears: list):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([m.weight.detach() for m in linears]))  # [R, out, in]
        self.bias = nn.Parameter(torch.stack([m.bias.detach() for m in linears]))  # [R, out]

    def forward(self, x):  # [R, B, in] -> [R, B, out]
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


class StackedBatchNorm1d(nn.Module):
    def __init__(self, norms: list):
        super().__init__()
        self.norm = _cat_batchnorm(norms, nn.BatchNorm1d)

    def forward(self, x):  # [R, B, W]: per-replica features side by side, normalised at once
        r, b, w = x.shape
        y = self.norm(x.transpose(0, 1).reshape(b, r * w))
        return y.view(b, r, w).transpose(0, 1)


def _cat_batchnorm(norms: list, cls):
    first = norms[0]
    out = cls(first.num_features * len(norms), eps=first.eps, momentum=first.momentum, affine=first.affine)
    with torch.no_grad():
        for name in ("weight", "bias", "running_mean", "running_var"):
            if getattr(first, name, None) is not None:
                getattr(out, name).copy_(torch.cat([getattr(m, name) for m in norms]))
        out.num_batches_tracked.copy_(first.num_batches_tracked)
    return out


def _grouped_conv(convs: list) -> nn.Conv2d:
    first, r = convs[0], len(convs)
    out = nn.Conv2d(
        first.in_channels * r,
        first.out_channels * r,
        first.kernel_size,
        stride=first.stride,
        padding=first.padding,
        groups=r,
        bias=first.bias is not None,
    )
    with torch.no_grad():
        out.weight.copy_(torch.cat([m.weight for m in convs]))
        if first.bias is not None:
            out.bias.copy_(torch.cat([m.bias for m in convs]))
    return out


def _stack_sequential(seqs: list) -> nn.Sequential:
    layers = []
    for mods in zip(*seqs):
        m = mods[0]
        if isinstance(m, nn.Linear):
            layers.append(StackedLinear(list(mods)))
        elif isinstance(m, nn.Conv2d):
            layers.append(_grouped_conv(list(mods)))
        elif isinstance(m, nn.BatchNorm2d):
            layers.append(_cat_batchnorm(list(mods), nn.BatchNorm2d))
        elif isinstance(m, nn.BatchNorm1d):
            layers.append(StackedBatchNorm1d(list(mods)))
        elif len(list(m.parameters())) == 0:
            layers.append(copy.deepcopy(m))  # activation, dropout, pooling: the same for every copy
        else:
            raise TypeError(f"cannot stack {type(m).__name__}")
    return nn.Sequential(*layers)


class StackedNet(nn.Module):
    """The stacked counterpart of runner.models.build.Net."""

    def __init__(self, nets: list):
        super().__init__()
        self.replicas = len(nets)
        first = nets[0]
        self.has_conv = len(first.features) > 0
        self.features = _stack_sequential([n.features for n in nets])
        self.hidden = _stack_sequential([n.hidden for n in nets])
        self.head = StackedLinear([n.head for n in nets])
        self.head_post = _stack_sequential([n.head_post for n in nets])

    def forward(self, x):  # [R, B, ...] -> [R, B, K]
        r, b = x.shape[:2]
        if self.has_conv:
            # replica r's images become channel block r of one grouped-conv input
            c, h, w = x.shape[2:]
            y = self.features(x.transpose(0, 1).reshape(b, r * c, h, w))
            x = y.reshape(b, r, -1).transpose(0, 1)
        else:
            x = x.reshape(r, b, -1)
        return self.head_post(self.head(self.hidden(x)))

    def replica_weights(self) -> list:
        """Per weight layer, a view [R, ...] of its weights (for per-replica penalties)."""
        out = []
        for m in self.modules():
            if isinstance(m, StackedLinear):
                out.append(m.weight)
            elif isinstance(m, nn.Conv2d):
                out.append(m.weight.view(self.replicas, -1, *m.weight.shape[1:]))
        return out
