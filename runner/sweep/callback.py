"""The Hydra callback that ends every multirun: summary.csv, the report and its plots at the
sweep root, a short table on the console, and the outcome for dlrun's exit code.

Configured in conf/config.yaml under hydra.callbacks; it runs in the launching process
whichever launcher ran the jobs."""

from __future__ import annotations

import os
from pathlib import Path

from hydra.experimental.callback import Callback

from runner.formatting import count, lead_metric, spread, spread_number
from runner.say import say


class SweepReport(Callback):
    def on_multirun_start(self, config, **kwargs) -> None:
        """Before any job: refuse a config error every job would hit, hold the sweep folder,
        refuse one made by another command, and (jobs in processes of their own here: joblib's
        workers, submitit_local's) have a stop signal reach the jobs running there
        (runner.sweep.workers)."""
        from omegaconf import OmegaConf

        from runner import runfolder, signals
        from runner.errors import Refused, UserError
        from runner.files import atomic_write_text
        from runner.sweep import preflight, workers

        sweep_dir = Path(runfolder.home_folder(config, "sweep"))
        pin_sweep_dir(config, sweep_dir)
        try:
            preflight.check_launcher(config)
            preflight.check_plugin_settings(config)
            preflight.check_search_space(config)
            preflight.check_storage(config)
            preflight.check_swept_presets(config)
            name_swept_presets(config)
            preflight.check(config)
            seed_search_sampler(config)
            route_optuna_log(config)
            check_search_direction(config)
            runfolder.note_folder(sweep_dir)  # Hydra makes it after this callback
            runfolder.lock(sweep_dir, "hydra.sweep.dir", kind="sweep")
            runfolder.guard_sweep(sweep_dir, config.hydra.overrides.task, config.data_dir, config.hydra)
            runfolder.refuse_running_jobs(sweep_dir)
            runfolder.remove_litter(sweep_dir)
            workers.clear(sweep_dir)  # a killed sweep's record of its workers, and its stop
            # Hydra's record of the sweep, now: the basic sweeper writes it again itself, Optuna's
            # never does, and without it a stopped search's folder was no sweep to re-render
            atomic_write_text(sweep_dir / "multirun.yaml", OmegaConf.to_yaml(config))
        except UserError as ex:  # Hydra only warns about a callback's Exception
            raise Refused(ex) from None
        from runner.config.checks import silent_verbose, unused_folder

        for line in unused_folder(config.hydra, multirun=True) + silent_verbose(config.hydra):
            say(f"note: {line}")
        from runner.sweep.grid import search_trials, uses_grid_sampler

        if uses_grid_sampler(config) and (trials := search_trials(config)) < config.hydra.sweeper.n_trials:
            say(f"note: hydra/sweeper/sampler=grid: the grid holds {trials} points, so the search runs {trials} trials, "
                f"not hydra.sweeper.n_trials={config.hydra.sweeper.n_trials}")  # fmt: skip
        seed_grid_draws(config, "start")
        launcher = str(config.hydra.launcher.get("_target_", ""))
        if "joblib" in launcher:
            workers.fit_pool(config)  # the launcher is made from this config after the callback
            # loky's resource tracker, started after this, warns of its semaphores when a signal ends
            # the sweep: lines on stderr after dlrun's one line (PYTHONWARNINGS reaches that process)
            quiet = "ignore:resource_tracker:UserWarning"
            os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), quiet]))
        apart = workers.local_processes(launcher)  # jobs in processes of their own here: a stop reaches them
        signals.install(stop_workers=(lambda signum: workers.stop(sweep_dir, signum)) if apart else None)
        signals.mark_parent()
        from runner.sweep import state

        state.running, state.running_config = sweep_dir, config

    def on_job_end(self, config, job_return, **kwargs) -> None:
        seed_grid_draws(config, "after job")  # a single run's end too: it has no grid sampler

    def on_multirun_end(self, config, **kwargs) -> None:
        """The sweep's report; a stop while it is drawn is dlrun's to handle (sweep_stopped)."""
        from runner.sweep import state

        self._end(config)
        state.running = state.running_config = None

    def _end(self, config) -> None:
        from runner import runfolder
        from runner.report import finish
        from runner.report.sweep_report import render_sweep
        from runner.sweep import state, workers

        sweep_dir = Path(config.hydra.sweep.dir)
        workers.clear(sweep_dir)
        finish.wait_all()  # jobs whose plots are still being rendered; failures land in their files
        if not sweep_dir.is_dir():
            return
        try:
            result = render_sweep(sweep_dir)
        except Exception as ex:  # noqa: BLE001 - Hydra would only warn; say it and fail the exit code
            say(f"dlrun: the sweep report could not be rendered: {type(ex).__name__}: {ex} "
                f"(re-render with: make report DIR={sweep_dir})")  # fmt: skip
            state.outcomes.append({"unfinished": 1})
            return
        state.outcomes.append(result["counts"])
        print_outcome(result)
        from runner.loggers import Loggers

        Loggers(config, "sweep: ").sweep_end(sweep_dir, result["counts"])
        runfolder.unlock(sweep_dir)


