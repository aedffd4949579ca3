"""The search section of a sweep report (a sweep with optimized_metric, e.g. Optuna's): the
trials with their objective, the best configuration and its value, and the objective over
trials with the best so far."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from runner.formatting import number
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


def section(df: pd.DataFrame, swept: list, metric: str) -> list:
    from runner.sweep.objective import direction

    way = direction(metric)
    lines = ["## Search", "", f"Objective: `{metric}` ({way}d). A failed or diverged trial scores the worst value.", ""]
    best = best_trial(df, metric)
    if best is None:
        return lines + ["No trial gave a finite objective.", ""]
    setting = ", ".join(f"`{k}={best[k]}`" for k in swept) or "the defaults"
    lines += [f"Best: trial {int(best['job'])}, {metric} = {number(float(best['objective']), 4)}, with {setting}.", ""]
    head = ["trial", *swept, "status", metric]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in df.sort_values("job").iterrows():
        value = float(r["objective"])
        shown = number(value, 4) if math.isfinite(value) else f"{value} (worst)"
        mark = " **best**" if int(r["job"]) == int(best["job"]) else ""
        lines.append("| " + " | ".join([str(int(r["job"])), *(str(r[k]) for k in swept), str(r["status"]),
                                        shown + mark]) + " |")  # fmt: skip
    return lines + [""]


def plot_objective(df: pd.DataFrame, metric: str, sweep_dir: Path, title: str) -> Path | None:
    """Each trial's objective in order, the best so far as a step line."""
    from runner.sweep.objective import direction

    trials = df.sort_values("job")
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
