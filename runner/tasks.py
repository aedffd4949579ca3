"""Dispatch a validated config to the handler of the task it names (runner.registry.runs.TASKS)."""

from __future__ import annotations

from pathlib import Path

from runner.registry import load
from runner.registry.runs import TASKS


def dispatch(cfg, run_dir: Path, label: str = "", finish=None):
    """label prefixes the run's console lines (sweeps use the job number); finish, when given,
    takes over a training run's plots, report and DONE (see runner.report.finish)."""
    task = TASKS[cfg.task]
    extra = {"finish": finish} if task.renders_plots else {}
    return load(task.handler)(cfg, run_dir, label, **extra)
