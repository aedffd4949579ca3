"""Datasets as tensors on the training device.

Each split is moved to the device once as uint8 and normalised there into float32; training
takes batches by index from a device-side permutation, so the loop never touches PIL,
ToTensor or a DataLoader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from runner.data.sources import RawData, load_raw
from runner.data.splits import carve, stratified_pick
from runner.errors import ConfigError, DataError


@dataclass
class Split:
    x: torch.Tensor  # float32 [N, C, H, W] (images) or [N, 1] (function)
    y: torch.Tensor  # int64 [N] (classes) or float32 [N, 1] (regression targets)

    def __len__(self) -> int:
        return self.x.shape[0]

    def sample(self, n: int, seed: int) -> Split:
        """n of its samples, each class in proportion, the same ones for a seed (all of them when
        n is 0 or not fewer). Never the first n: a source read from class folders lists its samples
        class by class, so the first 1,024 of CIFAR-10's training images are all airplanes."""
        if not n or n >= len(self):
            return self
        labels = None if self.y.is_floating_point() else self.y.cpu().numpy()
        take, _ = stratified_pick(labels, n, np.random.default_rng([seed, 0x5A4]), len(self))
        idx = torch.from_numpy(take).to(self.x.device)
        return Split(self.x[idx], self.y[idx])


@dataclass
class DeviceData:
    splits: dict  # name -> Split, in the order train, val, test
    classes: list | None  # class names; None for regression
    input_shape: tuple
    origin: str
    mean: list = field(default_factory=list)
    std: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def classification(self) -> bool:
        return self.classes is not None

    @property
    def num_outputs(self) -> int:
        return len(self.classes) if self.classes is not None else 1

    def sizes(self) -> dict:
        return {name: len(s) for name, s in self.splits.items()}


def _check_labels(raw: RawData, cfg) -> None:
    """Every split has samples and every label names one of the source's classes, which must
    be as many as dataset.num_classes says."""
    k = len(raw.classes)
    if cfg.num_classes != k:
        raise ConfigError("dataset.num_classes", f"{k} (the classes of {raw.origin})", cfg.num_classes)
    for split, (_, y) in raw.splits.items():
        where = raw.labels_from.get(split, raw.origin)
        if len(y) == 0:
            raise DataError(f"{where}: the {split} split has no samples")
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= k:
            bad = low if low < 0 else high
            raise DataError(f"{where}: label {bad} in the {split} split is outside 0..{k - 1} ({k} classes)")


def _check_shape(raw: RawData, cfg) -> None:
    expected = (cfg.channels, *cfg.image_size)
    got = tuple(raw.splits["train"][0].shape[1:])
    if got != expected:
        raise ConfigError(
            "dataset.image_size",
            f"{list(got[1:])} with channels={got[0]} for the files at {raw.origin}",
            f"{list(cfg.image_size)} with channels={cfg.channels}",
        )


def _normalizer(train_u8: torch.Tensor, cfg) -> tuple[list, list]:
    """Per-channel mean/std in [0, 1] units: from the config, else from the training split."""
    if cfg.mean is not None and cfg.std is not None:
        return list(cfg.mean), list(cfg.std)
    x = train_u8.float() / 255.0
    mean = [float(v) for v in x.mean(dim=(0, 2, 3))] if cfg.mean is None else list(cfg.mean)
    # a constant channel would divide by zero: keep such a channel unscaled
    std = [float(v) if v > 1e-6 else 1.0 for v in x.std(dim=(0, 2, 3))] if cfg.std is None else list(cfg.std)
    return mean, std


def load(cfg, data_dir: Path, seed: int, device: torch.device) -> DeviceData:
    """Read, carve and move the configured dataset to `device`."""
    raw = load_raw(cfg, data_dir, seed)
    regression = raw.classes is None
    if not regression:
        _check_labels(raw, cfg)
        _check_shape(raw, cfg)
    carved = carve(raw.splits, cfg, seed, classification=not regression)
    if regression:
        splits = {
            n: Split(
                torch.from_numpy(np.ascontiguousarray(x)).to(device),
                torch.from_numpy(np.ascontiguousarray(y)).to(device),
            )
            for n, (x, y) in carved.items()
        }
        return DeviceData(splits, None, (1,), raw.origin, extra=raw.extra)
    on_dev = {
        n: (torch.from_numpy(np.ascontiguousarray(x)).to(device), torch.from_numpy(np.ascontiguousarray(y)).to(device))
        for n, (x, y) in carved.items()
    }
    mean, std = _normalizer(on_dev["train"][0], cfg)
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device).view(1, -1, 1, 1)
    splits = {n: Split(x.float().div_(255.0).sub_(m).div_(s), y) for n, (x, y) in on_dev.items()}
    return DeviceData(splits, list(raw.classes), (cfg.channels, *cfg.image_size), raw.origin, mean, std, raw.extra)
