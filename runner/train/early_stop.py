"""trainer.early_stopping: end training when a metrics.csv column has not improved by more than
`min_delta` for `patience` epochs. The run ends with status ok and `stopped_early_at` in
summary.json; with checkpoints the best epoch's weights are kept as best.pt.
"""

from __future__ import annotations

import math

from runner.train.rows import better


class EarlyStopping:
    def __init__(self, section):
        self.metric = section.metric  # None: off
        self.mode = better(section.metric) if section.mode == "auto" and section.metric else section.mode
        self.patience, self.min_delta = int(section.patience), float(section.min_delta)
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.waited = 0  # epochs since the best

    @property
    def on(self) -> bool:
        return self.metric is not None

    def improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta

    def update(self, row) -> tuple[bool, bool]:
        """(the epoch is the best so far, training should stop now)."""
        value = row.get(self.metric)
        if value is None or not math.isfinite(value):
            self.waited += 1
            return False, self.waited >= self.patience
        if self.improved(value):
            self.best, self.best_epoch, self.waited = float(value), row.epoch, 0
            return True, False
        self.waited += 1
        return False, self.waited >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "waited": self.waited}

    def load_state_dict(self, state: dict | None) -> None:
        if state:
            self.best, self.best_epoch, self.waited = state["best"], state["best_epoch"], state["waited"]

    def facts(self, stopped_at: int | None) -> dict:
        """summary.json's entries."""
        if not self.on:
            return {}
        out = {"early_stopping": {"metric": self.metric, "mode": self.mode, "patience": self.patience,
                                  "min_delta": self.min_delta, "best": self.best, "best_epoch": self.best_epoch}}  # fmt: skip
        if stopped_at is not None:
            out["stopped_early_at"] = stopped_at
        return out
