"""A stop signal reaching the jobs of a sweep that run in processes of their own on this machine:
joblib's workers, and submitit_local's jobs (local_processes).

    dlrun -m seed=0,1,2 hydra/launcher=joblib hydra.launcher.n_jobs=2   # then SIGTERM or Ctrl-C

dlrun's own process only waits on the workers. A worker holds an flock on `<sweep>/.dlrun-jobs/
<its pid>` while it runs a job. On a stop, dlrun writes `.dlrun-jobs/stop`, passes the signal to
each worker holding a job, and waits until every one has saved its checkpoint and let go; only
then does its own stop end the sweep. It must wait: joblib answers the first job that comes back
stopped by SIGKILLing the other workers, and one still writing its stop checkpoint lost it (its
summary.json said `running`). A job a worker takes up after the stop sees `stop` and does not
begin. Idle workers are not signalled: one that never ran a job has Python's default handlers,
and a SIGTERM killed it, which broke joblib's pool (a traceback, exit code 1).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

FOLDER = ".dlrun-jobs"  # in the sweep folder while the sweep runs; removed when it ends or stops
STOP = "stop"  # written there by a stop: the signal's number
PATIENCE = 300.0  # seconds dlrun waits for its workers' checkpoints before it stops regardless
POLL = 0.05


@contextlib.contextmanager
def running_job(sweep_dir: Path, num: int):
    """In a worker, around one job: hold this worker's file while the job runs, and refuse to begin
    a job after the sweep was stopped (runner.signals.Interrupted)."""
    from runner.locks import flock

    folder = Path(sweep_dir) / FOLDER
    folder.mkdir(exist_ok=True)
    with open(folder / str(os.getpid()), "a", encoding="utf-8") as handle:
        flock(handle, wait=True)  # this worker's own file: only a stop's look contends, briefly
        handle.truncate(0)
        handle.write(str(num))  # which job: a stop's line says where each stopped
        handle.flush()
        signum = stopped(sweep_dir)  # read with the lock held: a stop either sees this job or is seen by it
        if signum is not None:
            from runner import signals

            raise signals.Interrupted(signum, f"before job {num}")
        yield


def stopped(sweep_dir: Path) -> int | None:
    """The signal that stopped this sweep, if one did."""
    try:
        return int((Path(sweep_dir) / FOLDER / STOP).read_text())
    except (OSError, ValueError):
        return None


def busy(sweep_dir: Path) -> set:
    """The PIDs of the workers running a job of this sweep now."""
    from runner.locks import held_elsewhere

    with contextlib.suppress(OSError):
        entries = [e for e in os.scandir(Path(sweep_dir) / FOLDER) if e.name.isdigit()]
        return {int(e.name) for e in entries if held_elsewhere(e.path)}  # a worker holds it: its job runs
    return set()


def stop(sweep_dir: Path, signum: int, patience: float = PATIENCE) -> str:
    """In dlrun's process: pass a stop on to every job running in a worker, then return once each
    has saved and let go (or after `patience` seconds); what was waited for, for the stop's line."""
    from runner.formatting import count

    signum = _for_workers(signum)
    folder = Path(sweep_dir) / FOLDER
    with contextlib.suppress(OSError):
        folder.mkdir(exist_ok=True)
        (folder / STOP).write_text(str(signum))
    told: set = set()
    end = time.monotonic() + patience
    while True:
        running = busy(sweep_dir)
        if not running:
            return f"once its {count(len(told), 'running job')} had saved{_where(sweep_dir, told)}" if told else ""
        if time.monotonic() >= end:
            return (f"after {patience:g} s waiting on {len(running)} of its {count(len(told), 'running job')} to "
                    "save (cut off now: a rerun resumes from the last checkpoint)")  # fmt: skip
        for pid in running - told:  # a job that began before it could see `stop`, too
            with contextlib.suppress(OSError):
                os.kill(pid, signum)
        told |= running
        time.sleep(POLL)


