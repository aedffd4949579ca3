"""Tables of a sweep from its summary.csv: how swept values are ordered
and labelled, and the two-way pivot a paper would print (e.g. test accuracy, activation by
depth, with train accuracy beside it)."""

from __future__ import annotations

import math

import pandas as pd

from runner.formatting import missing, number

FINISHED = ("ok", "diverged")


def short_key(key: str) -> str:
    """model.depth -> depth; group names stay as they are."""
    return key.rsplit(".", 1)[-1]


def is_numeric(values) -> bool:
    try:
        [float(v) for v in values]
        return True
    except (TypeError, ValueError):
        return False


def ordered_values(df: pd.DataFrame, key: str) -> list:
    """Swept values in sweep order; numbers ascending."""
    values = list(dict.fromkeys(df[key].tolist()))
    return sorted(values, key=float) if is_numeric(values) else values


def value_label(v) -> str:
    """A swept value for a legend: a drawn float (0.0014527880705746021, or that text, as an
    override gives it) to 4 digits, unless as written it is shorter (1e-3); a list with a run of
    3 or more equal items written once with its count ([64×10,10], which a deep network's
    model.hidden would spell out over a figure's width); true and false as typed; '-' for none (a
    search's trial not started)."""
    if missing(v):
        return "-"
    if isinstance(v, bool) or v in ("True", "False"):  # Hydra's sweeper writes a swept true as True
        return str(v).lower()
    if isinstance(v, list) or isinstance(v, str) and v.startswith("[") and v.endswith("]"):
        return _runs(v if isinstance(v, list) else v[1:-1].split(","))
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return v
        return v if f.is_integer() or not math.isfinite(f) else min(v, number(f), key=len)
    return number(v) if isinstance(v, float) and not v.is_integer() else str(v)


def _runs(items: list) -> str:
    """[64,64,64,10] as [64×3,10]."""
    import itertools

    parts = []
    for item, run in itertools.groupby(str(i).strip() for i in items):
        n = len(list(run))
        parts += [f"{item}×{n}"] if n >= 3 else [item] * n
    return f"[{','.join(parts)}]"


def tick_label(v, width: int = 14) -> str:
    """value_label on lines of at most `width` characters, broken after a comma, for a tick
    under a bar or a heatmap's column, which a long label ran into its neighbours."""
    label, lines = value_label(v), [""]
    for piece in label.replace(",", ",\0").split("\0"):
        lines[-1:] = [lines[-1] + piece] if len(lines[-1] + piece) <= width or not lines[-1] else [lines[-1], piece]
    return "\n".join(lines)


def pair_label(key: str, value) -> str:
    """depth=3, hidden=[64×10]: a swept key and its value in a legend or a panel's title."""
    return f"{short_key(key)}={value_label(value)}"


def job_label(row, swept: list) -> str:
    return ", ".join(pair_label(k, row[k]) for k in swept) or f"job {row['job']}"


def scaled(series: pd.Series, kind: str) -> pd.Series:
    return 100 * series if kind == "acc" else series


def pivot(df: pd.DataFrame, rows: str, cols: str, value: str) -> pd.DataFrame:
    """Mean of `value` over finished jobs, rows x cols in sweep order (seeds are averaged)."""
    done = df[df["status"].isin(FINISHED)]
    table = done.pivot_table(index=rows, columns=cols, values=value, aggfunc="mean")
    return table.reindex(
        index=[v for v in ordered_values(df, rows) if v in table.index],
        columns=[v for v in ordered_values(df, cols) if v in table.columns],
    )


