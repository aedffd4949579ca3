"""Studies that are more than one run: each is a function that calls the same training loop
(or, for minimal_ratio, its own tiny full-batch loop), writes its own CSV and plots into the
study folder, and ends with report.md / report.html there.

    dlrun experiment=function_fit            (task=study study.name=function_fit)

The other studies of this family are sweeps or single runs and need no code here
(conf/experiment/: mnist_deep_shallow, grad_norm, random_labels, params_vs_generalization,
flatness_sensitivity).
"""
from __future__ import annotations

from pathlib import Path


def run_study(cfg, study_dir: Path, label: str = "") -> dict:
    import importlib

    module = importlib.import_module(f"runner.studies.{cfg.study.name}")
    return module.run(cfg, Path(study_dir), label)
