"""Activations (conf/activation/<name>.yaml, `activation=<name>`) and the checks of the
`activation` section.

Adding one: its YAML (`name: <name>` plus any of the section's keys it reads) and one entry
here. The torch module is built from `torch` with the config keys in `args`; `gain` is the
kaiming initialisation's gain (torch and NumPy engines alike); `saturated`, when set, lets the
per-layer probes report the share of saturated outputs; `numpy` names the class of the
from-scratch engine (runner/scratch/layers.py), if it has one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from runner.config.checks import require
from runner.registry import Registry, load


@dataclass(frozen=True)
class Activation:
    help: str
    torch: str  # "module:Class" of the torch module
    args: tuple = ()  # activation-section keys passed to it, in order
    gain: Callable = lambda act: math.sqrt(2.0)  # kaiming gain, from the activation section
    saturated: Callable | None = None  # (outputs, s) -> bool mask of saturated outputs
    numpy: str | None = None  # "module:Class" in runner/scratch, or None

    @property
    def reads(self) -> tuple:
        """The activation-section keys this option uses (the others are notes when set)."""
        return self.args

    def module(self, act_cfg):
        """A new torch module for the activation section `act_cfg`."""
        return load(self.torch)(*(act_cfg[k] for k in self.args))

    def torch_class(self) -> type:
        return load(self.torch)


ACTIVATIONS: Registry[Activation] = Registry("activation.name", "activation")
ACTIVATIONS.add("relu", Activation("max(0, x)", "torch.nn:ReLU", numpy="runner.scratch.layers:ReLU"))
ACTIVATIONS.add(
    "sigmoid",
    Activation(
        "1 / (1 + e^-x); saturates near 0 and 1",
        "torch.nn:Sigmoid",
        gain=lambda act: 1.0,
        saturated=lambda y, s: (y < 1 - s) | (y > s),
        numpy="runner.scratch.layers:Sigmoid",
    ),
)
ACTIVATIONS.add(
    "tanh",
    Activation(
        "tanh x; saturates near -1 and 1",
        "torch.nn:Tanh",
        gain=lambda act: 5.0 / 3,
        saturated=lambda y, s: abs(y) > s,
        numpy="runner.scratch.layers:Tanh",
    ),
)
ACTIVATIONS.add(
    "leaky_relu",
    Activation(
        "max(x, negative_slope * x)",
        "torch.nn:LeakyReLU",
        args=("negative_slope",),
        gain=lambda act: math.sqrt(2.0 / (1 + act.negative_slope**2)),
    ),
)
ACTIVATIONS.add("elu", Activation("x, or alpha * (e^x - 1) below 0", "torch.nn:ELU", args=("alpha",)))
ACTIVATIONS.add("gelu", Activation("x * Phi(x), Phi the normal CDF", "torch.nn:GELU"))


def check_activation(cfg) -> None:
    a = cfg.activation
    ACTIVATIONS.check(a.name)
    require(a.negative_slope >= 0, "activation.negative_slope", "a number >= 0", a.negative_slope)
    require(a.alpha > 0, "activation.alpha", "a number > 0", a.alpha)
