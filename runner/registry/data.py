"""Datasets (conf/dataset/<name>.yaml), the sources their samples come from (`dataset.source`),
the 1-D functions of the regression dataset (`dataset.fn`), and the checks of the `dataset`
section.

A dataset that ships as class folders (<data_dir>/<folder>/<split>/<class>/*) needs only its
YAML; an entry here adds a help line and, for torchvision's file layouts, where a download
puts the files and how to read them (runner/data/sources.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from runner.config.checks import require, require_size
from runner.errors import UserError, as_typed
from runner.registry import Registry


@dataclass(frozen=True)
class TorchvisionFiles:
    """A dataset in the layout torchvision's download writes under data_dir."""

    dataset: str  # the torchvision.datasets class that downloads it
    reader: str  # "module:function" (files, data_dir, read=True) -> RawData, or None when the files are absent
    #              (read=False: only where they are, nothing decoded)
    folder: str  # the folder under data_dir the download creates
    classes: tuple = ()  # class names, where the files carry none
    also: tuple = ()  # other folders that may hold the same files (a system package)


@dataclass(frozen=True)
class Dataset:
    help: str
    torchvision: TorchvisionFiles | None = None
    sizes: tuple = ()  # (train, test) samples as shipped, for time estimates before any file is read
    glyphs: bool = False  # written symbols (digits): a mirrored one is another symbol or none


@dataclass(frozen=True)
class Source:
    help: str
    load: str  # "module:function" (dataset cfg, data_dir, seed, read=True) -> RawData (read=False: see load_raw)
    class_folders: bool = False  # may read <data_dir>/<folder>/, whose val/ folder is a split of its own


@dataclass(frozen=True)
class Function:
    help: str
    formula: Callable  # (numpy, x) -> y, elementwise
    interval: tuple  # the default [low, high]
    positive: bool = False  # defined for x > 0 only


SPLITS = ("train", "val", "test")  # what a dataset is carved into, in this order everywhere

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

SOURCES: Registry[Source] = Registry("dataset.source", "source")
SOURCES.add(
    "auto",
    Source(
        "torchvision's files, else class folders, else a download", "runner.data.sources:load_auto", class_folders=True
    ),
)
SOURCES.add(
    "torchvision", Source("torchvision's files, downloaded when missing", "runner.data.sources:load_torchvision")
)
SOURCES.add(
    "folders",
    Source("<data_dir>/<folder>/<split>/<class>/<images>", "runner.data.sources:load_folders", class_folders=True),
)
SOURCES.add("function", Source("y = fn(x) sampled on [low, high], no files", "runner.data.sources:load_function"))

DATASETS: Registry[Dataset] = Registry("dataset", "dataset")
DATASETS.add(
    "cifar10",
    Dataset(
        "CIFAR-10: 50,000 train / 10,000 test colour 32x32 images, 10 classes",
        TorchvisionFiles("CIFAR10", "runner.data.sources:read_cifar_pickles", "cifar-10-batches-py"),
        sizes=(50_000, 10_000),
    ),
)
DATASETS.add(
    "mnist",
    Dataset(
        "MNIST digits: 60,000 train / 10,000 test, 28x28 grey",
        TorchvisionFiles("MNIST", "runner.data.sources:read_idx_files", "MNIST", tuple(str(i) for i in range(10))),
        sizes=(60_000, 10_000),
        glyphs=True,
    ),
)
DATASETS.add(
    "fashion_mnist",
    Dataset(
        "Fashion-MNIST clothing: 60,000 train / 10,000 test, 28x28 grey",
        TorchvisionFiles(
            "FashionMNIST",
            "runner.data.sources:read_idx_files",
            "FashionMNIST",
            FASHION_CLASSES,
            also=("/usr/share/datasets/fashion-mnist",),
        ),
        sizes=(60_000, 10_000),
    ),
)
DATASETS.add(
    "gurmukhi",
    Dataset(
        "Gurmukhi handwritten digits: 1,000 train / 178 test, 32x32 1-bit, class folders",
        sizes=(1000, 178),
        glyphs=True,
    ),
)
DATASETS.add("function", Dataset("1-D regression y = fn(x) (dataset.fn), generated, no download"))

