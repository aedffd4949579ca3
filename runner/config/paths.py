"""Where the paths a config names are. Two things make one mean a place other than it says:

- a leading `~` is the home folder in a shell, but Python and Hydra take it as a folder named `~`
  (DLRUN_DATA='~/data', a config file's `data_dir: ~/data`, a quoted "hydra.run.dir='~/runs'");
  home() expands it, as torchvision does for its `root`;
- relative paths on the command line name places from where dlrun was started, but with
  `hydra.job.chdir=true` a job runs inside its output folder, so `data_dir=data` would look
  for <run>/data.

prepare() settles dlrun's own path keys once (data_dir, ckpt, and an SQLite MLflow store);
Hydra's run and sweep folders are expanded by dlrun's callbacks, before Hydra makes them
(runner.runfolder.home_folder)."""

from __future__ import annotations

import os
from pathlib import Path

SQLITE = "sqlite:///"
# Hydra's folder keys: Hydra makes them as written, so dlrun expands a `~` before it does
HYDRA_FOLDERS = ("hydra.run.dir", "hydra.sweep.dir")
PATH_KEYS = ("data_dir", "ckpt")  # dlrun's own, settled by rebase()


def home(path: str) -> str:
    """`path` with a leading `~` or `~user` expanded to that home folder; anything else as it is
    (so `./data` stays `./data`, as config.yaml and a checkpoint's fingerprint recorded it)."""
    return os.path.expanduser(path) if path.startswith("~") else path


def rebase(cfg) -> None:
    """Expand a leading `~` of data_dir, ckpt and an SQLite store, and after a hydra.job.chdir
    put a relative one under the folder dlrun started in."""
    from hydra.core.hydra_config import HydraConfig

    start = None
    if HydraConfig.initialized():
        start = Path(HydraConfig.get().runtime.cwd)
        if Path.cwd().resolve() == start.resolve():  # no chdir: relative paths already mean the right place
            start = None

    def settled(path: str) -> str:
        path = home(path)
        return path if start is None or Path(path).is_absolute() else str(start / path)

    for key in PATH_KEYS:
        value = str(cfg.get(key) or "")
        if value and settled(value) != value:  # left as written otherwise: ${oc.env:DLRUN_DATA,./data} stays so
            cfg[key] = settled(value)
    uri = str(cfg.logger.mlflow.tracking_uri)
    store = uri[len(SQLITE) :] if uri.startswith(SQLITE) else ""
    if store and settled(store) != store:
        cfg.logger.mlflow.tracking_uri = SQLITE + settled(store)
