"""A sweep's report from its files: summary.csv, then report.md and a self-contained
report.html (plots embedded) at the sweep root, with links to every job's own plots.

    python -m runner.report outputs/sweeps/<name>/<stamp>      (what `make report DIR=...` runs)
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from runner.files import atomic_write_text, read_table
from runner.formatting import count, lead_metric, metric_label, missing, number, percent, spread, spread_number
from runner.report.html import markdown_to_html
from runner.report.predictions import plot_sweep_fits
from runner.report.settings import shared_section
from runner.report.sweep_plots import plot_curves, plot_extra, plot_final, plot_heatmap
from runner.report.sweep_tables import (
    FINISHED,
    has_verdicts,
    ordered_values,
    paper_table,
    plot_axes,
    scaled,
    seed_spread,
    short_key,
    vanishing_by_depth,
    verdict_cell,
)
from runner.sweep.summary import optimized_metric, report_options, status_counts, write_summary


def _fmt(v, kind: str = "") -> str:
    """A summary.csv cell for a table: accuracies in % (no unit), other floats to 4 digits."""
    if missing(v):
        return "-"
    if kind == "acc":
        return percent(float(v), unit="")
    return number(v) if isinstance(v, float) else str(v)


def _held_out(df: pd.DataFrame, split: str, kind: str) -> list:
    """The held-out splits to show: the lead one, and the validation split beside a test lead
    (the split a user selects on, whose numbers the table would otherwise hide)."""
    val = split != "val" and f"final_val_{kind}" in df and df[f"final_val_{kind}"].notna().any()
    return ["val", split] if val else [split]


def _summary_table(df: pd.DataFrame, swept: list, split: str, kind: str, extra: tuple = ()) -> list:
    held = _held_out(df, split, kind)
    cols = [
        "job",
        *swept,
        "status",
        f"final_train_{kind}",
        *(c for s in held for c in (f"final_{s}_{kind}", f"best_{s}_{kind}")),
        *extra,
        "params",
        "epochs_run",
        "seconds",
    ]
    head = [
        "job",
        *[short_key(k) for k in swept],
        "status",
        f"train {kind}",
        *(h for s in held for h in (f"{s} {kind}", f"best {s} {kind}")),
        *[e.replace("_", " ") for e in extra],
        "params",
        "epochs",
        "seconds",
    ]
    if has_verdicts(df):
        cols.insert(-3, "vanishing_gradients")
        head.insert(-3, "vanishing")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r.get(c)
            if c.endswith("_acc"):
                sd = r.get(f"{c}_std")
                cells.append("-" if missing(v) else spread(float(v), sd, unit=""))
            elif c.endswith("_loss") and f"{c}_std" in r and not missing(v):  # replicas: their spread
                cells.append(spread_number(float(v), r.get(f"{c}_std")))
            elif c == "params" and pd.notna(v):
                cells.append(f"{int(v):,}")
            elif c == "seconds" and pd.notna(v):
                cells.append(f"{float(v):.1f}")
            elif c == "epochs_run" and pd.notna(v):
                cells.append(str(int(v)))
            elif c == "vanishing_gradients":
                cells.append(verdict_cell(r, ratio=False))
            else:
                cells.append(_fmt(v))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _gradcheck_section(df: pd.DataFrame, swept: list) -> list:
    """For sweeps of task=gradcheck: the largest relative error of each job, as a pivot for two
    swept keys and as a list otherwise."""
    col = "gradcheck_max_rel_error"
    lines = [
        "## Gradient check: largest relative error per job",
        "",
        "A job passes when every checked entry is below the tolerance in its config.yaml "
        "(gradcheck.tol); status `ok` = passed, `failed` = not.",
        "",
    ]
    if len(swept) == 2:
        t = df.pivot_table(index=swept[0], columns=swept[1], values=col, aggfunc="max")
        t = t.reindex(
            index=[v for v in ordered_values(df, swept[0]) if v in t.index],
            columns=[v for v in ordered_values(df, swept[1]) if v in t.columns],
        )  # fmt: skip  (sweep order)
        head = [short_key(swept[0])] + [f"{short_key(swept[1])}={c}" for c in t.columns]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += [
            "| " + " | ".join([str(r)] + ["-" if pd.isna(v) else f"{v:.2e}" for v in t.loc[r]]) + " |" for r in t.index
        ]
    else:
        lines += [
            f"- job {r['job']} ({', '.join(f'{short_key(k)}={r[k]}' for k in swept)}): {_fmt(r[col])}, {r['status']}"
            for _, r in df.iterrows()
        ]
    return lines + [""]


def _copies(df: pd.DataFrame, swept: list, cols, sweep_dir: Path) -> tuple[pd.DataFrame, int]:
    """With trainer.replicas, one row per trained copy (its own final value from the job's
    summary.json, its seed the job's seed + r), and how many copy seeds more than one job used:
    jobs with seeds 0 and 1 and 3 replicas both start copies from seeds 1 and 2, so those
    copies share their initial weights and data order and are not independent."""
    from runner.files import read_json

    cols = [cols] if isinstance(cols, str) else list(cols)  # final_<split>_<kind> columns
    rows = []
    for _, r in df[df["status"].isin(FINISHED)].iterrows():
        summary = read_json(sweep_dir / r["dir"] / "summary.json") or {}
        per_copy = summary.get("replica_final") or [summary.get("final") or {}]
        for k, final in enumerate(per_copy):
            rows.append({**{key: r[key] for key in swept}, "copy_seed": int(r["seed"]) + k,
                         **{c: final.get(c.removeprefix("final_")) for c in cols}})  # fmt: skip
    copies = pd.DataFrame(rows, columns=[*swept, "copy_seed", *cols])
    others = [k for k in swept if k != "seed"]
    shared = copies.duplicated(subset=[*others, "copy_seed"], keep="first").sum()
    return copies.assign(status="ok"), int(shared)


def _copies_line(shared: int) -> str:
    line = "Over every trained copy (seed + replica): runs counts copies."
    if shared:
        copies = "copy" if shared == 1 else "copies"
        line += (f" **Note:** {shared} {copies} started from a seed another job's copy also used (the jobs' "
                 "seeds are closer than trainer.replicas), so they are not independent runs and the spread "
                 "may be too narrow; space the seeds trainer.replicas apart (sweep=seeds does).")  # fmt: skip
    return line


def _seed_section(df: pd.DataFrame, swept: list, split: str, kind: str, sweep_dir: Path) -> list:
    """Mean ± std of the final metric over seeds, when seed is swept; with replicas, over every
    copy (each is a run with its own seed), not over the jobs' means."""
    col = f"final_{split}_{kind}"
    shared, replicas = 0, "replicas" in df and (df["replicas"].fillna(1) > 1).any()
    if replicas and "seed" in swept:
        df, shared = _copies(df, swept, col, sweep_dir)
    spread = seed_spread(df, swept, col)
    if spread is None:
        return []
    others = [c for c in spread.columns if c not in ("mean", "std", "runs")]
    lines = [
        f"## Final {metric_label(split, kind)} over seeds (mean ± std)",
        "",
        *([_copies_line(shared), ""] if replicas and "seed" in swept else []),
        "| " + " | ".join([*map(short_key, others), "mean", "std", "runs"]) + " |",
        "|" + "---|" * (len(others) + 3),
    ]
    for r in spread.to_dict("records"):  # iterrows made one float row of it: width 16 read 16.0
        m, s = scaled(pd.Series([r["mean"], r["std"]]), kind)
        # a loss has no fixed scale (a fit's MSE of 1e-5 read 0.000 ± 0.000): significant digits
        shown = [f"{m:.3f}", f"{s:.3f}"] if kind == "acc" else [number(m), number(s)]
        shown[1] = "-" if missing(s) else shown[1]  # one seed: no spread
        lines.append("| " + " | ".join([*(str(r[o]) for o in others), *shown, str(int(r["runs"]))]) + " |")
    return lines + [""]


def _failures(df: pd.DataFrame, swept: list, sweep_dir: Path, live: str | None) -> list:
    """The jobs not `ok`, each with why; `live`: sweep_running's line while another process runs the sweep."""
    from runner.config.overrides import as_override

    bad = df[~df["status"].isin(("ok",))]
    if bad.empty:
        return []
    lines = ["## Jobs that did not finish well" if live is None else f"## Jobs not finished yet ({live})", ""]
    for _, r in bad.iterrows():
        err = r.get("error")
        detail = f": {err}" if isinstance(err, str) and err else ""
        if not r["dir"]:  # a job of the grid that has no folder
            values = ", ".join(f"{k}={r[k]}" for k in swept if not missing(r[k]))  # a search's: drawn later
            where = f" ({values})" if values else ""
            again = as_override("hydra.sweep.dir", sweep_dir)
            detail = (f": it has no folder; run the sweep's command again with {again} to run it" if live is None
                      else ": it has no folder yet; the sweep that is running will run it")  # fmt: skip
        else:
            where = f" ({r['dir']})"
            if live is not None and r["status"] == "unfinished":
                detail = ": being trained now, or stopped by an earlier attempt and to be resumed by the running sweep"
        lines.append(f"- job {r['job']}{where}: **{r['status']}**{detail}")
    return lines + [""]


def sweep_running(sweep_dir: Path) -> str | None:
    """'the sweep is running (<its dlrun>)' while another process runs the sweep (a report drawn
    as a snapshot, `make report` during it), else None: its jobs not finished are not stopped ones."""
    from runner.runfolder import holder, holds

    who = None if holds(sweep_dir) else holder(sweep_dir)
    return None if who is None else f"the sweep is running: {who}"


def _job_links(df: pd.DataFrame, sweep_dir: Path) -> list:
    lines = ["## Each job's own plots", ""]
    for _, r in df[df["dir"] != ""].iterrows():
        plots = sorted((sweep_dir / r["dir"] / "plots").glob("*.png"))
        links = ", ".join(f"[{p.stem}]({quote(r['dir'])}/plots/{quote(p.name)})" for p in plots) or "no plots"
        lines.append(f"- job {r['job']} `{r['dir']}` ({r['status']}): {links}")
    return lines + [""]


def render_sweep(sweep_dir: Path) -> dict:
    """Write summary.csv, plots/, report.md and report.html; return the status counts and paths."""
    sweep_dir = Path(sweep_dir)
    summary_path, rows, swept = write_summary(sweep_dir)
    counts = status_counts(rows)
    live = sweep_running(sweep_dir)
    df = read_table(summary_path, "sweep summary.csv", keep_default_na=True)
    df["dir"] = df["dir"].fillna("").astype(str)  # blank for a job that has no folder
    split, kind = lead_metric(lambda col: col in df and df[col].notna().any())
    name = sweep_dir.parent.name if re.match(r"\d{4}-\d\d-\d\d", sweep_dir.name) else sweep_dir.name
    x, extra = report_options(sweep_dir)
    notes = _option_notes(df, x, extra)
    x = x if x in df.columns else None
    has_metrics = df[f"final_{split}_{kind}"].notna().any()  # false for a sweep of gradchecks
    metric = optimized_metric(sweep_dir)
    search = bool(metric) and "objective" in df  # drawn values: no grid to draw lines, bars or a pivot over
    plots = []

    def pooled(k: str) -> pd.DataFrame:
        """What plot_final draws: with seeds swept and replicas, every copy as a run of its own
        seed (as the seeds table counts them), else summary.csv's rows."""
        if "seed" not in swept or "replicas" not in df or not (df["replicas"].fillna(1) > 1).any():
            return df
        keys = [*swept, *([x] if x and x not in swept else [])]  # sweep.x=params: its column comes along
        copies, _ = _copies(df, keys, [f"final_{split}_{k}", f"final_train_{k}"], sweep_dir)
        return copies.drop(columns="seed").rename(columns={"copy_seed": "seed"})

    if search:
        from runner.report.search import best_line, plot_objective, plot_slices

        plots = [plot_objective(df, metric, sweep_dir, name), plot_slices(df, swept, metric, sweep_dir, name)]
    if has_metrics:
        grid = not search
        curves_by = swept if grid else ["job"]  # a search's trials in one panel, by trial number
        plots += [
            plot_heatmap(df, swept, sweep_dir, split, kind, name) if grid else None,
            plot_final(pooled(kind), swept, sweep_dir, split, kind, name, x) if grid else None,
            *(plot_extra(df, swept, sweep_dir, col, name, x) for col in extra if grid),
            plot_final(pooled("loss"), swept, sweep_dir, split, "loss", name, x) if grid and kind == "acc" else None,
            plot_curves(df, curves_by, sweep_dir, "loss", name),
            plot_sweep_fits(df, swept, sweep_dir, name) if grid else None,
            plot_curves(df, curves_by, sweep_dir, "acc", name) if kind == "acc" else None,
        ]
    plots = [p for p in plots if p is not None]
    for stale in set((sweep_dir / "plots").glob("*.png")) - set(plots):  # an earlier render's, of other axes
        stale.unlink(missing_ok=True)
    md = [
        f"# Sweep {name}",
        "",
        f"{count(len(rows), 'job')}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ". "
        f"Swept: {', '.join(swept) or 'nothing'}. Folder: `{sweep_dir}`. "
        f"Rendered {dt.datetime.now().isoformat(timespec='seconds')}.",
        "",
    ]
    md += [f"Note: {n}." for n in notes] + ([""] if notes else [])
    tags = sorted({t for v in df.get("tags", pd.Series(dtype=str)).dropna() for t in str(v).split()})
    if tags:
        md += ["Tags: " + ", ".join(f"`{t}`" for t in tags) + ".", ""]
    md += shared_section([sweep_dir / d if d else None for d in df["dir"]], "job")  # besides the swept
    if search:
        from runner.report.search import section

        md += section(df, swept, metric)
    if "gradcheck_max_rel_error" in df and df["gradcheck_max_rel_error"].notna().any():
        md += _gradcheck_section(df, swept)
    axes = plot_axes(swept)  # seeds beside other keys are averaged (their spread: the seeds section)
    if len(axes) == 2 and has_metrics and not search:
        averaged = f" (mean over {df['seed'].nunique()} seeds)" if axes != swept else ""
        md += [
            f"## Final {metric_label(split, kind)}: {short_key(axes[0])} by {short_key(axes[1])}{averaged}",
            "",
            *paper_table(df, axes[0], axes[1], kind, split),
            "",
        ]
    depth_lines = vanishing_by_depth(df, swept)
    if depth_lines:
        md += [
            "## Vanishing gradients by depth",
            "",
            "Verdict per job (first/last layer gradient-norm ratio in brackets); rule and thresholds in "
            "summary.json's vanishing_evidence and the README.",
            "",
            *depth_lines,
            "",
        ]
    md += _seed_section(df, swept, split, kind, sweep_dir)
    if has_metrics:
        md += [
            "## All jobs",
            "",
            ("Accuracies in %. " if kind == "acc" else "")  # a regression's table holds losses only
            + "Final = last epoch; best = the best epoch of that column's split.",
            "",
            *_summary_table(df, swept, split, kind, tuple(c for c in extra if c in df)),
            "",
        ]
    md += _failures(df, swept, sweep_dir, live)
    if plots:
        md += ["## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in plots] + [""]
    md += _job_links(df, sweep_dir)
    md_text = "\n".join(md)
    atomic_write_text(sweep_dir / "report.md", md_text)
    atomic_write_text(sweep_dir / "report.html", markdown_to_html(md_text, sweep_dir, title=f"Sweep {name}"))
    return {
        "counts": counts,
        "summary": summary_path,
        "report": sweep_dir / "report.html",
        "rows": rows,
        "swept": swept,
        "notes": notes,
        "search": {"metric": metric, "best": best_line(df, swept, metric, code="")} if search else None,
        "running": live,
    }


def _option_notes(df: pd.DataFrame, x: str | None, extra: list) -> list:
    """What the report cannot do with sweep.x and sweep.extra, said rather than silently skipped."""
    notes = []
    if x is not None and x not in df.columns:
        notes.append(f"sweep.x={x}: summary.csv has no such column, so the plots use the last swept key")
    for column in extra:
        if column not in df.columns or not df[column].notna().any():
            notes.append(f"sweep.extra: the summary.csv column {column} is missing or empty, so it is not plotted")
    return notes
