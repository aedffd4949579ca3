"""How long a reproduction will take, said before it starts.

A training job's time is measured, not guessed: its network takes a few optimizer steps on a
random batch of the right shape on this machine's device, and the job's step count (from the
dataset's sizes and the split settings) scales that up; evaluation is counted at a third of a
step per sample, and each job's plots and report at a fixed few seconds. Studies and gradient
checks take the minutes their preset states (measured on 2 CPU cores).
"""

from __future__ import annotations

import math
import time

from omegaconf import OmegaConf

from runner.registry.data import DATASETS

FINISH_SECONDS = 3.0  # one job's plots and report on a 2-core CPU (measured: 2.5-3.5 s)


def _count(size: float, n: int) -> int:
    return int(round(size * n)) if 0 < size < 1 else int(min(size, n))


def split_sizes(d) -> tuple[int, int]:
    """(train, held-out) samples the dataset section leaves, from the registry's sizes."""
    if d.source == "function":
        return int(d.n_train), int(d.n_test)
    entry = DATASETS.get(d.name)
    train, test = entry.sizes if entry is not None and entry.sizes else (10_000, 2_000)
    if d.subsample:
        train = _count(d.subsample, train)
    if d.test_subsample:
        test = _count(d.test_subsample, test)
    if d.holdout:
        test = _count(d.holdout, train)
        train -= test
    val = _count(d.val_size, train) if d.val_size else 0
    train = max(1, int((train - val) * d.train_fraction))
    return train, test + val


_STEP_CACHE: dict = {}


def step_seconds(cfg) -> float:
    """Seconds of one training step of this network and batch on the configured device."""
    import torch

    from runner.models import build_model
    from runner.train.engine import pick_device

    d = cfg.dataset
    shape = (1,) if d.source == "function" else (d.channels, *d.image_size)
    outputs = 1 if d.source == "function" else d.num_classes
    device = pick_device(str(cfg.device))
    key = (OmegaConf.to_yaml(cfg.model, resolve=True), OmegaConf.to_yaml(cfg.regularizer, resolve=True),
           cfg.activation.name, shape, cfg.trainer.batch_size, str(device), cfg.trainer.replicas)  # fmt: skip
    if key in _STEP_CACHE:
        return _STEP_CACHE[key]
    model = build_model(cfg, shape, outputs).to(device)
    opt = torch.optim.Adam(model.parameters())
    x = torch.randn(cfg.trainer.batch_size, *shape, device=device)
    y = (torch.randint(outputs, (cfg.trainer.batch_size,), device=device) if outputs > 1
         else torch.randn(cfg.trainer.batch_size, 1, device=device))  # fmt: skip
    loss_fn = torch.nn.functional.cross_entropy if outputs > 1 else torch.nn.functional.mse_loss

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    timed = 1 if cfg.reproduce.quick else 3  # a quick run is seconds a job: one step says enough
    t0 = time.perf_counter()
    for _ in range(timed):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    _STEP_CACHE[key] = (time.perf_counter() - t0) / timed * cfg.trainer.replicas
    return _STEP_CACHE[key]


def job_seconds(cfg) -> float:
    """A training job's estimated wall time, plots included."""
    train, held_out = split_sizes(cfg.dataset)
    batch = cfg.trainer.batch_size
    steps = cfg.trainer.epochs * math.ceil(train / batch)
    evaluated = held_out + (train if cfg.trainer.train_metrics == "full" else 0)
    per_step = step_seconds(cfg)
    return steps * per_step + cfg.trainer.epochs * evaluated * per_step / batch / 3 + FINISH_SECONDS


def part_seconds(part, cfg, configs: list) -> tuple[float, str]:
    """(seconds, how it was estimated) for a part whose jobs have these configs."""
    if part.minutes:
        return 60 * part.minutes[1 if cfg.reproduce.quick else 0], "as measured on 2 CPU cores"
    if all(c.task == "train" for c in configs):
        return sum(job_seconds(c) for c in configs), "measured steps"
    return 60.0 * len(configs), "a guess: a minute a job"
