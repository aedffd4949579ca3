"""Optimizers (conf/optimizer/<name>.yaml), numeric precisions, and the other closed sets of the
`trainer` section, with the checks of the `regularizer`, `optimizer` and `trainer` sections.

An optimizer entry builds the torch optimizer (`torch`) and, when the from-scratch engine
supports it, its NumPy twin (`numpy`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from runner.config.checks import require
from runner.registry import Registry, load


@dataclass(frozen=True)
class Optimizer:
    help: str
    torch: Callable  # (params, optimizer section, capturable) -> torch.optim.Optimizer
    numpy: Callable | None = None  # (optimizer section) -> a runner.scratch.optim optimizer
    reads: tuple = ()  # its own keys of the optimizer section (lr is everyone's)


@dataclass(frozen=True)
class Choice:
    """A value of a key whose meaning lives in the code that reads it."""

    help: str


def _sgd(params, o, capturable: bool):
    import torch

    return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov)


def _adam(params, o, capturable: bool):
    import torch

    # capturable keeps Adam's step count on the device, which a CUDA graph needs
    return torch.optim.Adam(params, lr=o.lr, betas=tuple(o.betas), capturable=capturable)


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer.name", "optimizer")
OPTIMIZERS.add(
    "sgd",
    Optimizer(
        "stochastic gradient descent (momentum, nesterov)",
        _sgd,
        numpy=lambda o: load("runner.scratch.optim:SGD")(o.lr, o.momentum, o.nesterov),
        reads=("momentum", "nesterov"),
    ),
)
OPTIMIZERS.add("adam", Optimizer("Adam (betas)", _adam, reads=("betas",)))

TRAIN_METRICS: Registry[Choice] = Registry("trainer.train_metrics", "train-metrics mode")
TRAIN_METRICS.add("running", Choice("train loss/accuracy: the mean over the epoch's steps, in train mode"))
TRAIN_METRICS.add("full", Choice("train loss/accuracy: the whole split re-evaluated in eval mode"))

PROGRESS: Registry[Choice] = Registry("trainer.progress", "progress mode")
PROGRESS.add("auto", Choice("a bar on a terminal, plain lines otherwise"))
PROGRESS.add("bar", Choice("a progress bar and a summary table"))
PROGRESS.add("plain", Choice("one line per epoch"))
PROGRESS.add("quiet", Choice("nothing"))

PRECISIONS: Registry[Choice] = Registry("trainer.precision", "precision")
PRECISIONS.add("fp32", Choice("exact float32 (TF32 off)"))
PRECISIONS.add("tf32", Choice("TensorFloat-32 matmuls and convolutions on CUDA"))
PRECISIONS.add("bf16", Choice("autocast to bfloat16; weights and optimizer state in float32"))


@dataclass(frozen=True)
class Scheduler:
    help: str
    build: Callable | None  # (optimizer, config, steps per epoch) -> a torch LR scheduler; None: constant
    per_step: bool = False  # stepped after every optimizer step instead of every epoch
    reads_metric: bool = False  # stepped with scheduler.metric's value of the epoch
    reads: tuple = ()  # its keys of the scheduler section


def _mode(cfg) -> str:
    from runner.train.rows import better

    s = cfg.scheduler
    return better(s.metric) if s.mode == "auto" else s.mode


def _step_lr(opt, cfg, steps):
    import torch

    return torch.optim.lr_scheduler.StepLR(opt, cfg.scheduler.step_size, cfg.scheduler.gamma)


def _cosine(opt, cfg, steps):
    """Half a cosine from optimizer.lr down to eta_min over t_max epochs, then eta_min: torch's
    CosineAnnealingLR climbs back up after t_max (a whole epoch at rate 0 with eta_min 0, then
    up to optimizer.lr again), which is not what "anneal over t_max epochs" promises."""
    import math

    import torch

    t_max, floor = cfg.scheduler.t_max or cfg.trainer.epochs, cfg.scheduler.eta_min / cfg.optimizer.lr

    def factor(epoch: int) -> float:
        return floor + (1 - floor) * (1 + math.cos(math.pi * min(epoch, t_max) / t_max)) / 2

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _plateau(opt, cfg, steps):
    import torch

    s = cfg.scheduler
    return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=_mode(cfg), factor=s.factor, patience=s.patience,
                                                      threshold=s.threshold, min_lr=s.min_lr)  # fmt: skip


def _onecycle(opt, cfg, steps):
    import torch

    s = cfg.scheduler
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=s.max_lr or 10 * cfg.optimizer.lr, epochs=cfg.trainer.epochs,
                                               steps_per_epoch=steps, pct_start=s.pct_start,
                                               cycle_momentum=s.cycle_momentum)  # fmt: skip


SCHEDULERS: Registry[Scheduler] = Registry("scheduler.name", "scheduler")
SCHEDULERS.add("none", Scheduler("a constant learning rate", None))
SCHEDULERS.add("step", Scheduler("times gamma every step_size epochs", _step_lr, reads=("step_size", "gamma")))
SCHEDULERS.add("cosine", Scheduler("cosine annealing to eta_min over t_max epochs", _cosine,
                                   reads=("t_max", "eta_min")))  # fmt: skip
SCHEDULERS.add("plateau", Scheduler("times factor when `metric` stalls for `patience` epochs", _plateau,
                                    reads_metric=True,
                                    reads=("metric", "mode", "factor", "patience", "threshold", "min_lr")))  # fmt: skip
SCHEDULERS.add("onecycle", Scheduler("up to max_lr and down again over the run, per step", _onecycle, per_step=True,
                                     reads=("max_lr", "pct_start", "cycle_momentum")))  # fmt: skip

CUDA_GRAPH: Registry[Choice] = Registry("trainer.cuda_graph", "CUDA graph mode")
CUDA_GRAPH.add("auto", Choice("on CUDA, replay the whole step from a CUDA graph when shapes are static"))
CUDA_GRAPH.add("off", Choice("always eager"))


@dataclass(frozen=True)
class Augmentation:
    """A random change to each training sample, drawn per sample and epoch on the device
    (runner/train/augment.py): `draw` (generator, count, config) -> the draws, `apply`
    (images [..., C, H, W], the batch's draws, config) -> images."""

    help: str
    draw: str  # "module:function"
    apply: str  # "module:function"
    mirrors: bool = False  # turns images left for right: changes what a digit is
    reads: tuple = ()  # the regularizer keys it reads (shown in reports, noted when set without it)


AUGMENTATIONS: Registry[Augmentation] = Registry("regularizer.augment", "augmentation")
AUGMENTATIONS.add("crop", Augmentation("shift by up to regularizer.crop_padding pixels each way (reflected border)",
                                       "runner.train.augment:draw_shift", "runner.train.augment:shift",
                                       reads=("crop_padding",)))  # fmt: skip
AUGMENTATIONS.add("flip", Augmentation("mirror left-right, each sample with probability 1/2",
                                       "runner.train.augment:draw_flip", "runner.train.augment:flip",
                                       mirrors=True))  # fmt: skip


def check_regularizer(cfg) -> None:
    r = cfg.regularizer
    require(r.l1 >= 0, "regularizer.l1", "a lambda >= 0", r.l1)
    require(r.l2 >= 0, "regularizer.l2", "a lambda >= 0", r.l2)
    require(0 <= r.dropout < 1, "regularizer.dropout", "a probability in [0, 1)", r.dropout)
    b = cfg.trainer.batch_size
    require(not r.batchnorm or b != 1, "trainer.batch_size", "an integer >= 2 with regularizer.batchnorm "
            "(BatchNorm normalises each batch by its own statistics)", b)  # fmt: skip
    _check_augment(cfg)


def augmentation_keys(chosen) -> tuple[set, set]:
    """(regularizer keys some augmentation reads, those that the `chosen` ones read)."""
    every = {k for a in AUGMENTATIONS.values() for k in a.reads}
    return every, {k for name in chosen if name in AUGMENTATIONS for k in AUGMENTATIONS[name].reads}


def _check_augment(cfg) -> None:
    from runner.registry.runs import TASKS

    r, names = cfg.regularizer, list(cfg.regularizer.augment)
    unknown = [a for a in names if a not in AUGMENTATIONS]
    require(not unknown and len(set(names)) == len(names), "regularizer.augment",
            f"a list of distinct names among {', '.join(AUGMENTATIONS)}, e.g. [crop,flip]", names)  # fmt: skip
    task = TASKS.get(cfg.task)
    if task is not None and (task.data_from_saved_run or not task.reads_key("regularizer.augment")):
        return  # an eval of saved weights (on any data of their shape), a gradient check: nothing trains
    if names:
        require(cfg.dataset.source != "function", "regularizer.augment",
                "[] for dataset.source=function (it changes images; these samples are numbers)", names)  # fmt: skip
    if "crop" in names:
        side = min(cfg.dataset.image_size)
        require(1 <= r.crop_padding < side, "regularizer.crop_padding",
                f"an integer in [1, {side - 1}] (the border is reflected from within the {side}-pixel image)",
                r.crop_padding)  # fmt: skip


def check_optimizer(cfg) -> None:
    o = cfg.optimizer
    OPTIMIZERS.check(o.name)
    require(o.lr > 0 and math.isfinite(o.lr), "optimizer.lr", "a learning rate > 0", o.lr)
    require(0 <= o.momentum < 1, "optimizer.momentum", "a number in [0, 1)", o.momentum)
    if o.nesterov and "nesterov" in OPTIMIZERS[o.name].reads:  # torch's SGD would raise; NumPy's drop it
        require(o.momentum > 0, "optimizer.momentum", "a number in (0, 1) with optimizer.nesterov=true "
                "(Nesterov's look-ahead is along the momentum)", o.momentum)  # fmt: skip
    require(
        len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas),
        "optimizer.betas",
        "two numbers in [0, 1), e.g. [0.9,0.999]",
        list(o.betas),
    )