FUNCTIONS: Registry[Function] = Registry("dataset.fn", "function")
FUNCTIONS.add("sin_plus_square", Function("sin(x) + x^2", lambda np, x: np.sin(x) + x**2, (-2.0, 2.0)))
FUNCTIONS.add("sign_sin", Function("sign(sin(5 pi x))", lambda np, x: np.sign(np.sin(5 * np.pi * x)), (-1.0, 1.0)))
FUNCTIONS.add("sin_plus_x", Function("sin(x) + x", lambda np, x: np.sin(x) + x, (1.0, 10.0)))
FUNCTIONS.add("cos_over_x", Function("cos(x)/x", lambda np, x: np.cos(x) / x, (0.5, 10.0), positive=True))


def is_function(d) -> bool:
    return d.source == "function"


def planned_columns(cfg) -> list[str] | None:
    """The loss and accuracy columns of metrics.csv that a run of this config measures, where the
    config says which splits its data has (train and test; val with dataset.val_size; losses only
    for function data); None where class folders may bring a val split of their own, which is
    known once the data is read (runner/data/sources.py)."""
    from pathlib import Path

    from runner.train.rows import KINDS

    d = cfg.dataset
    val = d.val_size > 0
    own_val = not is_function(d) and SOURCES[d.source].class_folders and d.folder and d.test_folder != "val"
    if not val and own_val and (Path(str(cfg.data_dir)) / d.folder / "val").is_dir():
        return None
    kinds = ("loss",) if is_function(d) else KINDS
    return [f"{s}_{k}" for s in SPLITS if s != "val" or val for k in kinds]


def check_watched_columns(cfg) -> None:
    """The columns early stopping, the plateau schedule and optimized_metric watch, against those
    the config's data will have, before any is read: a sweep refuses a config error every job has
    before its first job (a search, before its first trial). Where class folders may add a val
    split, the run checks once the data is read (runner/train/run.py)."""
    from runner.config.checks import require_measured
    from runner.registry.runs import TASKS

    task = TASKS.get(cfg.task)
    if task is None or task.data_from_saved_run or not task.reads_key("trainer.early_stopping"):
        return  # an eval's data is the saved run's; gradcheck trains nothing
    measured = planned_columns(cfg)
    if measured is not None:
        require_measured(cfg, measured)


# Keys of the dataset section that one kind of data reads and the other ignores (the splits'
# keys apply to both), each with what to use instead where there is an equivalent. Set to
# anything but the schema's default on the other kind, they are refused: `dataset=mnist
# dataset.n_train=100` trained on all 60,000 images and said nothing.
FUNCTION_ONLY = {
    "fn": "",
    "low": "",
    "high": "",
    "n_train": "; its training images are sized by dataset.subsample (a count or a fraction)",
    "n_test": "; its test images are sized by dataset.test_subsample (a count or a fraction)",
    "noise": "",
}
IMAGES_ONLY = ("folder", "channels", "image_size", "num_classes", "mean", "std", "label_seed")


def check_keys_of_the_other_kind(d) -> None:
    from omegaconf import OmegaConf

    from runner.config.schema import DatasetConfig, defaults

    default = defaults(DatasetConfig)
    values = OmegaConf.to_container(d, resolve=True)
    for key in IMAGES_ONLY if is_function(d) else FUNCTION_ONLY:
        value = values[key]
        if value == default[key]:
            continue
        if is_function(d):
            raise UserError(
                f"dataset.{key}={as_typed(value)} does nothing for function data (dataset.source=function): "
                "it applies to image classification data; a function dataset is 1-D points x -> y, sized by "
                "dataset.n_train and dataset.n_test"
            )
        raise UserError(
            f"dataset.{key}={as_typed(value)} does nothing for {d.name}: it applies to generated function data "
            f"(dataset=function) only{FUNCTION_ONLY[key]}"
        )


