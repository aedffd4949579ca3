"""Writing the run's files so that a killed run never leaves one that looks finished: whole
files are written to a temporary name, synced and renamed; metrics.csv is appended and flushed
one row at a time. Every write goes through runner.errors.writing: a full disk or a missing
permission ends as one line naming the file, and no temporary file is left behind. Reading them
back (read_table, read_config, read_yaml) goes through runner.errors.reading: a damaged file is
one line naming it, never a parser's traceback."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

from runner.errors import DataError, UserError, error_chain, reading, writing

DONE_MARKER = "DONE"  # written after everything else by a run that finished (ok or diverged)
ERROR_FILE = "error.txt"  # the traceback of a run that failed; gone once an attempt finishes it


def atomic_write(path: Path, write: Callable) -> None:
    """write(binary file) fills a temporary file beside `path`, which then replaces `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with writing(path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException as ex:
            with contextlib.suppress(OSError):
                tmp.unlink()
            cause = _os_error_behind(ex)
            if cause is not None and cause is not ex:  # e.g. torch.save's zip writer hides ENOSPC
                raise cause from None
            raise


def _os_error_behind(ex: BaseException) -> OSError | None:
    """The OSError (a full disk, a permission) that this error, or one it was raised while
    handling, came from; a writer that fails again while closing must not hide it."""
    return next((e for e in error_chain(ex) if isinstance(e, OSError)), None)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def _jsonable(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # JSON has no NaN/inf; a diverged metric is recorded as null
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(_jsonable(obj), indent=2) + "\n")


def read_json(path: Path) -> dict | None:
    """The JSON object in `path`, or None when it is missing or unreadable."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_table(path: Path, what: str, needs: list = (), **options):
    """A CSV table dlrun wrote, as a DataFrame; a damaged one, or one whose header lacks a
    column in `needs`, is a DataError naming the file, not a traceback from deep in a plot.
    `options` go to pandas.read_csv."""
    import pandas as pd

    with reading(path, what):
        table = pd.read_csv(path, **options)
    missing = [c for c in needs if c not in table.columns]
    if missing:
        raise DataError(f"{path}: not a dlrun {what}: its header lacks {', '.join(missing)}")
    return table


def read_config(path: Path):
    """The config.yaml a run, study or reproduction wrote at the top of its folder, as OmegaConf
    reads it (its floats and nulls typed as dlrun wrote them); damaged: a DataError naming it."""
    from omegaconf import OmegaConf

    with reading(path, "dlrun config.yaml"):
        return OmegaConf.load(path)


def read_yaml(path: Path, what: str):
    """A YAML file dlrun or Hydra wrote (config.yaml, multirun.yaml, .hydra/overrides.yaml), as
    plain Python values; a damaged one is a DataError naming the file and the line."""
    import yaml

    # libyaml's parser when PyYAML has it: the same safe constructor, 10x faster, which a sweep's
    # report reading every job's config.yaml feels; a damaged file is parsed again by PyYAML's
    # own parser, whose error says more plainly where and what it expected
    fast = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with reading(path, what):
        text = Path(path).read_text(encoding="utf-8")
        try:
            return yaml.load(text, Loader=fast)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            return yaml.safe_load(text)


def set_status(run_dir: Path, status: str) -> None:
    """summary.json with its status changed and the rest kept."""
    path = Path(run_dir) / "summary.json"
    write_json(path, {**(read_json(path) or {}), "status": status})


def record_failure(run_dir: Path, line: str, trace: str, name: str | None = None) -> None:
    """A run that did not finish: summary.json gets status `failed` and the error line (what was
    written before is kept), error.txt the traceback. No DONE, so a sweep reruns it. Best
    effort: when the disk is what failed, these writes may fail too, and that is not raised."""
    run_dir = Path(run_dir)
    summary = read_json(run_dir / "summary.json") or {"name": name or run_dir.name}
    summary.update({"status": "failed", "error": line})
    with contextlib.suppress(OSError, ValueError, UserError):
        with writing(run_dir):
            run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "summary.json", summary)
        atomic_write_text(run_dir / ERROR_FILE, trace)


def write_marker(run_dir: Path, status: str) -> None:
    """DONE, after the error.txt an earlier, failed attempt left (a full disk while the plots were
    drawn, say) is removed: a finished run holds no error."""
    import datetime as dt

    with writing(Path(run_dir) / ERROR_FILE):
        (Path(run_dir) / ERROR_FILE).unlink(missing_ok=True)
    atomic_write_text(Path(run_dir) / DONE_MARKER, f"{status} {dt.datetime.now().isoformat(timespec='seconds')}\n")


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):  # numpy floats too; repr(float(v)) keeps every digit and no "np.float64(...)"
        return repr(float(v)) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy integers and bools
        return str(v.item())
    return str(v)


def csv_text(columns: list, rows: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(v) for v in row])
    return buf.getvalue()


def write_csv(path: Path, columns: list, rows: list) -> None:
    atomic_write_text(path, csv_text(columns, rows))


class CsvAppender:
    """One row per call, flushed at once, so the file is readable while the run goes on.

    `rows` (dicts) are written first, with the header, in one atomic write: a resumed run
    starts from exactly the rows of its checkpoint."""

    def __init__(self, path: Path, columns: list, rows: tuple = ()):
        self.path, self.columns = Path(path), list(columns)
        self._known = set(self.columns)
        for row in rows:
            self._check(row)
        write_csv(self.path, self.columns, [[r.get(c) for c in self.columns] for r in rows])
        with writing(self.path):
            self._f = open(self.path, "a", newline="", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._w = csv.writer(self._f, lineterminator="\n")

    def _check(self, row: dict) -> None:
        unknown = [k for k in row if k not in self._known]
        if unknown:
            raise KeyError(
                f"{self.path.name} has no column {', '.join(map(repr, unknown))}; its columns: "
                f"{', '.join(self.columns)}"
            )

    def append(self, row: dict) -> None:
        """Write one row; a key the file has no column for is an error, not a silent drop."""
        self._check(row)
        with writing(self.path):
            self._w.writerow([_cell(row.get(c)) for c in self.columns])
            self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            with contextlib.suppress(OSError):  # the rows were flushed as they came
                self._f.close()
