"""Studies that are more than one run (`task=study study.name=<name>`, runner/studies/<name>.py)
and the checks of the `study` section (errors), with the notes a study gives on settings it can honour only in part.

Adding one: runner/studies/<name>.py (the module is found by the name) with
run(cfg, study_dir, label) and report(cfg, study_dir) (its runs trained through
runner.studies.common.train, so a stopped study keeps those it finished; a record of its own
progress named in KEEPS, which a rerun's clearing of the folder leaves),
its settings in runner/config/schema_studies.py's StudyConfig, an experiment preset, and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runner.config.checks import require
from runner.registry import Registry
from runner.registry.data import FUNCTIONS


@dataclass(frozen=True)
class Study:
    help: str
    needs: str  # "images": an image dataset; "function": dataset=function with model=mlp
    check: Callable | None = None  # (study section) -> None, raising ConfigError
    notes: Callable | None = None  # (config) -> lines: what the settings ask that the study cannot give
    seeds: Callable | None = None  # (study section) -> (count, key): its runs take seeds seed..seed+count-1


def _check_function_fit(st) -> None:
    ff = st.function_fit
    # an empty list ran nothing and wrote an empty study that said "done"
    require(len(ff.functions) >= 1, "study.function_fit.functions",
            f"one or more of {', '.join(FUNCTIONS.names())}", list(ff.functions))  # fmt: skip
    for fn in ff.functions:
        FUNCTIONS.check(fn, key="study.function_fit.functions")
    # one depth has nothing to compare (its "deepest over shallowest" was 1), and a repeated one
    # is the same model in the same folder, kept as "finished earlier"
    require(
        len(set(ff.depths)) == len(ff.depths) >= 2 and min(ff.depths) >= 1,
        "study.function_fit.depths",
        "two or more different depths >= 1, e.g. [1,3,6] (the study compares deep with shallow)",
        list(ff.depths),
    )
    require(ff.target_params >= 10, "study.function_fit.target_params", "an integer >= 10", ff.target_params)


def _check_trajectory(st) -> None:
    tr = st.trajectory
    require(tr.runs >= 2, "study.trajectory.runs", "an integer >= 2 (PCA compares runs)", tr.runs)
    require(tr.every >= 1, "study.trajectory.every", "an integer >= 1", tr.every)


def _notes_trajectory(cfg) -> list[str]:
    every, epochs = cfg.study.trajectory.every, cfg.trainer.epochs
    if every <= epochs:
        return []
    return [f"study.trajectory.every={every} is more than trainer.epochs={epochs}: each trajectory is only "
            f"its initial and final weights; set it to at most {epochs} to see the path between"]  # fmt: skip


def _check_minimal_ratio(st) -> None:
    mr = st.minimal_ratio
    require(mr.repeats >= 1, "study.minimal_ratio.repeats", "an integer >= 1", mr.repeats)
    require(mr.steps >= 1, "study.minimal_ratio.steps", "an integer >= 1", mr.steps)
    require(mr.grad_steps >= 0, "study.minimal_ratio.grad_steps", "an integer >= 0", mr.grad_steps)
    require(mr.grad_threshold > 0, "study.minimal_ratio.grad_threshold", "a number > 0", mr.grad_threshold)
    require(mr.lr > 0, "study.minimal_ratio.lr", "a learning rate > 0", mr.lr)


def _check_interpolation(st) -> None:
    ip = st.interpolation
    # equal sizes train the same model twice (one seed): the line between them is one point
    require(
        1 <= ip.batch_small < ip.batch_large,
        "study.interpolation.batch_small",
        f"a batch size >= 1 below batch_large ({ip.batch_large})",
        ip.batch_small,
    )
    require(
        ip.alpha_min < ip.alpha_max,
        "study.interpolation.alpha_min",
        f"a number below alpha_max ({ip.alpha_max})",
        ip.alpha_min,
    )
    require(ip.steps >= 2, "study.interpolation.steps", "an integer >= 2", ip.steps)
    require(ip.eval_samples >= 0, "study.interpolation.eval_samples", "0 (all) or a count", ip.eval_samples)


STUDIES: Registry[Study] = Registry("study.name", "study")
STUDIES.add(
    "function_fit",
    Study("deep vs shallow MLPs of equal size fitting 1-D functions", "function", _check_function_fit),
)
STUDIES.add(
    "trajectory_pca",
    Study(
        "training trajectories of several seeds in weight space, by PCA",
        "images",
        _check_trajectory,
        _notes_trajectory,
        seeds=lambda st: (st.trajectory.runs, "study.trajectory.runs"),
    ),
)
STUDIES.add(
    "minimal_ratio",
    Study(
        "share of positive Hessian eigenvalues at critical points vs loss",
        "function",
        _check_minimal_ratio,
        seeds=lambda st: (st.minimal_ratio.repeats, "study.minimal_ratio.repeats"),
    ),
)
STUDIES.add(
    "flatness_interpolation",
    Study("loss along the line between small- and large-batch solutions", "images", _check_interpolation),
)


def check_reduced_is_read(cfg) -> None:
    """study.reduced=true on a config that no value reads it from would run at full size under a
    folder name that says reduced: refuse it. The presets size themselves with
    ${dlrun.scale:FULL,REDUCED} (runner/config/resolvers.py), which stays a string until resolved."""
    from omegaconf import OmegaConf

    from runner.errors import UserError

    if not cfg.study.reduced:
        return

    def texts(node):
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            for child in node:
                yield from texts(child)
        elif isinstance(node, str):
            yield node

    if any("${dlrun.scale:" in text for text in texts(OmegaConf.to_container(cfg, resolve=False))):
        return
    instead = (
        "reproduce.quick=true"
        if cfg.task == "reproduce"
        else "the sizes themselves, e.g. dataset.subsample=1000 trainer.epochs=2"
    )
    raise UserError(
        "study.reduced=true changes nothing in this config: no value is sized with "
        "${dlrun.scale:FULL,REDUCED}, as the experiment presets' are; set " + instead
    )


def check_study(cfg) -> None:
    st = cfg.study
    study = STUDIES.check(st.name) if cfg.task == "study" else None
    require(st.plateau.rel >= 0, "study.plateau.rel", "a number >= 0", st.plateau.rel)
    require(st.plateau.window >= 1, "study.plateau.window", "an integer >= 1", st.plateau.window)
    for entry in STUDIES.values():  # every study's settings, so a preset cannot carry a bad one unnoticed
        if entry.check is not None:
            entry.check(st)
    if study is None:
        return
    function = cfg.dataset.source == "function"
    if study.needs == "images":
        require(not function, "dataset", f"an image dataset for study {st.name}", cfg.dataset.name)
    else:
        require(
            function and cfg.model.name == "mlp",
            "dataset",
            f"function (with model=mlp) for study {st.name}",
            cfg.dataset.name,
        )
