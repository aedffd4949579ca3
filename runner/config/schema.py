"""Typed schemas behind the YAML groups in conf/.

Registered in Hydra's ConfigStore as `dlrun_schema`, which conf/config.yaml lists first in
its defaults, so every group option is merged onto these dataclasses: an unknown key or a
value of the wrong type fails at composition, before any data is read. Ranges and choices
that a type cannot express are checked by `runner.config.validate`. A key that names one of
a closed set of choices takes an entry of the registry named beside it (runner/registry/;
`dlrun --help` lists them with what each means).

Sizes that may be a fraction or a count (`val_size`, `subsample`, ...) are floats:
0 means "off", a value in (0, 1) is a fraction, a value >= 1 is a count of samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from omegaconf import MISSING

from runner.config.schema_studies import ReproduceConfig, StudyConfig, ToleranceConfig  # noqa: F401 - one schema


@dataclass
class DatasetConfig:
    name: str = MISSING  # a DATASETS entry, or any dataset given as class folders
    source: str = "auto"  # where samples come from: a SOURCES entry
    folder: Optional[str] = None  # folder under data_dir for the class-folder layout
    test_folder: str = "test"  # class-folder layout: the folder read as the test split
    download: bool = True  # try torchvision's download when files are missing
    # shape of one sample as the model sees it; folder images are converted/resized to it
    channels: int = 1
    image_size: List[int] = field(default_factory=lambda: [28, 28])
    num_classes: int = 10
    # per-channel normalisation; null = computed from the training split
    mean: Optional[List[float]] = None
    std: Optional[List[float]] = None
    # splits (all stratified for classification, deterministic by `seed`)
    val_size: float = 0.0  # carved from the training split
    train_fraction: float = 1.0  # train on this share of what is left (0 < f <= 1)
    subsample: float = 0.0  # keep this much of the training set before any split
    test_subsample: float = 0.0  # keep this much of the test set
    holdout: float = 0.0  # move this share of the training set to test (replaces the test set)
    shuffle_labels: bool = False  # permute the training split's labels (random-label studies)
    label_seed: int = 0  # the permutation's seed, fixed across training seeds
    # function datasets: y = fn(x), x uniform on [low, high]
    fn: Optional[str] = None
    low: Optional[float] = None  # null = the function's own interval
    high: Optional[float] = None
    n_train: int = 1000
    n_test: int = 500
    noise: float = 0.0  # std of Gaussian noise added to training targets


@dataclass
class ModelConfig:
    name: str = MISSING  # a MODELS entry
    conv: List[int] = field(default_factory=list)  # cnn: channels of each 3x3 conv + 2x2 max-pool
    hidden: List[int] = field(default_factory=lambda: [256, 128])  # widths of the FC block
    # shortcuts for sweeps: when either is set, hidden becomes `depth` layers starting at
    # `width` (an unset width is hidden[0], an unset depth is len(hidden)), all equal
    # (taper=constant) or each half the one before (taper=halve: 512, 256, 128, ...)
    depth: Optional[int] = None
    width: Optional[int] = None
    taper: str = "constant"  # a TAPERS entry (runner/config/shortcuts.py)
    head_activation: bool = False  # also apply the activation (and dropout) to the output layer


@dataclass
class ActivationConfig:
    name: str = MISSING  # an ACTIVATIONS entry
    negative_slope: float = 0.01  # leaky_relu
    alpha: float = 1.0  # elu


@dataclass
class RegularizerConfig:
    l1: float = 0.0  # lambda of lambda*sum|w| over weight matrices and conv kernels
    l2: float = 0.0  # lambda of lambda*sum(w^2) over the same weights
    dropout: float = 0.0  # drop probability after every hidden FC activation
    batchnorm: bool = False  # BatchNorm after every conv and hidden FC layer, before the activation
    augment: List[str] = field(default_factory=list)  # AUGMENTATIONS names applied to training batches
    crop_padding: int = 4  # augment crop: the largest shift, in pixels, each way


@dataclass
class OptimizerConfig:
    name: str = MISSING  # an OPTIMIZERS entry
    lr: float = 1e-3
    momentum: float = 0.9  # sgd
    nesterov: bool = False  # sgd
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])  # adam


@dataclass
class InitConfig:
    name: str = "default"  # an INITS entry


@dataclass
class EarlyStoppingConfig:
    """trainer.early_stopping: end the run when `metric` has not improved by more than
    `min_delta` for `patience` epochs (status ok, stopped_early_at in summary.json, the best
    epoch's weights in best.pt)."""

    metric: Optional[str] = None  # a metrics.csv loss or accuracy column, e.g. val_loss; null: off
    mode: str = "auto"  # min | max | auto (losses min, accuracies max)
    patience: int = 5
    min_delta: float = 0.0


@dataclass
class TrainerConfig:
    epochs: int = 10
    batch_size: int = 128
    eval_batch_size: int = 2048  # evaluation only: no gradients, so large batches are fine
    train_metrics: str = "running"  # how the train metrics are measured: a TRAIN_METRICS entry
    progress: str = "auto"  # what the console shows: a PROGRESS entry
    log_steps: bool = False  # steps.csv: loss and total gradient norm of every optimizer step
    precision: str = "fp32"  # a PRECISIONS entry
    # N > 1: train N copies (seeds seed..seed+N-1, each with its own init and data order) at
    # once as one stacked model; metrics.csv gets a replica column, summary.json mean and std
    replicas: int = 1
    cuda_graph: str = "auto"  # a CUDA_GRAPH entry; without a graph a run says why, once
    # checkpoint.pt every N epochs (0: only when training ends or a signal stops it), skipped
    # while the last one is younger than checkpoint_seconds (a large model's checkpoint costs
    # more than a short epoch); a run folder holding one resumes from it on the same command
    checkpoint_every: int = 1
    checkpoint_seconds: float = 30.0
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)


