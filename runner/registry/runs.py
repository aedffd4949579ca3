"""Tasks (`task=`), engines (`engine=`), and the checks of the top-level keys and the `sweep`
section.

A task entry names its handler (cfg, run_dir, label, **kw) -> summary; an engine entry names
its class (runner/train/base.py's Engine) and, where it supports only part of dlrun, the
function that refuses the rest in one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.config.checks import require
from runner.registry import Registry, load


@dataclass(frozen=True)
class Task:
    help: str
    handler: str  # "module:function" (cfg, run_dir, label, **kw) -> summary dict
    renders_plots: bool = False  # its plots and report may be rendered by a sweep's worker processes
    data_from_saved_run: bool = False  # the dataset section is the saved run's unless the command names one
    # it reads the files the dataset section names (a sweep looks for them before its first job);
    # a reproduction's parts name their own
    reads_configured_data: bool = True
    # what running it again after a stop does, as the stop line says it: a training run goes on from
    # its checkpoint; a study keeps the runs it finished (runner/studies/common.py: train) and
    # starts the one it stopped in over, as a sweep's job does, so its folder is not cleared then
    resumes: str = "to resume"
    keeps_finished_runs: bool = False
    # the config keys (dotted prefixes) it reads, and why it ignores the rest; None: it reads them all.
    # An override of a key outside them gets a note (runner/config/checks.py: unread_by_task)
    reads: tuple | None = None
    ignores_because: str = ""

    def reads_key(self, key: str) -> bool:
        """Whether the task reads this dotted key (or the section it names, or part of it)."""
        return self.reads is None or any(key == r or key.startswith(f"{r}.") or r.startswith(f"{key}.")
                                         for r in self.reads)  # fmt: skip


@dataclass(frozen=True)
class Engine:
    help: str
    cls: str  # "module:Class", built with the config
    gradcheck: str  # "module:function" (cfg, data) -> (GradcheckResult, parameter count): task=gradcheck
    gradients: str  # what task=gradcheck checks against finite differences, for its header
    requires: str | None = None  # "module:function" (cfg) -> None, raising ConfigError for what it cannot do


TASKS: Registry[Task] = Registry("task", "task")
TASKS.add("train", Task("train one configuration", "runner.train.run:run_training", renders_plots=True))
TASKS.add(
    "gradcheck",
    Task(
        "the engine's gradients (autograd, or engine=numpy's backward) against finite differences, float64",
        "runner.train.gradcheck:run_gradcheck",
        reads=(
            "dataset",
            "model",
            "activation",
            *(f"regularizer.{k}" for k in ("l1", "l2", "dropout", "batchnorm")),  # not augment: one fixed batch
            "init",
            "gradcheck",
            "seed",
            "data_dir",
            "name",
            "task",
            "tags",
            "engine",
            "sweep",
            "trainer.progress",
        ),  # fmt: skip
        ignores_because="it differentiates the untrained network's loss in float64 on the CPU, without training",
    ),
)
TASKS.add("study", Task("a study of several runs (study.name)", "runner.studies:run_study",
                       resumes="to go on (what it finished is kept; the run it stopped in starts over)",
                       keeps_finished_runs=True))  # fmt: skip
TASKS.add("reproduce", Task("a published report's studies, our numbers beside its", "runner.reproduce:run_reproduce",
                           reads_configured_data=False))  # fmt: skip
TASKS.add("eval", Task("evaluate saved weights (ckpt=PATH) on the configured splits", "runner.train.eval:run_eval",
                      data_from_saved_run=True))  # fmt: skip

ENGINES: Registry[Engine] = Registry("engine", "engine")
ENGINES.add("torch", Engine("PyTorch, on the configured device", "runner.train.engine:TorchEngine",
                            "runner.train.gradcheck:check_torch", "autograd's gradients"))  # fmt: skip
ENGINES.add(
    "numpy",
    Engine(
        "written from scratch in NumPy, no autograd (CPU)",
        "runner.scratch.engine:NumpyEngine",
        "runner.scratch.gradcheck:check_numpy",
        "the NumPy engine's hand-written backward",
        "runner.scratch.requirements:check",
    ),
)


def _is_device(name: str) -> bool:
    return name in ("auto", "cpu", "cuda", "mps") or (name.startswith("cuda:") and name[5:].isdigit())


def check_engine(cfg) -> None:
    engine = ENGINES.check(cfg.engine)
    if engine.requires is not None:
        load(engine.requires)(cfg)


def check_run(cfg) -> None:
    """The task, the replica limits, the seed, the device and data_dir."""
    TASKS.check(cfg.task)
    if cfg.task == "eval":
        require(bool(cfg.ckpt), "ckpt", "the model.pt or checkpoint.pt to evaluate (task=eval)", cfg.ckpt)
    if cfg.task == "reproduce":
        from runner.reproduce import report_names

        known = report_names()
        rp = cfg.reproduce
        if not rp.parts and rp.report is not None:  # reproduce/all, its list of reports emptied
            require(bool(rp.reports), "reproduce.reports", f"one or more of {', '.join(known)}", list(rp.reports))
        others = ", ".join(n for n in TASKS.names() if n != cfg.task)
        require(bool(rp.parts) or bool(rp.reports), "task",
                f"one of {others}, or reproduce with a reproduction preset (experiment=reproduce/r2; "
                "conf/experiment/reproduce/)", cfg.task)  # fmt: skip
        unknown = [r for r in rp.reports if r not in known]
        require(not unknown, "reproduce.reports", f"report names among {', '.join(known)}", unknown)
    t, dg = cfg.trainer, cfg.diagnostics
    if t.replicas > 1:  # the stacked model supports plain training; these need one model at a time
        require(cfg.task in ("train", "eval"), "trainer.replicas", f"1 for task={cfg.task}", t.replicas)
        require(cfg.engine == "torch", "trainer.replicas", f"1 for engine={cfg.engine}", t.replicas)
        require(not t.log_steps, "trainer.log_steps", "false with trainer.replicas > 1", t.log_steps)
        require(not dg.sensitivity, "diagnostics.sensitivity", "false with trainer.replicas > 1", dg.sensitivity)
        # the copies share one optimizer and one epoch loop, so a decision read from a metric
        # would be taken on their mean for all of them: copy r would no longer be seed+r's run
        es = t.early_stopping.metric
        require(es is None, "trainer.early_stopping.metric",
                "null with trainer.replicas > 1 (the copies would all stop on their mean)", es)  # fmt: skip
        from runner.registry.training import SCHEDULERS

        fixed = SCHEDULERS.names(lambda s: not s.reads_metric)
        require(cfg.scheduler.name in fixed, "scheduler",
                f"one of {', '.join(fixed)} with trainer.replicas > 1 (a schedule that reads a metric "
                "would set every copy's rate from their mean)", cfg.scheduler.name)  # fmt: skip
    span, takers, key = seeds_taken(cfg)  # seed..seed+span-1 must all be NumPy seeds, or the last run failed
    require(span <= 2**32, key, "at most 2^32 (one NumPy seed each, from seed on)", span)
    top = f"2^32 - {span}" if span > 1 else "2^32 - 1"
    require(0 <= cfg.seed <= 2**32 - span, "seed",
            f"an integer in [0, {top}] (NumPy's seed range{f'; {takers} take seeds seed..seed+{span - 1}' if takers else ''})",
            cfg.seed)  # fmt: skip
    dev = str(cfg.device)
    require(_is_device(dev), "device", "auto, cpu, cuda, cuda:N or mps", dev)
    require(bool(str(cfg.data_dir).strip()), "data_dir", "a directory path", cfg.data_dir)


def seeds_taken(cfg) -> tuple[int, str, str]:
    """How many seeds from `seed` on a run takes (its replicas', a study's runs), what takes them,
    and the key that sets how many."""
    span, takers, key = 1, "", "seed"
    if cfg.trainer.replicas > 1:
        span, key = cfg.trainer.replicas, "trainer.replicas"
        takers = f"the {span} replicas ({key})"
    if cfg.task == "study":
        from runner.registry.studies import STUDIES

        study = STUDIES.get(cfg.study.name)
        if study is not None and study.seeds is not None:
            count, runs_key = study.seeds(cfg.study)
            if count > span:
                span, takers, key = count, f"the study's {count} runs ({runs_key})", runs_key
    return span, takers, key


def check_sweep(cfg) -> None:
    s = cfg.sweep
    require(s.max_depth >= 1, "sweep.max_depth", "an integer >= 1", s.max_depth)
    require(s.seeds >= 1, "sweep.seeds", "an integer >= 1", s.seeds)
    require(s.render_workers >= -1, "sweep.render_workers", "an integer >= 0, or -1 for automatic", s.render_workers)
