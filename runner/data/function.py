"""Synthetic 1-D regression data y = f(x) for the function-fitting studies."""
from __future__ import annotations

import numpy as np

# name -> (f, default interval)
FUNCTIONS = {
    "sin_plus_square": (lambda x: np.sin(x) + x ** 2, (-2.0, 2.0)),
    "sign_sin": (lambda x: np.sign(np.sin(5 * np.pi * x)), (-1.0, 1.0)),
    "sin_plus_x": (lambda x: np.sin(x) + x, (1.0, 10.0)),
    "cos_over_x": (lambda x: np.cos(x) / x, (0.5, 10.0)),
}


def interval(name: str, low: float | None, high: float | None) -> tuple[float, float]:
    lo, hi = FUNCTIONS[name][1]
    return (lo if low is None else float(low), hi if high is None else float(high))


def evaluate(name: str, x: np.ndarray) -> np.ndarray:
    return FUNCTIONS[name][0](x).astype(np.float32)


def sample(name: str, low: float, high: float, n: int, rng: np.random.Generator,
           noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """n points x ~ U[low, high] as float32 [n, 1] with targets f(x) (+ Gaussian noise)."""
    x = rng.uniform(low, high, size=(n, 1)).astype(np.float32)
    y = evaluate(name, x)
    if noise > 0:
        y = y + rng.normal(0.0, noise, size=y.shape).astype(np.float32)
    return x, y


def grid(low: float, high: float, n: int = 1000) -> np.ndarray:
    return np.linspace(low, high, n, dtype=np.float32)[:, None]
