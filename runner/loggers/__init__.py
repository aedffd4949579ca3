"""Loggers that mirror a run's files into other tools (the `logger` group, off by default):

    dlrun logger=tensorboard                 event files in <run>/tensorboard/
    dlrun logger=[tensorboard,mlflow]        both; MLflow in sqlite:///outputs/mlflow.db

metrics.csv stays the contract: a logger sees the same rows, after they are written, and a
logger that fails says so in one line and is dropped, never the run. Each logger is a
LOGGERS entry (runner/registry/loggers.py) with the optional extra that installs it.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from runner.say import say


class RunLogger:
    """What a logger implements; every method has a no-op default."""

    def start(self, cfg, run_dir: Path, summary: dict, resumed_at: int | None) -> None:
        """Before the first epoch (resumed_at: the epochs a resumed run already has)."""

    def epoch(self, row, per_replica: list, layer_rows: list) -> None:
        """After each epoch's rows are written (row: the replicas' mean)."""

    def end(self, summary: dict, run_dir: Path) -> None:
        """After the run's files (and plots) are complete; summary is summary.json's content."""

    def sweep_end(self, sweep_dir: Path, counts: dict) -> None:
        """In the sweep's own process, after its summary.csv and report are written (counts:
        jobs per status); built afresh from the sweep's config, not the object its jobs used."""

    def sweep_stopped(self, sweep_dir: Path) -> None:
        """A stop signal ended the sweep (running it again resumes it)."""


def flatten(node, prefix: str = "") -> dict:
    """A nested dict as dotted keys; lists and scalars are its leaves."""
    if not isinstance(node, dict):
        return {prefix: node}
    out = {}
    for k, v in node.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def flat_params(cfg) -> dict:
    """The resolved config as dotted keys with scalar values (lists as text)."""
    out = flatten(OmegaConf.to_container(cfg, resolve=True))
    return {k: str(v) if isinstance(v, list) else v for k, v in out.items()
            if not k.startswith(("reproduce.", "hydra."))}  # fmt: skip


class Loggers:
    """The enabled loggers of a run, called together; one that raises is dropped with a line."""

    def __init__(self, cfg, label: str = ""):
        from runner.registry import load
        from runner.registry.loggers import LOGGERS, enabled

        self.label = label
        self.items = [(name, load(LOGGERS[name].cls)(cfg)) for name in enabled(cfg)]

    def _call(self, method: str, *args) -> None:
        for name, logger in list(self.items):
            try:
                getattr(logger, method)(*args)
            except Exception as ex:  # noqa: BLE001 - a mirror must never cost the run
                from runner.errors import one_line

                say(f"{self.label}logger {name} stopped: {one_line(ex)}", error=True)
                self.items.remove((name, logger))

    def start(self, cfg, run_dir: Path, summary: dict, resumed_at: int | None) -> None:
        self._call("start", cfg, run_dir, summary, resumed_at)

    def epoch(self, row, per_replica: list, layer_rows: list) -> None:
        self._call("epoch", row, per_replica, layer_rows)

    def end(self, summary: dict, run_dir: Path) -> None:
        self._call("end", summary, run_dir)

    def sweep_end(self, sweep_dir: Path, counts: dict) -> None:
        self._call("sweep_end", sweep_dir, counts)

    def sweep_stopped(self, sweep_dir: Path) -> None:
        self._call("sweep_stopped", sweep_dir)
