"""Carve the splits a study asks for out of what a source provides, stratified by class and
deterministic by seed: subsample, holdout (train -> test), val (train -> val), train_fraction.

Sizes follow one rule everywhere: 0 = off, (0, 1) = a fraction, >= 1 = a count.
"""

from __future__ import annotations

import numpy as np

from runner.errors import ConfigError
from runner.registry.data import SPLITS


def count_of(key: str, size: float, n: int, keep_one: bool = True) -> int:
    """Resolve a size against n items; keep_one demands that at least one item is left over."""
    k = int(round(size * n)) if 0 < size < 1 else int(size)
    limit = n - 1 if keep_one else n
    if k > limit or (size > 0 and k == 0):
        left = ", leaving at least one to train on" if keep_one else ""
        raise ConfigError(key, f"1 to {limit} of the {n} samples (a count, or a fraction of them){left}", size)
    return k


def stratified_pick(
    labels: np.ndarray | None, k: int, rng: np.random.Generator, n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of k items drawn with each class in proportion, and of the rest (both sorted).

    Class quotas are floor(k * share) plus one for the classes with the largest remainders,
    so the total is exactly k. Regression data (labels None) is drawn uniformly.
    """
    if labels is None:
        perm = rng.permutation(n)
        return np.sort(perm[:k]), np.sort(perm[k:])
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * (k / len(labels))
    quota = np.floor(exact).astype(np.int64)
    short = k - int(quota.sum())
    if short:
        order = np.argsort(-(exact - quota), kind="stable")
        quota[order[:short]] += 1
    picked = []
    for cls, q in zip(classes, quota):
        members = np.flatnonzero(labels == cls)
        picked.append(rng.permutation(members)[:q])
    take = np.sort(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)
    mask = np.ones(len(labels), dtype=bool)
    mask[take] = False
    return take, np.flatnonzero(mask)


def _take(split: tuple, idx: np.ndarray) -> tuple:
    x, y = split
    return x[idx], y[idx]


def _labels(split: tuple, classification: bool):
    return split[1] if classification else None


def carve(splits: dict, cfg, seed: int, classification: bool) -> dict:
    """Return {'train', 'val'?, 'test'?} -> (x, y) after subsample, holdout, val and train_fraction."""
    rng = np.random.default_rng([seed, 0x5EED])  # its own stream: splits never shift the training RNG
    out = dict(splits)

    def pick(name: str, key: str, size: float, keep_one: bool) -> tuple:
        n = len(out[name][0])
        k = count_of(key, size, n, keep_one)
        return stratified_pick(_labels(out[name], classification), k, rng, n)

    if cfg.subsample > 0:
        take, _ = pick("train", "dataset.subsample", cfg.subsample, keep_one=False)
        out["train"] = _take(out["train"], take)
    if cfg.test_subsample > 0 and "test" in out:
        take, _ = pick("test", "dataset.test_subsample", cfg.test_subsample, keep_one=False)
        out["test"] = _take(out["test"], take)
    if cfg.holdout > 0:
        take, rest = pick("train", "dataset.holdout", cfg.holdout, keep_one=True)
        out["test"] = _take(out["train"], take)
        out["train"] = _take(out["train"], rest)
    if cfg.val_size > 0:
        if "val" in splits:
            raise ConfigError("dataset.val_size", f"0: dataset {cfg.name} ships its own val split", cfg.val_size)
        take, rest = pick("train", "dataset.val_size", cfg.val_size, keep_one=True)
        out["val"] = _take(out["train"], take)
        out["train"] = _take(out["train"], rest)
    if cfg.train_fraction < 1:
        n = len(out["train"][0])
        k = max(1, int(round(cfg.train_fraction * n)))
        take, _ = stratified_pick(_labels(out["train"], classification), k, rng, n)
        out["train"] = _take(out["train"], take)
    if cfg.shuffle_labels:
        # random labels: the training split's labels permuted by their own seed, so every
        # training seed sees the same wrong labels; val and test keep the true ones
        x, y = out["train"]
        out["train"] = (x, np.random.default_rng([cfg.label_seed, 0x1AB]).permutation(y))
    return {name: out[name] for name in SPLITS if name in out}
