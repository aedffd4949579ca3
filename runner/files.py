"""Writing the run's files so that a killed run never leaves one that looks finished:
whole files are written to a temporary name and renamed; metrics.csv is appended and flushed
one row at a time."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

DONE_MARKER = "DONE"  # written after everything else by a run that finished (ok or diverged)


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def record_failure(run_dir: Path, line: str, trace: str, name: str | None = None) -> None:
    """A run that did not finish: summary.json gets status `failed` and the error line (what was
    written before is kept), error.txt the traceback. No DONE, so a sweep reruns it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = read_json(run_dir / "summary.json") or {"name": name or run_dir.name}
    summary.update({"status": "failed", "error": line})
    write_json(run_dir / "summary.json", summary)
    atomic_write_text(run_dir / "error.txt", trace)


def write_marker(run_dir: Path, status: str) -> None:
    import datetime as dt

    atomic_write_text(Path(run_dir) / DONE_MARKER, f"{status} {dt.datetime.now().isoformat(timespec='seconds')}\n")


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):  # numpy floats too; repr(float(v)) keeps every digit and no "np.float64(...)"
        return repr(float(v)) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy integers and bools
        return str(v.item())
    return str(v)


def write_csv(path: Path, columns: list, rows: list) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(v) for v in row])
    atomic_write_text(path, buf.getvalue())


class CsvAppender:
    """One row per call, flushed at once, so the file is readable while the run goes on."""

    def __init__(self, path: Path, columns: list):
        self.columns = list(columns)
        self._known = set(self.columns)
        self._f = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - open for the run's length, closed by close()
        self._w = csv.writer(self._f, lineterminator="\n")
        self._w.writerow(self.columns)
        self._f.flush()

    def append(self, row: dict) -> None:
        """Write one row; a key the file has no column for is an error, not a silent drop."""
        unknown = [k for k in row if k not in self._known]
        if unknown:
            raise KeyError(
                f"{Path(self._f.name).name} has no column {', '.join(map(repr, unknown))}; its columns: "
                f"{', '.join(self.columns)}"
            )
        self._w.writerow([_cell(row.get(c)) for c in self.columns])
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()
