"""task=reproduce: one command reproduces a published report, our numbers beside its.

    dlrun experiment=reproduce/r2                  one report into outputs/reproduce/r2/
    dlrun experiment=reproduce/all                 all five, each in its folder, one report for all
    make reproduce REPORTS="r2 r5" QUICK=1         the same, quick: reduced data and epochs

A report's preset (conf/experiment/reproduce/<report>.yaml) lists its parts (runner/reproduce/
spec.py): each the report's study run with the report's own setup, as a sweep folder inside
the report's folder. Before it starts the command prints an estimate of its time; run again,
it skips what finished and resumes what was stopped (the sweep folder rules: the folder
remembers the command). At the end every published table is written with our value, the
published one, the difference and a flag outside the tolerance: reproduction.md / .html / .csv.
"""

from __future__ import annotations

import time
from pathlib import Path

from omegaconf import OmegaConf


def _hydra_node():
    """Hydra's node of the running command (its root config and config folders), or None."""
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def _command_overrides() -> list:
    """The command's overrides that change what the jobs compute (not which reports or parts
    run, nor the published values, which only change the report)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    keep = []
    for o in map(str, HydraConfig.get().overrides.task):
        key = o.lstrip("+~").split("=", 1)[0]
        if key == "experiment" or (key.startswith("reproduce.") and key != "reproduce.quick"):
            continue
        keep.append(o)
    return keep


def _print(cfg, line: str) -> None:
    if cfg.trainer.progress != "quiet":
        from runner.say import say

        say(line)


def forecast(cfg, parts: list, folder: Path) -> float:
    """Print what will run and how long it should take; return the seconds."""
    from runner.config.validate import prepare
    from runner.reproduce.estimate import part_seconds
    from runner.reproduce.execute import base_overrides, compose_in_app, part_jobs, plan
    from runner.runfolder import finished

    total, lines = 0.0, []
    for part in parts:
        grid, _ = plan(part, cfg)
        todo = [prepare(compose_in_app(base_overrides(part, cfg) + job)) for _, job, name in part_jobs(grid)
                if finished(folder / part.name / name) is None]  # fmt: skip
        seconds, how = part_seconds(part, cfg, todo) if todo else (0.0, "finished")
        total += seconds
        lines.append(f"  {part.name:28s} {len(todo):3d} job(s) to run  {seconds / 60:7.1f} min  ({how})")
    device = str(cfg.device)
    _print(cfg, f"reproduce {cfg.reproduce.report}{' (quick)' if cfg.reproduce.quick else ''}: about "
           f"{total / 60:.1f} min on this machine (device={device}); run the same command again to resume")  # fmt: skip
    for line in lines:
        _print(cfg, line)
    return total


def run_report(cfg, folder: Path, label: str = "") -> tuple[list, list]:
    """One report's parts into `folder`, then its reproduction files; returns its (markdown
    sections, csv rows) for a report of all."""
    from runner import runfolder
    from runner.files import atomic_write_text, write_json
    from runner.reproduce.execute import run_part
    from runner.reproduce.render import header, report_sections, write_report

    folder = Path(folder)
    parts = check(cfg)
    runfolder.lock(folder, "hydra.run.dir", kind="reproduce")
    runfolder.guard_sweep(folder, _command_overrides(), cfg.data_dir, _hydra_node())
    atomic_write_text(folder / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    expected = forecast(cfg, parts, folder)
    started, runs = time.perf_counter(), {}
    for part in parts:
        _print(cfg, f"{label}part {part.name}: {part.title}")
        result = run_part(part, cfg, folder, label)
        runs[part.name] = {"jobs": sum(result["counts"].values()), "seconds": result["seconds"],
                           "counts": result["counts"]}  # fmt: skip
    md, rows = report_sections(cfg, folder, parts, runs)
    seconds = time.perf_counter() - started
    title = f"Reproducing {cfg.reproduce.report}: {cfg.reproduce.title}"
    write_report(folder, title, md, rows, header(cfg, seconds), judged=not cfg.reproduce.quick)
    status = outcome(runs)
    write_json(folder / "summary.json", {
        "task": "reproduce", "report": cfg.reproduce.report, "quick": bool(cfg.reproduce.quick),
        "status": status, "parts": runs, "estimated_seconds": expected, "wall_seconds": seconds,
        "values": len(rows), "within": sum(r[-1] is True for r in rows), "outside": sum(r[-1] is False for r in rows),
    })  # fmt: skip
    _print(cfg, f"{label}reproduction of {cfg.reproduce.report}: {folder / 'reproduction.html'}")
    if status != "ok":
        _print(cfg, f"{label}{_not_ok(runs)}")
    runfolder.unlock(folder)
    return md, rows


def check(cfg) -> list:
    """The parts to run, once the command's choice of them and every part's dataset are known to be
    there: the files were looked for only by each job, so r2 trained its CIFAR-10 parts for twenty
    minutes, then failed its last part for want of the Gurmukhi digits (a look, nothing read or downloaded)."""
    from runner.config.validate import prepare
    from runner.errors import UserError
    from runner.reproduce.execute import base_overrides, compose_in_app, part_jobs, plan
    from runner.reproduce.spec import read_parts
    from runner.sweep.preflight import missing_data

    parts = _selected(cfg, read_parts(cfg.reproduce))
    for part in parts:
        grid, _ = plan(part, cfg)
        _, job, _ = part_jobs(grid)[0]
        found = missing_data(prepare(compose_in_app(base_overrides(part, cfg) + job)))
        if found:
            raise UserError(f"reproduce {cfg.reproduce.report}, part {part.name}: {found[0]}")
    return parts


def outcome(runs: dict) -> str:
    """A reproduction's status from its parts' job counts, by the sweep's rules (runner.sweep.state),
    which the exit code follows: `failed` when a job failed or did not finish, `diverged`, else `ok`."""
    from collections import Counter

    from runner.sweep import state

    counts = Counter()
    for run in runs.values():
        counts.update(run["counts"])
    state.outcomes.append(dict(counts))
    return "failed" if state.failed(counts) else "diverged" if counts.get("diverged") else "ok"


def _not_ok(runs: dict) -> str:
    """`4 of 9 jobs did not end ok (mlp_activations: 3 failed; gradcheck: 1 failed): their values are not measured ...`"""
    parts = {name: {k: n for k, n in run["counts"].items() if k != "ok" and n} for name, run in runs.items()}
    parts = {name: c for name, c in parts.items() if c}
    jobs = sum(run["jobs"] for run in runs.values())
    bad = sum(sum(c.values()) for c in parts.values())
    where = "; ".join(f"{name}: {', '.join(f'{n} {k}' for k, n in c.items())}" for name, c in parts.items())
    return (f"{bad} of {jobs} jobs did not end ok ({where}): the values they give are not measured; each job's "
            "summary.json and error.txt say why, and the same command runs them again")  # fmt: skip


def _selected(cfg, parts: list) -> list:
    only = list(cfg.reproduce.get("only") or [])
    if not only:
        return parts
    from runner.errors import ConfigError

    names = [p.name for p in parts]
    for name in only:
        if name not in names:
            raise ConfigError("reproduce.only", f"parts of {cfg.reproduce.report}: {', '.join(names)}", name)
    return [p for p in parts if p.name in only]


def is_reproduction_dir(path: Path) -> bool:
    """A reproduction writes its resolved config.yaml (task: reproduce) at the top of its folder."""
    from runner.runfolder import task_of

    return task_of(path) == "reproduce"


def rerender(folder: Path) -> tuple[list, list]:
    """reproduction.md/.html/.csv again from the folder's files and its config.yaml's reference
    values; nothing is trained. A folder of all reports renders each report's, then its own."""
    from runner.files import read_config, read_json
    from runner.reproduce.render import header, report_sections, write_report
    from runner.reproduce.spec import read_parts

    folder = Path(folder)
    cfg = read_config(folder / "config.yaml")
    if cfg.reproduce.reports:
        md_all, rows_all = [], []
        for name in cfg.reproduce.reports:
            if (folder / name / "config.yaml").is_file():
                md, rows = rerender(folder / name)
                title = read_config(folder / name / "config.yaml").reproduce.title
                md_all += _within_all(name, title, md)
                rows_all += rows
        write_report(folder, "Reproducing the classic reports", md_all, rows_all, header(cfg, None),
                     judged=not cfg.reproduce.quick)  # fmt: skip
        return md_all, rows_all
    runs = (read_json(folder / "summary.json") or {}).get("parts") or {}
    parts = _selected(cfg, read_parts(cfg.reproduce))
    _render_parts(folder, parts)
    md, rows = report_sections(cfg, folder, parts, runs)
    write_report(folder, f"Reproducing {cfg.reproduce.report}: {cfg.reproduce.title}", md, rows, header(cfg, None),
                 judged=not cfg.reproduce.quick)  # fmt: skip
    return md, rows


