"""The jobs a grid sweep is made of, read from its config (before it starts) or its multirun.yaml
(after): the sweeper's params, then the command line's overrides, expanded as Hydra's basic
sweeper expands them. The preflight checks the grid's first and last job; the report names the
jobs that have no folder (a sweep stopped before they began, a folder deleted)."""

from __future__ import annotations

from pathlib import Path

NOT_STARTED = "not started"  # a planned job without a folder: the status summary.csv gives it


def sweep_lines(config) -> list[str]:
    """The sweeper's params as overrides, then the command line's."""
    params = config.hydra.sweeper.get("params") or {}
    from runner.config.overrides import typed_overrides

    return [f"{key}={value}" for key, value in params.items()] + typed_overrides(config.hydra.overrides.task)


def planned_jobs(sweep_dir: Path) -> list[dict] | None:
    """Each job's overrides as {key: value}, by job number, from the sweep's multirun.yaml (a
    search's trials: n_trials of them, each {}, their values drawn as it goes); None where the
    file does not say (another sweeper, a value that needs the running Hydra to read it)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from runner.config.resolvers import register_resolvers

    path = Path(sweep_dir) / "multirun.yaml"
    try:
        register_resolvers()  # the presets' ${dlrun.join:...} in the params
        config = OmegaConf.load(path)
        target = str(config.hydra.sweeper.get("_target_", ""))
        if "optuna" in target.lower():
            return [{} for _ in range(search_trials(config))]
        if not target.endswith("BasicSweeper"):
            return None
        overrides = OverridesParser.create().parse_overrides(sweep_lines(config))
        (jobs,) = BasicSweeper.split_arguments(overrides, None)
    except Exception:  # noqa: BLE001 - no multirun.yaml, or one this cannot expand: the folders alone tell
        return None
    return [_task_overrides(job) for job in jobs]


def jobs_at_once(config) -> int | None:
    """How many jobs the sweeper hands the launcher at once (the grid's batch, a search's n_jobs), or
    None where this cannot tell (another sweeper, a line Hydra will refuse itself)."""
    sweeper = config.hydra.sweeper
    target = str(sweeper.get("_target_", ""))
    try:
        if "optuna" in target.lower():
            return min(int(sweeper.n_jobs), search_trials(config))
        if not target.endswith("BasicSweeper"):
            return None
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        overrides = OverridesParser.create().parse_overrides(sweep_lines(config))
        return max(map(len, BasicSweeper.split_arguments(overrides, sweeper.get("max_batch_size"))))
    except Exception:  # noqa: BLE001 - the sweeper says what is wrong when it expands the sweep
        return None


GRID_SAMPLER = "optuna.samplers.GridSampler"  # hydra/sweeper/sampler=grid


def uses_grid_sampler(config) -> bool:
    sampler = config.hydra.sweeper.get("sampler") or {}
    return str(sampler.get("_target_", "")) == GRID_SAMPLER


def search_trials(config) -> int:
    """The trials an Optuna search runs: n_trials, or with the grid sampler at most the grid's points,
    to which the plugin cuts n_trials (counted as n_trials, the rest read as jobs not started)."""
    n = int(config.hydra.sweeper.n_trials)
    points = grid_points(config) if uses_grid_sampler(config) else None
    return n if points is None else min(n, points)


def grid_points(config) -> int | None:
    """The points of the grid sampler's grid, as the Optuna sweeper lays it out from the swept
    values (its own functions: its int ranges leave out their high end); None where it cannot
    tell (an interval, which has no grid, or the old search_space key)."""
    if config.hydra.sweeper.get("search_space"):
        return None
    try:
        from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl, create_params_from_overrides

        distributions, _ = create_params_from_overrides(sweep_lines(config))
        points = 1
        for distribution in distributions.values():
            points *= len(OptunaSweeperImpl._to_grid_sampler_choices(None, distribution))
    except Exception:  # noqa: BLE001 - a value the sweeper refuses itself, or a plugin laid out otherwise
        return None
    return points


def _task_overrides(job: list) -> dict:
    """The overrides a job's .hydra/overrides.yaml holds (Hydra's own go to hydra.overrides.hydra)."""
    out = {}
    for line in job:
        key, _, value = line.partition("=")
        key = key.lstrip("+~")
        if not key.startswith(("hydra.", "hydra/")) and key != "hydra":
            out[key] = value
    return out
