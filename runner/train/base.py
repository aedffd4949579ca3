"""What every engine offers runner.train.run, with the shared epoch and defaults.

An engine (registered in runner.registry.runs.ENGINES) reads the data and builds its model in
__init__, then trains one epoch at a time. `epoch(n)` is written once, here: train, evaluate
every split, compute the registered per-epoch metrics, and return the typed row; an engine
implements the steps it calls. Run hooks (RunHooks) let a study watch a run.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import numpy as np

from runner.registry.data import SPLITS
from runner.train.rows import EPOCH_METRICS, EpochRow, Value


class Engine(ABC):
    cfg: object  # the validated config
    data: object  # runner.data.device.DeviceData
    params: int  # trainable parameters (per copy with replicas)
    device: object  # where it computes, for summary.json
    device_name: str
    layer_probes: bool = False  # True when epoch() also returns layers.csv rows

    # ---------------------------------------------------------------- what an engine implements

    @abstractmethod
    def train_epoch(self, n: int) -> tuple[Value, Value]:
        """One pass over the training split: its running (loss, accuracy)."""

    @abstractmethod
    def evaluate(self, split: str) -> tuple[Value, Value]:
        """(loss, accuracy) of the split in eval mode; accuracy None for regression."""

    @abstractmethod
    def penalty(self) -> Value:
        """The L1 + L2 penalty now."""

    @abstractmethod
    def lr(self) -> float:
        """The learning rate now."""

    @abstractmethod
    def state_dict(self) -> dict:
        """Everything the next step depends on (weights, optimizer, generators, an epoch's
        progress at a step boundary), as tensors and plain values (runner.train.checkpoint)."""

    @abstractmethod
    def load_state_dict(self, state: dict) -> None:
        """Go on from a state_dict() of an engine built from the same config."""

    @abstractmethod
    def weights(self) -> dict:
        """The model's weights (model.pt), tensors by name."""

    @staticmethod
    @abstractmethod
    def weights_in(state: dict) -> dict:
        """The weights inside a state_dict(), as weights() gives them (task=eval of a checkpoint.pt)."""

    @abstractmethod
    def load_weights(self, weights: dict) -> None:
        """Set the weights that weights() gave (task=eval)."""

    @abstractmethod
    def confusion(self, split: str) -> np.ndarray | None:
        """Counts [true, predicted] of a classification split, None when the split is absent."""

    @abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Regression outputs for float32 inputs [N, 1]."""

    # ---------------------------------------------------------------- defaults

    def sync(self) -> None:  # noqa: B027 - a no-op for engines that compute synchronously
        """Wait for queued device work, so the training time is measured honestly."""

    def layer_rows(self, n: int) -> list:
        """layers.csv rows of epoch n (with probes)."""
        return []

    def histogram_rows(self, last_epoch: int) -> list:
        """The first layer's weight histogram after epoch 1 and the last (with probes)."""
        return []

    def step_rows(self) -> list:
        """steps.csv rows of the last epoch (trainer.log_steps)."""
        return []

    def sensitivity(self, n: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not measure input sensitivity")

    def after_epoch(self, row: EpochRow) -> None:  # noqa: B027 - engines without a schedule
        """After the epoch's row is recorded: step a per-epoch learning-rate schedule."""

    def notes(self) -> list:
        """Lines worth printing once at the end of the run."""
        return []

    def facts(self) -> dict:
        """Engine-specific entries for summary.json (e.g. whether CUDA graphs were used)."""
        return {}

    # ---------------------------------------------------------------- the epoch, for every engine

    def epoch(self, n: int) -> tuple[EpochRow, list]:
        """Train one epoch and measure it: (the metrics row, the layers.csv rows)."""
        t0 = time.perf_counter()
        train_loss, train_acc = self.train_epoch(n)
        self.sync()
        row = EpochRow(epoch=n, train_seconds=time.perf_counter() - t0)
        for split in SPLITS:
            if split == "train" and self.cfg.trainer.train_metrics == "running":
                row.set_split("train", train_loss, train_acc)
            elif split in self.data.splits:
                row.set_split(split, *self.evaluate(split))
        for column, metric in EPOCH_METRICS.items():
            row.set(column, metric.compute(self))
        row.seconds = time.perf_counter() - t0
        return row, self.layer_rows(n)


class RunHooks:
    """What a study may watch in a run (runner.train.run.run_training's `hooks`)."""

    def on_start(self, engine: Engine) -> None:
        """Before the first epoch."""

    def on_epoch(self, engine: Engine, row: EpochRow) -> None:
        """After every epoch (the replicas' mean row with trainer.replicas > 1)."""

    def on_end(self, engine: Engine) -> None:
        """Once training has ended, before the results are written."""