def _render_parts(folder: Path, parts: list) -> None:
    """Each part's sweep report and summary.csv again from its jobs' files: a reproduction stopped
    in its first part had none, so the jobs it had finished there showed as not measured."""
    from runner.report.sweep_report import render_sweep
    from runner.sweep.summary import is_sweep_dir, job_dirs

    for part in parts:
        if is_sweep_dir(folder / part.name) and job_dirs(folder / part.name):
            render_sweep(folder / part.name)


def run_reproduce(cfg, run_dir: Path, label: str = "") -> dict:
    from runner.files import atomic_write_text, read_json, write_json
    from runner.reproduce.execute import compose_in_app, inherited
    from runner.reproduce.render import header, write_report

    run_dir = Path(run_dir)
    if not cfg.reproduce.reports:  # a report's own preset
        md, rows = run_report(cfg, run_dir, label)
        return {"status": (read_json(run_dir / "summary.json") or {}).get("status"), "values": len(rows)}

    subs = [compose_in_app([f"experiment=reproduce/{name}", f"reproduce.quick={str(cfg.reproduce.quick).lower()}",
                            *inherited(cfg)]) for name in cfg.reproduce.reports]  # fmt: skip
    for sub in subs:  # every report's data before the first report's jobs
        check(sub)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    md_all, rows_all, started = [], [], time.perf_counter()
    statuses = []
    for name, sub in zip(cfg.reproduce.reports, subs):
        md, rows = run_report(sub, run_dir / name, f"{label}[{name}] ")
        statuses.append((read_json(run_dir / name / "summary.json") or {}).get("status"))
        md_all += _within_all(name, sub.reproduce.title, md)
        rows_all += rows
    seconds = time.perf_counter() - started
    write_report(run_dir, "Reproducing the classic reports", md_all, rows_all, header(cfg, seconds),
                 judged=not cfg.reproduce.quick)  # fmt: skip
    status = next((s for s in ("failed", "diverged") if s in statuses), "ok")
    write_json(run_dir / "summary.json", {
        "task": "reproduce", "reports": list(cfg.reproduce.reports), "quick": bool(cfg.reproduce.quick),
        "status": status, "wall_seconds": seconds, "values": len(rows_all),
        "within": sum(r[-1] is True for r in rows_all), "outside": sum(r[-1] is False for r in rows_all),
    })  # fmt: skip
    return {"status": status, "values": len(rows_all)}


