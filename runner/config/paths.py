"""Relative paths on the command line name places from where dlrun was started. With
`hydra.job.chdir=true` a job runs inside its output folder, so `data_dir=data` would look for
<run>/data; prepare() rebases such paths onto the start folder once (data_dir, ckpt, and an
SQLite MLflow store)."""

from __future__ import annotations

from pathlib import Path

SQLITE = "sqlite:///"


def rebase(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    start = Path(HydraConfig.get().runtime.cwd)
    if Path.cwd().resolve() == start.resolve():  # no chdir: relative paths already mean the right place
        return

    def onto_start(path: str) -> str:
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else start / p)

    cfg.data_dir = onto_start(str(cfg.data_dir))
    if cfg.get("ckpt"):
        cfg.ckpt = onto_start(str(cfg.ckpt))
    uri = str(cfg.logger.mlflow.tracking_uri)
    if uri.startswith(SQLITE):
        cfg.logger.mlflow.tracking_uri = SQLITE + onto_start(uri[len(SQLITE) :])
