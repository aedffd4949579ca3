"""The search section of a sweep report (a sweep with optimized_metric, e.g. Optuna's): the
trials with their objective, the best configuration and its value, and the objective over
trials with the best so far."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from runner.formatting import number, percent
from runner.report.style import legend, pyplot, save


def best_trial(df: pd.DataFrame, metric: str) -> pd.Series | None:
    """The trial with the best finite objective (the first on a tie), or None."""
    from runner.sweep.objective import direction

    ok = df[df["objective"].apply(lambda v: v is not None and math.isfinite(float(v)))]
    if ok.empty:
        return None
    values = ok["objective"].astype(float)
    pick = values.idxmax() if direction(metric) == "maximize" else values.idxmin()
    return ok.loc[pick]


def shown_objective(metric: str, v) -> str:
    """A trial's objective as people read it: accuracies in %, as everywhere else; '-' for a
    trial that returned nothing yet (not started, stopped); a failed one's worst value as is."""
    v = float(v) if v not in (None, "") else math.nan
    if math.isnan(v):
        return "-"
    if not math.isfinite(v):
        return f"{v} (worst)"
    return percent(v) if metric.endswith("_acc") else number(v, 4)


def best_line(df: pd.DataFrame, swept: list, metric: str, code: str = "`") -> str | None:
    """'trial 3, best_val_loss = 0.2234, with `optimizer.lr=0.0036`, ...', None without a
    finite objective: the report's best line, and (code='') the console's at the search's end."""
    best = best_trial(df, metric)
    if best is None:
        return None
    setting = ", ".join(f"{code}{k}={best[k]}{code}" for k in swept) or "the defaults"
    return f"trial {int(best['job'])}, {metric} = {shown_objective(metric, best['objective'])}, with {setting}"


def section(df: pd.DataFrame, swept: list, metric: str) -> list:
    from runner.report.sweep_tables import value_label
    from runner.sweep.objective import direction

    way = direction(metric)
    lines = ["## Search", "", f"Objective: `{metric}` ({way}d). A failed or diverged trial scores the worst value.", ""]
    best = best_trial(df, metric)
    if best is None:
        return lines + ["No trial gave a finite objective.", ""]
    lines += [f"Best: {best_line(df, swept, metric)}.", ""]
    head = ["trial", *swept, "status", metric]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in df.sort_values("job").iterrows():
        cell = shown_objective(metric, r["objective"])
        mark = " **best**" if int(r["job"]) == int(best["job"]) else ""
        lines.append("| " + " | ".join([str(int(r["job"])), *(value_label(r[k]) for k in swept), str(r["status"]),
                                        cell + mark]) + " |")  # fmt: skip
    return lines + [""]


def plot_objective(df: pd.DataFrame, metric: str, sweep_dir: Path, title: str) -> Path | None:
    """Each trial's objective in order, the best so far as a step line."""
    from runner.sweep.objective import direction

    trials = df[df["objective"].notna()].sort_values("job")  # one not started or stopped returned nothing yet
    scale = 100.0 if metric.endswith("_acc") else 1.0  # accuracies are stored as fractions
    values = trials["objective"].astype(float) * scale
    finite = values.apply(math.isfinite)
    if not finite.any():
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    xs = trials["job"].astype(int)
    ax.plot(xs[finite], values[finite], "o", color="#1f77b4", label="trial")
    kept = values.where(finite)
    best = (kept.cummax() if direction(metric) == "maximize" else kept.cummin()).ffill()
    ax.step(xs, best, where="post", color="#d62728", label="best so far")
    top = best.iloc[-1]
    ax.plot(xs[values == top].iloc[:1], [top], "*", markersize=16, color="#d62728", label=f"best: {top:.4g}")
    for x in xs[~finite]:
        ax.axvline(x, color="#999999", linestyle=":", linewidth=1)
    if (~finite).any():
        ax.plot([], [], color="#999999", linestyle=":", label="failed or diverged")
    unit = " (%)" if metric.endswith("_acc") else ""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial (job number)")
    ax.set_ylabel(metric + unit)
    ax.set_title(f"{title}: {metric} over trials")
    legend(ax, loc="best")
    fig.tight_layout()
    return save(fig, Path(sweep_dir) / "plots" / "objective.png")


def plot_slices(df: pd.DataFrame, swept: list, metric: str, sweep_dir: Path, title: str) -> Path | None:
    """The objective against each searched value, one panel per key, every trial a point
    coloured by its number (early trials explore, late ones exploit), the best starred. A
    search's values are drawn, not gridded, so the grid's line and bar plots do not apply."""
    from matplotlib import cm, colors

    from runner.report.sweep_plots import numeric_axis
    from runner.report.sweep_tables import is_numeric, short_key

    trials = df[df["objective"].notna()].sort_values("job")  # one not started or stopped returned nothing yet
    scale = 100.0 if metric.endswith("_acc") else 1.0
    values = trials["objective"].astype(float) * scale
    finite = values.apply(math.isfinite)
    if not finite.any() or not swept:
        return None
    best = best_trial(df, metric)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(swept), figsize=(4.2 * len(swept) + 1.5, 4.4), squeeze=False, sharey=True)
    shade = cm.ScalarMappable(colors.Normalize(trials["job"].min(), max(trials["job"].max(), 1)), cmap="viridis")
    for ax, key in zip(axes[0], swept):
        raw = trials[key][finite]
        if is_numeric(raw):
            xs = raw.astype(float)
            numeric_axis(ax, list(dict.fromkeys(raw)))
        else:  # a categorical choice: its options in the order first tried
            options = list(dict.fromkeys(trials[key].astype(str)))
            xs = raw.astype(str).map(options.index)
            ax.set_xticks(range(len(options)), options)
            # half a slot each side: the 5% margin of a 0..1 span drew the trials on the frame
            ax.set_xlim(-0.5, len(options) - 0.5)
        ax.scatter(xs, values[finite], c=[shade.to_rgba(j) for j in trials["job"][finite]], s=36,
                   edgecolors="black", linewidths=0.4)  # fmt: skip
        if best is not None:
            at = xs[trials["job"][finite] == best["job"]]
            ax.plot(at, [float(best["objective"]) * scale] * len(at), "*", markersize=16, color="#d62728")
        ax.set_xlabel(key)
        ax.grid(True, alpha=0.3)
    unit = " (%)" if metric.endswith("_acc") else ""
    axes[0][0].set_ylabel(metric + unit + (" (log scale)" if metric.endswith("_loss") else ""))
    if metric.endswith("_loss"):
        axes[0][0].set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    bar = fig.colorbar(shade, ax=axes[0].tolist())
    bar.set_label("trial (job number)")
    bar.locator = MaxNLocator(integer=True)  # trials are whole numbers: no tick at trial 2.5
    bar.update_ticks()
    # the star is named in the title: a legend for it, inside a panel, covered trials near the best
    starred = (
        f"\nred star: the best, trial {best['job']} ({float(best['objective']) * scale:.4g})"
        if best is not None
        else ""
    )
    fig.suptitle(f"{title}: {metric} against each searched value ({', '.join(short_key(k) for k in swept)}){starred}")
    return save(fig, Path(sweep_dir) / "plots" / "search_slices.png")
