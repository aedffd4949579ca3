"""Read CIFAR-10 in the python-pickle layout that torchvision downloads
(<root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta})."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from runner.errors import DataError, reading

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCHES = ["test_batch"]


# What a CIFAR-10 pickle may name: numpy's array reconstruction (and Python 2's byte strings).
# Anything else is refused, so a damaged or hostile file cannot run code while it is read.
_ALLOWED = {
    (module, name)
    for module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
                   "numpy._core.numeric")
    for name in ("_reconstruct", "ndarray", "dtype", "_frombuffer", "scalar")
} | {("_codecs", "encode")}  # fmt: skip


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 pickle never does")
        return super().find_class(module, name)


def _load(path: Path) -> dict:
    with reading(path, "CIFAR-10 pickle"), open(path, "rb") as f:
        d = _ArraysOnly(f, encoding="latin1").load()
    if not isinstance(d, dict):
        raise DataError(f"{path}: not a CIFAR-10 pickle (it holds a {type(d).__name__}, not a dict)")
    return d


def present(folder: Path) -> bool:
    return all((folder / n).is_file() for n in TRAIN_BATCHES + TEST_BATCHES)


def read_split(folder: Path, batches: list) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for name in batches:
        d = _load(folder / name)
        with reading(folder / name, "CIFAR-10 pickle"):
            x = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            y = np.asarray(d["labels"], dtype=np.int64).reshape(-1)
        if len(x) != len(y):
            raise DataError(f"{folder / name}: {len(x)} images but {len(y)} labels")
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def class_names(folder: Path) -> list:
    meta = folder / "batches.meta"
    if meta.is_file():
        with reading(meta, "CIFAR-10 batches.meta"):
            return [str(n) for n in _load(meta)["label_names"]]
    return [str(i) for i in range(10)]
