"""Collect a sweep folder's jobs into summary.csv: one row per job with its swept values,
status, final and best metrics, parameter count and seconds. Reads only files, so it works
on any sweep folder, finished or not, and with any launcher."""

from __future__ import annotations

from pathlib import Path

from runner.files import DONE_MARKER, read_json, read_yaml, write_csv
from runner.registry.data import SPLITS

HELD_OUT = SPLITS[1:]  # val, test: the splits whose best epoch is reported
METRIC_COLUMNS = (
    [f"final_{s}_{m}" for s in SPLITS for m in ("loss", "acc")]
    + [f"best_{s}_{m}" for s in HELD_OUT for m in ("acc", "loss")]
    + [f"best_{s}_{m}_epoch" for s in HELD_OUT for m in ("acc", "loss")]
)
# trainer.replicas > 1: the copies' count and the spread of their final metrics
STD_COLUMNS = [f"final_{s}_{m}_std" for s in SPLITS for m in ("loss", "acc")]
TAIL_COLUMNS = [
    "replicas",
    *STD_COLUMNS,
    "vanishing_gradients",
    "grad_ratio",
    "dead_from_epoch",
    "gradcheck_max_rel_error",
    "sensitivity",
    "params",
    "epochs_run",
    "stopped_early_at",
    "tags",
    "seconds",
    "train_seconds",
    "error",
    "dir",
]


def _job_number(d: Path) -> int:
    """A job folder's number: its name's prefix (dlrun's hydra.sweep.subdir, <num>_<overrides>),
    else hydra.job.num in the .hydra/hydra.yaml dlrun writes there (a subdir of one's own, such
    as job_${hydra.job.num}: its jobs were counted as none); -1 for a folder that is no job's."""
    head = d.name.split("_", 1)[0]
    if head.isdigit():
        return int(head)
    record = d / ".hydra" / "hydra.yaml"
    if not record.is_file():
        return -1
    num = (((read_yaml(record, "Hydra hydra.yaml") or {}).get("hydra") or {}).get("job") or {}).get("num")
    return num if isinstance(num, int) and not isinstance(num, bool) else -1


def is_sweep_dir(path: Path) -> bool:
    """Hydra writes multirun.yaml at the root of every sweep it launches."""
    return (Path(path) / "multirun.yaml").is_file()


def job_dirs(sweep_dir: Path) -> list:
    """Job folders (those with Hydra's .hydra/overrides.yaml), by job number."""
    return [d for d, _ in _numbered_jobs(sweep_dir)]


def _numbered_jobs(sweep_dir: Path) -> list:
    """(job folder, its number), by number."""
    found = [(d, _job_number(d)) for d in Path(sweep_dir).iterdir() if (d / ".hydra" / "overrides.yaml").is_file()]
    return [(d, num) for d, num in sorted(found, key=lambda pair: pair[1]) if num >= 0]


def _overrides(job_dir: Path) -> dict:
    items = read_yaml(job_dir / ".hydra" / "overrides.yaml", "list of Hydra overrides") or []
    out = {}
    for item in items:
        key, _, value = str(item).partition("=")
        out[key.lstrip("+~")] = value
    return out


def report_options(sweep_dir: Path) -> tuple[str | None, list]:
    """sweep.x and sweep.extra from the sweep's multirun.yaml (the report's plot choices)."""
    path = Path(sweep_dir) / "multirun.yaml"
    cfg = (read_yaml(path, "Hydra multirun.yaml") or {}) if path.is_file() else {}
    sweep = cfg.get("sweep") or {}
    return sweep.get("x"), list(sweep.get("extra") or [])


def sweep_param_keys(sweep_dir: Path) -> list:
    """Keys the preset or the command line swept, from Hydra's multirun.yaml."""
    path = Path(sweep_dir) / "multirun.yaml"
    if not path.is_file():
        return []
    cfg = read_yaml(path, "Hydra multirun.yaml") or {}
    hydra = cfg.get("hydra", {}) or {}
    keys = list(((hydra.get("sweeper") or {}).get("params") or {}).keys())
    for item in (hydra.get("overrides") or {}).get("task") or []:
        key, _, value = str(item).partition("=")
        if "," in value and not value.startswith(("[", "{", "'", '"')) and key not in keys:
            keys.append(key)
    return keys


def optimized_metric(sweep_dir: Path) -> str | None:
    """The sweep's optimized_metric (a search), or None: from Hydra's multirun.yaml, else (Optuna's
    sweeper writes none) from the config.yaml of its first job."""
    candidates = [Path(sweep_dir) / "multirun.yaml", *(d / "config.yaml" for d in job_dirs(sweep_dir)[:1])]
    for path in candidates:
        if path.is_file():
            return (read_yaml(path, "YAML config") or {}).get("optimized_metric")
    return None


