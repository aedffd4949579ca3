"""Learning-rate schedules (the `scheduler` group): torch's own schedulers, stepped by the
training loop, their state in the checkpoint.

Per-epoch schedules (step, cosine, plateau) step after the epoch's row is measured, so the row's
`lr` is the rate the epoch trained with; onecycle steps after every optimizer step.

A CUDA graph replays the optimizer step with the learning rate it was captured with. So when a
schedule and a graph may meet, the rate lives in a device tensor that the graph reads and the
scheduler overwrites in place (torch's schedulers fill a tensor `lr` rather than replace it).
"""

from __future__ import annotations

import torch

from runner.registry.training import SCHEDULERS


def active(cfg) -> bool:
    return cfg.scheduler.name != "none"


def holds_lr_in_tensor(cfg, graph_reason: str | None) -> bool:
    """A schedule on a run that may train through a CUDA graph keeps its rate in a tensor."""
    return active(cfg) and graph_reason is None


def tensor_lr(opt: torch.optim.Optimizer, device: torch.device) -> None:
    """Every parameter group's rate as a 0-d float64 tensor on the device (in place from now on)."""
    for group in opt.param_groups:
        lr = group["lr"]
        value = float(lr.item()) if isinstance(lr, torch.Tensor) else float(lr)
        group["lr"] = torch.tensor(value, dtype=torch.float64, device=device)


class Schedule:
    """The configured scheduler (or none) for an optimizer."""

    def __init__(self, opt: torch.optim.Optimizer, cfg, steps_per_epoch: int):
        entry = SCHEDULERS[cfg.scheduler.name]
        self.per_step = entry.per_step
        self.metric = cfg.scheduler.metric if entry.reads_metric else None
        self.sched = entry.build(opt, cfg, steps_per_epoch) if entry.build is not None else None

    def after_step(self) -> None:
        if self.sched is not None and self.per_step:
            self.sched.step()

    def after_epoch(self, row) -> None:
        """row: the epoch's EpochRow (the replicas' mean), read by plateau."""
        if self.sched is None or self.per_step:
            return
        if self.metric is None:
            self.sched.step()
            return
        value = row.get(self.metric)
        if value is not None:
            self.sched.step(float(value))

    def state_dict(self) -> dict | None:
        return self.sched.state_dict() if self.sched is not None else None

    def load_state_dict(self, state: dict | None) -> None:
        if self.sched is not None and state is not None:
            self.sched.load_state_dict(state)
