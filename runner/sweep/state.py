"""What the sweeps of this process ended with, so `dlrun` can exit with a code that says it.

Exit codes: 0 every job ok; 1 a job failed or did not finish; 3 no failures, but a job's
loss diverged (NaN/inf)."""

from __future__ import annotations

outcomes: list = []  # one {status: count} dict per finished multirun
running = None  # the sweep folder of the multirun under way in this process (its end clears it)
running_config = None  # and its config (the loggers' sweep run ends with it if a stop ends the sweep)


def resume_hint(sweep_dir) -> str:
    """What a stopped sweep tells its user (also when the stop came between its jobs). Jobs that
    SLURM runs go on when dlrun stops: the line names them, and a rerun waits for their end."""
    if not sweep_dir:
        return ""
    from runner.config.overrides import as_override

    again = f"run the same command with {as_override('hydra.sweep.dir', sweep_dir)}"
    jobs = slurm_jobs(running_config) if running_config is not None and str(sweep_dir) == str(running) else []
    if jobs:
        return (f"its jobs go on under SLURM, which a stop of dlrun does not reach (scancel {' '.join(jobs)} stops "
                f"them); once they have ended, {again} to run what is left and write the report")  # fmt: skip
    return f"{again} to resume"


def slurm_jobs(config) -> list[str]:
    """The SLURM job ids of a sweep that submitit sent to SLURM, from the folders submitit makes
    per task (`<submitit_folder>` with %j as `<job id>_<task>`); none under other launchers."""
    from pathlib import Path

    launcher = config.hydra.launcher
    if not str(launcher.get("_target_", "")).endswith("SlurmLauncher"):
        return []
    try:
        folder = Path(str(launcher.submitit_folder).split("%j")[0])
        names = [p.name for p in folder.iterdir() if p.is_dir()]
    except Exception:  # noqa: BLE001 - a hint only: nothing submitted yet, or an unusual folder
        return []
    return sorted({n.split("_")[0] for n in names if n.split("_")[0].isdigit()}, key=int)


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
