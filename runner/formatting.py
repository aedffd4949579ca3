"""How dlrun writes numbers for people (console lines, report tables, sweep tables) and which
metric a run or sweep leads with. Files keep every digit; only what people read is rounded."""

from __future__ import annotations

import math

# the metric a report leads with: the first of these that was measured
LEAD_ORDER = (("test", "acc"), ("val", "acc"), ("test", "loss"), ("val", "loss"))


def missing(v) -> bool:
    """None, or a NaN that stands for a blank cell (pandas reads blanks as NaN)."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def count(n: int, noun: str) -> str:
    """1 job, 4 jobs."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def number(v, digits: int = 4) -> str:
    """A loss or any other measurement: 4 significant digits, '-' when absent."""
    return "-" if v is None else f"{v:.{digits}g}"


def percent(v, digits: int = 2, width: int = 0, unit: str = "%") -> str:
    """A fraction as a percentage: 0.9712 -> '97.12%'; '-' when absent."""
    return "-" if v is None else f"{100 * v:{width}.{digits}f}{unit}"


def spread(v, sd, digits: int = 2, unit: str = "%") -> str:
    """A mean accuracy with the replicas' or seeds' standard deviation: '97.12 ± 0.05%'."""
    if v is None or missing(sd):
        return percent(v, digits, unit=unit)
    return f"{percent(v, digits, unit='')} ± {percent(sd, digits, unit='')}{unit}"


def spread_number(v, sd, digits: int = 4) -> str:
    """A mean loss with the replicas' standard deviation: '0.9249 ± 0.1212'."""
    return number(v, digits) if v is None or missing(sd) else f"{number(v, digits)} ± {number(sd, digits)}"


def lead_metric(has) -> tuple[str, str]:
    """(split, kind) to lead with; has(column) says whether summary column final_<split>_<kind>
    holds a value. Falls back to the training loss."""
    for split, kind in LEAD_ORDER:
        if has(f"final_{split}_{kind}"):
            return split, kind
    return "train", "loss"


def metric_label(split: str, kind: str) -> str:
    return f"{split} {'accuracy (%)' if kind == 'acc' else 'loss'}"
