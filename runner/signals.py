"""Stopping cleanly: SIGTERM (what SLURM and most schedulers send at a time limit), SIGINT
(Ctrl-C) and SIGHUP (its terminal closed, an ssh session dropped; not under `nohup`) end a run
with a checkpoint, `interrupted` in summary.json, one line, and exit code 143, 130 or 129. So
does standard output closing under it (`dlrun ... | head`, a killed `tee`): the rest of the
output goes to /dev/null and the run stops as for SIGPIPE, exit code 141 (output_closed).

While a run trains (inside `deferred()`), the first signal only takes note; the training loop
looks at every step boundary (`check()`), saves a checkpoint there and raises Interrupted, so
the state saved is exactly the state of a step boundary and the run resumes from it. Outside
training, a signal raises Interrupted at once. A second Ctrl-C always stops at once; another
SIGTERM or SIGHUP does not cut short the checkpoint of a stop under way.

Under submitit (hydra/launcher=slurm or submitit_local), SIGUSR2 announces a time limit or a
preemption: dlrun saves its checkpoint the same way, then hands over to submitit's own handler,
which requeues the job; the requeued job resumes from the checkpoint.

A sweep whose jobs run in joblib's workers passes a stop on to the jobs running there and waits
for their checkpoints before it stops itself (runner.sweep.workers). A worker between two jobs
only takes note of a signal (`park()`): its next job does not begin.

Worker processes (joblib's, and the sweep's plot renderers) end themselves when the process that
started them is gone (`watch_parent`), so killing a sweep with -9 stops its workers too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

_pending: int | None = None  # the signal that asked to stop, not yet acted on
_defer = 0  # > 0 while a training loop will act on it at its next step boundary
_chained: dict = {}  # signal -> the handler that was there before ours (submitit's), run after the checkpoint
_stop_workers = None  # set in a sweep whose jobs run in joblib's workers: stops them, returns once they saved
_parked = False  # a joblib worker between jobs: a signal is only noted
_installed = False  # this process stops on signals (dlrun, a sweep's worker); `make report` does not


class Interrupted(BaseException):
    """A signal stopped the run; a BaseException, so failure isolation does not swallow it."""

    def __init__(self, signum: int, where: str = ""):
        self.signum, self.where = signum, where
        self.saved = None  # the checkpoint written on the way out, if any
        self.hint = ""  # how to resume, added by whoever knows the folder
        super().__init__(signal.Signals(signum).name)

    def __reduce__(self):
        # a worker's stop travels back to the sweep's process pickled; the default rebuilt
        # it from its message (Interrupted("SIGTERM")), which failed there, a traceback for one line
        return type(self), (self.signum, self.where), {"saved": self.saved, "hint": self.hint}

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def describe(self) -> str:
        name = signal.Signals(self.signum).name
        text = f"stopped by {name}" + (f" ({_CAUSES[self.signum]})" if self.signum in _CAUSES else "")
        if self.where:  # "at epoch 3, step 5 of 10", "before epoch 3"
            text += f" {self.where}" if self.where.startswith(("before ", "once ", "after ")) else f" at {self.where}"
        return text + (f"; checkpoint saved: {self.saved}" if self.saved else "")


# what a stop that no one typed means, for its one line
_SIGPIPE, _SIGHUP = getattr(signal, "SIGPIPE", None), getattr(signal, "SIGHUP", None)  # POSIX only
_CAUSES = {_SIGPIPE: "its standard output was closed", _SIGHUP: "its terminal was closed"}


def _handler(signum: int, frame) -> None:
    global _pending
    first = _pending is None
    if first:
        _pending = signum
    if signum == _SIGHUP:
        hung_up()
    if _parked:  # a joblib worker between jobs: nothing runs here to stop; its next job will not begin
        return
    if signum == signal.SIGINT and not first:
        raise KeyboardInterrupt  # a second Ctrl-C: stop now, without a checkpoint
    if _defer:
        return  # the training loop stops at its next step boundary and says so
    if _stop_workers is not None:  # a sweep's process, its jobs in workers
        waited = _stop_workers(signum) if first else ""  # returns once the jobs in the workers have saved
        raise Interrupted(_pending, waited)  # a signal while they save (nested in the wait) stops at once
    if first:  # another while a stop is under way does not cut its checkpoint short
        raise Interrupted(signum)


def install(stop_workers=None) -> None:
    """Take over SIGTERM and SIGINT, SIGHUP unless it is ignored (`nohup dlrun ...` asks to
    outlive the terminal), and SIGUSR2 when submitit handles it; main thread only.
    stop_workers(signum): in a sweep whose jobs run in other processes, passes a stop on to them
    and returns once they have saved, with what it waited for (runner.sweep.workers.stop); this
    process then stops."""
    global _stop_workers, _installed, _parked
    if threading.current_thread() is not threading.main_thread():
        return
    _stop_workers, _installed, _parked = stop_workers, True, False
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _handler)
    if _SIGHUP is not None and signal.getsignal(_SIGHUP) in (signal.SIG_DFL, _handler):
        signal.signal(_SIGHUP, _handler)
    usr2 = getattr(signal, "SIGUSR2", None)
    if usr2 is not None:
        previous = signal.getsignal(usr2)
        if callable(previous) and previous is not _handler:
            _chained[usr2] = previous
            signal.signal(usr2, _handler)


def silence(*streams) -> None:
    """Point these streams' file descriptors at /dev/null: their reader is gone, and what is
    still written (a progress bar's refresh, the closing line, Python's flush at exit) must not
    fail in its turn."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        for stream in streams:
            with contextlib.suppress(AttributeError, ValueError, OSError):
                os.dup2(null, stream.fileno())
    finally:
        os.close(null)


