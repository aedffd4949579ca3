"""Before a sweep's first job: refuse a config error that every job would hit, in one line and
before any folder is made, as a single run's is refused.

Hydra checks types when it composes the jobs; dlrun's range and choice checks
(runner.config.validate) run in each job, so `dlrun experiment=X trainer.epochs=-1` would fail
every job and leave a sweep folder of failures. The first and the last job of a grid differ in
every swept key: an error of the first that the last has too, word for word, does not come from
the sweep. An error of some jobs only (model=cnn with dataset=function in a sweep over model)
stays those jobs' failure.
"""

from __future__ import annotations

import contextlib

from runner.sweep.grid import sweep_lines, uses_grid_sampler


def first_and_last_job(config) -> tuple[list[str], list[str]]:
    """The overrides of the grid's first and last job: the sweeper's params, then the command
    line (which wins for the same key, as in Hydra's basic sweeper). A key searched over an
    interval or a glob keeps the preset's value: the search draws it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    values: dict[str, list[str]] = {}
    for override in OverridesParser.create().parse_overrides(sweep_lines(config)):
        key = override.get_key_element()
        if override.is_hydra_override():
            continue
        if not override.is_sweep_override():
            values[key] = [override.get_value_element_as_str()]
        elif override.is_choice_sweep() or override.is_range_sweep():
            values[key] = list(override.sweep_string_iterator())
        else:
            values.pop(key, None)
    return [f"{k}={v[0]}" for k, v in values.items()], [f"{k}={v[-1]}" for k, v in values.items()]


def _problems(overrides: list[str], here: bool) -> list[str]:
    """Every check's error for this job's config (runner.config.validate.problems); none when it
    cannot be composed here (Hydra says why itself when it composes the jobs). `here`: the jobs
    run on this machine; else what only this machine lacks is theirs to find (an environment
    variable a SLURM node sets, a data_dir on the nodes' own disks)."""
    from hydra import compose

    from runner.config.validate import problems

    try:
        cfg = compose(config_name="config", overrides=overrides)
    except Exception:  # noqa: BLE001 - Hydra's own composition of the jobs reports it
        return []
    found = [str(ex) for ex in problems(cfg, overrides) if here or getattr(ex, "variable", None) is None]
    return found or (missing_data(cfg) if here else [])


# the launchers whose jobs run on this machine, in this environment (plus hydra.job.env_set)
_LOCAL_LAUNCHERS = ("BasicLauncher", "JoblibLauncher", "LocalLauncher")


def _jobs_run_here(config) -> bool:
    target = str(config.hydra.launcher.get("_target_", ""))
    return target.rsplit(".", 1)[-1] in _LOCAL_LAUNCHERS


def missing_data(cfg) -> list[str]:
    """The error the job would stop with for want of its dataset's files (a wrong data_dir failed
    every job of a sweep alike, each in its own folder), looked for without reading or downloading."""
    from pathlib import Path

    from runner.data.sources import load_raw
    from runner.errors import UserError
    from runner.registry.runs import TASKS

    task = TASKS.get(cfg.task)
    if task is None or task.data_from_saved_run or not task.reads_configured_data:
        return []
    try:
        load_raw(cfg.dataset, Path(cfg.data_dir), 0, read=False)  # a look reads no seed (seed=${hydra:job.num})
    except UserError as ex:
        return [str(ex)]
    except Exception:  # noqa: BLE001 - a value only a job can resolve: the job looks for itself
        return []
    return []


def check(config) -> None:
    """Raise a UserError when the first error of the sweep's first job is one of its last job's."""
    from runner.errors import UserError

    try:
        first, last = first_and_last_job(config)
    except Exception:  # noqa: BLE001 - a bad sweep value (sweep.max_depth=0): the sweeper says so in one line
        return
    here = _jobs_run_here(config)
    with _job_environment(config):
        found = _problems(first, here)
        if found and (last == first or found[0] in _problems(last, here)):
            raise UserError(f"{found[0]} (every job of this sweep)")


@contextlib.contextmanager
def _job_environment(config):
    """The environment variables Hydra sets in each job (hydra.job.env_set), set while the jobs'
    configs are checked: `${oc.env:X}` with +hydra.job.env_set.X=1 resolves in every job."""
    import os

    from omegaconf import OmegaConf

    try:
        wanted = OmegaConf.to_container(config.hydra.job.env_set, resolve=True) or {}
    except Exception:  # noqa: BLE001 - a value only a job can resolve: its job says so itself
        wanted = {}
    before = {k: os.environ.get(k) for k in wanted}
    os.environ.update({str(k): str(v) for k, v in wanted.items()})
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_launcher(config) -> None:
    """Raise a UserError for hydra/launcher=submitit_slurm where SLURM is not (no srun): submitit
    raised its RuntimeError's traceback once the sweep had begun."""
    import shutil

    from runner.errors import UserError

    if str(config.hydra.launcher.get("_target_", "")).endswith("SlurmLauncher") and shutil.which("srun") is None:
        raise UserError(
            "hydra/launcher=submitit_slurm: this machine has no SLURM (no srun on the PATH); run the command on a "
            "SLURM login node, or try the same path here with hydra/launcher=submitit_local"
        )


def swept_presets(config) -> dict:
    """{group: [option, ...]} for each preset group the command line sweeps (`-m
    experiment=function_fit,grad_norm`, `sweep=glob(*)`: Hydra's way to run several experiments)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob

    from runner.config.compose import group_options, is_preset_group
    from runner.config.overrides import typed_overrides

    swept = {}
    for override in OverridesParser.create().parse_overrides(typed_overrides(config.hydra.overrides.task)):
        group = override.get_key_element()
        if not override.is_sweep_override() or override.is_hydra_override() or not is_preset_group(group):
            continue
        if isinstance(override.value(), Glob):  # the group's options it matches
            swept[group] = override.value().filter(group_options(group))
        elif override.is_discrete_sweep():
            swept[group] = list(override.sweep_string_iterator())
    return swept


def check_swept_presets(config) -> None:
    """Raise a UserError for a sweep over presets that are sweeps themselves (`-m
    experiment=cnn_activations_cifar10,regularization_gurmukhi`): Hydra reads a preset's
    hydra.sweeper settings only where it composes the sweep, not in a job, so each job trained
    one config of its preset (relu only, of relu, sigmoid, tanh) and the sweep ended `ok`.
    Presets that are single runs (function_fit, grad_norm) sweep well."""
    from hydra import compose

    from runner.config.overrides import typed_overrides
    from runner.errors import UserError

    lines = {o.split("=", 1)[0].lstrip("+~"): o for o in typed_overrides(config.hydra.overrides.task)}
    for group, options in swept_presets(config).items():
        sweeps = {}
        for option in options:
            try:
                composed = compose(config_name="config", overrides=[f"{group}={option}"], return_hydra_config=True)
            except Exception:  # noqa: BLE001 - an option that does not compose: Hydra says why in its job
                continue
            sweeper = composed.hydra.sweeper
            params = dict(sweeper.get("params") or {})
            if params or not str(sweeper.get("_target_", "")).endswith("BasicSweeper"):
                sweeps[option] = ", ".join(f"{k}: {v}" for k, v in params.items()) or sweeper._target_
        if sweeps:
            (first, what), more = next(iter(sweeps.items())), len(sweeps) - 1
            others = f", as {'is' if more == 1 else 'are'} {more} more of those swept" if more else ""
            raise UserError(
                f"{lines.get(group, group)}: {group}={first} is a sweep of its own (over {what}){others}; Hydra does "
                f"not nest sweeps, so each job would train one config of its preset: run each by itself, dlrun "
                f"{group}={first}"
            )


# Counts the sweeper and launcher plugins take without checking them, each of which crashed with
# a traceback: Optuna's n_trials=0 (no best trial), its n_jobs=0 or below (a division by zero),
# the basic sweeper's max_batch_size=0 (an assertion), joblib's n_jobs=0. Checked where the
# plugin in use has the key.
PLUGIN_COUNTS = {
    "hydra.sweeper.n_trials": ("an integer >= 1 (the trials of the search)", lambda n: n >= 1),
    "hydra.sweeper.n_jobs": ("an integer >= 1 (the trials proposed at once)", lambda n: n >= 1),
    "hydra.sweeper.max_batch_size": ("null (all jobs at once) or an integer >= 1", lambda n: n is None or n >= 1),
    "hydra.launcher.n_jobs": ("an integer other than 0 (jobs side by side; -1: one per CPU core)", lambda n: n != 0),
}


def check_plugin_settings(config) -> None:
    """Raise a ConfigError for a PLUGIN_COUNTS key the configured sweeper or launcher has, set out of range."""
    from omegaconf import OmegaConf

    from runner.config.checks import require

    for key, (expected, ok) in PLUGIN_COUNTS.items():
        section, name = key.rsplit(".", 1)
        node = OmegaConf.select(config, section)
        if node is None or name not in node:
            continue
        value = node[name]
        valid = (value is None or isinstance(value, int)) and not isinstance(value, bool) and ok(value)
        require(valid, key, expected, value)


def check_search_space(config) -> None:
    """Raise a UserError for a swept value the sweeper in use cannot draw from: a range with a step
    of 0 or no values, an interval whose low is above its high, a log interval from 0 or below, an
    interval for the grid sweeper. Each of these was a ValueError's traceback from Hydra's basic
    sweeper or from Optuna, raised after the sweep's folder was made."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from runner.errors import UserError

    target = str(config.hydra.sweeper.get("_target_", ""))
    grid, optuna = target.endswith("BasicSweeper"), "optuna" in target.lower()
    if not (grid or optuna):
        return  # another sweeper's rules are its own
    try:
        overrides = OverridesParser.create().parse_overrides(sweep_lines(config))
    except Exception:  # noqa: BLE001 - a line Hydra cannot parse: it says so itself
        return
    for o in overrides:
        if not o.is_sweep_override() or o.is_hydra_override():
            continue
        line, value = o.input_line or f"{o.get_key_element()}={o.get_value_element_as_str()}", o.value()
        if o.is_interval_sweep():
            if grid:
                raise UserError(f"{line}: an interval is drawn from by a search (hydra/sweeper=optuna, or "
                                "hparams_search=...); a grid sweep takes values (a,b,c) or range(start,stop,step)")  # fmt: skip
            if uses_grid_sampler(config):
                raise UserError(f"{line}: Optuna's grid sampler (hydra/sweeper/sampler=grid) walks values, and an "
                                "interval has none; give choice(a,b,c) or range(start,stop,step), or use another sampler")  # fmt: skip
            if value.start > value.end:
                raise UserError(
                    f"{line}: expected interval(low, high) with low <= high, got {value.start} > {value.end}"
                )
            if "log" in value.tags and value.start <= 0:
                raise UserError(f"{line}: a log interval needs low > 0, got {value.start}")
        elif o.is_range_sweep():
            step = 1 if value.step is None else value.step
            if step == 0:
                raise UserError(f"{line}: the step of a range is 0; expected range(start, stop[, step]) with a step other "
                                "than 0")  # fmt: skip
            listed = grid or value.shuffle  # Optuna draws a shuffled range's values as choices
            if listed and not list(o.sweep_iterator()):
                raise UserError(f"{line}: the range holds no values (it counts from start by step and stops before "
                                "stop); expected e.g. range(1,5) for 1, 2, 3, 4")  # fmt: skip
            if not listed and (step < 0 or value.start > value.stop):
                raise UserError(f"{line}: Optuna draws from range(low, high[, step]) with low <= high and a step > 0 "
                                f"(high included), got range({value.start}, {value.stop}, {step})")  # fmt: skip


STORAGE_HINT = "leave hydra.sweeper.storage unset: the sweep folder keeps the search, and the same command resumes it"


def check_storage(config) -> None:
    """Raise a UserError for an Optuna hydra.sweeper.storage the sweeper cannot open: a text that is
    no database URL, a database Optuna cannot reach (no driver, no folder), or an Optuna that cannot
    keep a study in any database with the SQLAlchemy installed. Each raised a traceback from
    optuna.create_study. Optuna 2 (all hydra-optuna-sweeper takes) stamps a new database's schema
    version on a connection that SQLAlchemy 2 never commits, then asserts that the version is there;
    a database in a temporary folder shows whether this install has that fault, leaving nothing."""
    from runner.errors import UserError

    storage = config.hydra.sweeper.get("storage")
    if storage is None or "optuna" not in str(config.hydra.sweeper.get("_target_", "")).lower():
        return
    import tempfile

    import optuna
    import sqlalchemy
    from sqlalchemy.engine import make_url

    url = str(storage)
    key = f"hydra.sweeper.storage={url}"
    try:
        make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise UserError(f"{key}: not a database URL; expected e.g. sqlite:///optuna.db, or {STORAGE_HINT}") from None
    with tempfile.TemporaryDirectory() as scratch:
        try:
            optuna.storages.RDBStorage(f"sqlite:///{scratch}/probe.db")
        except Exception as ex:  # noqa: BLE001 - any fault here is the install's, whatever its type
            raise UserError(
                f"{key}: Optuna {optuna.__version__} cannot keep a study in a database with SQLAlchemy "
                f"{sqlalchemy.__version__} ({_cause(ex) or 'its schema version is never written'}); {STORAGE_HINT}"
            ) from None
    try:
        optuna.storages.get_storage(url)  # what the sweeper's create_study opens next
    except Exception as ex:  # noqa: BLE001 - a driver's, a server's or a file's error, each its own type
        raise UserError(f"{key}: Optuna cannot open it ({_cause(ex)}); {STORAGE_HINT}") from None


def _cause(ex: BaseException) -> str:
    """An error's first line without SQLAlchemy's pointer to its web page."""
    text = str(ex).split("(Background on this error", 1)[0]
    return " ".join(text.split())[:300]
