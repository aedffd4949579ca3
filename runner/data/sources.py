"""Find a dataset's files under data_dir (or download them) and decode every split to arrays.

`dataset.source` picks the loader (runner.registry.data.SOURCES):
  torchvision  the layout torchvision's download writes (IDX files for MNIST and
               Fashion-MNIST, pickles for CIFAR-10; where, per dataset, in DATASETS), downloaded
               into data_dir when missing and `dataset.download` is true
  folders      class folders <data_dir>/<folder>/{train,val,test}/<class>/<images>
  function     y = fn(x) sampled on an interval, no files
  auto         torchvision's files if the dataset has that layout, else its class folders
               (<data_dir>/<folder>/train/ present), else a download; a dataset without a
               torchvision layout is read from class folders
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from runner.data import cifar_pickle, folders, function
from runner.data.idx import find_idx, read_idx
from runner.errors import ConfigError, DataError
from runner.registry import load
from runner.registry.data import DATASETS, SOURCES, TorchvisionFiles

PREPARE_HINT = "offline, copy the files in the layout a download makes (README: Offline data)"
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass
class RawData:
    """Every split a source provides, as numpy arrays, before any carving."""

    splits: dict  # split name -> (x, y): uint8 [N,C,H,W] + int64 [N], or float32 [N,1] pairs
    classes: list | None  # None for regression
    origin: str  # where the samples came from, for the summary
    extra: dict = field(default_factory=dict)  # e.g. the function's interval
    labels_from: dict = field(default_factory=dict)  # split -> the file or folder its labels came from


def load_raw(cfg, data_dir: Path, seed: int, read: bool = True) -> RawData | None:
    """All splits of the configured dataset, or a DataError saying where we looked and what to do.
    read=False only looks: the DataError a run would stop with for want of its files, else None
    (nothing decoded, nothing downloaded: files a download may fetch count as there)."""
    return load(SOURCES[cfg.source].load)(cfg, Path(data_dir), seed, read)


# ---------------------------------------------------------------- the sources


def load_function(cfg, data_dir: Path, seed: int, read: bool = True) -> RawData | None:
    if not read:
        return None  # no files
    low, high = function.interval(cfg.fn, cfg.low, cfg.high)
    rng = np.random.default_rng(seed)
    train = function.sample(cfg.fn, low, high, cfg.n_train, rng, cfg.noise)
    test = function.sample(cfg.fn, low, high, cfg.n_test, rng)
    return RawData(
        {"train": train, "test": test},
        None,
        f"function {cfg.fn} on [{low}, {high}]",
        {"fn": cfg.fn, "low": low, "high": high},
    )


def load_folders(cfg, data_dir: Path, seed: int, read: bool = True) -> RawData | None:
    return _read_folders(cfg, data_dir / cfg.folder, data_dir / ".dlrun-cache", read)


def load_torchvision(cfg, data_dir: Path, seed: int, read: bool = True) -> RawData | None:
    return _torchvision_or_folders(cfg, data_dir, False, read)


def load_auto(cfg, data_dir: Path, seed: int, read: bool = True) -> RawData | None:
    return _torchvision_or_folders(cfg, data_dir, True, read)


def _torchvision_or_folders(cfg, data_dir: Path, folders_too: bool, read: bool) -> RawData | None:
    entry = DATASETS.get(cfg.name)
    tv = entry.torchvision if entry is not None else None
    if tv is None:  # a dataset torchvision does not know is read from its class folders
        return load_folders(cfg, data_dir, 0, read)
    reader = load(tv.reader)
    root = data_dir / cfg.folder if cfg.folder else None
    looked = _places(tv, data_dir) + ([root] if folders_too and root is not None else [])
    raw = reader(tv, data_dir, read)
    if raw is not None:
        return raw if read else None
    if folders_too and root is not None and (root / "train").is_dir():
        return _read_folders(cfg, root, data_dir / ".dlrun-cache", read)
    if not cfg.download:
        raise _missing(cfg.name, looked, None, tv)
    if not read:
        return None  # a download may fetch them
    reason = _download(tv, data_dir)
    raw = reader(tv, data_dir) if reason is None else None
    if raw is None:
        raise _missing(cfg.name, looked, reason or "the download left no readable files", tv)
    return raw


# ---------------------------------------------------------------- torchvision's layouts


def _places(tv: TorchvisionFiles, data_dir: Path) -> list:
    """Where the files of `tv` may be: its folder (IDX sets also its raw/ subfolder) and the
    extra places of its entry."""
    base = data_dir / tv.folder
    return [base / "raw", base, *map(Path, tv.also)] if tv.reader.endswith("read_idx_files") else [base]


def read_idx_files(tv: TorchvisionFiles, data_dir: Path, read: bool = True) -> RawData | Path | None:
    """MNIST-style IDX files (plain or .gz), or None when no folder holds all four (read=False:
    the folder that holds them)."""
    for d in _places(tv, data_dir):
        paths = {s: [find_idx(d, stem) for stem in stems] for s, stems in IDX_FILES.items()}
        if all(p is not None for ps in paths.values() for p in ps):
            if not read:
                return d
            splits = {}
            for s, (img, lab) in paths.items():
                x, y = read_idx(img), read_idx(lab).astype(np.int64)
                if x.ndim != 3 or len(x) != len(y):
                    raise DataError(f"{img}: expected [N, H, W] images matching {lab}, got {x.shape}")
                splits[s] = (x[:, None], y)
            labels = {s: str(lab) for s, (_, lab) in paths.items()}
            return RawData(splits, list(tv.classes), str(d), labels_from=labels)
    return None


def read_cifar_pickles(tv: TorchvisionFiles, data_dir: Path, read: bool = True) -> RawData | Path | None:
    """CIFAR-10's pickled batches, or None when they are absent (read=False: their folder)."""
    folder = data_dir / tv.folder
    if not cifar_pickle.present(folder):
        return None
    if not read:
        return folder
    splits = {
        "train": cifar_pickle.read_split(folder, cifar_pickle.TRAIN_BATCHES),
        "test": cifar_pickle.read_split(folder, cifar_pickle.TEST_BATCHES),
    }
    labels = {"train": str(folder / "data_batch_*"), "test": str(folder / "test_batch")}
    return RawData(splits, cifar_pickle.class_names(folder), str(folder), labels_from=labels)


