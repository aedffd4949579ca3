"""Dispatch a validated config to the task it names: `train` (default), `gradcheck` or `study`."""
from __future__ import annotations

from pathlib import Path


def dispatch(cfg, run_dir: Path, label: str = "", finish=None):
    """label prefixes the run's console lines (sweeps use the job number); finish, when given,
    takes over a training run's plots, report and DONE (see runner.report.finish)."""
    if cfg.task == "train":
        from runner.train.run import run_training

        return run_training(cfg, run_dir, label, finish=finish)
    if cfg.task == "gradcheck":
        from runner.train.gradcheck import run_gradcheck

        return run_gradcheck(cfg, run_dir, label)
    if cfg.task == "study":
        from runner.studies import run_study

        return run_study(cfg, run_dir, label)
    raise AssertionError(f"task {cfg.task} passed validation but has no handler")
