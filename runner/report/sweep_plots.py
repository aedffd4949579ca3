"""The comparison plots of a sweep, from summary.csv and each job's metrics.csv:
overlaid learning curves, the final metric against the swept value, and for two swept keys a
heatmap of the pivot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from runner.formatting import metric_label
from runner.report.metrics import read_metrics
from runner.report.style import epoch_axis, legend, pyplot, save
from runner.report.sweep_tables import (
    FINISHED,
    is_numeric,
    job_label,
    ordered_values,
    pair_label,
    pivot,
    plot_axes,
    scaled,
    short_key,
    tick_label,
    value_label,
)


def _colors(n: int):
    plt = pyplot()
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def _panels(df: pd.DataFrame, swept: list) -> list:
    """(panel title, rows) pairs: one panel per value of the first swept key when two or more
    keys were swept, else one panel with every job."""
    if len(swept) >= 2:
        key = swept[0]
        return [(pair_label(key, v), df[df[key] == v]) for v in ordered_values(df, key)]
    return [("", df)]


def _seed_groups(rows: pd.DataFrame, keys: list) -> list:
    """The jobs of a panel as curves: one job each, or with seeds averaged (`keys` the other
    swept keys that tell curves apart) the jobs that differ only in their seed, in sweep order."""
    if not keys:
        return [rows.iloc[[i]] for i in range(len(rows))]
    return [rows[(rows[keys] == c).all(axis=1)] for _, c in rows[keys].drop_duplicates().iterrows()]


def _group_metrics(sweep_dir: Path, jobs: pd.DataFrame) -> tuple[pd.DataFrame | None, int]:
    """One curve's metrics: a job's metrics.csv, or over several seeds the mean per epoch with
    each column's `<col>_std` over them and `runs`, how many seeds reached that epoch; and how
    many runs that is (a replicated job's copies, each of its own seed, count one each, as in the
    report's seeds table)."""
    paths = [p for p in (sweep_dir / d / "metrics.csv" for d in jobs["dir"]) if p.is_file()]
    if len(paths) <= 1:
        return (read_metrics(paths[0]) if paths else None), len(paths)
    from runner.train.rows import SPLIT_COLUMNS

    every = pd.concat([read_metrics(p, copies=True) for p in paths], ignore_index=True)
    by_epoch = every.groupby("epoch", sort=True)[[c for c in SPLIT_COLUMNS if c in every]]
    counts = by_epoch.size().rename("runs")
    m = pd.concat([by_epoch.mean(), by_epoch.std(ddof=1).add_suffix("_std"), counts], axis=1).reset_index()
    return m, int(counts.max()) if len(counts) else 0


def _all_and_fewer(m: pd.DataFrame, runs: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seed-averaged curve cut where its seeds thin out (early stopping ended some sooner): the
    epochs every seed reached, and those after (from the last of the first, so the line goes on).
    A mean over the seeds still training there is not the mean of them all: it jumped where the
    one that stopped left it, and the band of a lone seed is none."""
    if "runs" not in m or runs <= 1:
        return m, m.iloc[0:0]
    every = m["runs"] == runs
    if every.all() or not every.any():
        return m, m.iloc[0:0]
    last = every[every].index[-1]
    return m.loc[:last], m.loc[last:]


def plot_curves(df: pd.DataFrame, swept: list, sweep_dir: Path, kind: str, title: str) -> Path | None:
    """Per-epoch train (dashed) and test (solid, else val) curves of every finished job; seeds
    swept beside other keys are averaged, ±1 std over them shaded (as plot_final's error bars)."""
    done = df[df["status"].isin(FINISHED)]
    if done.empty:
        return None
    plt = pyplot()
    keys = plot_axes(swept)
    over_seeds = len(keys) < len(swept)
    panels = _panels(done, keys)
    legend_keys = keys[1:] if len(keys) >= 2 else keys
    curves = [_seed_groups(rows, legend_keys if over_seeds else []) for _, rows in panels]
    # one legend for all panels where they name the same values in the same order (the colours
    # follow that order): three copies of depth=1..3 took a third of the width
    names = [[job_label(jobs.iloc[0], legend_keys) for jobs in groups] for groups in curves]
    shared = len(panels) > 1 and all(n == names[0] for n in names)
    ncols = min(3, len(panels))  # more panels wrap onto further rows rather than a strip too wide to read
    nrows = -(-len(panels) // ncols)
    width = (5.0 if shared else 7.0) * ncols + (2.0 if shared else 0.0)  # three to a row fit a report page
    # curves cross the whole axes, so a legend inside lands on some (4 jobs of two epochs did): the
    # legend stands at the right of its panel; a colour bar takes its place past 10 values
    fig, grid = plt.subplots(nrows, ncols, figsize=(width, 4.6 * nrows), squeeze=False, sharey=True)
    axes = grid.ravel()
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    drawn, points, seeds = set(), False, 0  # held-out splits the solid lines show; markers; most seeds in a curve
    thinned = False  # a curve's seeds thinned out before its last epoch (drawn faint from there)
    for i, (ax, (panel_title, _), groups) in enumerate(zip(axes, panels, curves)):
        firsts = pd.DataFrame([jobs.iloc[0] for jobs in groups])
        shade, last_epoch = _value_shades(firsts, legend_keys), 0
        colors = _colors(len(groups)) if shade is None else [shade.to_rgba(float(v)) for v in firsts[legend_keys[0]]]
        for color, jobs in zip(colors, groups):
            m, read = _group_metrics(sweep_dir, jobs)
            if m is None:
                continue
            seeds = max(seeds, read if over_seeds else 0)
            last_epoch = max(last_epoch, int(m["epoch"].max()) if len(m) else 0)
            held_out = "test" if f"test_{kind}" in m and m[f"test_{kind}"].notna().any() else "val"
            drawn.add(held_out)
            label = job_label(jobs.iloc[0], legend_keys) if shade is None else None
            every, fewer = _all_and_fewer(m, read)
            thinned = thinned or len(fewer) > 0
            points = points or len(every) <= 3
            for split, style in (("train", "--"), (held_out, "-")):
                col = f"{split}_{kind}"
                if col in m and m[col].notna().any():
                    ax.plot(
                        every["epoch"],
                        scaled(every[col], kind),
                        linestyle=style,
                        color=color,
                        marker="o" if len(every) <= 3 else None,  # a line needs two epochs: show the points,
                        markerfacecolor="none" if split == "train" else color,  # train's hollow (one epoch: no dash)
                        markersize=4 if split != "train" else 5,
                        label=label if split != "train" else None,
                    )
                    if len(fewer):
                        ax.plot(fewer["epoch"], scaled(fewer[col], kind), linestyle=style, color=color, alpha=0.4,
                                linewidth=1.0)  # fmt: skip
                    if over_seeds and read > 1:
                        low, high = (scaled(every[col] + sign * every[f"{col}_std"], kind) for sign in (-1, 1))
                        ax.fill_between(every["epoch"], low, high, color=color, alpha=0.15, linewidth=0)
        ax.set_title(panel_title)
        ax.set_xlabel("epoch")
        if kind == "loss":
            ax.set_yscale("log")
        epoch_axis(ax, last_epoch)
        if shade is not None:
            fig.colorbar(shade, ax=ax).set_label(legend_keys[0])
        elif not shared or i == ncols - 1:  # shared: beside the first row's last panel
            legend(ax, outside=True, title=", ".join(short_key(k) for k in legend_keys) or None, fontsize=9)
    for row_axes in grid:
        row_axes[0].set_ylabel("accuracy (%)" if kind == "acc" else "loss (log scale)")
    solid = drawn.pop() if len(drawn) == 1 else "held-out"
    train = "train dashed, hollow points" if points else "train dashed"
    spread = f"\n(mean of {seeds} seeds, band: ±1 std over them" if seeds > 1 else ""
    if spread:
        spread += "; faint: fewer seeds, some stopped early)" if thinned else ")"
    fig.suptitle(f"{title}: {'accuracy' if kind == 'acc' else 'loss'} per epoch ({train}, {solid} solid){spread}")
    fig.tight_layout()
    return save(fig, sweep_dir / "plots" / f"curves_{kind}.png")


def _spread(rows: pd.DataFrame, x_key: str, x_values: list, col: str, kind: str, over_seeds: bool):
    """Error bars per x value: one std over the seeds averaged there (`over_seeds`), else over a
    job's replicas; None when there is neither."""
    if over_seeds:
        std = rows.groupby(x_key)[col].std()
    else:
        std_col = f"{col}_std"
        if std_col not in rows or not rows[std_col].notna().any():
            return None
        std = rows.groupby(x_key)[std_col].mean()
    return [float(scaled(pd.Series([std.get(v, np.nan)]), kind).iloc[0]) for v in x_values]


def spans_decades(xs) -> bool:
    """Positive values 30x or more apart: drawn on a log scale."""
    xs = np.asarray(xs, dtype=float)
    return bool(xs.min() > 0 and xs.max() / xs.min() >= 30)


def _value_shades(rows: pd.DataFrame, keys: list):
    """Many jobs along one numeric key (a search's trials) are shaded by their value, read off a
    colour bar: a legend of dozens of entries, with colours repeating, cannot be read."""
    if len(keys) != 1 or len(rows) <= 10 or not is_numeric(rows[keys[0]]):
        return None
    from matplotlib import cm, colors

    xs = rows[keys[0]].astype(float)
    norm = (colors.LogNorm if spans_decades(xs) else colors.Normalize)(xs.min(), xs.max())
    return cm.ScalarMappable(norm=norm, cmap="viridis")


def _axes_keys(swept: list, x: str | None) -> tuple[str, str | None]:
    """(x column, grouping column or None): x defaults to the last swept key; with two swept
    keys the other one groups the lines or bars."""
    x_key = x or (swept[-1] if len(swept) >= 2 else swept[0])
    others = [k for k in swept if k != x_key]
    return x_key, (others[0] if others and len(swept) >= 2 else None)


def numeric_axis(ax, values: list) -> None:
    """A log axis where the values span 30x or more (base 2 for whole numbers: sizes, widths,
    batch sizes; base 10 for rates). A grid's few values each get their tick; values a search
    drew (many, close or long, such as an Optuna learning rate) keep matplotlib's ticks, which
    do not overlap."""
    xs = np.array([float(v) for v in values])
    log = spans_decades(xs)
    if log:
        ax.set_xscale("log", base=2 if all(x.is_integer() for x in xs) else 10)
    pos = np.sort(np.log2(xs) if log else xs)
    span = pos[-1] - pos[0]
    spaced = len(pos) < 2 or (len(pos) <= 12 and np.diff(pos).min() >= span / 16)
    if spaced and all(len(str(v)) <= 8 for v in values):
        ax.set_xticks(xs, [str(v) for v in values])


def plot_final(
    df: pd.DataFrame, swept: list, sweep_dir: Path, split: str, kind: str, title: str, x: str | None = None
) -> Path | None:
    """Final metric against the swept value (or the column `x`, e.g. params): a line for
    numbers, bars otherwise; with two swept keys, one line or bar group per value of the other;
    with more, one panel per combination of the rest (one panel had averaged their jobs, unsaid).
    Swept seeds beside other keys are averaged, with their spread as error bars (plot_axes)."""
    done = df[df["status"].isin(FINISHED)]
    if done.empty or not swept:
        return None
    over_seeds = "seed" in swept and "seed" not in plot_axes(swept, x)
    swept = plot_axes(swept, x)
    plt = pyplot()
    x_key, group_key = _axes_keys(swept, x)
    x_values = ordered_values(done, x_key)
    numeric = is_numeric(x_values) and len(x_values) > 2
    groups = ordered_values(done, group_key) if group_key else [None]
    # keys past the x axis and the groups get panels; with x a column of their own (sweep.x=params)
    # the swept keys are what that column measures, one point each, so they get none
    beyond = [k for k in swept if k not in (x_key, group_key)] if x is None or x in swept else []
    panels = _facets(done, beyond)
    bar_slots = 0 if numeric else len(x_values) * max(1, len(groups))  # bars need room; a line does not
    repeats = numeric and x_key == "seed"  # seeds have no order: points, not a line, and their mean
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    width = max(6.5, 0.45 * bar_slots + 4) + (2.5 if repeats else 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, 4.6 * nrows), squeeze=False, sharey=True)
    drawn = []  # every value on the y axis, to choose its scale
    for ax, (facet, rows) in zip(axes.flat, panels):
        drawn += _final_panel(ax, rows, x_key, x_values, group_key, groups, split, kind, numeric, repeats, over_seeds)
        if facet:
            ax.set_title(facet)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    # a log axis only where the losses span decades: below that it stretches small gaps, and a
    # bar's length, which the eye compares, means nothing without a zero baseline
    finite = [v for v in drawn if np.isfinite(v)]
    log = kind == "loss" and bool(finite) and spans_decades(finite)
    for ax in list(axes.flat)[: len(panels)]:
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(x_key)
    for row in axes:
        row[0].set_ylabel(f"final {'accuracy (%)' if kind == 'acc' else 'loss'}" + (" (log scale)" if log else ""))
    replicated = f"final_{split}_{kind}_std" in done and done[f"final_{split}_{kind}_std"].notna().any()
    seeds = done["seed"].nunique() if over_seeds else 0
    spread = (f"\n(mean of {seeds} seeds, error bars: ±1 std over them)" if over_seeds
              else "\n(error bars: ±1 std over each job's replicas)" if replicated else "")  # fmt: skip
    heading = f"{title}: final {metric_label(split, kind)} by {short_key(x_key)}{spread}"
    if len(panels) > 1:
        fig.suptitle(heading)
    else:
        axes[0][0].set_title(heading)
    # bars rise from zero, seeds scatter: any corner covers one; the panels share one legend
    handles, labels = _in_drawing_order(axes[0][0])
    legend(axes[0][ncols - 1], outside=not numeric or repeats or len(panels) > 1, handles=handles, labels=labels,
           fontsize=9)  # fmt: skip
    fig.tight_layout()
    return save(fig, sweep_dir / "plots" / f"final_{split}_{kind}.png")


def _in_drawing_order(ax) -> tuple[list, list]:
    """The legend's entries in the order they were drawn: matplotlib lists lines before error-bar
    containers, so every group's train line came before all the held-out ones."""
    from matplotlib.container import ErrorbarContainer

    handles, labels = ax.get_legend_handles_labels()
    lines = list(ax.lines)

    def rank(i: int) -> int:
        line = handles[i][0] if isinstance(handles[i], ErrorbarContainer) else handles[i]
        return lines.index(line) if line in lines else len(lines)  # bars keep their order, after any line

    order = sorted(range(len(handles)), key=rank)
    return [handles[i] for i in order], [labels[i] for i in order]


def _facets(done: pd.DataFrame, keys: list) -> list:
    """(panel title, rows) for each combination of `keys` that the finished jobs hold, in the
    sweep's order; one untitled panel of every job when there are none."""
    if not keys:
        return [("", done)]
    combos = done[keys].drop_duplicates().itertuples(index=False, name=None)
    order = {k: ordered_values(done, k) for k in keys}
    ranked = sorted(combos, key=lambda c: [order[k].index(v) for k, v in zip(keys, c)])
    return [(", ".join(pair_label(k, v) for k, v in zip(keys, c)),
             done[(done[keys] == pd.Series(c, index=keys)).all(axis=1)]) for c in ranked]  # fmt: skip


def _final_panel(ax, done, x_key, x_values, group_key, groups, split, kind, numeric, repeats, over_seeds) -> list:
    """One panel of plot_final: its lines or bars for these jobs; returns the values drawn."""
    colors = _colors(len(groups))
    drawn = []
    for gi, (g, color) in enumerate(zip(groups, colors)):
        rows = done if g is None else done[done[group_key] == g]
        means = rows.groupby(x_key)[[f"final_{split}_{kind}", f"final_train_{kind}"]].mean()
        ys = [scaled(means[f"final_{split}_{kind}"], kind).get(v, np.nan) for v in x_values]
        ys_train = [scaled(means[f"final_train_{kind}"], kind).get(v, np.nan) for v in x_values]
        drawn += ys + ys_train
        errs = _spread(rows, x_key, x_values, f"final_{split}_{kind}", kind, over_seeds)
        errs_train = _spread(rows, x_key, x_values, f"final_train_{kind}", kind, over_seeds)
        name = pair_label(group_key, g) if g is not None else split
        if numeric:
            xs = [float(v) for v in x_values]
            ax.errorbar(
                xs,
                ys,
                yerr=errs,
                marker="o",
                linestyle="none" if repeats else "-",
                color=color,
                capsize=3,
                label=f"{name} ({split})" if g is not None else split,
            )
            ax.errorbar(
                xs,
                ys_train,
                yerr=errs_train,
                marker="o",
                linestyle="none" if repeats else "--",
                color=color,
                alpha=0.6,
                capsize=3,
                label=f"{name} (train)" if g is not None else "train",
            )
            if repeats and np.isfinite(ys).any():
                mean = float(np.nanmean(ys))
                ax.axhline(
                    mean, color=color, linestyle=":", linewidth=1.2, label=f"{split} mean over seeds: {mean:.4g}"
                )
        else:
            # bars: the held-out split per group; with one swept key, train beside it, lighter
            bars = (
                [(ys, name, color, None, errs)]
                if g is not None
                else [(ys, split, color, None, errs), (ys_train, "train", color, "//", errs_train)]
            )
            slots = len(groups) * len(bars)
            for bi, (vals, lab, col, hatch, err) in enumerate(bars):
                slot = gi * len(bars) + bi
                w = 0.8 / slots
                pos = np.arange(len(x_values)) + (slot - (slots - 1) / 2) * w
                ax.bar(
                    pos,
                    vals,
                    width=w * 0.95,
                    color=col,
                    alpha=0.45 if hatch else 1.0,
                    hatch=hatch,
                    label=lab,
                    yerr=err,
                    capsize=3 if err is not None else 0,
                )
                for px, py, pe in zip(pos, vals, err if err is not None else [0.0] * len(vals)):
                    if np.isfinite(py):
                        # a few points above the bar or its error bar's cap, so neither hides the figure
                        ax.annotate(
                            f"{py:.1f}" if kind == "acc" else f"{py:.3g}",
                            (px, py + (pe if np.isfinite(pe) else 0.0)),
                            xytext=(0, 2),
                            textcoords="offset points",
                            ha="center",
                            va="bottom",
                            fontsize=8,
                        )
    if numeric:
        numeric_axis(ax, x_values)
    else:
        ax.set_xticks(np.arange(len(x_values)), [tick_label(v) for v in x_values])
    return drawn


def plot_heatmap(df: pd.DataFrame, swept: list, sweep_dir: Path, split: str, kind: str, title: str) -> Path | None:
    """The final metric over two swept keys (seeds averaged: plot_axes)."""
    seeds = df["seed"].nunique() if "seed" in swept and "seed" not in plot_axes(swept) else 0
    swept = plot_axes(swept)
    if len(swept) != 2:
        return None
    table = scaled(pivot(df, swept[0], swept[1], f"final_{split}_{kind}"), kind)
    if table.empty:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.4 * table.shape[1] + 3.5, 0.8 * table.shape[0] + 2.5))
    values = table.to_numpy(dtype=float)
    im = ax.imshow(values, cmap="viridis" if kind == "acc" else "viridis_r", aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(table.shape[1]), [tick_label(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [value_label(r) for r in table.index])
    ax.set_xlabel(swept[1])
    ax.set_ylabel(swept[0])
    finite = values[np.isfinite(values)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            v = values[i, j]
            text = "-" if not np.isfinite(v) else (f"{v:.1f}" if kind == "acc" else f"{v:.3g}")
            dark = np.isfinite(v) and ((v < mid) if kind == "acc" else (v > mid))
            ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black", fontsize=11)
    cbar = fig.colorbar(im, ax=ax)
    cbar.set_label(f"final {metric_label(split, kind)}")
    copies = pd.to_numeric(df.get("replicas", pd.Series(dtype=float)), errors="coerce").max(skipna=True)
    copies = int(copies) if np.isfinite(copies) else 1
    means = [f"{seeds} seeds"] if seeds else []
    means += [f"each job's {copies} replicas"] if copies > 1 else []  # a cell is their mean, as the table's
    ax.set_title(f"{title}\nfinal {metric_label(split, kind)}" + (f" (mean of {' and '.join(means)})" if means else ""))
    fig.tight_layout()
    return save(fig, sweep_dir / "plots" / f"heatmap_{split}_{kind}.png")


EXTRA_LABELS = {
    "sensitivity": "input sensitivity: mean ||d output / d input||_F",
    "grad_ratio": "first/last layer gradient-norm ratio",
}


def plot_extra(
    df: pd.DataFrame, swept: list, sweep_dir: Path, column: str, title: str, x: str | None = None
) -> Path | None:
    """Any numeric summary.csv column (e.g. sensitivity) against the x axis of plot_final."""
    done = df[df["status"].isin(FINISHED) & df[column].notna()] if column in df else pd.DataFrame()
    if done.empty or not swept:
        return None
    plt = pyplot()
    axes = plot_axes(swept, x)
    x_key, group_key = _axes_keys(axes, x)
    averaged = [short_key(k) for k in axes if k not in (x_key, group_key)]  # a third key's jobs meet in a point
    groups = ordered_values(done, group_key) if group_key else [None]
    fig, ax = plt.subplots(figsize=(7, 4.6))
    numeric = is_numeric(done[x_key].tolist())
    every = ordered_values(done, x_key)  # a name's place is the same for every group, which may lack some
    for g, color in zip(groups, _colors(len(groups))):
        rows = done if g is None else done[done[group_key] == g]
        means = rows.groupby(x_key)[column].mean()
        xs = ordered_values(rows, x_key)
        ax.plot(
            [float(v) for v in xs] if numeric else [every.index(v) for v in xs],
            [means[v] for v in xs],
            marker="o",
            color=color,
            label=pair_label(group_key, g) if g is not None else column,
        )
    if numeric:
        numeric_axis(ax, every)
    else:
        ax.set_xticks(range(len(every)), [tick_label(v) for v in every])
        ax.set_xlim(-0.5, len(every) - 0.5)  # half a slot each side: a 5% margin drew the end points on the frame
    ax.set_xlabel(x_key)
    ax.set_ylabel(EXTRA_LABELS.get(column, column.replace("_", " ")))
    mean = f"\n(mean over {', '.join(averaged)})" if averaged else ""
    ax.set_title(f"{title}: {column.replace('_', ' ')} by {short_key(x_key)}{mean}")
    legend(ax, fontsize=9)
    fig.tight_layout()
    return save(fig, sweep_dir / "plots" / f"{column}_by_{short_key(x_key)}.png")
