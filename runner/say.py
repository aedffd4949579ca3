"""Where a command's messages go. The lines of a run, a sweep's jobs and outcome, a study and a
reproduction go through say() (the command's closing error line stays on stderr, runner.cli).
With a Hydra job logging that has handlers (`hydra/job_logging=default` or `stdout`, or the
user's own) they go through the `dlrun` logger: timestamped, and into `<run>/<job>.log` as Hydra
users expect. With dlrun's default (`none`) they are plain prints."""

from __future__ import annotations

import contextlib
import errno
import logging
import sys

from runner import signals


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
        with to_console(sys.stderr if error else sys.stdout):
            print(text, file=sys.stderr if error else sys.stdout, flush=True)
        return
    if _logs_to_stdout() and signals.gone(sys.stdout):  # logging would print a traceback per record
        signals.stdout_lost()
    for line in text.splitlines():
        if line.strip():
            log.log(logging.ERROR if error else logging.INFO, line)


def tolerate_console_encoding() -> None:
    """Let a console whose encoding lacks a character dlrun prints (the ± of a replicated run, an
    accented folder name) show it escaped, `\\xb1`, rather than end the command with a
    UnicodeEncodeError once the work is done: an ASCII or Latin-1 terminal, PYTHONIOENCODING=ascii.
    A UTF-8 console never escapes anything."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):  # None (no console), or not a text wrapper
            stream.reconfigure(errors="backslashreplace")


def _logs_to_stdout() -> bool:
    return any(getattr(h, "stream", None) is sys.stdout for h in logging.getLogger().handlers)


@contextlib.contextmanager
def to_console(stream=None):
    """Around a write to the console, for when nobody reads it any more. A closed pipe (EPIPE:
    `dlrun ... | head`, a killed tee) on standard output stops the command as for SIGPIPE
    (runner.signals.output_closed: a training run checkpoints and ends `interrupted`); one on
    standard error is let go. A hung-up terminal (EIO) is let go too: a run that still gets to
    write had SIGHUP ignored (nohup, disown) to outlive it. The files, not the console, hold the
    results."""
    try:
        yield
    except OSError as ex:
        if ex.errno == errno.EIO:
            signals.hung_up()
        elif ex.errno != errno.EPIPE:
            raise
        elif stream is sys.stderr:
            signals.silence(sys.stderr)
        else:
            signals.output_closed()