def _where(sweep_dir: Path, pids: set) -> str:
    """' (job 0 at epoch 6, step 11 of 40; job 1 before epoch 2)': where each job that a stop
    reached stopped, from its summary.json, as a single run's stop line says it."""
    import json

    found = {}
    for pid in pids:
        try:
            num = int((Path(sweep_dir) / FOLDER / str(pid)).read_text())
            job = next(Path(sweep_dir).glob(f"{num}_*"))
            where = json.loads((job / "summary.json").read_text())["interrupted"]["where"]
        except Exception:  # noqa: BLE001 - a detail of the line: a job stopped before its summary says nothing
            continue
        if where:
            found[num] = f"job {num} {where}" if where.startswith(("before ", "after ")) else f"job {num} at {where}"
    return f" ({'; '.join(found[n] for n in sorted(found))})" if found else ""


def local_processes(launcher: str) -> bool:
    """Whether the launcher (its _target_) runs the jobs in processes of this machine apart from
    dlrun's, which a stop of the sweep must reach: joblib's workers, submitit_local's jobs (left
    running on their own when dlrun stopped). Not SLURM's: they run on other nodes, in SLURM's care."""
    return "joblib" in launcher or "submitit_launcher.LocalLauncher" in launcher


def fit_pool(config) -> None:
    """No more of joblib's workers than jobs run at once: it starts n_jobs of them (-1: one per
    core) whatever the sweep, and one that never gets a job cannot take a stop (Ctrl-C from the
    terminal killed it, and loky then killed every other worker, checkpoints half-written). Each
    started worker also imports torch, and the jobs share the cores by this count (runner.sweep.job)."""
    from omegaconf import open_dict, read_write

    from runner.sweep.grid import jobs_at_once

    at_once = jobs_at_once(config)
    n_jobs = config.hydra.launcher.get("n_jobs")
    if at_once is None or not isinstance(n_jobs, int) or n_jobs == 0:
        return
    workers = n_jobs if n_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + n_jobs)  # joblib's count for -k
    if at_once < workers:
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.launcher.n_jobs = at_once


def died(ex: BaseException, sweep_dir: Path) -> str | None:
    """The line for a sweep that `ex` ended because a joblib worker process died in the middle of
    a job (the kernel's out-of-memory killer, a crash in native code): loky then SIGKILLs every
    other worker, whatever it was doing, and joblib raised its TerminatedWorkerError's traceback."""
    import re

    from runner.errors import error_chain
    from runner.sweep.state import resume_hint

    ex = next((e for e in error_chain(ex) if type(e).__name__ == "TerminatedWorkerError"), None)
    if ex is None:
        return None
    found = re.search(r"exit codes of the workers are \{([^}]*)\}", str(ex))
    codes = found.group(1) if found else "unknown exit code"
    memory = "SIGKILL" in codes  # what the out-of-memory killer sends
    return (f"a joblib worker process died ({codes}{': out of memory?' if memory else ''}), and joblib ended the "
            f"jobs running beside it; {resume_hint(sweep_dir)}, each job from its last checkpoint"
            + (" (fewer at once need less memory: a lower hydra.launcher.n_jobs)" if memory else ""))  # fmt: skip


def clear(sweep_dir: Path) -> None:
    """The sweep ended or stopped (its workers are gone): no trace of them is left."""
    shutil.rmtree(Path(sweep_dir) / FOLDER, ignore_errors=True)


def _for_workers(signum: int) -> int:
    """The signal a worker is sent for the one dlrun got. Ctrl-C reaches the workers from the
    terminal as well, and a second SIGINT means "stop now, no checkpoint": they get SIGTERM. A
    closed standard output is a stop for them too (Python's workers ignore SIGPIPE)."""
    return signal.SIGTERM if signum in (signal.SIGINT, getattr(signal, "SIGPIPE", None)) else signum
