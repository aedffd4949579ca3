"""The two checks every config section uses; each raises a ConfigError that the CLI prints as
one line naming the key, what was expected and what was given. And the notes for the keys an
option or a task ignores."""

from __future__ import annotations

import math
from typing import Any

from runner.errors import ConfigError, as_typed


def require(ok: bool, key: str, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError(key, expected, value)


def require_measured(cfg, measured: list[str]) -> None:
    """Early stopping, the plateau schedule and a sweeper's objective watch a metrics.csv column
    the run must measure (no val_loss without a validation split, no accuracy in a regression):
    a search whose objective no trial measures scored every trial the worst value, and early
    stopping on a missing column never stopped. `measured`: the run's loss and accuracy columns."""
    from runner.errors import ConfigError
    from runner.sweep.objective import parse

    hint = "" if any(c.startswith("val_") for c in measured) else " (a val_ column needs dataset.val_size)"
    name = cfg.get("optimized_metric")
    if name and parse(name)[1] not in measured:  # final_ or best_ of a column
        raise ConfigError("optimized_metric", f"final_ or best_ of a column this run measures: {', '.join(measured)}"
                          f"{hint}", name)  # fmt: skip
    watched = {"trainer.early_stopping.metric": cfg.trainer.early_stopping.metric}
    if cfg.scheduler.name == "plateau":
        watched["scheduler.metric"] = cfg.scheduler.metric
    for key, column in watched.items():
        if column is not None and column not in measured:
            raise ConfigError(key, f"a column this run measures: {', '.join(measured)}{hint}", column)


def require_size(key: str, value: float, allow_zero: bool = True) -> None:
    """A size is 0 (off), a fraction in (0, 1), or a whole count >= 1."""
    ok = math.isfinite(value) and value >= 0 and (value < 1 or float(value).is_integer())
    if not allow_zero and value == 0:
        ok = False
    require(ok, key, "0 (off), a fraction in (0, 1) or a whole count >= 1", value)


def unread_keys(section: str, node, schema, registry) -> list[str]:
    """A line for each key of `section` that only other options read (their entries' `reads`),
    set away from the schema's default: the chosen option ignores it (optimizer=adam
    optimizer.momentum=0.5). Notes, not errors: `-m optimizer=sgd,adam optimizer.momentum=0.5`
    is a fair sweep."""
    from omegaconf import OmegaConf

    from runner.config.schema import defaults

    values, default = OmegaConf.to_container(node, resolve=True), defaults(schema)
    option = values["name"]
    lines = []
    for key in dict.fromkeys(k for entry in registry.values() for k in entry.reads):
        if key in registry[option].reads or values[key] == default[key]:
            continue
        readers = [name for name, entry in registry.items() if key in entry.reads]
        lines.append(f"{section}.{key}={as_typed(values[key])} does nothing for {section}={option}: only "
                     f"{' and '.join(readers)} read{'s' if len(readers) == 1 else ''} it")  # fmt: skip
    return lines


def unread_early_stopping(cfg) -> list[str]:
    """A line for the trainer.early_stopping keys set away from their defaults while its `metric` is
    null, which turns early stopping off (trainer.early_stopping.patience=3 alone did nothing, unsaid)."""
    from omegaconf import OmegaConf

    from runner.config.schema import EarlyStoppingConfig, defaults

    values = OmegaConf.to_container(cfg.trainer.early_stopping, resolve=True)
    if values["metric"] is not None:
        return []
    default = defaults(EarlyStoppingConfig)
    unread = [f"trainer.early_stopping.{k}={as_typed(v)}" for k, v in values.items() if v != default[k]]
    if not unread:
        return []
    verb = "does" if len(unread) == 1 else "do"
    return [f"{', '.join(unread)} {verb} nothing while trainer.early_stopping.metric is null (early stopping off); "
            "set it to the column to watch, e.g. trainer.early_stopping.metric=val_loss"]  # fmt: skip


def unread_by_task(cfg, overrides) -> list[str]:
    """One line naming the command line's overrides that the task never reads (task=gradcheck
    trainer.precision=bf16): keys outside its registry entry's `reads`. The command's words, not
    the composed config, so a group's own defaults (optimizer=sgd's lr) are not counted."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from runner.config.compose import is_preset_group
    from runner.registry.runs import TASKS

    task = TASKS[cfg.task]
    if task.reads is None or not overrides:
        return []
    unread = []
    for o in OverridesParser.create().parse_overrides(list(overrides)):
        key = o.key_or_group
        if o.is_delete() or key.split(".")[0] == "hydra" or is_preset_group(key):
            continue  # a preset sets keys across the config, some of them read
        if not task.reads_key(key):
            unread.append(o.input_line)
    if not unread:
        return []
    verb = "does" if len(unread) == 1 else "do"
    return [f"{', '.join(unread)} {verb} nothing for task={cfg.task}: {task.ignores_because}"]


def unused_folder(hydra_cfg, multirun: bool) -> list[str]:
    """One line for each folder the command sets for the other mode, which Hydra ignores without
    a word: hydra.sweep.dir on a single run (a run's folder is hydra.run.dir; an experiment that
    is one run, not a sweep, wrote elsewhere than asked), hydra.run.dir on a sweep."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from runner.config.overrides import typed_overrides

    other = ("hydra.run.dir",) if multirun else ("hydra.sweep.dir", "hydra.sweep.subdir")
    folder = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    where = hydra_cfg.sweep.dir if multirun else hydra_cfg.runtime.output_dir
    lines = []
    for o in OverridesParser.create().parse_overrides(typed_overrides(hydra_cfg.overrides.hydra)):
        if o.key_or_group in other:
            mode, fix = ("a sweep", "") if multirun else ("a single run", "; add -m to sweep")
            lines.append(f"{o.input_line} does nothing in {mode}: its folder is {folder} ({where}){fix}")
    return lines


def unused_sweep_settings(hydra_cfg, task: str) -> list[str]:
    """One line for the launcher and sweeper a single run's command chooses or sets (hydra/launcher=joblib
    hydra.launcher.n_jobs=4), which Hydra uses only in a sweep and ignored without a word. The sweeper's
    params are unswept()'s."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from runner.config.overrides import typed_overrides

    found: dict[str, list] = {}
    for o in OverridesParser.create().parse_overrides(typed_overrides(hydra_cfg.overrides.hydra)):
        key = o.key_or_group
        part = next((p for p in ("launcher", "sweeper") if key == f"hydra/{p}" or key.startswith(f"hydra.{p}.")), None)
        if part and not key.startswith("hydra.sweeper.params"):
            found.setdefault(part, []).append(o.input_line)
    why = ("a reproduction runs its parts' jobs one after another in this process" if task == "reproduce"
           else "add -m to sweep")  # fmt: skip
    return [f"{' '.join(typed)} {'does' if len(typed) == 1 else 'do'} nothing in a single run: the {part} runs a "
            f"sweep's jobs; {why}" for part, typed in found.items()]  # fmt: skip


def silent_verbose(hydra_cfg) -> list[str]:
    """One line when hydra.verbose asks for debug lines that nothing will print: it lowers the
    loggers' level, and dlrun's default logging (hydra/job_logging and hydra/hydra_logging none)
    has no handler to write them."""
    from runner.config.overrides import typed_overrides

    choices = hydra_cfg.runtime.choices
    if not hydra_cfg.verbose or any(choices.get(f"hydra/{g}") != "none" for g in ("job_logging", "hydra_logging")):
        return []
    typed = [o for o in typed_overrides(hydra_cfg.overrides.hydra) if o.lstrip("+").startswith("hydra.verbose=")]
    return [f"{typed[-1] if typed else 'hydra.verbose'} prints nothing while Hydra's logging is off (dlrun's default); "
            "add hydra/job_logging=default for the debug lines of the run, hydra/hydra_logging=default for Hydra's own"]  # fmt: skip


def unswept(hydra_cfg) -> list[str]:
    """One line when a single run's Hydra config names keys to sweep (sweep=activations
    hydra.mode=RUN, or a sweep YAML of one's own without `hydra.mode: MULTIRUN`): Hydra runs the
    one job with the config's own values and says nothing of the params."""
    params = hydra_cfg.sweeper.get("params") or {}
    if not params:
        return []
    choices = hydra_cfg.runtime.choices
    origin = next(
        (f" (from {group}={choices[group]})" for group in ("sweep", "hparams_search") if choices.get(group)), ""
    )
    return [
        f"hydra.sweeper.params{origin} are not swept in a single run: it uses the config's own "
        f"{', '.join(map(str, params))}; add -m to sweep them"
    ]
