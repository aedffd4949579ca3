"""What engine=numpy supports, checked before any data is read: mlp models with an activation
and an optimizer that have NumPy twins in the registries, no BatchNorm, plain training in
fp32 on the CPU, or a gradient check of that network (task=gradcheck)."""

from __future__ import annotations

from runner.config.checks import require
from runner.registry.activations import ACTIVATIONS
from runner.registry.training import OPTIMIZERS


def _has_twin(entry) -> bool:
    return entry.numpy is not None


def check(cfg) -> None:
    m, o, dev = cfg.model, cfg.optimizer, str(cfg.device)
    require(m.name == "mlp", "model", "mlp for engine=numpy (the scratch engine has no conv layers)", m.name)
    acts = ACTIVATIONS.names(_has_twin)
    require(cfg.activation.name in acts, "activation", f"one of {', '.join(acts)} for engine=numpy (those with a "
            "NumPy twin)", cfg.activation.name)  # fmt: skip
    require(not cfg.regularizer.batchnorm, "regularizer.batchnorm", "false for engine=numpy", cfg.regularizer.batchnorm)
    require(cfg.task in ("train", "eval", "gradcheck"), "task", "train, eval or gradcheck for engine=numpy", cfg.task)
    if cfg.task == "gradcheck":  # it builds the network and differentiates its loss: the rest is not read
        return
    augment = list(cfg.regularizer.augment)
    require(not augment, "regularizer.augment", "[] for engine=numpy (it trains on the images as they are)", augment)
    twins = OPTIMIZERS.names(_has_twin)
    require(o.name in twins, "optimizer", f"{' or '.join(twins)} for engine=numpy", o.name)
    require(dev in ("auto", "cpu"), "device", "auto or cpu for engine=numpy (NumPy runs on the CPU)", dev)
    require(
        not cfg.diagnostics.sensitivity,
        "diagnostics.sensitivity",
        "false for engine=numpy",
        cfg.diagnostics.sensitivity,
    )
    require(cfg.trainer.precision == "fp32", "trainer.precision", "fp32 for engine=numpy", cfg.trainer.precision)
    require(cfg.scheduler.name == "none", "scheduler", "none for engine=numpy (a constant learning rate)",
            cfg.scheduler.name)  # fmt: skip