def _presets() -> list:
    """conf/experiment/reproduce/*.yaml: one per published report, and `all`, which runs them."""
    from runner.config.compose import conf_dir

    return sorted((conf_dir() / "experiment" / "reproduce").glob("*.yaml"))


def report_names() -> list:
    """The published reports dlrun reproduces (what `all`'s reproduce.reports takes)."""
    return [p.stem for p in _presets() if p.stem != "all"]


def catalog() -> str:
    """The reproduction presets, what each reproduces and how long it takes (for --help).
    Hydra resolves the help template at every compose (OmegaConf dereferences it while merging),
    and a reproduction composes each of its jobs: the text is kept while the files are unchanged."""
    presets = _presets()
    key = tuple((str(p), p.stat().st_mtime_ns) for p in presets)
    if _CATALOG.get("key") != key:
        _CATALOG.update(key=key, text=_catalog_text(presets))
    return _CATALOG["text"]


_CATALOG: dict = {}


def _catalog_text(presets: list) -> str:
    import yaml

    lines = []
    for path in presets:
        try:
            r = (yaml.safe_load(path.read_text()) or {}).get("reproduce") or {}
        except (OSError, yaml.YAMLError):
            continue
        lines.append(f"  reproduce/{path.stem:4s} {r.get('title', '')}")
        if r.get("expected"):
            lines.append(f"  {'':14s} {r['expected']}")
    return "\n".join(lines)


def _within_all(name: str, title: str, md: list) -> list:
    """One report's sections in the report of all, under its name and title."""
    link = f"Its own report: [{name}/reproduction.html]({name}/reproduction.html)."
    return [f"## {name}: {title}", "", link, "", *_nested(md, name)]


def _nested(md: list, prefix: str) -> list:
    """A report's sections inside the report of all: one heading level down, links under its folder."""
    import re

    out = []
    for line in md:
        if line.startswith("#"):
            line = "#" + line
        out.append(re.sub(r"\]\((?!https?:)([^)]+)\)", lambda m: f"]({prefix}/{m.group(1)})", line))
    return out
