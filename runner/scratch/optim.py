"""SGD and the L1/L2 penalties for the scratch engine, with torch's conventions:

penalty  P = l1 * sum|W| + l2 * sum W^2       over weight matrices (not biases)
dP/dW    = l1 * sign(W) + 2 * l2 * W
SGD      buf = momentum * buf + g  (buf = g at the first step);  p -= lr * buf
         (nesterov: p -= lr * (g + momentum * buf))
"""

from __future__ import annotations

import numpy as np


def penalty(net, l1: float, l2: float) -> float:
    total = 0.0
    for value, _, is_weight in net.params():
        if is_weight:
            if l1:
                total += l1 * float(np.abs(value).sum())
            if l2:
                total += l2 * float((value.astype(np.float64) ** 2).sum())
    return total


def add_penalty_gradients(net, l1: float, l2: float) -> None:
    for layer in net.linears():
        if l1:
            layer.dW += (l1 * np.sign(layer.W)).astype(layer.dW.dtype)
        if l2:
            layer.dW += (2 * l2 * layer.W).astype(layer.dW.dtype)


class SGD:
    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False):
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self._buf: dict = {}

    def step(self, net) -> None:
        for layer in net.linears():
            for name, value, grad in (("W", layer.W, layer.dW), ("b", layer.b, layer.db)):
                g = grad
                if self.momentum:
                    key = (id(layer), name)
                    buf = self._buf.get(key)
                    buf = g.copy() if buf is None else self.momentum * buf + g
                    self._buf[key] = buf
                    g = g + self.momentum * buf if self.nesterov else buf
                value -= self.lr * g  # in place: the layer holds the same array

    def state_dict(self, net) -> dict:
        """The momentum buffers by layer position ("<i>.W"), so they survive a checkpoint."""
        out = {}
        for i, layer in enumerate(net.linears()):
            for name in ("W", "b"):
                buf = self._buf.get((id(layer), name))
                if buf is not None:
                    out[f"{i}.{name}"] = buf
        return out

    def load_state_dict(self, net, state: dict) -> None:
        layers = net.linears()
        self._buf = {}
        for key, buf in state.items():
            i, name = key.split(".")
            self._buf[(id(layers[int(i)]), name)] = buf
