"""Our value beside the published one, for every cell of every published table: read from the
part's summary.csv (and, for `<column>@<epoch>` metrics, each job's metrics.csv) by column
name, averaged over the jobs of a cell (seeds), and judged against the tolerance.

    acc    ours and published in % ; difference = ours - published, in points; within when
           |difference| <= tolerance.acc_points
    loss   difference = ours / published; within when it lies in [1/loss_factor, loss_factor]
    check  a yes/no verdict (vanishing gradients ...); within when equal
    below  a bound (a gradient check's relative error); within when ours < published
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from runner.files import read_table
from runner.reproduce.spec import Table

COLUMNS = ["report", "part", "table", "row", "column", "ours", "published", "difference", "tolerance", "within"]


@dataclass
class Cell:
    row: str
    column: str | None
    ours: float | bool | None
    published: float | bool
    difference: float | None
    tolerance: str
    within: bool | None  # None: not measured (the job failed or has not run)


def canon(value) -> str:
    """One spelling for a swept value, however a CSV or a YAML wrote it: 4, 4.0 and '4' are '4'."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).replace(" ", "")
    if text.lower() in ("true", "false"):
        return text.lower()
    try:
        return canon(float(text))
    except ValueError:
        return text


def _as_bool(value) -> bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip().lower() in ("true", "1", "1.0", "yes")


def _job_values(part_dir: Path, summary: pd.DataFrame, metric: str) -> pd.Series:
    """The metric for each job (summary.csv row), NaN where there is none."""
    if "@" not in metric:
        if metric not in summary:
            raise KeyError(f"{part_dir / 'summary.csv'} has no column {metric!r}")
        return summary[metric]
    column, epoch = metric.rsplit("@", 1)
    values = []
    for job in summary["dir"]:
        path = part_dir / str(job) / "metrics.csv"
        value = float("nan")
        if path.is_file():
            from runner.report.metrics import read_metrics

            m = read_metrics(path)
            hit = m[m["epoch"] == int(epoch)]
            if len(hit) and column in hit:
                value = float(hit[column].iloc[0])
        values.append(value)
    return pd.Series(values, index=summary.index)


def measure(part_dir: Path, table: Table) -> dict:
    """(row, column) -> our value (the mean over the cell's finished jobs, or None)."""
    summary = read_table(part_dir / "summary.csv", "sweep summary.csv", keep_default_na=True)
    done = summary[summary["status"].isin(("ok", "diverged"))]
    values = _job_values(part_dir, done, table.metric)
    ours = {}
    for row, column, _ in table.cells():
        mask = pd.Series(True, index=done.index)
        if table.rows:
            mask &= done[table.rows].map(canon) == canon(row)
        if table.columns:
            mask &= done[table.columns].map(canon) == canon(column)
        picked = values[mask].dropna()
        if table.kind == "check":
            verdicts = [_as_bool(v) for v in picked]
            ours[(canon(row), canon(column) if column is not None else None)] = (
                None if not verdicts or None in verdicts else sum(verdicts) * 2 >= len(verdicts)
            )
        else:
            scale = 100.0 if table.kind == "acc" else 1.0
            ours[(canon(row), canon(column) if column is not None else None)] = (
                float(picked.mean()) * scale if len(picked) else None
            )
    return ours


def compare(table: Table, ours: dict, tolerance) -> list:
    """A Cell for every published value of the table."""
    cells = []
    for row, column, published in table.cells():
        mine = ours.get((canon(row), canon(column) if column is not None else None))
        diff, within, tol = None, None, ""
        if table.kind == "acc":
            tol = f"±{tolerance.acc_points:g} points"
            if mine is not None:
                diff = mine - published
                within = abs(diff) <= tolerance.acc_points
        elif table.kind == "loss":
            tol = f"×/÷{tolerance.loss_factor:g}"
            if mine is not None and published > 0 and mine > 0:
                diff = mine / published
                within = 1 / tolerance.loss_factor <= diff <= tolerance.loss_factor
        elif table.kind == "check":
            tol = "the same verdict"
            if mine is not None:
                within = bool(mine) == bool(published)
        else:  # below
            tol = f"below {published:g}"
            if mine is not None:
                diff = mine / published
                within = mine < published
        cells.append(Cell(str(row), None if column is None else str(column), mine, published, diff, tol, within))
    return cells
