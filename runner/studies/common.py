"""What the studies share: deriving a sub-run's config, training it (or keeping the one an
earlier attempt finished), the plateau rule, reading a study's CSV back, and the study
folder's closing files (summary.json, report, DONE)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from runner.files import atomic_write_text, write_json, write_marker
from runner.say import say


def derive(cfg, **overrides):
    """A copy of cfg with dotted keys replaced, validated: derive(cfg, **{"model.hidden": [8]})."""
    from runner.config.validate import prepare

    sub = OmegaConf.merge(cfg, OmegaConf.from_dotlist([]))  # a deep copy that keeps the schema
    for key, value in overrides.items():
        OmegaConf.update(sub, key, value, merge=False)
    prepare(sub, derived=True)
    return sub


_NAMED: list[set] = []  # the run folders the study under way trains or keeps (naming_runs)


@contextlib.contextmanager
def naming_runs():
    """Collect the run folders that train() is given while the block runs."""
    named: set = set()
    _NAMED.append(named)
    try:
        yield named
    finally:
        _NAMED.remove(named)


def drop_unnamed_runs(study_dir: Path, named: set, label: str = "") -> None:
    """Remove the finished runs an earlier, stopped attempt left that this one did not name: the
    study was run again with other settings (fewer depths), and its folder still held a run its
    report does not show. Folders emptied by that go too."""
    import shutil

    from runner.files import DONE_MARKER

    study_dir = Path(study_dir).resolve()
    runs = {p.parent for p in study_dir.rglob(DONE_MARKER) if p.parent != study_dir}
    unnamed = sorted(r for r in runs if r not in named and not any(n in r.parents for n in named))
    for run in unnamed:
        shutil.rmtree(run, ignore_errors=True)
        parent = run.parent
        while parent != study_dir and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    if unnamed:
        names = ", ".join(r.relative_to(study_dir).as_posix() for r in unnamed)
        say(
            f"{label}removed {len(unnamed)} finished run(s) of an earlier attempt that these settings do not name: {names}"
        )


def train(sub, run_dir: Path, label: str, hooks=None, needs: tuple = ()) -> dict:
    """One of a study's runs, trained afresh (a study's hooks watch a run from its first step, so
    its runs are not resumed from a checkpoint), or kept: a run of the same config that an earlier,
    stopped attempt of the study finished in run_dir (DONE, and the files `needs` names) is not
    trained again, and its summary.json is what it returns. Its hooks are not called then."""
    from runner.train.run import run_training

    for named in _NAMED:
        named.add(Path(run_dir).resolve())
    kept = finished_run(sub, run_dir, needs)
    if kept is not None:
        say(f"{label}finished earlier, kept: {run_dir}")
        return kept
    return run_training(sub, run_dir, label=label, hooks=hooks, resume=False)


def finished_run(sub, run_dir: Path, needs: tuple = ()) -> dict | None:
    """The summary of a finished run of config `sub` in run_dir, or None (none there, another
    config's, unfinished, or damaged: trained again)."""
    from runner.errors import DataError
    from runner.files import read_config, read_json
    from runner.runfolder import finished
    from runner.train.checkpoint import fingerprint

    run_dir = Path(run_dir)
    if finished(run_dir) is None or not all((run_dir / name).is_file() for name in needs):
        return None
    try:
        same = fingerprint(read_config(run_dir / "config.yaml")) == fingerprint(sub)
    except DataError:
        return None
    return read_json(run_dir / "summary.json") if same else None


def convergence_epoch(losses, rel: float, window: int) -> int | None:
    """First epoch (1-based) whose loss is within `rel` of the final level, the final level
    being the lowest loss of the last `window` epochs; None when there is no finite loss."""
    losses = np.asarray(losses, dtype=float)
    if losses.size == 0 or not np.isfinite(losses).any():
        return None
    tail = losses[-window:]
    level = np.nanmin(np.where(np.isfinite(tail), tail, np.nan))
    hits = np.flatnonzero(np.isfinite(losses) & (losses <= level * (1 + rel) + 1e-12))
    return int(hits[0]) + 1


def finish(cfg, study_dir: Path, title: str, md: list, results: dict) -> dict:
    """Write the study's config.yaml, report.md/.html, summary.json and (last) DONE."""
    from runner.report.html import markdown_to_html

    atomic_write_text(study_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    md = _with_shared_settings(study_dir, md)
    text = "\n".join([f"# {title}", "", *md])
    atomic_write_text(study_dir / "report.md", text)
    atomic_write_text(study_dir / "report.html", markdown_to_html(text, study_dir, title=title))
    summary = {
        "name": cfg.study.name,
        "task": "study",
        "study": cfg.study.name,
        "status": "ok",
        "reduced": bool(cfg.study.reduced),
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        **results,
    }
    write_json(study_dir / "summary.json", summary)
    write_marker(study_dir, "ok")
    say(f"study {cfg.study.name} done: {study_dir / 'report.html'}")
    return summary


def _with_shared_settings(study_dir: Path, md: list) -> list:
    """The report's lines with the settings its runs all shared (read from their config.yaml)
    before its plots: what the study's prose does not say, such as the batch size or the init."""
    from runner.report.settings import shared_section

    found = (p.parent.relative_to(study_dir) for p in sorted(study_dir.rglob("config.yaml")))
    # a run's own config.yaml, not the study's, nor Hydra's unresolved one in .hydra/
    runs = [study_dir / r for r in found if r.parts and not any(part.startswith(".") for part in r.parts)]
    at = md.index("## Plots") if "## Plots" in md else len(md)
    return [*md[:at], *shared_section(runs, "run"), *md[at:]]


def read_rows(path: Path, columns: list, text: tuple = ()) -> list:
    """A study's CSV back as one dict per row, by column name: blanks as None, numbers as int
    or float (nan and inf included), True/False as bool; the `text` columns as written. A header
    without one of `columns`, or anything else in a column of numbers, is a DataError naming the
    file, the line and the column, not a wrong plot or a traceback from deep in the report."""
    import csv

    from runner.errors import DataError, reading

    def value(cell: str | None, column: str | None, line: int):
        if cell is None or column is None:  # csv's marks for a short row and for extra cells
            raise DataError(f"{path}: line {line}: expected {len(columns)} cells, as its header has")
        if column in text:
            return cell
        if cell == "":
            return None
        if cell in ("True", "False"):
            return cell == "True"
        for kind in (int, float):
            try:
                return kind(cell)
            except ValueError:
                pass
        raise DataError(f"{path}: line {line}, column {column}: expected a number, got {cell!r}")

    with reading(path, "study table"), open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        lacking = [c for c in columns if c not in (reader.fieldnames or [])]
        if lacking:
            raise DataError(f"{path}: not the study's table: its header lacks {', '.join(lacking)}")
        return [{k: value(c, k, reader.line_num) for k, c in row.items()} for row in reader]


def md_table(columns: list, rows: list) -> list:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
