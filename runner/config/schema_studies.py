"""Typed schemas of the `study` and `reproduce` sections: the studies of several runs
(runner/studies/) and the reproductions of published reports (runner/reproduce/). Part of the
`dlrun_schema` that runner/config/schema.py registers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class PlateauConfig:
    """When a loss curve has converged: the first epoch whose loss is within `rel` (relative)
    of the final level, the final level being the lowest loss of the last `window` epochs."""

    rel: float = 0.1
    window: int = 5


@dataclass
class FunctionFitConfig:
    functions: List[str] = field(default_factory=lambda: ["sin_plus_square", "sign_sin"])
    depths: List[int] = field(default_factory=lambda: [1, 3, 6])  # hidden layers: shallow .. deep
    target_params: int = 700  # widths are chosen so that every model has about this many


@dataclass
class TrajectoryConfig:
    runs: int = 8  # training runs, seeds seed..seed+runs-1
    every: int = 1  # record the weights every k epochs (and at epoch 0)


@dataclass
class MinimalRatioConfig:
    repeats: int = 100  # independent trainings, each ending in one Hessian
    steps: int = 3000  # full-batch Adam steps on the loss
    grad_steps: int = 2000  # at most this many more steps minimising ||grad||^2 when needed
    grad_threshold: float = 1.0e-3  # stop once the gradient norm is below this
    lr: float = 1.0e-3


@dataclass
class InterpolationConfig:
    batch_small: int = 64
    batch_large: int = 1024
    alpha_min: float = -1.0
    alpha_max: float = 2.0
    steps: int = 31  # values of alpha, evenly spaced
    eval_samples: int = 0  # evaluate on this many train/test samples each, each class in proportion (0 = all)


@dataclass
class StudyConfig:
    """task=study: studies that are more than one run (runner/studies/)."""

    name: Optional[str] = None  # a STUDIES entry
    reduced: bool = False  # small data and few epochs: presets size themselves with ${dlrun.scale:...}
    plateau: PlateauConfig = field(default_factory=PlateauConfig)
    function_fit: FunctionFitConfig = field(default_factory=FunctionFitConfig)
    trajectory: TrajectoryConfig = field(default_factory=TrajectoryConfig)
    minimal_ratio: MinimalRatioConfig = field(default_factory=MinimalRatioConfig)
    interpolation: InterpolationConfig = field(default_factory=InterpolationConfig)


@dataclass
class ToleranceConfig:
    """When a reproduced value counts as matching the published one."""

    acc_points: float = 3.0  # accuracies: within this many percentage points
    loss_factor: float = 2.0  # losses: within this factor either way (ours / published in [1/f, f])


@dataclass
class ReproduceConfig:
    """task=reproduce: a published report's studies with its setup, our numbers beside its
    (runner/reproduce/; the presets in conf/experiment/reproduce/)."""

    report: Optional[str] = None  # the report this preset reproduces (r1 .. r5)
    title: str = ""
    quick: bool = False  # reduced data and epochs: minutes on a CPU, the same pipeline
    only: List[str] = field(default_factory=list)  # run and report only these parts (all when empty)
    expected: str = ""  # how long it takes, for --help and the README
    reports: List[str] = field(default_factory=list)  # reproduce/all: these presets, each in a subfolder
    tolerance: ToleranceConfig = field(default_factory=ToleranceConfig)
    notes: List[str] = field(default_factory=list)  # what the report did, and where dlrun differs
    # part name -> what runs and what was published (runner/reproduce/spec.py says the keys)
    parts: Dict[str, Any] = field(default_factory=dict)
