"""Layers with hand-written forward and backward passes.

Each layer keeps what its backward pass needs from the forward pass. `backward(g)` takes
dL/d(output) and returns dL/d(input), storing dL/d(parameter) for layers that have
parameters. Shapes: x is [batch, features]; a Linear layer's W is [out, in] as in torch.
"""

from __future__ import annotations

import numpy as np


def default_init(rng: np.random.Generator, fan_in: int, fan_out: int, gain: float) -> tuple:
    """PyTorch's default for nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=(fan_out, fan_in)), rng.uniform(-bound, bound, size=fan_out)


def xavier_init(rng: np.random.Generator, fan_in: int, fan_out: int, gain: float) -> tuple:
    """Glorot uniform, gain 1; biases 0."""
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_out, fan_in)), np.zeros(fan_out)


def kaiming_init(rng: np.random.Generator, fan_in: int, fan_out: int, gain: float) -> tuple:
    """He normal, fan_in, with the activation's gain; biases 0."""
    return rng.normal(0.0, gain / np.sqrt(fan_in), size=(fan_out, fan_in)), np.zeros(fan_out)


class Linear:
    """y = x W^T + b.   dL/dW = g^T x,  dL/db = sum_rows g,  dL/dx = g W."""

    def __init__(
        self,
        fan_in: int,
        fan_out: int,
        rng: np.random.Generator,
        init=default_init,
        gain: float = 1.0,
        dtype=np.float32,
    ):
        """init: one of the (rng, fan_in, fan_out, gain) -> (W, b) rules above."""
        self.W, self.b = init(rng, fan_in, fan_out, gain)
        self.W, self.b = self.W.astype(dtype), self.b.astype(dtype)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        self._x = None

    def forward(self, x: np.ndarray, train: bool) -> np.ndarray:
        self._x = x
        return x @ self.W.T + self.b

    def backward(self, g: np.ndarray) -> np.ndarray:
        self.dW = g.T @ self._x
        self.db = g.sum(axis=0)
        return g @ self.W

    def params(self) -> list:
        """(value, gradient, is_weight_matrix) triples."""
        return [(self.W, self.dW, True), (self.b, self.db, False)]


class ReLU:
    """y = max(x, 0).   dL/dx = g * [x > 0]."""

    def forward(self, x, train):
        self._mask = x > 0
        return x * self._mask

    def backward(self, g):
        return g * self._mask

    def params(self):
        return []


class Sigmoid:
    """y = 1 / (1 + e^-x).   dL/dx = g * y * (1 - y)."""

    def forward(self, x, train):
        # split by sign so exp never overflows
        e = np.exp(-np.abs(x))
        self._y = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype)
        return self._y

    def backward(self, g):
        return g * self._y * (1 - self._y)

    def params(self):
        return []


class Tanh:
    """y = tanh x.   dL/dx = g * (1 - y^2)."""

    def forward(self, x, train):
        self._y = np.tanh(x)
        return self._y

    def backward(self, g):
        return g * (1 - self._y**2)

    def params(self):
        return []


class Dropout:
    """Inverted dropout: in training y = x * m / (1 - p) with m ~ Bernoulli(1 - p); identity in
    evaluation.   dL/dx = g * m / (1 - p)."""

    def __init__(self, p: float, rng: np.random.Generator):
        self.p, self.rng = p, rng
        self._scale, self._frozen = None, False

    def freeze(self) -> None:
        """Keep the next training mask for every later training pass: a gradient check's loss
        must be a function of the weights alone."""
        self._frozen = True

    def forward(self, x, train):
        if not train or self.p == 0:
            self._scale = None
            return x
        if not (self._frozen and self._scale is not None):
            self._scale = ((self.rng.random(x.shape) >= self.p) / (1 - self.p)).astype(x.dtype)
        return x * self._scale

    def backward(self, g):
        return g if self._scale is None else g * self._scale

    def params(self):
        return []


class SoftmaxCrossEntropy:
    """L = mean_i -log softmax(z_i)[y_i].   dL/dz = (softmax(z) - onehot(y)) / batch."""

    def forward(self, z: np.ndarray, y: np.ndarray) -> float:
        shifted = z - z.max(axis=1, keepdims=True)  # the same softmax, without overflow
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self._p, self._y = np.exp(log_p), y
        return float(-log_p[np.arange(len(y)), y].mean())

    def backward(self) -> np.ndarray:
        g = self._p.copy()
        g[np.arange(len(self._y)), self._y] -= 1
        return g / len(self._y)


class MeanSquaredError:
    """L = mean over all elements of (z - y)^2.   dL/dz = 2 (z - y) / elements."""

    def forward(self, z: np.ndarray, y: np.ndarray) -> float:
        self._d = z - y
        return float((self._d**2).mean())

    def backward(self) -> np.ndarray:
        return 2 * self._d / self._d.size


class Network:
    """Layers applied in order; backward runs them in reverse."""

    def __init__(self, layers: list):
        self.layers = layers

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, g: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            g = layer.backward(g)
        return g

    def params(self) -> list:
        return [p for layer in self.layers for p in layer.params()]

    def linears(self) -> list:
        return [layer for layer in self.layers if isinstance(layer, Linear)]
