"""Loggers (conf/logger/<name>.yaml; `logger=[tensorboard,mlflow]` combines them) and the check
of the `logger` section: an enabled logger whose package is missing is one line naming the
extra that installs it."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import PurePath

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
    # the event files go inside the run folder, as each job's do in a sweep: empty, "." or ".." put them
    # among the run's own files or in another run's; an absolute path, all jobs into one folder
    tb = str(cfg.logger.tensorboard.dir)
    inside = PurePath(tb).parts and not PurePath(tb).is_absolute() and ".." not in PurePath(tb).parts
    require(bool(inside), "logger.tensorboard.dir", "a folder inside the run folder, e.g. tensorboard", tb)
    ml = cfg.logger.mlflow
    require(bool(str(ml.tracking_uri)), "logger.mlflow.tracking_uri", "a tracking URI, e.g. sqlite:///outputs/mlflow.db",
            ml.tracking_uri)  # fmt: skip
    require(bool(str(ml.experiment)), "logger.mlflow.experiment", "an experiment name", ml.experiment)
    if "mlflow" in enabled(cfg):
        refuse_file_store(str(ml.tracking_uri))


def refuse_file_store(uri: str) -> None:
    """MLflow 3.x keeps its file store (./mlruns, file://) for reading: writing one raises unless
    MLFLOW_ALLOW_FILE_STORE=true, and the run trained on with its mirror dropped in its first
    epoch. Said before training, where the installed MLflow would refuse it."""
    from urllib.parse import urlparse

    if urlparse(uri).scheme not in ("", "file"):
        return
    import mlflow.environment_variables as env

    allow = getattr(env, "MLFLOW_ALLOW_FILE_STORE", None)  # MLflow 2 writes file stores
    if allow is not None and not allow.get():
        import mlflow

        raise ConfigError("logger.mlflow.tracking_uri", "a database or server URI, e.g. sqlite:///outputs/mlflow.db "
                          f"(MLflow {mlflow.__version__} writes a file store only with MLFLOW_ALLOW_FILE_STORE=true "
                          "set)", uri)  # fmt: skip
