"""What the sweeps of this process ended with, so `dlrun` can exit with a code that says it.

Exit codes: 0 every job ok; 1 a job failed or did not finish; 3 no failures, but a job's
loss diverged (NaN/inf)."""

from __future__ import annotations

outcomes: list = []  # one {status: count} dict per finished multirun
running = None  # the sweep folder of the multirun under way in this process (its end clears it)
running_config = None  # and its config (the loggers' sweep run ends with it if a stop ends the sweep)


def resume_hint(sweep_dir) -> str:
    """What a stopped sweep tells its user (also when the stop came between its jobs)."""
    if not sweep_dir:
        return ""
    from runner.config.overrides import as_override

    return f"run the same command with {as_override('hydra.sweep.dir', sweep_dir)} to resume"


def failed(counts: dict) -> bool:
    """A sweep with a job that failed or did not finish (a diverged job is a finished result)."""
    from runner.sweep.grid import NOT_STARTED

    return bool(counts.get("failed", 0) or counts.get("unfinished", 0) or counts.get(NOT_STARTED, 0))


def exit_code() -> int:
    code = 0
    for counts in outcomes:
        if failed(counts):
            return 1
        if counts.get("diverged", 0):
            code = 3
    return code


def explain(code: int) -> str:
    if code == 1:
        return "some sweep jobs failed or did not finish (exit code 1); see summary.csv and each job's error.txt"
    return "some sweep jobs diverged: their loss became NaN or inf (exit code 3); see summary.csv"
