"""Loggers (conf/logger/<name>.yaml; `logger=[tensorboard,mlflow]` combines them) and the check
of the `logger` section: an enabled logger whose package is missing is one line naming the
extra that installs it."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from runner.config.checks import require
from runner.errors import ConfigError
from runner.registry import Registry


@dataclass(frozen=True)
class Logger:
    help: str
    cls: str  # "module:Class", a runner.loggers.RunLogger built with the config
    package: str  # the module it imports
    extra: str  # pip install 'dlrun[<extra>]'


LOGGERS: Registry[Logger] = Registry("logger", "logger")
LOGGERS.add("tensorboard", Logger("TensorBoard event files in the run folder", "runner.loggers.tensorboard:TensorBoardLogger",
                                  "tensorboard", "tensorboard"))  # fmt: skip
LOGGERS.add("mlflow", Logger("an MLflow run per dlrun run (nested under its sweep)", "runner.loggers.mlflow:MlflowLogger",
                             "mlflow", "mlflow"))  # fmt: skip


def enabled(cfg) -> list:
    section = cfg.get("logger") or {}
    return [name for name in LOGGERS if section.get(name) is not None and section[name].enabled]


def check_logger(cfg) -> None:
    for name in enabled(cfg):
        entry = LOGGERS[name]
        if importlib.util.find_spec(entry.package) is None:
            raise ConfigError(f"logger={name}", f"the {entry.package} package: pip install 'dlrun[{entry.extra}]'",
                              "not installed")  # fmt: skip
    ml = cfg.logger.mlflow
    require(bool(str(ml.tracking_uri)), "logger.mlflow.tracking_uri", "a tracking URI, e.g. sqlite:///outputs/mlflow.db",
            ml.tracking_uri)  # fmt: skip
    require(bool(str(ml.experiment)), "logger.mlflow.experiment", "an experiment name", ml.experiment)
