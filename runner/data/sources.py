"""Find a dataset's files under data_dir (or download them) and decode every split to arrays.

Lookup order for the built-in image datasets:
  mnist, fashion_mnist  torchvision's IDX files <data_dir>/{MNIST,FashionMNIST}/raw (plain or .gz);
                        Fashion-MNIST also in Debian's /usr/share/datasets/fashion-mnist
  cifar10               torchvision's pickles <data_dir>/cifar-10-batches-py, else class folders
                        <data_dir>/cifar10/{train,test}/<class>/
  gurmukhi and others   class folders <data_dir>/<folder>/{train,val,test}/<class>/
When nothing is found and `dataset.download` is true, torchvision downloads into data_dir.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from runner.data import cifar_pickle, folders, function
from runner.data.idx import find_idx, read_idx
from runner.errors import ConfigError, DataError

PREPARE_HINT = "offline, copy the files in the layout a download makes (README: Offline data)"

IDX_SETS = {
    "mnist": ("MNIST", [str(i) for i in range(10)], []),
    "fashion_mnist": ("FashionMNIST",
                      ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                       "Sneaker", "Bag", "Ankle boot"],
                      [Path("/usr/share/datasets/fashion-mnist")]),
}
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@dataclass
class RawData:
    """Every split a source provides, as numpy arrays, before any carving."""
    splits: dict  # split name -> (x, y): uint8 [N,C,H,W] + int64 [N], or float32 [N,1] pairs
    classes: list | None  # None for regression
    origin: str  # where the samples came from, for the summary
    extra: dict = field(default_factory=dict)  # e.g. the function's interval


def _remove_empty_dirs(top: Path, keep: Path) -> None:
    """Remove the empty folders a failed download left under `top`, then `top` up to `keep`."""
    for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    while top != keep and top.is_dir() and not any(top.iterdir()):
        top.rmdir()
        top = top.parent


def _download(tv_name: str, data_dir: Path, folder: str) -> str | None:
    """Let torchvision fetch the dataset; return None on success, else the reason in one line."""
    first_new = next((p for p in [*reversed(data_dir.parents), data_dir, data_dir / folder] if not p.exists()), None)
    try:
        import torchvision

        getattr(torchvision.datasets, tv_name)(str(data_dir), train=True, download=True)
        getattr(torchvision.datasets, tv_name)(str(data_dir), train=False, download=True)
        return None
    except Exception as ex:  # noqa: BLE001 - any failure means "not available"; we say why
        if first_new is not None and first_new.is_dir():
            _remove_empty_dirs(first_new, first_new.parent)
        lines = [ln.strip() for ln in str(ex).splitlines() if ln.strip()]
        return lines[-1] if lines else type(ex).__name__


def _missing(name: str, looked: list, reason: str | None) -> DataError:
    where = ", ".join(str(p) for p in looked)
    tried = f"; download failed: {reason}" if reason else "; download is off (dataset.download=false)"
    return DataError(f"dataset {name}: no data found at {where}{tried}. Put the files there, "
                     f"point data_dir= (or DLRUN_DATA) at a directory that has them, or {PREPARE_HINT}")


def _idx_dirs(cfg, data_dir: Path) -> list:
    folder, _, extra_dirs = IDX_SETS[cfg.name]
    return [data_dir / folder / "raw", data_dir / folder] + extra_dirs


def _load_idx(cfg, data_dir: Path) -> RawData | None:
    folder, classes, _ = IDX_SETS[cfg.name]
    for d in _idx_dirs(cfg, data_dir):
        paths = {s: [find_idx(d, stem) for stem in stems] for s, stems in IDX_FILES.items()}
        if all(p is not None for ps in paths.values() for p in ps):
            splits = {}
            for s, (img, lab) in paths.items():
                x, y = read_idx(img), read_idx(lab).astype(np.int64)
                if x.ndim != 3 or len(x) != len(y):
                    raise DataError(f"{img}: expected [N, H, W] images matching {lab}, got {x.shape}")
                splits[s] = (x[:, None], y)
            return RawData(splits, classes, str(d))
    return None


def _load_folders(cfg, root: Path, cache_dir: Path) -> RawData:
    if not (root / "train").is_dir():
        raise DataError(f"dataset {cfg.name}: no class folders at {root}/train/<class>/; expected "
                        f"{root}/{{train,val|test}}/<class>/<images>, or {PREPARE_HINT}")
    classes = folders.list_classes(root / "train")
    if len(classes) != cfg.num_classes:
        raise ConfigError("dataset.num_classes", f"{len(classes)} (the class folders in {root / 'train'})",
                          cfg.num_classes)
    size = tuple(cfg.image_size)
    test_dir = root / cfg.test_folder
    if not test_dir.is_dir():
        raise DataError(f"dataset {cfg.name}: no {test_dir} folder to test on; set dataset.test_folder "
                        f"to the held-out folder's name (found: {', '.join(sorted(p.name for p in root.iterdir() if p.is_dir()))})")
    splits = {"train": folders.load_split(root, "train", classes, cfg.channels, size, cache_dir),
              "test": folders.load_split(root, cfg.test_folder, classes, cfg.channels, size, cache_dir)}
    if cfg.test_folder != "val" and (root / "val").is_dir():
        splits["val"] = folders.load_split(root, "val", classes, cfg.channels, size, cache_dir)
    return RawData(splits, classes, str(root))


def _load_function(cfg, seed: int) -> RawData:
    low, high = function.interval(cfg.fn, cfg.low, cfg.high)
    rng = np.random.default_rng(seed)
    train = function.sample(cfg.fn, low, high, cfg.n_train, rng, cfg.noise)
    test = function.sample(cfg.fn, low, high, cfg.n_test, rng)
    return RawData({"train": train, "test": test}, None, f"function {cfg.fn} on [{low}, {high}]",
                   {"fn": cfg.fn, "low": low, "high": high})


def load_raw(cfg, data_dir: Path, seed: int) -> RawData:
    """All splits of the configured dataset, or a DataError saying where we looked and what to do."""
    if cfg.source == "function":
        return _load_function(cfg, seed)
    cache_dir = data_dir / ".dlrun-cache"
    if cfg.source == "folders":
        return _load_folders(cfg, data_dir / cfg.folder, cache_dir)
    if cfg.name in IDX_SETS:
        raw = _load_idx(cfg, data_dir)
        if raw is None:
            reason = _download(IDX_SETS[cfg.name][0], data_dir, IDX_SETS[cfg.name][0]) if cfg.download else None
            raw = _load_idx(cfg, data_dir) if cfg.download and reason is None else None
            if raw is None:
                raise _missing(cfg.name, _idx_dirs(cfg, data_dir), reason)
        return raw
    if cfg.name == "cifar10":
        pickles = data_dir / "cifar-10-batches-py"
        root = data_dir / (cfg.folder or "cifar10")
        for attempt in range(2):
            if cifar_pickle.present(pickles):
                splits = {"train": cifar_pickle.read_split(pickles, cifar_pickle.TRAIN_BATCHES),
                          "test": cifar_pickle.read_split(pickles, cifar_pickle.TEST_BATCHES)}
                return RawData(splits, cifar_pickle.class_names(pickles), str(pickles))
            if (root / "train").is_dir() and cfg.source != "torchvision":
                return _load_folders(cfg, root, cache_dir)
            if attempt == 0 and cfg.download and cfg.source != "folders":
                reason = _download("CIFAR10", data_dir, "cifar-10-batches-py")
                if reason is not None:
                    raise _missing(cfg.name, [pickles, root], reason)
                continue
            raise _missing(cfg.name, [pickles, root], None)
    # any other name: a dataset given as class folders
    return _load_folders(cfg, data_dir / cfg.folder, cache_dir)