def hung_up() -> None:
    """The terminal hung up: every write to it would fail (EIO), so what went there goes to
    /dev/null. Not a reason to stop by itself: SIGHUP stops a run, and one that ignores SIGHUP
    (`nohup`, a `disown`ed job) was asked to outlive its terminal."""
    silence(*(f for f in (sys.stdout, sys.stderr) if gone(f)))


def output_closed() -> None:
    """Standard output's reader is gone (`dlrun ... | head`, a killed `tee`): the output goes to
    /dev/null from here, and dlrun stops as for SIGPIPE, in training at the next step boundary
    with a checkpoint, instead of dying in a BrokenPipeError and losing the epoch. A command that
    does not stop on signals (`make report ... | head -1`) finishes its work unheard."""
    silence(sys.stdout, *([sys.stderr] if gone(sys.stderr) else []))  # `2>&1 | head`: the closing line too
    if _installed and _pending is None and _SIGPIPE is not None:
        _handler(_SIGPIPE, None)


def stdout_lost() -> None:
    """Standard output was seen gone before a write (gone()): a closed pipe as output_closed, a
    hung-up terminal as hung_up."""
    import stat

    try:
        pipe = stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (AttributeError, ValueError, OSError):
        pipe = False
    if pipe:
        output_closed()
    else:
        hung_up()


def gone(stream) -> bool:
    """Whether nobody reads this stream any more: a pipe whose reader has closed it, or a
    terminal that hung up (poll says POLLERR for both)."""
    import select

    try:
        poll = select.poll()
        poll.register(stream.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (AttributeError, ValueError, OSError):
        return False


def park() -> None:
    """In a joblib worker whose job ended: until the next job, a signal is only noted (raised in
    the worker's wait for work, it broke joblib's pool), and the next job stops at its start."""
    global _parked
    _parked = True


def reset() -> None:
    """Forget a signal that was acted on (a sweep goes on only in tests)."""
    global _pending
    _pending = None


def pending() -> bool:
    return _pending is not None


def check(where: str = "") -> None:
    """Raise Interrupted if a signal asked to stop."""
    if _pending is not None:
        raise Interrupted(_pending, where)


@contextlib.contextmanager
def deferred():
    """Inside, a signal waits for the next check() instead of interrupting whatever runs."""
    global _defer
    _defer += 1
    try:
        yield
    finally:
        _defer -= 1


def hand_over(ex: Interrupted) -> None:
    """After the checkpoint: let the handler we displaced (submitit's requeue) act on the signal."""
    handler = _chained.get(ex.signum)
    if handler is not None:
        handler(ex.signum, None)


_parent: int | None = None  # set by watch_parent: the process that started this worker
PARENT_ENV = "DLRUN_PARENT_PID"


def mark_parent() -> None:
    """In the dlrun process: let the workers it starts know whom to watch."""
    os.environ[PARENT_ENV] = str(os.getpid())


def in_worker() -> bool:
    """This process is one the dlrun process started (a joblib worker), not dlrun itself (joblib
    with n_jobs=1 runs the jobs in the dlrun process)."""
    parent = os.environ.get(PARENT_ENV)
    return parent is not None and int(parent) != os.getpid()


def orphaned() -> bool:
    """In a watched worker: the process that started it is gone."""
    return _parent is not None and os.getppid() != _parent


def watch_parent(interval: float = 0.5, grace: float = 10.0, parent: int | None = None) -> None:
    """In a worker process: when the process that started it is gone (killed, even with -9),
    send ourselves SIGTERM, so a training job checkpoints (and its job then ends the worker,
    see runner.sweep.job) and a renderer or an image decoder stops; after `grace` seconds, end
    regardless. `parent`: the process to watch, where it is not the sweep's (see below)."""
    global _parent
    if _parent is not None:
        return
    # the dlrun process that started the sweep (set by the CLI, inherited by its workers): a
    # worker that starts after it died must not take its new parent for it
    _parent = parent or int(os.environ.get(PARENT_ENV) or os.getppid())

    def watch() -> None:
        import time

        while not orphaned():
            time.sleep(interval)
        if _parked:  # a joblib worker between jobs: nothing to save
            os._exit(143)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace)
        os._exit(143)

    threading.Thread(target=watch, name="dlrun-parent-watch", daemon=True).start()
