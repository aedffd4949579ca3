"""A gradient check's result, without torch: the rows of gradcheck.csv and what they add up to
(per tensor, the largest error, the verdict). The check (runner/train/gradcheck.py) builds it;
the report (runner/report/gradcheck_report.py) reads it back from the file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Entry(NamedTuple):
    """One checked parameter entry: a row of gradcheck.csv."""

    layer: str
    param: str
    index: int
    analytic: float
    numeric: float
    rel_error: float
    step: float


CSV_COLUMNS = list(Entry._fields)


@dataclass
class GradcheckResult:
    rows: list  # Entry per checked parameter entry
    tol: float

    @property
    def max_error(self) -> float:
        return max(r.rel_error for r in self.rows)

    @property
    def worst(self) -> Entry:
        return max(self.rows, key=lambda r: r.rel_error)

    @property
    def passed(self) -> bool:
        return all(r.rel_error < self.tol for r in self.rows)

    def per_layer(self) -> list:
        """(layer, param, entries checked, max rel_error, passed) per parameter tensor."""
        groups: dict = {}
        for r in self.rows:
            groups.setdefault((r.layer, r.param), []).append(r.rel_error)
        return [(layer, param, len(errs), max(errs), max(errs) < self.tol) for (layer, param), errs in groups.items()]
