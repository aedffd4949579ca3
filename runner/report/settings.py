"""How a run was trained, in a few lines a reader can take in: the model's shape, the activation,
regularizers, init, optimizer, schedule, batch and epochs, read from the config.yaml a run wrote.
A run's report shows them all; a sweep's report shows those every job shared (what differs is in
its table). Which keys each option reads comes from its registry entry, so a new optimizer or
schedule is described without a change here."""

from __future__ import annotations

from pathlib import Path

from runner.formatting import count

# dataset keys that shape the splits a run trained and tested on (the rest say where the files
# are and what one sample looks like); shown where they differ from the schema's default
_DATA_SHAPING = ("val_size", "train_fraction", "subsample", "test_subsample", "holdout", "shuffle_labels",
                 "label_seed", "fn", "low", "high", "n_train", "n_test", "noise")  # fmt: skip


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(map(_value, v)) + "]"
    return str(v)


def _keys(section: dict, keys) -> list[str]:
    """'key value' for each key that is set: a true flag by its name alone, a null or false one
    not at all (its documented default applies)."""
    out = []
    for k in keys:
        v = section.get(k)
        if v is None or v is False:
            continue
        out.append(k if v is True else f"{k} {_value(v)}")
    return out


def _with(name: str, parts: list[str]) -> str:
    return ", ".join([name, *parts])


def settings(cfg: dict) -> dict[str, str]:
    """label -> text, in reading order, for the sections the config's task reads."""
    from omegaconf import DictConfig, OmegaConf

    from runner.config.schema import DatasetConfig, RegularizerConfig, defaults
    from runner.registry.activations import ACTIVATIONS
    from runner.registry.runs import TASKS
    from runner.registry.training import OPTIMIZERS, SCHEDULERS

    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_container(cfg, resolve=True)
    task = TASKS.get(cfg.get("task") or "train")
    reads = task.reads_key if task is not None else (lambda key: True)
    # an eval's network (and optimizer) are the saved run's; its schedule, batches and epochs are
    # only the command's defaults, which trained nothing
    trains = task is None or not task.data_from_saved_run
    d, m, a, r = cfg["dataset"], cfg["model"], cfg["activation"], cfg["regularizer"]
    o, s, t = cfg["optimizer"], cfg["scheduler"], cfg["trainer"]
    default = defaults(DatasetConfig)
    shaping = [k for k in _DATA_SHAPING if k in d and d[k] != default[k]]
    out = {"data": _with(d["name"], _keys(d, shaping))}
    shape = [f"conv {_value(m['conv'])}"] if m.get("conv") else []
    shape += [f"hidden {_value(m['hidden'])}", *_keys(m, ["head_activation"])]
    out["model"] = _with(m["name"], shape)
    act = ACTIVATIONS.get(a["name"])
    out["activation"] = _with(a["name"], _keys(a, act.reads if act else ()))
    strengths = [
        f"{k} {_value(r[k])}" if not isinstance(r[k], bool) else k for k in defaults(RegularizerConfig) if r.get(k)
    ]
    out["regularizer"] = ", ".join(strengths) or "none"
    out["init"] = cfg["init"]["name"]
    if reads("optimizer"):
        opt = OPTIMIZERS.get(o["name"])
        out["optimizer"] = _with(o["name"], [f"lr {_value(o['lr'])}", *_keys(o, opt.reads if opt else ())])
    if reads("scheduler") and trains:
        sched = SCHEDULERS.get(s["name"])
        out["schedule"] = _with(s["name"], _keys(s, sched.reads if sched else ()))
    if reads("trainer.batch_size") and trains:
        out["batches"] = f"{t['batch_size']} samples per step, {count(t['epochs'], 'epoch')}"
        es = t.get("early_stopping") or {}
        if es.get("metric"):
            out["early stopping"] = _with(es["metric"], _keys(es, ["mode", "patience", "min_delta"]))
        out["precision"] = t["precision"]
    return out


def read_settings(run_dir: Path) -> dict[str, str] | None:
    """The settings of the run whose folder this is; None where its config.yaml is missing or
    damaged (a report still renders what the other files hold)."""
    from runner.errors import DataError
    from runner.files import read_yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return None
    try:
        return settings(read_yaml(path, "dlrun config.yaml"))
    except (DataError, KeyError, TypeError, AttributeError):
        return None


def table(rows: dict[str, str]) -> list[str]:
    """Markdown lines: one row per setting."""
    return ["| setting | value |", "|---|:---|", *(f"| {k} | {v} |" for k, v in rows.items())]  # words: left-aligned


def shared_section(run_dirs, noun: str) -> list[str]:
    """A report's section of the settings these runs (a None: one with no folder yet) all had
    alike, read from each one's config.yaml; nothing when none is readable or they share none.
    Where one of several is readable, alike means nothing: the section is that one's settings,
    and says so (a sweep stopped after its first job called its swept value shared)."""
    run_dirs = list(run_dirs)
    readable = [(d, r) for d in run_dirs if d is not None for r in [read_settings(d)] if r is not None]
    rows = shared([r for _, r in readable])
    if not rows:
        return []
    if len(readable) == 1 and len(run_dirs) > 1:
        alone = Path(readable[0][0]).name
        return [f"## Settings of the only {noun} with a config.yaml so far", "",
                f"`{alone}`; which of them the others share is not known yet.", "", *table(rows), ""]  # fmt: skip
    return [f"## Settings every {noun} shared", "", *table(rows), ""]


def shared(per_job: list[dict[str, str]]) -> dict[str, str]:
    """The settings every job has alike, in the first job's order."""
    if not per_job:
        return {}
    first, rest = per_job[0], per_job[1:]
    return {k: v for k, v in first.items() if all(job.get(k) == v for job in rest)}
