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


def _keys(section: dict, keys) -> list[tuple[str, str]]:
    """(key, 'key value') for each key that is set: a true flag by its name alone, a null or
    false one not at all (its documented default applies)."""
    out = []
    for k in keys:
        v = section.get(k)
        if v is None or v is False:
            continue
        out.append((k, k if v is True else f"{k} {_value(v)}"))
    return out


def _with(name: str, parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("", name), *parts]


def settings(cfg: dict) -> dict[str, str]:
    """label -> text, in reading order, for the sections the config's task reads."""
    return {label: ", ".join(text for _, text in parts) for label, parts in setting_parts(cfg).items()}


def setting_parts(cfg: dict) -> dict[str, list[tuple[str, str]]]:
    """settings() as (key, text) parts: the option's name (key ''), then one part per key it
    reads, so a sweep's report can show the parts its jobs share where a whole line differs."""
    from omegaconf import DictConfig, OmegaConf

    from runner.config.schema import DatasetConfig, RegularizerConfig, defaults
    from runner.registry.activations import ACTIVATIONS
    from runner.registry.runs import TASKS
    from runner.registry.training import OPTIMIZERS, SCHEDULERS, augmentation_keys

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
    shape = [("conv", f"conv {_value(m['conv'])}")] if m.get("conv") else []
    shape += [("hidden", f"hidden {_value(m['hidden'])}"), *_keys(m, ["head_activation"])]
    out["model"] = _with(m["name"], shape)
    act = ACTIVATIONS.get(a["name"])
    out["activation"] = _with(a["name"], _keys(a, act.reads if act else ()))
    every, used = augmentation_keys(r.get("augment", []))  # crop_padding: shown with a crop only
    shown = [k for k in defaults(RegularizerConfig) if r.get(k) and (k not in every or k in used)]
    strengths = [(k, f"{k} {_value(r[k])}" if not isinstance(r[k], bool) else k) for k in shown]
    out["regularizer"] = strengths or [("", "none")]
    out["init"] = [("", cfg["init"]["name"])]
    if reads("optimizer"):
        opt = OPTIMIZERS.get(o["name"])
        out["optimizer"] = _with(o["name"], [("lr", f"lr {_value(o['lr'])}"), *_keys(o, opt.reads if opt else ())])
    if reads("scheduler") and trains:
        sched = SCHEDULERS.get(s["name"])
        out["schedule"] = _with(s["name"], _keys(s, sched.reads if sched else ()))
    if reads("trainer.batch_size") and trains:
        out["batches"] = [("batch_size", f"{t['batch_size']} samples per step"),
                          ("epochs", count(t["epochs"], "epoch"))]  # fmt: skip
        es = t.get("early_stopping") or {}
        if es.get("metric"):
            out["early stopping"] = _with(es["metric"], _keys(es, ["mode", "patience", "min_delta"]))
        out["precision"] = [("", t["precision"])]
    return out


def read_settings(run_dir: Path, parts: bool = False) -> dict | None:
    """The settings of the run whose folder this is (`parts`: as setting_parts gives them);
    None where its config.yaml is missing or damaged (a report still renders what the other
    files hold)."""
    from runner.errors import DataError
    from runner.files import read_yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return None
    try:
        return (setting_parts if parts else settings)(read_yaml(path, "dlrun config.yaml"))
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
    readable = [(d, r) for d in run_dirs if d is not None for r in [read_settings(d, parts=True)] if r is not None]
    rows = shared([r for _, r in readable])
    if not rows:
        return []
    if len(readable) == 1 and len(run_dirs) > 1:
        alone = Path(readable[0][0]).name
        return [f"## Settings of the only {noun} with a config.yaml so far", "",
                f"`{alone}`; which of them the others share is not known yet.", "", *table(rows), ""]  # fmt: skip
    return [f"## Settings every {noun} shared", "", *table(rows), ""]


def shared(per_job: list[dict[str, list]]) -> dict[str, str]:
    """The settings every job has alike (setting_parts of each), in the first job's order. A
    line whose option is the same in every job but whose keys differ keeps the parts they share
    and names the rest as varying (`adam, lr varies, betas [0.9, 0.999]`): a swept lr dropped
    the optimizer's line, a swept batch size the epochs, a swept depth a CNN's conv layers."""
    if not per_job:
        return {}
    first, rest = per_job[0], per_job[1:]
    rows = {}
    for label, parts in first.items():
        others = [job.get(label) for job in rest]
        if None in others:
            continue
        if all(o == parts for o in others):
            rows[label] = ", ".join(text for _, text in parts)
            continue
        names = {dict(p).get("") for p in (parts, *others)}
        if len(names) > 1:  # another option (adam vs sgd): nothing of the line is shared
            continue
        alike = [(k, text) for k, text in parts if all((k, text) in o for o in others)]
        if not alike and any([k for k, _ in o] != [k for k, _ in parts] for o in others):
            continue  # nothing alike, not even which keys are set (none vs l2)
        keys = dict.fromkeys(k for p in (parts, *others) for k, _ in p)  # the first job's order, then the others'
        rows[label] = ", ".join(dict(alike).get(k) or f"{k} varies" for k in keys)
    return rows
