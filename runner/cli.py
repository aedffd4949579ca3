"""The `dlrun` entry point: compose the Hydra config, validate it, dispatch the task.

    dlrun dataset=gurmukhi model=mlp activation=tanh trainer.epochs=5

Only Hydra and OmegaConf are imported at module level, so `dlrun --help` and tab completion
stay fast; torch, torchvision and matplotlib are imported inside the task.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from runner import signals
from runner.config.compose import conf_dir
from runner.config.schema import register
from runner.errors import CheckFailed, Refused, disk_full
from runner.messages import describe_error


def version_line() -> str:
    """`dlrun --version`: dlrun's version with the versions of what it runs on."""
    from importlib.metadata import PackageNotFoundError, version

    from runner import __version__

    def of(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "not installed"

    return f"dlrun {__version__} (torch {of('torch')}, hydra-core {of('hydra-core')}, Python {sys.version.split()[0]})"


def _nothing_ran(job_dir: Path) -> bool:
    """The folder holds nothing but Hydra's record, the lock and the job's log (or nothing at all)."""
    from runner.runfolder import kept

    return job_dir.is_dir() and all(p.name in kept(job_dir) for p in job_dir.iterdir())


# Errors raised inside a single run's task are kept here rather than raised through Hydra,
# which would log a line of its own before ours.
_user_errors: list = []
_diverged: list = []  # a single run whose loss became NaN or inf: its folder (exit code 3, as in a sweep)


def _task(cfg: DictConfig):
    from runner.say import tolerate_console_encoding

    tolerate_console_encoding()  # again: a joblib or submitit worker has consoles of its own
    hc = HydraConfig.get()
    job_dir = Path(hc.runtime.output_dir)
    if hc.mode == RunMode.MULTIRUN:
        from runner.sweep.job import run_job

        return run_job(cfg, job_dir, hc)
    from runner import runfolder, signals

    try:
        runfolder.lock(job_dir, "hydra.run.dir", kind=cfg.task)
        runfolder.refuse_finished(job_dir)
        from runner.config.checks import silent_verbose, unswept, unused_folder, unused_sweep_settings
        from runner.config.provenance import naming_files
        from runner.config.validate import notes, prepare
        from runner.say import say

        with naming_files(hc.overrides.task):  # a value from a preset of one's own: the line names its file
            prepare(cfg)
        for line in (
            unused_folder(hc, multirun=False)
            + unused_sweep_settings(hc, cfg.task)
            + silent_verbose(hc)
            + unswept(hc)
            + notes(cfg, hc.overrides.task)
        ):
            say(f"note: {line}")
        runfolder.resumable(job_dir, cfg, header_only=True)  # another config's unfinished run keeps its record
        runfolder.write_hydra_record(job_dir, cfg, HydraConfig.instance().cfg, hc.overrides.task)
        from runner.tasks import dispatch

        result = dispatch(cfg, job_dir)
        if isinstance(result, dict) and result.get("status") == "diverged":
            _diverged.append(job_dir)
        return result
    except signals.Interrupted as ex:
        if _nothing_ran(job_dir):  # stopped before training began: nothing to resume
            runfolder.discard(job_dir, runfolder.kept(job_dir))
        elif runfolder.finished(job_dir) is not None:  # it came after DONE (as the loggers closed): nothing to resume
            ex.hint = f"it had finished: {job_dir} holds its results"
        else:
            ex.hint = _run_again(cfg, job_dir)
        raise
    except Exception as ex:  # noqa: BLE001 - reported by main(), after Hydra, in one line where it can be
        # Nothing useful ran: leave no directory behind that could pass for a result.
        if _nothing_ran(job_dir):
            runfolder.discard(job_dir, runfolder.kept(job_dir))
        elif disk_full(ex):  # what it trained up to its last checkpoint is kept
            ex.hint = f"the disk is full: free space, then {_run_again(cfg, job_dir)}"
        runfolder.unlock(job_dir)
        _user_errors.append(ex)
        return None


def _run_again(cfg, job_dir: Path) -> str:
    """How a stopped single run goes on: the same command into its folder, and what that does."""
    from runner.config.overrides import as_override
    from runner.registry.runs import TASKS

    task = TASKS.get(cfg.task)
    return f"run the same command with {as_override('hydra.run.dir', job_dir)} {task.resumes if task else 'to resume'}"


def _finish_pending_plots(ctrl_c: bool) -> None:
    """ctrl_c: what stopped the sweep was one, so another is the way to leave the plots."""
    finishing = sys.modules.get("runner.report.finish")  # loaded only by sweeps that render in workers
    if finishing is not None:
        finishing.after_interrupt(again=ctrl_c)


def _sweep_stopped() -> None:
    callback = sys.modules.get("runner.sweep.callback")  # loaded only by a multirun
    if callback is not None:
        callback.sweep_stopped()


def main() -> None:
    debug = os.environ.get("HYDRA_FULL_ERROR") == "1" or bool(os.environ.get("DLRUN_DEBUG"))
    # Hydra prints its own multi-line reports unless told to raise; we raise and print one line.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    from runner.say import tolerate_console_encoding

    tolerate_console_encoding()
    if "--version" in sys.argv[1:]:  # Hydra would print its own version
        print(version_line())
        sys.exit(0)
    # Hydra users add a key with `+tags=[...]`; dlrun's schema has `tags`, where `+` would be refused
    sys.argv[1:] = [a[1:] if a.startswith("+tags=") else a for a in sys.argv[1:]]
    from runner.config.overrides import config_path_from_here, flags_first

    sys.argv[1:] = flags_first(sys.argv[1:])  # `dlrun dataset=mnist -m activation=relu,tanh`
    sys.argv[1:] = config_path_from_here(sys.argv[1:])
    register()
    signals.install()
    try:
        from runner.config.overrides import check_command_line

        sys.argv[1:] = check_command_line(sys.argv[1:])  # trainer.epochs=1e3 as 1000
        if {"-sc", "--shell-completion", "-h", "--help"} & set(sys.argv[1:]):
            from runner.config.compose import offer_nested_options

            offer_nested_options()  # experiment=reproduce/r2
        app = hydra.main(version_base=None, config_path=str(conf_dir()), config_name="config")(_task)
        app()
        if _user_errors:
            raise _user_errors[-1]
    except signals.Interrupted as ex:
        from runner.sweep import state

        hint = getattr(ex, "hint", "") or state.resume_hint(state.running)
        print(f"dlrun: {ex.describe()}" + (f"; {hint}" if hint else ""), file=sys.stderr, flush=True)
        _finish_pending_plots(ctrl_c=ex.signum == signal.SIGINT)
        _sweep_stopped()
        sys.exit(ex.exit_code)
    except Refused as ex:
        print(f"dlrun: error: {ex}", file=sys.stderr)
        _finish_pending_plots(ctrl_c=False)  # a sweep a full disk stopped: its loggers' run ends as stopped
        _sweep_stopped()
        sys.exit(2)
    except KeyboardInterrupt:
        print("dlrun: interrupted", file=sys.stderr)
        _finish_pending_plots(ctrl_c=True)
        _sweep_stopped()
        sys.exit(130)
    except CheckFailed as ex:
        print(f"dlrun: {ex}", file=sys.stderr)
        sys.exit(1)
    except Exception as ex:  # noqa: BLE001 - every failure is reported, unknown ones with a traceback
        if isinstance(ex, BrokenPipeError) and signals.gone(sys.stdout):
            signals.silence(sys.stdout)  # Hydra's print of `dlrun --help | head`: the reader has what it wanted
            sys.exit(128 + signal.SIGPIPE)
        from runner import runfolder
        from runner.sweep import state, workers

        died = workers.died(ex, state.running) if state.running is not None else None
        if died:  # the jobs go on from their last checkpoints when the sweep runs again
            print(f"dlrun: error: {died}", file=sys.stderr)
            _sweep_stopped()
            sys.exit(1)
        if state.running is not None:  # a multirun this process holds ended in an error
            runfolder.discard_unstarted_sweep(state.running)
        else:
            runfolder.discard_unstarted_run()
        line = describe_error(ex, sys.argv[1:])
        if line is None or debug:
            raise
        hint = getattr(ex, "hint", "")
        if not hint and state.running is not None and Path(state.running).is_dir() and disk_full(ex):
            hint = f"the disk is full: free space, then {state.resume_hint(state.running)}"
        print(f"dlrun: error: {line}" + (f"; {hint}" if hint else ""), file=sys.stderr)
        sys.exit(2)
    from runner.sweep import state

    code = state.exit_code()
    if code:
        print(f"dlrun: {state.explain(code)}", file=sys.stderr)
    elif _diverged:
        code = 3
        print(f"dlrun: the run diverged: its loss became NaN or inf (exit code 3); see {_diverged[-1] / 'summary.json'}",
              file=sys.stderr)  # fmt: skip
    sys.exit(code)


if __name__ == "__main__":
    main()