@dataclass
class SchedulerConfig:
    """The learning-rate schedule (conf/scheduler/; a SCHEDULERS entry). Each option reads
    its own keys; the rest keep these defaults."""

    name: str = "none"
    step_size: int = 10  # step: epochs between decays
    gamma: float = 0.1  # step: the factor per decay
    t_max: Optional[int] = None  # cosine: epochs from optimizer.lr to eta_min (null: trainer.epochs)
    eta_min: float = 0.0  # cosine
    metric: str = "val_loss"  # plateau: the metrics.csv column it watches
    mode: str = "auto"  # plateau: min | max | auto (losses min, accuracies max)
    factor: float = 0.1  # plateau: the factor per decay
    patience: int = 5  # plateau: epochs without improvement before a decay
    threshold: float = 1.0e-4  # plateau: relative improvement that counts
    min_lr: float = 0.0  # plateau
    max_lr: Optional[float] = None  # onecycle: the peak (null: 10 x optimizer.lr)
    pct_start: float = 0.3  # onecycle: the share of steps spent rising
    cycle_momentum: bool = False  # onecycle: also cycle momentum / Adam's beta1 (no CUDA graph then)


@dataclass
class TensorBoardConfig:
    enabled: bool = False
    dir: str = "tensorboard"  # inside the run folder
    layers: bool = True  # also every layers.csv column, per layer


@dataclass
class MlflowConfig:
    enabled: bool = False
    tracking_uri: str = "sqlite:///outputs/mlflow.db"  # any MLflow tracking URI
    experiment: str = "dlrun"
    artifacts: bool = True  # summary.json, metrics.csv, the report and plots/


@dataclass
class LoggerConfig:
    """Loggers that mirror metrics.csv into other tools (conf/logger/; LOGGERS), off by default."""

    tensorboard: TensorBoardConfig = field(default_factory=TensorBoardConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)


@dataclass
class DiagnosticsConfig:
    """Per-layer probes (layers.csv) and the vanishing-gradient verdict in summary.json."""

    probes: bool = True  # record layers.csv for mlp and cnn (false: skip the per-step cost)
    saturation: float = 0.99  # tanh |y| above this, sigmoid y outside [1-s, s], counts as saturated
    probe_samples: int = 1024  # training samples (each class in proportion) in the end-of-epoch saturation pass
    # verdict (runner/train/verdict.py): vanishing when the first layer's gradient norm falls
    # below `ratio` times the output layer's (in the epoch where it is smallest) AND training
    # suffered: the train loss improved by less than `min_improvement` (relative) over the last
    # `window` epochs, or the first layer's weights moved less than `min_weight_change`
    # (relative to their initial norm), or the last train loss is still above
    # `max_loss_fraction` of the first epoch's
    ratio: float = 1.0e-3
    window: int = 5
    min_improvement: float = 0.01
    min_weight_change: float = 0.01
    max_loss_fraction: float = 0.25
    # sensitivity: mean over test samples of ||d output / d input||_F (Frobenius norm of the
    # input-output Jacobian), written to summary.json after training
    sensitivity: bool = False
    sensitivity_samples: int = 1000


