"""Range and choice checks that types alone cannot express, run on the composed config before
any data is read.

Each config section's checks live beside the feature they guard (runner/registry/, which also
holds the names each key may take); this module only runs them in order. `validate` changes
nothing; `prepare` is the one place a composed config becomes runnable: it expands a path's
leading ~ and rebases relative paths after a hydra.job.chdir (runner/config/paths.py), expands the model.depth / model.width
shortcut (runner/config/shortcuts.py), then validates.
Each failure is a ConfigError naming the key, what was expected and what was given; the CLI
prints it as one line.
"""

from __future__ import annotations

from runner.config import shortcuts
from runner.errors import UserError
from runner.messages import unknown_key_line
from runner.registry.activations import check_activation
from runner.registry.data import check_dataset, check_watched_columns
from runner.registry.diagnostics import check_diagnostics, check_gradcheck
from runner.registry.loggers import check_logger
from runner.registry.models import check_init, check_model
from runner.registry.runs import check_engine, check_run, check_sweep
from runner.registry.studies import check_reduced_is_read, check_study
from runner.registry.training import check_optimizer, check_regularizer, check_scheduler, check_trainer
from runner.sweep.objective import check as check_objective

CHECKS = (
    check_dataset,
    check_model,
    check_activation,
    check_regularizer,
    check_optimizer,
    check_init,
    check_trainer,
    check_scheduler,
    check_sweep,
    check_diagnostics,
    check_gradcheck,
    check_study,
    check_engine,
    check_run,
    check_objective,
    check_watched_columns,
    check_logger,
)


def check_known_keys(node, path: str = "") -> None:
    """Refuse a key no schema field reads. Hydra adds `+key=value` even to a typed node, so a
    misspelt `+trainer.epoch=3` would otherwise run with the default and say nothing."""
    import dataclasses

    from omegaconf import DictConfig, OmegaConf

    schema = OmegaConf.get_type(node)
    fields = {f.name for f in dataclasses.fields(schema)} if dataclasses.is_dataclass(schema) else None
    for key, child in node.items_ex(resolve=False):
        where = f"{path}.{key}" if path else str(key)
        if fields is not None and key not in fields:
            error = UserError(unknown_key_line(where, schema.__name__))
            error.key = where  # runner.config.provenance names the file that set it
            raise error
        if isinstance(child, DictConfig):
            check_known_keys(child, where)


def check_finite(cfg) -> None:
    """NaN or inf in a float key (dataset.high=inf crashed NumPy's sampler; regularizer.l2=inf
    trained to a NaN loss) that no section's own check caught: refused, bar schema.UNBOUNDED."""
    import math

    from omegaconf import OmegaConf

    from runner.config.checks import require
    from runner.config.schema import UNBOUNDED, leaf_types

    for key, hint in leaf_types().items():
        if "float" not in str(hint):
            continue
        value = OmegaConf.select(cfg, key)
        values = value if OmegaConf.is_list(value) else [value]
        bad = [v for v in values if isinstance(v, float) and not math.isfinite(v)]
        if key in UNBOUNDED:
            bad = [v for v in bad if v != math.inf]
        expected = "a finite number" + (f" or inf ({UNBOUNDED[key]})" if key in UNBOUNDED else "")
        require(not bad, key, "finite numbers" if OmegaConf.is_list(value) else expected, value)


_ITEM_WORDS = {int: "whole numbers", float: "numbers", str: "names"}


def check_lists(cfg) -> None:
    """A list key holds a list of its items' type once its interpolations are resolved. OmegaConf
    checks a list when it is set, not what an interpolation in it gives: model.hidden=${oc.env:H}
    is text ('[64,64]'), which reached the model check as a str (a traceback), and optimizer.betas
    became a list of its characters."""
    import typing

    from omegaconf import OmegaConf

    from runner.config.schema import leaf_types
    from runner.errors import ConfigError

    for key, hint in leaf_types().items():
        args = typing.get_args(hint)
        optional = type(None) in args
        listed = next((a for a in args if a is not type(None)), hint) if optional else hint
        if typing.get_origin(listed) is not list:
            continue
        value = OmegaConf.select(cfg, key)
        if value is None and optional:
            continue
        item = typing.get_args(listed)[0]
        if (OmegaConf.is_list(value) or isinstance(value, list)) and (item not in _ITEM_WORDS or all(
            (isinstance(v, item) and not isinstance(v, bool)) or (item is float and type(v) is int) for v in value
        )):  # fmt: skip
            continue
        expected = f"a list of {_ITEM_WORDS.get(item, 'values')} in brackets, e.g. {key}=[...]"
        parent, _, name = key.rpartition(".")
        written = OmegaConf.to_container(OmegaConf.select(cfg, parent) if parent else cfg, resolve=False).get(name)
        if isinstance(value, str) and isinstance(written, str) and written.startswith("${"):  # text from a resolver
            expected += f", or \"{key}='${{oc.decode:{written}}}'\" to read the text {written} gives as one"
        raise ConfigError(key, expected, value)


SHAPE = (check_known_keys, check_lists)  # before the shortcut reads model.hidden and the checks read any key
RANGES = (*CHECKS, check_finite)
VALIDATION = (*SHAPE, *RANGES)


