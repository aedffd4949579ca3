"""Studies that are more than one run: each is a function that calls the same training loop
(or, for minimal_ratio, its own tiny full-batch loop), writes its own CSV and plots into the
study folder, and ends with report.md / report.html there.

    dlrun experiment=function_fit            (task=study study.name=function_fit)
    python -m runner.report <study folder>   (the plots and report again, from the files)

The other studies of this family are sweeps or single runs and need no code here
(conf/experiment/: mnist_deep_shallow, grad_norm, random_labels, params_vs_generalization,
flatness_sensitivity).
"""

from __future__ import annotations

from pathlib import Path


def module_of(name: str):
    """The module runner/studies/<name>.py of a study registered in runner.registry.studies."""
    import importlib

    from runner.registry.studies import STUDIES

    STUDIES.check(name)
    return importlib.import_module(f"runner.studies.{name}")


def run_study(cfg, study_dir: Path, label: str = "") -> dict:
    """A study run again after a stop goes on: what an earlier attempt left is cleared, but for
    the runs it finished, which the study keeps where their config is this one's (common.train),
    and a module's own record of its progress (KEEPS, checked the same way). Finished runs that
    this attempt's settings do not name are removed once it is done."""
    from runner.runfolder import clear
    from runner.studies.common import drop_unnamed_runs, naming_runs

    module = module_of(cfg.study.name)
    clear(Path(study_dir), keep_runs=True, also=frozenset(getattr(module, "KEEPS", ())))
    with naming_runs() as named:
        result = module.run(cfg, Path(study_dir), label)
    drop_unnamed_runs(Path(study_dir), named, label)  # kept by clear, but another attempt's settings
    return result


def is_study_dir(path: Path) -> bool:
    """A study writes its resolved config.yaml (task: study) at the top of its folder."""
    from runner.runfolder import task_of

    return task_of(path) == "study"


def rerender(study_dir: Path) -> dict:
    """Plots, report.md/.html and summary.json of a finished study again, from its files alone
    (its config.yaml, its CSVs and its runs' folders): nothing is trained."""
    from runner.files import read_config

    study_dir = Path(study_dir)
    cfg = read_config(study_dir / "config.yaml")
    return module_of(cfg.study.name).report(cfg, study_dir)