def check_trainer(cfg) -> None:
    t = cfg.trainer
    require(t.epochs >= 1, "trainer.epochs", "an integer >= 1", t.epochs)
    require(t.batch_size >= 1, "trainer.batch_size", "an integer >= 1", t.batch_size)
    require(t.eval_batch_size >= 1, "trainer.eval_batch_size", "an integer >= 1", t.eval_batch_size)
    TRAIN_METRICS.check(t.train_metrics)
    PROGRESS.check(t.progress)
    PRECISIONS.check(t.precision)
    CUDA_GRAPH.check(t.cuda_graph)
    require(t.replicas >= 1, "trainer.replicas", "an integer >= 1 (copies trained at once)", t.replicas)
    require(
        t.checkpoint_every >= 0, "trainer.checkpoint_every", "an integer >= 0 (0: only at the end)", t.checkpoint_every
    )
    require(t.checkpoint_seconds >= 0, "trainer.checkpoint_seconds", "a number of seconds >= 0",
            t.checkpoint_seconds)  # fmt: skip
    es = t.early_stopping
    if es.metric is not None:
        _monitored(es.metric, "trainer.early_stopping.metric")
        require(es.mode in MODES, "trainer.early_stopping.mode", "min, max or auto", es.mode)
        require(es.patience >= 1, "trainer.early_stopping.patience", "an integer >= 1 (epochs)", es.patience)
        require(es.min_delta >= 0, "trainer.early_stopping.min_delta", "a number >= 0", es.min_delta)