def _status(job_dir: Path, summary: dict | None) -> str:
    if (job_dir / DONE_MARKER).is_file():
        return "unfinished" if summary is None else summary.get("status", "ok")  # None: RECORD_LOST
    if summary and summary.get("status") == "failed":
        return "failed"
    return "unfinished"  # started, and stopped before it finished


def _lost() -> str:
    from runner.runfolder import RECORD_LOST

    return f"{RECORD_LOST}; run the sweep again to run it again"


def collect(sweep_dir: Path) -> tuple[list, list]:
    """(rows, swept keys). A row is a dict with the columns of summary.csv."""
    from runner.sweep.grid import NOT_STARTED, planned_jobs

    numbered = _numbered_jobs(sweep_dir)
    dirs, found = [d for d, _ in numbered], [num for _, num in numbered]
    overrides = [_overrides(d) for d in dirs]
    # the grid's jobs that have no folder: a stopped sweep's jobs still to come (its report said
    # `1 job: 1 unfinished` of four), or a folder deleted since
    unstarted = {n: o for n, o in enumerate(planned_jobs(sweep_dir) or []) if n not in found}
    every = overrides + list(unstarted.values())  # a search's trials to come have no values yet: {}
    keys = []
    for o in every:
        keys += [k for k in o if k not in keys]
    declared = sweep_param_keys(sweep_dir)
    swept = [k for k in keys if k in declared or len({o[k] for o in every if k in o}) > 1]
    rows = []
    for d, num, o in zip(dirs, found, overrides):
        s = read_json(d / "summary.json")
        row = {"job": num, **{k: o.get(k, "") for k in swept}, "status": _status(d, s)}
        final, best = (s or {}).get("final", {}) or {}, (s or {}).get("best", {}) or {}
        for split in SPLITS:
            for m in ("loss", "acc"):
                row[f"final_{split}_{m}"] = final.get(f"{split}_{m}")
        for split in HELD_OUT:
            for m in ("acc", "loss"):
                row[f"best_{split}_{m}"] = best.get(f"{split}_{m}")
                row[f"best_{split}_{m}_epoch"] = best.get(f"{split}_{m}_epoch")
        s = s or {}
        std = s.get("final_std") or {}
        row["replicas"] = s.get("replicas", 1) if s else None
        for col in STD_COLUMNS:
            row[col] = std.get(col[len("final_") : -len("_std")])
        row.update(
            {
                "vanishing_gradients": s.get("vanishing_gradients"),
                "grad_ratio": (s.get("vanishing_evidence") or {}).get("grad_ratio"),
                "dead_from_epoch": s.get("dead_from_epoch"),
                "gradcheck_max_rel_error": (s.get("gradcheck") or {}).get("max_rel_error"),
                "sensitivity": s.get("sensitivity"),
                "params": s.get("params"),
                "epochs_run": s.get("epochs_run"),
                "stopped_early_at": s.get("stopped_early_at"),
                "tags": " ".join(s.get("tags") or []),
                "seconds": s.get("wall_seconds"),
                "train_seconds": s.get("train_seconds"),
                "error": _lost()
                if row["status"] == "unfinished" and (d / DONE_MARKER).is_file()
                else s.get("error", ""),
                "dir": d.name,
            }
        )
        rows.append(row)
    rows += [
        {"job": n, **{k: o.get(k, "") for k in swept}, "status": NOT_STARTED, "dir": ""} for n, o in unstarted.items()
    ]
    return sorted(rows, key=lambda r: r["job"]), swept


def write_summary(sweep_dir: Path) -> tuple[Path, list, list]:
    rows, swept = collect(sweep_dir)
    metric = optimized_metric(sweep_dir)
    search = []
    if metric:  # a search: each trial's objective, the worst value for a failed or diverged one
        from runner.sweep.grid import NOT_STARTED
        from runner.sweep.objective import value

        search = ["objective"]
        for r in rows:  # a job not started, or stopped, has returned nothing yet: blank
            if r["status"] not in (NOT_STARTED, "unfinished"):
                s = read_json(Path(sweep_dir) / r["dir"] / "summary.json")
                r["objective"] = value(s if r["status"] != "failed" else None, metric)
    columns = ["job", *swept, "status", *search, *METRIC_COLUMNS, *TAIL_COLUMNS]
    path = Path(sweep_dir) / "summary.csv"
    write_csv(path, columns, [[r.get(c) for c in columns] for r in rows])
    return path, rows, swept


def status_counts(rows: list) -> dict:
    counts: dict = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts
