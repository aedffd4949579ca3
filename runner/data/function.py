"""Synthetic 1-D regression data y = f(x) for the function-fitting studies; the functions and
their default intervals are runner.registry.data.FUNCTIONS."""

from __future__ import annotations

import numpy as np

from runner.registry.data import FUNCTIONS


def interval(name: str, low: float | None, high: float | None) -> tuple[float, float]:
    lo, hi = FUNCTIONS[name].interval
    return (lo if low is None else float(low), hi if high is None else float(high))


def evaluate(name: str, x: np.ndarray) -> np.ndarray:
    return FUNCTIONS[name].formula(np, x).astype(np.float32)


def sample(
    name: str, low: float, high: float, n: int, rng: np.random.Generator, noise: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """n points x ~ U[low, high] as float32 [n, 1] with targets f(x) (+ Gaussian noise)."""
    x = rng.uniform(low, high, size=(n, 1)).astype(np.float32)
    y = evaluate(name, x)
    if noise > 0:
        y = y + rng.normal(0.0, noise, size=y.shape).astype(np.float32)
    return x, y


def grid(low: float, high: float, n: int = 1000) -> np.ndarray:
    return np.linspace(low, high, n, dtype=np.float32)[:, None]