MODES = ("auto", "min", "max")


def _monitored(column: str, key: str) -> None:
    """A metrics.csv column that can be watched: a loss or an accuracy."""
    from runner.train.rows import SPLIT_COLUMNS

    require(column in SPLIT_COLUMNS, key, f"a metrics.csv column: {', '.join(SPLIT_COLUMNS)}", column)


def check_scheduler(cfg) -> None:
    s = cfg.scheduler
    SCHEDULERS.check(s.name)
    if s.name == "step":
        require(s.step_size >= 1, "scheduler.step_size", "an integer >= 1 (epochs)", s.step_size)
        require(0 < s.gamma <= 1, "scheduler.gamma", "a factor in (0, 1]", s.gamma)
    if s.name == "cosine":
        require(s.t_max is None or s.t_max >= 1, "scheduler.t_max", "an integer >= 1 (epochs), or null", s.t_max)
        require(0 <= s.eta_min < cfg.optimizer.lr, "scheduler.eta_min", "a rate >= 0 below optimizer.lr", s.eta_min)
    if s.name == "plateau":
        _monitored(s.metric, "scheduler.metric")
        require(s.mode in MODES, "scheduler.mode", "min, max or auto", s.mode)
        require(0 < s.factor < 1, "scheduler.factor", "a factor in (0, 1)", s.factor)
        require(s.patience >= 0, "scheduler.patience", "an integer >= 0 (epochs)", s.patience)
        # torch takes any: a negative threshold counted a worse epoch as an improvement, so the rate
        # never fell; a floor at or above the rate it starts from does not let it fall either
        require(s.threshold >= 0, "scheduler.threshold", "a relative improvement >= 0, e.g. 1e-4", s.threshold)
        require(0 <= s.min_lr < cfg.optimizer.lr, "scheduler.min_lr", "a rate >= 0 below optimizer.lr", s.min_lr)
    if s.name == "onecycle":
        require(
            s.max_lr is None or s.max_lr > 0, "scheduler.max_lr", "a rate > 0, or null (10 x optimizer.lr)", s.max_lr
        )
        require(0 < s.pct_start < 1, "scheduler.pct_start", "a share in (0, 1)", s.pct_start)
