"""A trained run's last files: plots/, report.md and report.html, then DONE.

A single run finishes them inline. In a sweep run by the in-process launcher, each job hands
this work to a few worker processes and the next job starts training at once (the plots of
one job cost seconds of CPU, comparable to a whole GPU training run); the sweep's end waits
for the workers before it reads the jobs' files. Whoever renders writes DONE after
everything else, so a job cut off while its plots were pending counts as unfinished and
reruns, and a job whose plots failed is recorded as failed, like any other failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from runner.errors import one_line
from runner.files import record_failure, set_status, write_marker
from runner.say import say
from runner.signals import Interrupted

_pool = None
_pending: list = []  # (run_dir, label, future, then) in submission order


def finish_run(run_dir: Path, status: str, then=None) -> None:
    """Render the plots, write the final status and the report, then DONE; a finished run
    needs its checkpoint no more (model.pt keeps its weights). Records and re-raises a failure.
    then(): called once the run's files are final, finished or failed (the loggers' end)."""
    from runner.report.run_plots import render_run
    from runner.report.run_report import write_run_report
    from runner.train.checkpoint import CHECKPOINT

    run_dir = Path(run_dir)
    try:
        render_run(run_dir)
        set_status(run_dir, status)
        write_run_report(run_dir)
        write_marker(run_dir, status)
    except Exception as ex:
        mark_failed(run_dir, one_line(ex), traceback.format_exc())
        _then(then)
        raise
    with contextlib.suppress(OSError):
        (run_dir / CHECKPOINT).unlink(missing_ok=True)
    _then(then)


def _then(then) -> None:
    if then is not None:
        then()


def mark_failed(run_dir: Path, line: str, trace: str) -> None:
    record_failure(run_dir, f"rendering the plots and report: {line}", trace)


def _finish_in_worker(run_dir: str, status: str) -> str | None:
    """Runs in a worker process: the failure line, or None when the run is finished."""
    try:
        finish_run(Path(run_dir), status)
    except Exception as ex:  # noqa: BLE001 - recorded in the run's files; the parent reports it
        return one_line(ex)
    return None


def background_workers(setting: int) -> int:
    """sweep.render_workers; -1: one worker per 4 cores, at most 4, and none below 4 cores,
    where the workers would take the cores that training uses (measured: no gain on 2 cores)."""
    if setting >= 0:
        return setting
    cpus = os.cpu_count() or 1
    return min(4, cpus // 4)


def _worker_start() -> None:
    """In each worker: stop when the sweep's process is gone (killed with -9, say), and print
    what the console's encoding cannot show escaped, as the sweep's process does."""
    from runner.say import tolerate_console_encoding
    from runner.signals import watch_parent

    watch_parent()
    tolerate_console_encoding()


def submit(run_dir: Path, status: str, workers: int, label: str = "", then=None) -> None:
    """Finish the run in a worker process; the first call starts the pool. then() runs here,
    in this process, once the worker is done: at a later submit or at wait_all."""
    global _pool
    _collect(wait=False)
    if _pool is None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: the parent holds CUDA and torch's thread pools, which a forked child must not inherit
        _pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_start
        )
    from concurrent.futures.process import BrokenProcessPool

    try:
        with _sigint_ignored():  # a worker started now inherits it: Ctrl-C stops the sweep, not the renders
            future = _pool.submit(_finish_in_worker, str(run_dir), status)
    except BrokenProcessPool:  # a worker was killed earlier (out of memory, say): this job finishes here
        finish_run(run_dir, status, then)
        return
    _pending.append((Path(run_dir), label, future, then))


@contextlib.contextmanager
def _sigint_ignored():
    """Workers start (lazily, inside submit) with SIGINT ignored, so Ctrl-C at the terminal
    interrupts the sweep alone; the pool then finishes the jobs whose training had ended."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def wait_all() -> int:
    """Wait for every submitted run; say which failed; return how many did."""
    return _collect(wait=True)


def _collect(wait: bool) -> int:
    """Take the submitted runs in order (all, or while their workers are done): say which
    failed, call their then(); return how many failed."""
    failed = 0
    while _pending and (wait or _pending[0][2].done()):
        run_dir, label, future, then = _pending[0]  # kept there while waiting: a Ctrl-C abandons it too
        try:
            line = future.result()
        except Exception as ex:  # noqa: BLE001 - a worker died (killed, out of memory): the run did not finish
            line = one_line(ex)
            mark_failed(run_dir, line, traceback.format_exc())
        _pending.pop(0)
        if line is not None:
            failed += 1
            say(f"{label}plots and report failed: {line} ({run_dir})", error=True)
        _then(then)
    return failed


def pending() -> int:
    return len(_pending)


def after_interrupt(again: bool = True) -> None:
    """A signal (Ctrl-C, SIGTERM) or a full disk stopped the sweep: finish the jobs whose
    training had ended (their files are complete but for the plots); a Ctrl-C now (`again`: a
    second one) abandons them, and they rerun next time."""
    global _pool
    if not _pending:
        return
    try:  # the second Ctrl-C may come as soon as this line is out
        print(
            f"dlrun: finishing the plots of {len(_pending)} job(s) whose training had ended "
            f"(Ctrl-C{' again' if again else ''} to leave them for the next run)",
            file=sys.stderr,
            flush=True,
        )
        wait_all()
    except (KeyboardInterrupt, Interrupted):  # a second Ctrl-C (or SIGTERM): stop now
        abandoned = list(_pending)
        _pending.clear()
        workers = list(getattr(_pool, "_processes", {}).values())
        for proc in workers:
            proc.terminate()
        for proc in workers:  # gone before their jobs' files are marked below
            proc.join(timeout=5)
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
        _end_abandoned(abandoned)


def _end_abandoned(abandoned: list) -> None:
    """The jobs left without plots say `interrupted` (a rerun draws them) and their then() runs,
    so the loggers' runs end as stopped rather than stay open; a further Ctrl-C skips the rest."""
    from runner.runfolder import finished

    try:
        for run_dir, _label, _future, then in abandoned:
            if finished(run_dir) is None:  # a worker may have written DONE before it was stopped
                set_status(run_dir, "interrupted")
            _then(then)
    except (KeyboardInterrupt, Interrupted):
        pass