def check_dataset(cfg) -> None:
    d = cfg.dataset
    SOURCES.check(d.source)
    from runner.registry.runs import TASKS

    task = TASKS.get(cfg.task)
    if task is None or not task.data_from_saved_run:  # an eval's: checked on the merged config (eval_config)
        check_keys_of_the_other_kind(d)
    if is_function(d):
        _check_function(d)
    else:
        _check_images(d)
    for key in ("val_size", "subsample", "test_subsample"):
        require_size(f"dataset.{key}", getattr(d, key))
    require(0 < d.train_fraction <= 1, "dataset.train_fraction", "a fraction in (0, 1]", d.train_fraction)
    require(0 <= d.holdout < 1, "dataset.holdout", "0 (off) or a fraction in (0, 1), e.g. 0.3", d.holdout)
    require(0 <= d.label_seed < 2**32, "dataset.label_seed", "an integer in [0, 2^32 - 1] (NumPy's seed range)",
            d.label_seed)  # fmt: skip
    require(
        not (d.shuffle_labels and is_function(d)),
        "dataset.shuffle_labels",
        "false for regression data",
        d.shuffle_labels,
    )
    check_split_sizes(d)


def check_split_sizes(d) -> None:
    """The splits' sizes against the training samples they are carved from, where the config
    alone says how many that is (function data's n_train, a subsample count): the check carve()
    makes once the data is read, made before it, so that `dataset.subsample=3000` under a preset's
    val_size=5000 is refused up front, and in every job of a sweep at once."""
    from runner.data.splits import count_of

    n = d.n_train if is_function(d) else None
    if d.subsample > 0 and n is not None:
        n = count_of("dataset.subsample", d.subsample, n, keep_one=False)
    elif d.subsample >= 1:
        n = int(d.subsample)  # or fewer: the data's own size, checked once it is read
    if n is None:
        return
    if d.holdout > 0:
        n -= count_of("dataset.holdout", d.holdout, n, keep_one=True)
    if d.val_size > 0:
        count_of("dataset.val_size", d.val_size, n, keep_one=True)
    if is_function(d) and d.test_subsample > 0:
        count_of("dataset.test_subsample", d.test_subsample, d.n_test, keep_one=False)


def _check_function(d) -> None:
    fn = FUNCTIONS.check(d.fn)
    require(d.n_train >= 2, "dataset.n_train", "an integer >= 2", d.n_train)
    require(d.n_test >= 1, "dataset.n_test", "an integer >= 1", d.n_test)
    require(d.noise >= 0, "dataset.noise", "a number >= 0", d.noise)
    low, high = (fn.interval[0] if d.low is None else d.low), (fn.interval[1] if d.high is None else d.high)
    finite = math.isfinite(low) and math.isfinite(high)  # nan and inf: refused with the other non-finite numbers
    if finite and d.low is not None:  # a bound left unset is the function's own, which the other must respect too
        require(low < high, "dataset.low", f"a number below dataset.high ({_bound(high, d.high, d.fn)})", d.low)
    elif finite and d.high is not None:
        require(low < high, "dataset.high", f"a number above dataset.low ({_bound(low, d.low, d.fn)})", d.high)
    if fn.positive and d.low is not None:
        require(d.low > 0, "dataset.low", f"a number > 0 ({fn.help} needs a positive interval)", d.low)


def _bound(value: float, given, fn: str) -> str:
    return f"{value:g}" if given is not None else f"{value:g}, {fn}'s default"


def _check_images(d) -> None:
    require(d.channels in (1, 3), "dataset.channels", "1 or 3", d.channels)
    require(
        len(d.image_size) == 2 and min(d.image_size) >= 1,
        "dataset.image_size",
        "[height, width] with both >= 1",
        list(d.image_size),
    )
    require(d.num_classes >= 2, "dataset.num_classes", "an integer >= 2", d.num_classes)
    for stat in ("mean", "std"):
        vals = getattr(d, stat)
        if vals is not None:
            require(
                len(vals) == d.channels,
                f"dataset.{stat}",
                f"{d.channels} value(s), one per channel, or null",
                list(vals),
            )
    if d.std is not None:
        require(min(d.std) > 0, "dataset.std", "values > 0", list(d.std))
    if d.source == "folders" or d.name not in DATASETS:
        require(bool(d.folder), "dataset.folder", "the folder under data_dir holding <split>/<class>/*", d.folder)
