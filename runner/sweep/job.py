"""One job of a multirun, made safe for the rest of the sweep.

- A job whose folder holds the completion marker (`DONE`, written last by a finished run) is
  skipped, so re-running a sweep into its own folder only runs what is missing; a training
  job that was stopped resumes from its checkpoint (runner.runfolder).
- Anything a job raises (bad config, missing data, out of memory, a bug) is recorded in its
  folder (summary.json with status `failed` and the error line, error.txt with the
  traceback) and the sweep goes on with the next job; but a full disk stops the sweep, since
  every later job would train to its first checkpoint and fail alike (not under submitit, whose
  jobs run apart).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

from runner.errors import Refused, UserError, disk_full, one_line
from runner.files import DONE_MARKER, record_failure
from runner.say import say


def _free_accelerator_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _share_cpus(hc) -> None:
    """Jobs running side by side (joblib) split the cores instead of each taking all of them."""
    launcher = str(hc.launcher.get("_target_", ""))
    if "joblib" not in launcher:
        return
    n_jobs = int(hc.launcher.get("n_jobs") or -1)
    cpus = os.cpu_count() or 1
    n_jobs = cpus if n_jobs <= 0 else n_jobs
    import torch

    torch.set_num_threads(max(1, cpus // n_jobs))


def _spread_over_gpus(cfg, job_num: int) -> None:
    """With several GPUs, job k runs on GPU k mod count unless the config names one."""
    if str(cfg.device) not in ("auto", "cuda"):
        return
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() > 1:
        cfg.device = f"cuda:{job_num % torch.cuda.device_count()}"


def _in_process(hc) -> bool:
    """The job runs in dlrun's own process, which also ends the sweep: Hydra's basic launcher, and
    joblib's with n_jobs=1 (joblib runs a single worker's tasks in the calling process)."""
    from runner import signals

    launcher = _launcher(hc)
    return "BasicLauncher" in launcher or ("joblib" in launcher and not signals.in_worker())


def _background_finish(cfg, hc):
    """Plots and reports rendered by worker processes while the next job trains, or None."""
    from runner.registry.runs import TASKS
    from runner.report import finish

    workers = finish.background_workers(cfg.sweep.render_workers)
    if not TASKS[cfg.task].renders_plots or workers == 0 or not _in_process(hc):
        return None
    label = f"job {hc.job.num}: "
    return lambda run_dir, status, then: finish.submit(run_dir, status, workers, label, then)


def _launcher(hc) -> str:
    return str(hc.launcher.get("_target_", ""))


def run_job(cfg, job_dir: Path, hc) -> dict:
    import contextlib

    from runner import runfolder, signals
    from runner.sweep import workers

    launcher = _launcher(hc)
    apart = workers.local_processes(launcher) and signals.in_worker()  # joblib's n_jobs=1 runs jobs in dlrun
    # submitit's jobs may outlive the dlrun that launched them (SLURM's go on when it stops, by design)
    outliving = "submitit" in launcher
    if apart or outliving:  # checkpoint on the sweep's stop; under SLURM, on submitit's requeue
        signals.install()
    if not (apart or outliving):
        return _run_job(cfg, job_dir, hc)
    joblib = "joblib" in launcher  # a worker that dlrun started itself, and that takes job after job
    if joblib:
        signals.watch_parent()  # stop with the sweep, even one killed with -9
    try:
        with contextlib.ExitStack() as holding:
            if outliving:  # the same sweep run again meanwhile fails this job in one line, writing
                try:  # nothing, rather than training a second copy into its folder
                    runfolder.hold(job_dir, "hydra.sweep.dir")
                except UserError as ex:
                    say(f"job {hc.job.num} failed: {ex}", error=True)
                    return {"status": "failed", "error": str(ex)}
                holding.callback(runfolder.unlock, job_dir)
            if apart:  # a stop of the sweep waits for it to save
                holding.enter_context(workers.running_job(Path(hc.sweep.dir), hc.job.num))
            return _run_job(cfg, job_dir, hc)
    finally:
        if joblib:
            signals.park()


def _run_job(cfg, job_dir: Path, hc):
    from runner import signals
    from runner.tasks import dispatch

    num = hc.job.num

    def start():
        _share_cpus(hc)
        _spread_over_gpus(cfg, num)
        return dispatch(cfg, job_dir, label=f"[job {num}] ", finish=_background_finish(cfg, hc))

    try:
        # a full disk stops the sweep where its process (or joblib's, which passes the stop on) runs
        # the jobs; submitit's run apart, each on its own, and one cannot stop the others
        stops = "submitit" not in _launcher(hc)
        result = run_isolated(cfg, job_dir, num, HydraConfig.instance().cfg, hc.overrides.task, start, stops)
    except signals.Interrupted as ex:
        from runner.sweep.state import resume_hint

        ex.hint = resume_hint(Path(hc.sweep.dir))
        if not _in_process(hc):  # a worker; in dlrun's own process runner.sweep.callback.sweep_stopped does it
            from runner.loggers import Loggers

            Loggers(cfg, f"[job {num}] ").sweep_stopped(Path(hc.sweep.dir))
        if signals.orphaned():  # a worker of a sweep that was killed: the checkpoint is saved, nobody waits
            os._exit(ex.exit_code)
        signals.hand_over(ex)  # under submitit: requeue the job, which resumes from the checkpoint
        raise
    if cfg.get("optimized_metric"):  # a sweeper (Optuna) gets the one number it optimizes
        from runner.sweep import objective

        value = objective.of_job(job_dir, result, cfg.optimized_metric)
        say(f"job {num}: {cfg.optimized_metric} = {value:.6g}")
        return value
    return result


def run_isolated(cfg, job_dir: Path, num: int, hydra_root, overrides, start, full_disk_stops: bool = True) -> dict:
    """One job of a sweep (or a reproduction's part): skipped when it finished earlier; else its
    record written, its config prepared, and start() run, any failure (but a stop signal) recorded
    in its folder and returned as status `failed`, so the next job runs; a full disk, recorded
    too, stops the sweep (full_disk_stops)."""
    from runner import runfolder, signals
    from runner.config.provenance import naming_files
    from runner.config.validate import notes, prepare
    from runner.messages import describe_error
    from runner.registry.runs import TASKS

    signals.check(f"job {num}")
    if runfolder.record_lost(job_dir):
        say(f"job {num}: finished earlier, but {runfolder.RECORD_LOST}: it runs again: {job_dir}")
        (job_dir / DONE_MARKER).unlink()
    earlier = runfolder.finished(job_dir)
    if earlier is not None:
        say(f"job {num}: finished earlier ({earlier}), skipped: {job_dir}")
        return {"status": earlier, "skipped": True}
    try:
        runfolder.write_hydra_record(job_dir, cfg, hydra_root, overrides)
        with naming_files(overrides):
            prepare(cfg)
        for line in notes(cfg, overrides):  # labelled as the job's own lines are, and its notes while it runs
            say(f"[job {num}] note: {line}")
        task = TASKS[cfg.task]  # a training run resumes from its checkpoint; a study clears around its finished
        if not (task.renders_plots or task.keeps_finished_runs):  # runs itself; the rest start over
            runfolder.clear(job_dir)
        return start()
    except Exception as ex:  # noqa: BLE001 - one job's failure must not stop the sweep
        line = describe_error(ex, overrides) or one_line(ex)
        record_failure(job_dir, line, traceback.format_exc(), name=str(cfg.get("name", job_dir.name)))
        _free_accelerator_memory()
        if full_disk_stops and disk_full(ex):
            from runner.sweep.state import resume_hint

            sweep_dir = hydra_root.hydra.sweep.dir if hydra_root is not None else None  # None: a reproduction
            hint = resume_hint(sweep_dir) if sweep_dir else "run the same command again to resume"
            raise Refused(UserError(f"job {num} failed: {line}; the disk is full, so no later job runs: "
                                    f"free space, then {hint}")) from None  # fmt: skip
        say(f"job {num} failed: {line}", error=True)
        return {"status": "failed", "error": line}
