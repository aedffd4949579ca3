"""Where a command's messages go. The lines of a run, a sweep's jobs and outcome, a study and a
reproduction go through say() (the command's closing error line stays on stderr, runner.cli).
With a Hydra job logging that has handlers (`hydra/job_logging=default` or `stdout`, or the
user's own) they go through the `dlrun` logger: timestamped, and into `<run>/<job>.log` as Hydra
users expect. With dlrun's default (`none`) they are plain prints."""

from __future__ import annotations

import logging
import sys


def job_logger() -> logging.Logger | None:
    """The `dlrun` logger when the running Hydra job configured logging with handlers, else None."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    from omegaconf import OmegaConf

    handlers = OmegaConf.select(HydraConfig.get(), "job_logging.root.handlers", default=None)
    return logging.getLogger("dlrun") if handlers else None


def say(text: str, error: bool = False) -> None:
    """One message of a command: printed (errors on stderr), or logged, line by line, where
    the job logs (an error at level ERROR)."""
    log = job_logger()
    if log is None:
        print(text, file=sys.stderr if error else sys.stdout, flush=True)
        return
    for line in text.splitlines():
        if line.strip():
            log.log(logging.ERROR if error else logging.INFO, line)