def validate(cfg) -> None:
    """Raise ConfigError for the first value out of range; the config is left as it is."""
    for check in VALIDATION:
        check(cfg)


def prepare(cfg, derived: bool = False):
    """Settle the paths (a leading ~; relative ones after a hydra.job.chdir), expand the shortcuts in place, then
    validate; returns cfg. `derived`: cfg was built from a composed one (a study's sub-run, an
    eval's merge), so the checks of what a command asked for have been made."""
    for step in _steps(derived):
        step(cfg)
    return cfg


def notes(cfg, overrides=()) -> list[str]:
    """What the config sets that its chosen options ignore (optimizer=adam with a momentum), one
    line each, and what the command's overrides ask of a task that ignores it (task=gradcheck
    trainer.precision=bf16), for the command to print before it runs;
    runner.config.checks.unread_keys and unread_by_task."""
    from runner.config.checks import unread_by_task, unread_early_stopping, unread_keys
    from runner.config.schema import ActivationConfig, OptimizerConfig, SchedulerConfig
    from runner.registry.activations import ACTIVATIONS
    from runner.registry.runs import TASKS
    from runner.registry.training import OPTIMIZERS, SCHEDULERS

    sections = (("activation", ActivationConfig, ACTIVATIONS), ("optimizer", OptimizerConfig, OPTIMIZERS),
                ("scheduler", SchedulerConfig, SCHEDULERS))  # fmt: skip
    task = TASKS[cfg.task]
    options = [line for name, schema, registry in sections if task.reads_key(name)
               for line in unread_keys(name, cfg[name], schema, registry)]  # fmt: skip
    stopping = unread_early_stopping(cfg) if task.reads_key("trainer.early_stopping") else []
    return (
        options + stopping + unread_by_task(cfg, overrides) + _study_notes(cfg) + _unregularized(cfg) + _augmented(cfg)
    )


def _augmented(cfg) -> list[str]:
    """A mirroring augmentation of digits (a mirrored 2 or 7 is no digit; allowed: a study may
    want exactly that), and a crop padding without a crop."""
    from runner.config.schema import RegularizerConfig, defaults
    from runner.registry.data import DATASETS
    from runner.registry.runs import TASKS
    from runner.registry.training import AUGMENTATIONS, augmentation_keys

    r, task = cfg.regularizer, TASKS[cfg.task]
    if task.data_from_saved_run or not task.reads_key("regularizer.augment"):  # nothing trains
        return []
    every, used = augmentation_keys(r.augment)
    default = defaults(RegularizerConfig)
    lines = [f"regularizer.{k}={r[k]} does nothing: no augmentation in regularizer.augment reads it"
             for k in sorted(every - used) if r[k] != default[k]]  # fmt: skip
    entry = DATASETS.get(cfg.dataset.name)
    mirrors = [a for a in r.augment if a in AUGMENTATIONS and AUGMENTATIONS[a].mirrors]
    if mirrors and entry is not None and entry.glyphs:
        lines.append(f"regularizer.augment {mirrors[0]} mirrors {cfg.dataset.name}'s digits, which makes some of them "
                     "another digit or none: regularizer.augment=[crop] shifts them only")  # fmt: skip
    return lines


def _unregularized(cfg) -> list[str]:
    """Dropout follows hidden FC layers (and the output with model.head_activation), BatchNorm
    hidden FC and conv layers: with model.hidden=[] and nothing else for them, they are not in the
    network (`model.hidden=[] regularizer=dropout` trained a plain linear model, unsaid)."""
    from runner.registry.models import MODELS

    m, r = cfg.model, cfg.regularizer
    if len(m.hidden) > 0 or MODELS.get(m.name) is None:
        return []
    lines = []
    if r.dropout > 0 and not m.head_activation:
        lines.append(f"regularizer.dropout={r.dropout:g} does nothing: dropout follows hidden FC layers and "
                     "model.hidden=[] has none (model.head_activation=true puts it after the output)")  # fmt: skip
    if r.batchnorm and not MODELS[m.name].conv:
        lines.append("regularizer.batchnorm=true does nothing: BatchNorm follows hidden FC and conv layers and "
                     f"model={m.name} with model.hidden=[] has neither")  # fmt: skip
    return lines


def _study_notes(cfg) -> list[str]:
    from runner.registry.studies import STUDIES

    study = STUDIES.get(cfg.study.name) if cfg.task == "study" else None
    return study.notes(cfg) if study is not None and study.notes is not None else []


def problems(cfg, overrides=()) -> list[UserError]:
    """Every check's error for this config, in prepare's order (prepare stops at the first): a
    sweep's preflight compares them across jobs. Changes cfg as prepare does. `overrides`: those
    cfg was composed from, to name the file a refused value came from."""
    from runner.config.provenance import naming_files

    found = []
    for step in _steps(derived=False):
        try:
            with naming_files(overrides):
                step(cfg)
        except UserError as ex:
            found.append(ex)
        except Exception:  # noqa: BLE001 - a later check tripping over an earlier error's value
            break
    return found


def _steps(derived: bool) -> list:
    from runner.config import paths

    # make the config runnable, validate it, then check what only a command can ask for
    return [paths.rebase, *SHAPE, shortcuts.expand, *RANGES, *([] if derived else [check_reduced_is_read])]
