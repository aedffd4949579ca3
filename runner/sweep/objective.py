"""optimized_metric: the one number a run gives back to Hydra's sweepers (Optuna and the like).

    dlrun -m hparams_search=mnist_optuna                 (optimized_metric: best_val_acc)
    dlrun -m hydra/sweeper=optuna optimized_metric=final_test_loss 'optimizer.lr=interval(1e-4,1e-2)'

The name is `final_<split>_<loss|acc>` (the last epoch) or `best_<split>_<loss|acc>` (the best
epoch), read from the run's summary.json. Its direction follows from the column (losses
down, accuracies up). A run that failed, diverged or has no such value gives the worst value of
that direction, so a search goes on instead of stopping at its first bad trial.
"""

from __future__ import annotations

import math
from pathlib import Path

from runner.config.checks import require
from runner.train.rows import SPLIT_COLUMNS, better

WHICH = ("final", "best")


def names() -> list:
    return [f"{w}_{column}" for w in WHICH for column in SPLIT_COLUMNS]


def parse(name: str) -> tuple[str, str]:
    """(final or best, the metrics column) of a name, e.g. best_val_acc -> (best, val_acc)."""
    which, _, column = name.partition("_")
    return which, column


def direction(name: str) -> str:
    """maximize or minimize, as Optuna spells it."""
    return "maximize" if better(parse(name)[1]) == "max" else "minimize"


def worst(name: str) -> float:
    return -math.inf if direction(name) == "maximize" else math.inf


def check(cfg) -> None:
    """optimized_metric names a summary value; tags are non-empty labels."""
    for tag in cfg.tags:
        require(
            bool(str(tag).strip()), "tags", "a list of non-empty labels, e.g. tags=[baseline,mnist]", list(cfg.tags)
        )
    name = cfg.get("optimized_metric")
    if name is None:
        return
    require(name in names(), "optimized_metric", "final_ or best_ then a split and loss or acc, e.g. best_val_acc",
            name)  # fmt: skip


def value(summary: dict | None, name: str) -> float:
    """The objective of a run's summary; the worst value when it failed, diverged or lacks it."""
    if not summary or summary.get("status") not in ("ok", "finishing"):
        return worst(name)
    which, column = parse(name)
    got = (summary.get(which) or {}).get(column)
    if got is None or not math.isfinite(float(got)):
        return worst(name)
    return float(got)


def of_job(job_dir: Path, result: dict | None, name: str) -> float:
    """The objective of a sweep job: its result, or (a job skipped as finished earlier) the
    summary.json it left, so a resumed search sees the same history as the first one."""
    if result is None or result.get("skipped") or "status" not in result or "final" not in result:
        from runner.files import read_json

        saved = read_json(Path(job_dir) / "summary.json")
        if result and result.get("status") == "failed":
            return worst(name)
        return value(saved, name)
    return value(result, name)
