"""reproduction.md / .html / .csv: every published table laid out as the report laid it out,
our value beside the published one with the difference and a flag outside the tolerance, and
the figures drawn from our files. A quick reproduction (reduced data and epochs) shows the
differences but judges none: its numbers test the pipeline, not the reports. One per report folder, and one for all at the root of
`experiment=reproduce/all`. Everything is read from files, so `make report DIR=...` renders it
again (with the reference values of the folder's config.yaml)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from runner.files import atomic_write_text, read_table, write_csv
from runner.formatting import number
from runner.report.html import markdown_to_html
from runner.report.style import legend, pyplot, save
from runner.reproduce.compare import COLUMNS, compare, measure


def _value(v, kind: str) -> str:
    if v is None:
        return "not measured"
    if kind == "check":
        return "yes" if v else "no"
    return f"{v:.2f}" if kind == "acc" else number(v, 3)


def _diff(cell, kind: str) -> str:
    if cell.within is None:
        return "-"
    if kind == "acc":
        return f"{cell.difference:+.2f}"
    if kind in ("loss", "below"):  # a ratio: two significant digits, however small
        return f"×{cell.difference:.2g}"
    return "same" if cell.within else "differs"


QUICK = "not judged (quick)"  # a quick run's cells: reduced data and epochs say nothing of the reports


def _flag(cell, judged: bool = True) -> str:
    if cell.within is None:
        return "not measured"
    return ("within" if cell.within else "**OUTSIDE**") if judged else QUICK


def _labeller(table):
    """How the report names a row or column value (its `labels`), by canonical spelling."""
    from runner.reproduce.compare import canon

    names = {canon(k): v for k, v in table.labels.items()}
    return lambda value, default=None: names.get(canon(value), value if default is None else default)


def table_lines(table, cells: list, judged: bool = True) -> list:
    """The published table's layout: one row per row key; a two-way table keeps its columns.
    `judged`: flag the values outside the tolerance (not in a quick reproduction)."""
    label = _labeller(table)
    kind = table.kind
    if table.columns is None:
        head = [table.rows or "value", "ours", "published", "difference", f"within {cells[0].tolerance}"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in cells:
            lines.append(f"| {label(c.row, c.row)} | {_value(c.ours, kind)} | {_value(c.published, kind)} | "
                         f"{_diff(c, kind)} | {_flag(c, judged)} |")  # fmt: skip
        return lines
    columns = list(dict.fromkeys(c.column for c in cells))
    head = [table.rows] + [f"{table.columns}={label(col, col)}" for col in columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in dict.fromkeys(c.row for c in cells):
        out = [label(row, row)]
        for col in columns:
            c = next((x for x in cells if x.row == row and x.column == col), None)
            if c is None:
                out.append("")
                continue
            flag = "" if c.within in (True, None) or not judged else " **OUTSIDE**"
            out.append(f"{_value(c.ours, kind)} / {_value(c.published, kind)} ({_diff(c, kind)}){flag}")
        lines.append("| " + " | ".join(out) + " |")
    tolerance = f"tolerance {cells[0].tolerance}" if judged else f"{QUICK}: tolerance {cells[0].tolerance} at full size"
    return lines + ["", f"Each cell: ours / published (difference); {tolerance}."]


def comparison_plot(table, cells: list, title: str, path: Path, judged: bool = True) -> Path | None:
    """Ours beside published, one pair of bars per published value; those outside the tolerance
    marked where `judged`."""
    if table.kind == "check":
        return None
    from runner.report.sweep_tables import short_key

    plt = pyplot()
    label = _labeller(table)
    names = [str(label(c.row)) + (f", {short_key(table.columns)} {label(c.column)}" if c.column else "") for c in cells]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(cells) + 2.5), 4.8))
    xs = range(len(cells))
    ours = [float("nan") if c.ours is None else c.ours for c in cells]
    ax.bar([x - 0.2 for x in xs], ours, width=0.4, label="dlrun (this run)", color="#1f77b4")
    ax.bar([x + 0.2 for x in xs], [c.published for c in cells], width=0.4, label="published", color="#bbbbbb",
           edgecolor="#555555", hatch="//")  # fmt: skip
    for x, c in zip(xs, cells):
        if c.within is False and judged:
            ax.annotate("outside", (x, max(ours[x], c.published)), ha="center", va="bottom", fontsize=9, color="#b00")
    import textwrap

    names = ["\n".join(textwrap.wrap(n, 18)) for n in names]  # long row names on several lines
    ax.set_xticks(list(xs), names, rotation=30 if len(cells) > 4 else 0, ha="right" if len(cells) > 4 else "center")
    ax.set_ylabel(
        "accuracy (%)" if table.kind == "acc" else table.metric + (" (log scale)" if table.kind != "acc" else "")
    )
    if table.kind != "acc":
        ax.set_yscale("log")  # headroom above the tallest bar for its flag and the legend
        values = [c.published for c in cells] + [v for v in ours if v == v and v > 0]
        ax.set_ylim(min(values) / 3, max(values) * 40)
    else:
        ax.set_ylim(0, 1.2 * max([c.published for c in cells] + [v for v in ours if v == v]))
    ax.set_title(f"{title}\n{table.caption}" + ("" if judged else " (quick: not judged)"))
    legend(ax, loc="upper right", ncol=2)
    fig.tight_layout()
    return save(fig, path)


def _verdicts(folder: Path) -> list:
    """The vanishing-gradient verdict of every job, by depth (the part's sweep table)."""

    from runner.report.sweep_tables import vanishing_by_depth
    from runner.sweep.summary import sweep_param_keys

    lines = vanishing_by_depth(read_table(folder / "summary.csv", "sweep summary.csv"), sweep_param_keys(folder))
    return (
        ["Our verdict at every depth (first/last-layer gradient-norm ratio in brackets):", "", *lines, ""]
        if lines
        else []
    )


def _figures(folder: Path, part) -> list:
    found = []
    for pattern in part.figures:
        found += sorted((folder / part.name).glob(pattern))
    return found


def report_sections(cfg, report_dir: Path, parts: list, runs: dict, prefix: str = "") -> tuple[list, list]:
    """(markdown lines, csv rows) of one report's parts; `prefix` is the report folder's path
    relative to where the markdown is written."""
    md, rows = [], []
    name = cfg.reproduce.report or report_dir.name
    judged = not cfg.reproduce.quick
    for part in parts:
        folder = report_dir / part.name
        run = runs.get(part.name, {})
        md += [f"## {part.title}", ""]
        if part.setup:
            md += [f"The report: {part.setup}.", ""]
        jobs = run.get("jobs")
        base = f"preset `{part.experiment}`" if part.experiment else "dlrun's defaults"
        md += [f"Here: {base}" + (f" with `{' '.join(part.overrides)}`" if part.overrides else "")
               + (f", quick: `{' '.join(part.quick)}`" if cfg.reproduce.quick and part.quick else "")
               + (f"; {jobs} job(s) in [{part.name}/]({prefix}{part.name}/report.html)" if jobs else "")
               + "".join(f", **{n} {k}**" for k, n in (run.get("counts") or {}).items() if k != "ok" and n)
               + (f", {run['seconds'] / 60:.1f} min" if run.get("seconds") else "")
               + ". Keys the report does not give are dlrun's defaults (each job's `config.yaml`).", ""]  # fmt: skip
        summary_ok = (folder / "summary.csv").is_file()
        if part.verdicts and summary_ok:
            md += _verdicts(folder)
        for i, table in enumerate(part.tables):
            ours = measure(folder, table) if summary_ok else {}
            cells = compare(table, ours, cfg.reproduce.tolerance)
            md += [f"### {table.caption}", "", *table_lines(table, cells, judged), ""]
            png = comparison_plot(table, cells, f"{name}: {part.title}", report_dir / "plots" / f"{part.name}_{i}.png",
                                  judged)  # fmt: skip
            if png is not None:
                md += [f"![ours vs published]({prefix}plots/{png.name})", ""]
            rows += [[name, part.name, table.caption, c.row, c.column, c.ours, c.published, c.difference, c.tolerance,
                      c.within] for c in cells]  # fmt: skip
        figures = _figures(report_dir, part)
        if figures:
            md += ["Figures, drawn from this run's files:", ""]
            jobs = {f.relative_to(folder).parts[0] for f in figures if len(f.relative_to(folder).parts) > 2}
            for f in figures:  # jobs' own plots are named by their job: three fits' titles read alike
                inner = f.relative_to(folder).parts
                md += [f"Job `{inner[0]}`:", ""] if len(jobs) > 1 and len(inner) > 2 else []
                md += [f"![{f.stem}]({prefix}{f.relative_to(report_dir).as_posix()})", ""]
    return md, rows


def tally(rows: list, judged: bool = True) -> str:
    within = sum(r[-1] is True for r in rows)
    outside = [r for r in rows if r[-1] is False]
    missing = sum(r[-1] is None for r in rows)
    if not judged:
        text = (f"{len(rows)} published values, {QUICK}: reduced data and epochs test the pipeline, not the "
                "reports; run it without reproduce.quick (QUICK=1) to judge them")  # fmt: skip
        return text + (f"; {missing} not measured." if missing else ".")
    text = f"{len(rows)} published values: {within} within tolerance, {len(outside)} outside"
    text += f", {missing} not measured" if missing else ""
    if 0 < len(outside) <= 12:
        text += " (" + "; ".join(f"{r[1]} {r[3]}" + (f"/{r[4]}" if r[4] else "") for r in outside) + ")"
    return text + "."


def write_report(folder: Path, title: str, md: list, rows: list, head: list, judged: bool = True) -> None:
    text = "\n".join([f"# {title}", "", *head, tally(rows, judged), "", *md])
    atomic_write_text(folder / "reproduction.md", text)
    atomic_write_text(folder / "reproduction.html", markdown_to_html(text, folder, title=title))
    write_csv(folder / "reproduction.csv", COLUMNS, rows)


def header(cfg, seconds: float | None) -> list:
    mode = (
        "quick (reduced data and epochs: the pipeline, not the published numbers)"
        if cfg.reproduce.quick
        else "full size"
    )
    lines = [f"Mode: {mode}. Tolerance: {cfg.reproduce.tolerance.acc_points:g} points of accuracy, a factor "
             f"{cfg.reproduce.tolerance.loss_factor:g} for losses. Rendered "
             f"{dt.datetime.now().isoformat(timespec='seconds')}"
             + (f" after {seconds / 60:.1f} min." if seconds else "."), ""]  # fmt: skip
    lines += [f"- {n}" for n in cfg.reproduce.notes] + ([""] if cfg.reproduce.notes else [])
    return lines