def paper_table(df: pd.DataFrame, rows: str, cols: str, kind: str, lead: str, beside: str = "train") -> list:
    """Markdown lines: one row per value of `rows`, and for each value of `cols` the lead
    split's final metric with the `beside` split's next to it."""
    a = scaled(pivot(df, rows, cols, f"final_{lead}_{kind}"), kind)
    b = scaled(pivot(df, rows, cols, f"final_{beside}_{kind}"), kind) if f"final_{beside}_{kind}" in df else None
    sd = _replica_spread(df, rows, cols, f"final_{lead}_{kind}_std", kind)

    def fmt(v) -> str:  # the pivot is already scaled to % for accuracies
        return "-" if missing(v) else (f"{v:.2f}" if kind == "acc" else number(v))

    def lead_cell(r, c) -> str:  # with replicas, their spread beside the mean, as in the jobs table
        v, spread = a.loc[r, c], None if sd is None else sd.loc[r, c]
        return fmt(v) if missing(v) or missing(spread) else f"{fmt(v)} ± {fmt(spread)}"

    head = [short_key(rows)]
    for c in a.columns:
        head += (
            [f"{short_key(cols)}={c} {lead}", f"{short_key(cols)}={c} {beside}"]
            if b is not None
            else [f"{short_key(cols)}={c} {lead}"]
        )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in a.index:
        cells = [str(r)]
        for c in a.columns:
            cells.append(lead_cell(r, c))
            if b is not None:
                cells.append(fmt(b.loc[r, c]) if r in b.index and c in b.columns else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _replica_spread(df: pd.DataFrame, rows: str, cols: str, column: str, kind: str) -> pd.DataFrame | None:
    """The replicas' std of each cell, where a cell is one job; None without replicas, or where a
    cell averages seeds (their spread is the seeds section's)."""
    done = df[df["status"].isin(FINISHED)]
    if column not in done or not done[column].notna().any() or done.groupby([rows, cols]).size().max() > 1:
        return None
    return scaled(pivot(df, rows, cols, column), kind).reindex_like(pivot(df, rows, cols, column.removesuffix("_std")))


def plot_axes(swept: list, x: str | None = None) -> list:
    """The swept keys that the plots and the two-way table lay out. Seeds are repeats, not a
    quantity: beside another key they are averaged, their spread drawn as error bars (a line of
    accuracy against seed 0, 1, 2 joined points that have no order); a sweep of seeds alone keeps
    them, one point per seed, and so does a report asked for them on its x axis (sweep.x=seed)."""
    others = [k for k in swept if k != "seed"]
    return others if others and x != "seed" else list(swept)


def seed_spread(df: pd.DataFrame, swept: list, col: str) -> pd.DataFrame | None:
    """Mean, std and count of `col` over seeds for each combination of the other swept keys."""
    if "seed" not in swept:
        return None
    others = [k for k in swept if k != "seed"]
    done = df[df["status"].isin(FINISHED)]
    if done.empty:
        return None
    if not others:
        return pd.DataFrame({"mean": [done[col].mean()], "std": [done[col].std()], "runs": [len(done)]})
    g = done.groupby(others, sort=False)[col]
    return pd.DataFrame({"mean": g.mean(), "std": g.std(), "runs": g.count()}).reset_index()


def has_verdicts(df: pd.DataFrame) -> bool:
    """Whether any job of summary.csv judged its gradients (probes on): vanishing or dead."""
    return any(c in df and df[c].notna().any() for c in ("vanishing_gradients", "dead_from_epoch"))


def verdict_cell(row, ratio: bool = True) -> str:
    """A job's gradient verdict for a table: **dead** (from epoch N), **yes** or no, with the
    grad_ratio when asked; - for a job without one."""
    dead = row.get("dead_from_epoch")
    if not missing(dead):
        return f"**dead** (epoch {int(dead)} on)"
    v, r = row.get("vanishing_gradients"), row.get("grad_ratio")
    if missing(v):
        return "-"
    word = "**yes**" if str(v).lower() in ("true", "1") else "no"
    return f"{word} ({r:.1e})" if ratio and isinstance(r, (int, float)) and not pd.isna(r) else word


def vanishing_by_depth(df: pd.DataFrame, swept: list) -> list:
    """Markdown lines: for each value of the other swept keys, the verdict at every depth
    and the first depth at which gradients vanish (empty when the sweep has no depth key or
    no verdicts)."""
    depth_keys = [k for k in swept if short_key(k) == "depth"]
    if not depth_keys or not has_verdicts(df):
        return []
    depth = depth_keys[0]
    others = [k for k in swept if k != depth]
    depths = ordered_values(df, depth)
    groups = [((), df)] if not others else list(df.groupby(others, sort=False))
    head = (
        [", ".join(short_key(k) for k in others) or "run"]
        + [f"{short_key(depth)}={d}" for d in depths]
        + ["first vanishing depth"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, rows in groups:
        label = ", ".join(str(k) for k in (key if isinstance(key, tuple) else (key,))) or "all"
        cells, first = [], None
        for d in depths:
            r = rows[rows[depth] == d]
            if r.empty:
                cells.append("-")
                continue
            cells.append(verdict_cell(r.iloc[0]))
            if first is None and str(r.iloc[0].get("vanishing_gradients")).lower() in ("true", "1"):
                first = d
        lines.append(
            "| " + " | ".join([label, *cells, str(first) if first is not None else f"none up to {depths[-1]}"]) + " |"
        )
    return lines
