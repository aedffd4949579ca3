"""The per-epoch row of metrics.csv, typed, and the registry of its extra columns.

Every engine's epoch ends in one EpochRow (built by runner.train.base.Engine.epoch): the loss
and accuracy of each split it measured, the seconds, and one value per registered per-epoch
metric (EPOCH_METRICS: penalty and lr today). The row owns the column list that metrics.csv is
written with; setting a column it does not have is an error, never a silent drop.

Adding a per-epoch column: one EPOCH_METRICS entry whose `compute(engine)` returns the value
(a float, a list with one value per replica, or None for a blank cell); see the README,
"Extending dlrun".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

import numpy as np

from runner.registry import Registry
from runner.registry.data import SPLITS

KINDS = ("loss", "acc")
Value = float | list | None  # a list holds one value per replica of a stacked model


# loss and accuracy of every split: the columns a run can watch, optimise or report as best
SPLIT_COLUMNS = [f"{s}_{k}" for s in SPLITS for k in KINDS]
# the run's other tables; the report reads them back by these names (runner/report/run_plots.py)
# layers.csv: one row per layer per epoch (runner/train/probes.py)
LAYER_COLUMNS = ["epoch", "layer", "kind", "params", "grad_norm", "weight_mean", "weight_std", "weight_change",
                 "saturation"]  # fmt: skip
STEP_COLUMNS = ["step", "epoch", "loss", "grad_norm"]  # steps.csv (trainer.log_steps)
HIST_COLUMNS = ["epoch", "bin_left", "bin_right", "count"]  # first_layer_hist.csv
PREDICTION_COLUMNS = ["x", "y_true", "y_pred"]  # predictions.csv (regression)


def better(column: str) -> str:
    """min or max: the direction in which a loss or accuracy column improves."""
    return "max" if column.endswith("_acc") else "min"


@dataclass(frozen=True)
class EpochMetric:
    help: str
    compute: Callable  # (engine) -> Value, after the epoch's training and evaluation


EPOCH_METRICS: Registry[EpochMetric] = Registry("metrics.csv", "per-epoch metric")
EPOCH_METRICS.add("penalty", EpochMetric("the L1 + L2 penalty at the epoch's end", lambda engine: engine.penalty()))
EPOCH_METRICS.add("lr", EpochMetric("the learning rate at the epoch's end", lambda engine: engine.lr()))


@dataclass
class EpochRow:
    """One epoch (of one replica, when `replica` is set)."""

    epoch: int
    train_loss: Value = None
    train_acc: Value = None
    val_loss: Value = None
    val_acc: Value = None
    test_loss: Value = None
    test_acc: Value = None
    seconds: float = 0.0  # the whole epoch: training and evaluation
    train_seconds: float = 0.0  # the training steps alone
    extra: dict = field(default_factory=dict)  # EPOCH_METRICS columns
    replica: int | None = None

    @staticmethod
    def columns(replicas: bool = False) -> list:
        """metrics.csv's header: with replicas, a row per (epoch, replica)."""
        return ["epoch", *(["replica"] if replicas else []), *SPLIT_COLUMNS, "seconds", "train_seconds", *EPOCH_METRICS]

    @classmethod
    def from_dict(cls, values: dict) -> EpochRow:
        """The row `as_dict` gave (a checkpoint stores rows so)."""
        row = cls(epoch=int(values["epoch"]))
        for column, value in values.items():
            if column != "epoch":
                row.set(column, value)
        return row

    def set(self, column: str, value) -> None:
        if column in EPOCH_METRICS:
            self.extra[column] = value
        elif column in _FIELDS:
            setattr(self, column, value)
        else:
            raise KeyError(
                f"metrics.csv has no column {column!r}; its columns: {', '.join(self.columns(True))} "
                "(a new one is an EPOCH_METRICS entry in runner/train/rows.py)"
            )

    def get(self, column: str, default=None):
        if column in _FIELDS:
            return getattr(self, column)
        return self.extra.get(column, default)

    def set_split(self, split: str, loss: Value, acc: Value) -> None:
        self.set(f"{split}_loss", loss)
        self.set(f"{split}_acc", acc)

    def measured(self) -> list:
        """The splits this epoch measured (a split with a loss)."""
        return [s for s in SPLITS if getattr(self, f"{s}_loss") is not None]

    def metrics(self) -> dict:
        """Loss and accuracy of every measured split: summary.json's `final`."""
        return {f"{s}_{k}": getattr(self, f"{s}_{k}") for s in self.measured() for k in KINDS}

    def as_dict(self) -> dict:
        """Column -> value, for metrics.csv."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        if self.replica is None:
            del values["replica"]
        return {**values, **self.extra}

    def diverged(self) -> bool:
        """With replicas the row is their mean: one diverged copy makes it non-finite."""
        return self.train_loss is None or not math.isfinite(self.train_loss)

    def split_replicas(self) -> tuple[EpochRow, list]:
        """(the replicas' mean, one row per replica) of a row whose values are per-replica lists."""
        values = self.as_dict()
        lists = {k: v for k, v in values.items() if isinstance(v, list)}
        count = len(next(iter(lists.values()))) if lists else 1
        per = []
        for r in range(count):
            row = replace(self, extra=dict(self.extra), replica=r)
            for k, v in lists.items():
                row.set(k, v[r])
            per.append(row)
        mean = replace(self, extra=dict(self.extra))
        for k, v in lists.items():
            mean.set(k, math.fsum(v) / len(v) if None not in v else None)
        return mean, per


_FIELDS = {f.name for f in fields(EpochRow)} - {"extra"}


def best_of(rows: list) -> dict:
    """Lowest loss and highest accuracy of each split, with the epoch it came at (the first,
    on a tie): summary.json's `best`."""
    best = {}
    for key in SPLIT_COLUMNS:
        vals = [(r.get(key), r.epoch) for r in rows if r.get(key) is not None and math.isfinite(r.get(key))]
        if vals:
            pick = min(vals) if key.endswith("_loss") else max(vals, key=lambda v: (v[0], -v[1]))
            best[key], best[f"{key}_epoch"] = pick
    return best


def replica_stats(per_replica: list) -> dict:
    """summary.json's final_std (sample std over the copies) and replica_final (each copy's)."""
    per = [r.metrics() for r in per_replica]
    std = {}
    for key in per[0] if per else []:
        vals = [p[key] for p in per]
        if None not in vals and not all(math.isnan(v) for v in vals):
            std[key] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    return {"final_std": std, "replica_final": per}