def _remove_empty_dirs(top: Path, keep: Path) -> None:
    """Remove the empty folders a failed download left under `top`, then `top` up to `keep`."""
    for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    while top != keep and top.is_dir() and not any(top.iterdir()):
        top.rmdir()
        top = top.parent


def _download(tv: TorchvisionFiles, data_dir: Path) -> str | None:
    """Let torchvision fetch the dataset; return None on success, else the reason in one line."""
    chain = [*reversed(data_dir.parents), data_dir, data_dir / tv.folder]
    first_new = next((p for p in chain if not p.exists()), None)
    try:
        import torchvision

        for train in (True, False):
            getattr(torchvision.datasets, tv.dataset)(str(data_dir), train=train, download=True)
        return None
    except Exception as ex:  # noqa: BLE001 - any failure means "not available"; we say why
        if first_new is not None and first_new.is_dir():
            _remove_empty_dirs(first_new, first_new.parent)
        lines = [ln.strip() for ln in str(ex).splitlines() if ln.strip()]
        return lines[-1] if lines else type(ex).__name__


def _lacking(tv: TorchvisionFiles, folder: Path) -> list:
    """The files of `tv`'s layout that `folder` lacks where it holds some of them (a copy or a
    download cut short), else []."""
    if tv.reader.endswith("read_idx_files"):
        names = [stem for stems in IDX_FILES.values() for stem in stems]
        lacking = [n for n in names if find_idx(folder, n) is None]
    else:
        names = cifar_pickle.TRAIN_BATCHES + cifar_pickle.TEST_BATCHES
        lacking = [n for n in names if not (folder / n).is_file()]
    return lacking if folder.is_dir() and len(lacking) < len(names) else []


def _missing(name: str, looked: list, reason: str | None, tv: TorchvisionFiles) -> DataError:
    partial = [f"{p} lacks {', '.join(lacking)}" for p in looked if (lacking := _lacking(tv, p))]
    found = "; ".join(partial) if partial else "no data found at " + ", ".join(str(p) for p in looked)
    tried = f"; download failed: {reason}" if reason else "; download is off (dataset.download=false)"
    return DataError(
        f"dataset {name}: {found}{tried}. Put the files there, "
        f"point data_dir= (or DLRUN_DATA) at a directory that has them, or {PREPARE_HINT}"
    )


# ---------------------------------------------------------------- class folders


def _read_folders(cfg, root: Path, cache_dir: Path, read: bool = True) -> RawData | None:
    if not (root / "train").is_dir():
        raise DataError(
            f"dataset {cfg.name}: no class folders at {root}/train/<class>/; expected "
            f"{root}/{{train,val|test}}/<class>/<images>, or {PREPARE_HINT}"
        )
    classes = folders.list_classes(root / "train")
    if len(classes) != cfg.num_classes:
        folders.refuse_empty_classes(root / "train", classes)  # a stray empty folder is the likelier fault
        shown = ", ".join(classes[:20]) + (f", ... ({len(classes) - 20} more)" if len(classes) > 20 else "")
        raise ConfigError(  # the folders named: a stray one (__MACOSX from an unzip) is seen at once
            "dataset.num_classes", f"{len(classes)} (the class folders in {root / 'train'}: {shown})", cfg.num_classes
        )
    size = tuple(cfg.image_size)
    test_dir = root / cfg.test_folder
    if not test_dir.is_dir():
        found = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir()))
        raise DataError(
            f"dataset {cfg.name}: no {test_dir} folder to test on; set dataset.test_folder "
            f"to the held-out folder's name (found: {found})"
        )
    if not read:
        return None
    splits = {
        "train": folders.load_split(root, "train", classes, cfg.channels, size, cache_dir),
        "test": folders.load_split(root, cfg.test_folder, classes, cfg.channels, size, cache_dir),
    }
    if cfg.test_folder != "val" and (root / "val").is_dir():
        splits["val"] = folders.load_split(root, "val", classes, cfg.channels, size, cache_dir)
    return RawData(splits, classes, str(root))
