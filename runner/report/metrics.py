"""Reading a run's metrics.csv for plots and tables. A run with trainer.replicas > 1 has one
row per (epoch, replica); readers get one row per epoch with the replicas' mean and, beside
each metric, its sample standard deviation as <metric>_std."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def per_epoch(df: pd.DataFrame) -> pd.DataFrame:
    if "replica" not in df.columns:
        return df
    metrics = [c for c in df.columns if c not in ("epoch", "replica")]
    grouped = df.groupby("epoch", sort=True)[metrics]
    mean = grouped.mean()
    std = grouped.std(ddof=1).add_suffix("_std")
    keep = [c for c in std.columns if c.removesuffix("_std").endswith(("_loss", "_acc"))]
    return pd.concat([mean, std[keep]], axis=1).reset_index()


def read_metrics(path: Path, copies: bool = False) -> pd.DataFrame:
    """metrics.csv, one row per epoch (`copies`: a replicated run's one row per epoch and copy, as
    written); a DataError naming the file when its header is not one dlrun writes (a file
    overwritten with something else would otherwise plot as nothing)."""
    from runner.errors import DataError
    from runner.files import read_table
    from runner.train.rows import SPLIT_COLUMNS

    df = read_table(path, "metrics.csv")
    if "epoch" not in df.columns or not any(c in df.columns for c in SPLIT_COLUMNS):
        raise DataError(f"{path}: not a dlrun metrics.csv: its header needs epoch and a loss or accuracy column "
                        f"({', '.join(SPLIT_COLUMNS)})")  # fmt: skip
    return df if copies else per_epoch(df)
