"""Stratified, seeded carving of train / val / test."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import compose

from runner.data.splits import carve, count_of, stratified_pick
from runner.errors import ConfigError


def labelled(n_per_class=(60, 30, 10)):
    y = np.concatenate([np.full(n, k) for k, n in enumerate(n_per_class)]).astype(np.int64)
    x = np.arange(len(y))[:, None]  # x remembers each sample's original index
    return x, y


def test_count_of_fraction_and_count():
    assert count_of("k", 0.1, 1000) == 100
    assert count_of("k", 250, 1000) == 250
    with pytest.raises(ConfigError):
        count_of("k", 1000, 1000)  # would leave nothing to train on
    assert count_of("k", 1000, 1000, keep_one=False) == 1000


def test_stratified_pick_keeps_class_shares_and_exact_total():
    _, y = labelled()
    take, rest = stratified_pick(y, 10, np.random.default_rng(0))
    assert len(take) == 10 and len(rest) == 90
    assert np.bincount(y[take]).tolist() == [6, 3, 1]
    assert len(np.intersect1d(take, rest)) == 0
    take2, _ = stratified_pick(y, 11, np.random.default_rng(0))  # remainders go to the largest
    assert len(take2) == 11


def test_stratified_pick_is_deterministic_by_seed():
    _, y = labelled()
    a, _ = stratified_pick(y, 20, np.random.default_rng(5))
    b, _ = stratified_pick(y, 20, np.random.default_rng(5))
    c, _ = stratified_pick(y, 20, np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def ds(*overrides):
    return compose("dataset=mnist", *overrides).dataset


def test_val_carved_from_train_by_count():
    x, y = labelled()
    out = carve({"train": (x, y), "test": labelled((5, 5, 5))}, ds("dataset.val_size=20"), 0, True)
    assert len(out["train"][0]) == 80 and len(out["val"][0]) == 20
    assert np.bincount(out["val"][1]).tolist() == [12, 6, 2]
    assert len(np.intersect1d(out["train"][0], out["val"][0])) == 0
    assert list(out) == ["train", "val", "test"]


def test_subsample_holdout_and_fraction():
    x, y = labelled((600, 300, 100))
    cfg = ds("dataset.subsample=500", "dataset.holdout=0.3", "dataset.val_size=0.1", "dataset.train_fraction=0.5")
    out = carve({"train": (x, y), "test": labelled((5, 5, 5))}, cfg, 1, True)
    assert len(out["test"][0]) == 150  # 30% of the 500 kept, replacing the shipped test set
    assert len(out["val"][0]) == 35  # 10% of the 350 left
    assert len(out["train"][0]) == 158  # half of the 315 left (rounded)
    for split in out.values():
        shares = np.bincount(split[1], minlength=3) / len(split[1])
        assert np.allclose(shares, [0.6, 0.3, 0.1], atol=0.02)
    all_idx = np.concatenate([s[0][:, 0] for s in out.values()])
    assert len(np.unique(all_idx)) == len(all_idx), "no sample lands in two splits"


def test_test_subsample():
    out = carve({"train": labelled(), "test": labelled((40, 40, 20))}, ds("dataset.test_subsample=0.5"), 0, True)
    assert np.bincount(out["test"][1]).tolist() == [20, 20, 10]


def test_carving_does_not_depend_on_anything_but_seed():
    x, y = labelled()
    a = carve({"train": (x, y)}, ds("dataset.val_size=0.2"), 7, True)
    b = carve({"train": (x, y)}, ds("dataset.val_size=0.2"), 7, True)
    assert np.array_equal(a["val"][0], b["val"][0])


def test_val_size_refused_when_the_dataset_ships_a_val_split():
    with pytest.raises(ConfigError, match="ships its own val split"):
        carve({"train": labelled(), "val": labelled((2, 2, 2))}, ds("dataset.val_size=10"), 0, True)


def test_regression_splits_are_uniform():
    x = np.arange(100, dtype=np.float32)[:, None]
    out = carve({"train": (x, x), "test": (x[:10], x[:10])}, ds("dataset.val_size=0.25"), 0, False)
    assert len(out["val"][0]) == 25 and len(out["train"][0]) == 75