def seed_search_sampler(config) -> None:
    """A search resumes by proposing its trials again, each finding its folder and, if finished,
    reading its objective back, so its sampler must draw the same values each time. Optuna's
    samplers are unseeded by default: a search killed after 2 of 4 trials and run again drew 4
    new values and left 7 job folders, two with the number 0. An unset seed takes dlrun's `seed`
    (the sweeper is built from this config after the callback returns)."""
    from omegaconf import DictConfig, open_dict, read_write

    sampler = config.hydra.sweeper.get("sampler")
    if isinstance(sampler, DictConfig) and "seed" in sampler and sampler.seed is None:
        with read_write(config.hydra), open_dict(config.hydra):
            sampler.seed = int(config.seed)


def seed_grid_draws(config, where: str) -> None:
    """Optuna 2's grid sampler has no seed to set: it takes each trial's point at random from those
    not visited yet, with Python's own `random`, so a search run again proposed its points in
    another order and ran them again in new folders under the same numbers. Seeded here by dlrun's
    seed at the sweep's start and after each job (the batch's last one comes before the next
    batch's draws), the order is the same whether a job ran, which reseeds `random` with its own
    seed, or was skipped as finished, which does not; jobs run elsewhere (joblib, submitit) leave
    the sweep's `random` to the draws alone."""
    from runner.sweep.grid import uses_grid_sampler

    if uses_grid_sampler(config):
        import random

        from omegaconf import OmegaConf

        num = OmegaConf.select(config, "hydra.job.num", default=None, throw_on_missing=False)
        random.seed(f"dlrun grid sampler, seed {config.seed}, {where} {num}")


def route_optuna_log(config) -> None:
    """Optuna writes its log to stderr through a handler of its own, in colour whatever stderr is
    (escape codes in a redirected log, and a line before the one a stop ends with). Its records
    go where Hydra's sweeper log goes: with dlrun's hydra/hydra_logging=none, warnings only."""
    if "optuna" not in str(config.hydra.sweeper.get("_target_", "")).lower():
        return
    import optuna

    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()


def check_search_direction(config) -> None:
    """A sweeper that optimizes (Optuna's has a `direction`, minimize by default) must go the
    way optimized_metric improves: minimizing best_val_acc would search for the worst model
    while the report, which follows the metric, calls the best trial best."""
    from runner.config.checks import require
    from runner.registry.data import check_watched_columns
    from runner.sweep import objective

    got = config.hydra.sweeper.get("direction")
    if got is None:
        return
    got = getattr(got, "name", got)  # the plugin's default is its Direction enum
    metric = config.get("optimized_metric")
    sweeper = str(config.hydra.sweeper._target_).rsplit(".", 1)[-1]
    require(metric is not None, "optimized_metric",
            f"the value the trials return to the sweeper ({sweeper} optimizes one), e.g. best_val_acc", metric)  # fmt: skip
    objective.check(config)  # a name it can read a direction from
    check_watched_columns(config)  # a value the trials measure, else each would score the worst
    want = objective.direction(metric)
    require(str(got) == want, "hydra.sweeper.direction",
            f"{want} for optimized_metric={metric} (set hydra.sweeper.direction={want}, "
            "or ${dlrun.direction:${optimized_metric}} in a preset)", got)  # fmt: skip


def sweep_stopped() -> None:
    """A stop signal ended the multirun under way in this process, wherever it came (a job,
    between jobs, the report): the loggers' sweep run ends as stopped (MLflow: KILLED); running
    the command again reopens it. A Ctrl-C during this is taken after it; one more skips it."""
    import contextlib

    from runner import signals
    from runner.loggers import Loggers
    from runner.sweep import state, workers

    if state.running is None:
        return
    workers.clear(state.running)
    with signals.deferred(), contextlib.suppress(KeyboardInterrupt):
        Loggers(state.running_config, "sweep: ").sweep_stopped(state.running)