@dataclass
class GradcheckConfig:
    """task=gradcheck: autograd against central finite differences in float64."""

    samples: int = 8  # parameters checked per parameter tensor (weight, bias) of every layer
    batch: int = 8  # training samples in the loss being differentiated
    eps: float = 1.0e-5  # first step h of (L(p+h) - L(p-h)) / 2h; misses are retried at 10h and h/10
    tol: float = 1.0e-4  # pass when every relative error is below this
    floor: float = 1.0e-8  # relative error = |a-n| / max(|a|, |n|, floor)


@dataclass
class SweepConfig:
    """Knobs of the sweep presets in conf/sweep/ (each preset documents which it reads)."""

    # the folder under outputs/sweeps/: <dataset>-<model>, after gradcheck-, eval- or a study's name as `name`
    name: str = "${dlrun.run_name:${task},${ckpt},${study.name},${dataset.name}-${model.name}}"
    max_depth: int = 6  # `depth`: hidden layers 1..max_depth
    depths: List[int] = field(default_factory=lambda: [1, 2, 4, 6, 8, 12, 16, 24, 32])  # `depth_search`
    seeds: int = 5  # `seeds`: seeds 0..seeds-1
    # report: the x axis of the final-metric plots (a summary.csv column such as params;
    # null = the last swept key) and more summary.csv columns to plot against it
    x: Optional[str] = None
    extra: List[str] = field(default_factory=list)
    # worker processes that render each job's plots and report while the next job trains
    # (in-process launcher only); -1: one per 4 CPU cores, at most 4; 0: each job renders its own
    render_workers: int = -1


@dataclass
class Config:
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    activation: ActivationConfig = field(default_factory=ActivationConfig)
    regularizer: RegularizerConfig = field(default_factory=RegularizerConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    init: InitConfig = field(default_factory=InitConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    gradcheck: GradcheckConfig = field(default_factory=GradcheckConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    reproduce: ReproduceConfig = field(default_factory=ReproduceConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    # the number a run gives Hydra's sweepers (Optuna): final_ or best_ + a split + _loss or
    # _acc, e.g. best_val_acc; its direction follows (runner/sweep/objective.py)
    optimized_metric: Optional[str] = None
    tags: List[str] = field(default_factory=list)  # free labels: summary.json, summary.csv, reports, loggers
    task: str = "train"  # a TASKS entry
    ckpt: Optional[str] = None  # task=eval: the model.pt or checkpoint.pt (or a run folder) to evaluate
    engine: str = "torch"  # an ENGINES entry
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    data_dir: str = "${oc.env:DLRUN_DATA,./data}"
    # short name in the run dir: <dataset>-<model>-<activation>, after gradcheck- or the study's name
    # for those tasks; task=eval: eval-<the checkpoint's run folder>
    name: str = "${dlrun.run_name:${task},${ckpt},${study.name},${dataset.name}-${model.name}-${activation.name}}"


# float keys where inf means something (no limit); every other float key takes finite numbers only
# (runner.config.validate.check_finite)
UNBOUNDED = {"trainer.checkpoint_seconds": "no periodic checkpoints"}


def defaults(cls) -> dict:
    """A schema section's default values by key (lists as new lists)."""
    import dataclasses

    return {f.name: f.default_factory() if callable(f.default_factory) else f.default for f in dataclasses.fields(cls)}


def leaf_types(cls=None, prefix: str = "") -> dict:
    """Every dotted key the schema has, with its type (trainer.epochs: int, optimizer.lr: float)."""
    import dataclasses
    import typing

    out = {}
    for name, hint in typing.get_type_hints(cls or Config).items():
        path = f"{prefix}{name}"
        out.update(leaf_types(hint, f"{path}.") if dataclasses.is_dataclass(hint) else {path: hint})
    return out


def register() -> None:
    """Make the schema and dlrun's resolvers available to conf/config.yaml."""
    from hydra.core.config_store import ConfigStore

    from runner.config.compose import share_config_store
    from runner.config.resolvers import register_resolvers

    share_config_store()
    register_resolvers()
    ConfigStore.instance().store(name="dlrun_schema", node=Config)
