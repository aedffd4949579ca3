"""Running a reproduction's parts: each part is a small sweep folder inside the report's folder
(<report>/<part>/<num>_<overrides>/, with multirun.yaml, summary.csv and its report), so every
sweep rule holds: finished jobs are skipped, stopped ones resume from their checkpoints, a
failed job is recorded and the next one runs."""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import OmegaConf

from runner.config.resolvers import _dirname as job_dirname
from runner.files import atomic_write_text
from runner.reproduce.spec import Part, jobs, override_value, sweep_values

# settings of the reproduction command that every job takes over (where and how, not what);
# with them every presentation key of a run (runfolder.PRESENTATION: progress, checkpoints,
# loggers, tags), so `logger=mlflow` on the command reaches every job
RUN_SETTINGS = ("data_dir", "device", "seed", "trainer.precision", "trainer.cuda_graph")


def _quoted(value) -> str:
    from runner.config.overrides import quoted

    return quoted(value) if isinstance(value, str) else override_value(value)


def inherited(cfg) -> list:
    """The overrides that pass the command's run settings on to a job or a report."""
    from runner.runfolder import presentation_keys

    run_keys = [k for k in presentation_keys() if not k.startswith("sweep.") and k != "name"]  # a sweep's, a label
    out = []
    for key in (*RUN_SETTINGS, *run_keys):
        value = OmegaConf.select(cfg, key)
        if OmegaConf.is_dict(value):  # a section: its keys are in the list themselves
            continue
        out.append(f"{key}={_quoted(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value)}")
    return out


_COMPOSED: dict = {}


def compose_in_app(overrides: list, hydra_config: bool = False):
    """Compose a config inside the running dlrun (Hydra initialised), or from conf/ otherwise.
    Each job is composed for the estimate and again to run it, and a compose takes most of a
    second: the second time is a copy of the first."""
    import copy

    from hydra.core.global_hydra import GlobalHydra

    key = (tuple(overrides), hydra_config, GlobalHydra.instance().is_initialized())
    if key not in _COMPOSED:
        if key[2]:
            from hydra import compose

            _COMPOSED[key] = compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra_config)
        else:
            from runner.config.compose import compose

            _COMPOSED[key] = compose(overrides, hydra_config=hydra_config)
    return copy.deepcopy(_COMPOSED[key])


def base_overrides(part: Part, cfg) -> list:
    preset = [f"experiment={part.experiment}"] if part.experiment else []
    return [*preset, *part.overrides, *(part.quick if cfg.reproduce.quick else []), *inherited(cfg)]


def plan(part: Part, cfg) -> tuple[dict, object]:
    """(key -> list of override values, the part's sweep section): the part's own grid, else
    the preset's sweep; the sweep section carries the report's plot choices (sweep.x, extra)."""
    composed = compose_in_app(base_overrides(part, cfg), hydra_config=True)
    chosen = part.quick_grid if cfg.reproduce.quick and part.quick_grid is not None else part.grid
    if chosen is not None:
        grid = {k: [override_value(v) for v in vs] for k, vs in chosen.items()}
    else:
        params = composed.hydra.sweeper.params
        params = OmegaConf.to_container(params, resolve=True) if params else {}
        grid = {k: [str(v) for v in sweep_values(str(text))] for k, text in params.items()}
    return grid, composed.sweep


def part_jobs(grid: dict) -> list:
    """(job number, its overrides, its folder name) of every job of the part."""
    return [(i, job, f"{i}_{job_dirname(','.join(job))}") for i, job in enumerate(jobs(grid))]


def write_part_record(folder: Path, grid: dict, base: list, sweep) -> None:
    """The part's multirun.yaml, as Hydra's basic sweeper would write it for this grid: the sweep
    report reads its params, and its sweeper, to list the jobs a stop left unstarted (without it,
    a stopped part re-rendered with `make report` read as finished)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    sweeper = {"_target_": f"{BasicSweeper.__module__}.{BasicSweeper.__name__}",
               "params": {k: ",".join(v) for k, v in grid.items()}}  # fmt: skip
    atomic_write_text(folder / "multirun.yaml", OmegaConf.to_yaml(OmegaConf.create({
        "hydra": {"sweeper": sweeper, "overrides": {"task": base}},
        "sweep": {"x": sweep.x, "extra": list(sweep.extra)},
    })))  # fmt: skip


def run_part(part: Part, cfg, report_dir: Path, label: str) -> dict:
    """Run the part's jobs (skipping finished ones) and render its sweep report."""
    from runner.report.sweep_report import render_sweep
    from runner.sweep.job import run_isolated
    from runner.tasks import dispatch

    folder = Path(report_dir) / part.name
    grid, sweep = plan(part, cfg)
    base = base_overrides(part, cfg)
    write_part_record(folder, grid, base, sweep)
    started = time.perf_counter()
    for num, job, name in part_jobs(grid):
        job_cfg = compose_in_app(base + job)
        job_dir = folder / name
        tag = f"{label}[{part.name} {num}] "
        run_isolated(job_cfg, job_dir, num, None, job, lambda c=job_cfg, d=job_dir, t=tag: dispatch(c, d, label=t))
    result = render_sweep(folder)
    return {"counts": result["counts"], "seconds": time.perf_counter() - started, "folder": folder}