def print_outcome(result: dict) -> None:
    rows, swept = result["rows"], result["swept"]
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result["counts"].items()))
    from runner.sweep.grid import NOT_STARTED

    done = not {"unfinished", NOT_STARTED} & set(result["counts"])  # else a stopped sweep's, re-rendered
    state = "finished" if done else "not finished" if not result.get("running") else "still running"
    say(f"\nsweep {state}: {count(len(rows), 'job')} ({counts})")
    split, kind = lead_metric(lambda col: any(r.get(col) is not None for r in rows))
    from runner.report.sweep_tables import value_label  # a drawn 0.0014527880705746021 as 0.001453, as in the report

    values = [", ".join(f"{k}={value_label(r[k])}" for k in swept if r.get(k) not in ("", None)) for r in rows]
    width = max(map(len, values), default=0)  # the metric in one column
    status_width = max([10, *(len(r["status"]) for r in rows)])
    search = result.get("search")
    for r, value in zip(rows, values):
        shown = _figure(r, split, kind, search)
        say(f"  job {r['job']:>3}  {r['status']:<{status_width}} {value:<{width}}{shown}".rstrip())
    if search:
        say(f"best: {search['best'] or 'no trial gave a finite objective'}")
    for note in result.get("notes", ()):
        say(f"note: {note}")
    say(f"summary: {result['summary']}\nreport:  {result['report']}")


ERROR_SHOWN = 200  # characters of a failed job's error line on its closing line; summary.csv has all of it


def _figure(r: dict, split: str, kind: str, search: dict | None) -> str:
    """The figure a job's closing line ends with: its lead metric (± the spread over its replicas),
    a gradient check's largest error, or a search trial's objective; then why it failed, if it did."""
    figure = _metric(r, split, kind, search)
    if figure and r.get("status") == "unfinished" and r.get("epochs_run"):  # a stopped job's, so far
        figure += f" (stopped after epoch {int(r['epochs_run'])})"
    if r.get("status") in ("failed", "unfinished") and r.get("error"):  # why, without opening summary.csv
        line = str(r["error"])
        figure += f"  {line if len(line) <= ERROR_SHOWN else line[: ERROR_SHOWN - 4] + ' ...'}"
    return figure


def _metric(r: dict, split: str, kind: str, search: dict | None) -> str:
    if search:  # a search's trials are read by what they returned to the sweeper
        from runner.report.search import shown_objective

        return f"  {search['metric']} {shown_objective(search['metric'], r.get('objective'))}"
    v, error = r.get(f"final_{split}_{kind}"), r.get("gradcheck_max_rel_error")
    sd = None if r.get(f"final_{split}_{kind}_std") == "" else r.get(f"final_{split}_{kind}_std")
    if v is None:  # a gradient check trains nothing: its verdict's figure
        return "" if error in (None, "") else f"  max rel. error {float(error):.3g}"
    if kind == "acc":
        return f"  {split}_{kind} {spread(v, sd)}"
    return f"  {split}_{kind} {spread_number(v, sd)}"


def name_swept_presets(config) -> None:
    """A preset group the command line sweeps (-m experiment=function_fit,grad_norm) names its
    jobs' folders: presets name none (every job of `dlrun experiment=X` has it), which left these
    told apart by their number alone. Made one of the overrides every job is composed with, as
    the sweep's folder is (pin_sweep_dir)."""
    from omegaconf import open_dict, read_write

    from runner.sweep.preflight import swept_presets

    swept = [group for group, options in swept_presets(config).items() if len(options) > 1]
    if not swept:
        return
    keys = list(config.hydra.job.config.override_dirname.exclude_keys)
    kept = [k for k in keys if k not in swept]
    if kept != keys:
        with read_write(config.hydra.overrides), open_dict(config.hydra.overrides):
            config.hydra.overrides.hydra.append(f"hydra.job.config.override_dirname.exclude_keys=[{','.join(kept)}]")


def pin_sweep_dir(config, sweep_dir: Path) -> None:
    """Every job's folder under the sweep's own: Hydra composes each job with the sweep's Hydra
    overrides and its own values, and resolves hydra.sweep.dir again from them, so a folder named
    by a swept key (`sweep.name`, <dataset>-<model>, with -m model=mlp,cnn) put the cnn job under
    outputs/sweeps/<dataset>-cnn/ while the sweep, under <dataset>-mlp/, counted it not started.
    The sweep's folder, as resolved here, becomes one of those overrides."""
    from omegaconf import open_dict, read_write

    from runner.config.overrides import quoted

    with read_write(config.hydra.overrides), open_dict(config.hydra.overrides):
        config.hydra.overrides.hydra.append(f"hydra.sweep.dir={quoted(str(sweep_dir))}")
