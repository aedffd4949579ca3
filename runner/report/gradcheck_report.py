"""report.md, report.html and plots/gradcheck.png of a gradient check (task=gradcheck), from
its files alone: summary.json and gradcheck.csv. The check writes them; `make report DIR=...`
writes them again."""

from __future__ import annotations

from pathlib import Path

from runner.errors import DataError
from runner.files import atomic_write_text, read_json, read_table
from runner.report.html import markdown_to_html
from runner.report.settings import read_settings, table
from runner.report.style import legend, pyplot, save
from runner.train.gradcheck_result import CSV_COLUMNS, Entry, GradcheckResult

TEXT_COLUMNS = ("layer", "param")


def is_gradcheck_dir(folder: Path) -> bool:
    return (Path(folder) / "gradcheck.csv").is_file()


def read_result(run_dir: Path, tol: float) -> GradcheckResult:
    """gradcheck.csv back as the check's result; a cell that is not a number where one belongs
    is a DataError naming the line and the column."""
    import pandas as pd

    path = run_dir / "gradcheck.csv"
    table = read_table(
        path, "gradcheck.csv", CSV_COLUMNS, dtype=dict.fromkeys(TEXT_COLUMNS, str), keep_default_na=False
    )
    if table.empty:
        raise DataError(f"{path}: no checked entries")
    for column in CSV_COLUMNS:
        if column in TEXT_COLUMNS:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & (table[column].astype(str) != "nan")
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise DataError(f"{path}: line {row + 2}, column {column}: expected a number, got {table[column][row]!r}")
        table[column] = values
    rows = [Entry(r.layer, r.param, int(r.index), *(float(v) for v in r[3:])) for r in table.itertuples(index=False)]
    return GradcheckResult(rows, tol)


def plot_gradcheck(result: GradcheckResult, title: str, path: Path, gradients: str) -> Path:
    """Every checked entry's relative error by tensor, on a log axis, against the tolerance.
    An error of exactly 0 (both gradients 0, as for a dead unit) has no place on a log axis: it
    is drawn at the bottom with a marker of its own."""
    import numpy as np

    plt = pyplot()
    tensors = [f"{layer}.{param}" for layer, param, *_ in result.per_layer()]
    fig, ax = plt.subplots(figsize=(max(7.0, 1.15 * len(tensors) + 3.0), 4.8))
    place = {name: i for i, name in enumerate(tensors)}
    jitter = np.random.default_rng(0).uniform(-0.18, 0.18, len(result.rows))  # entries side by side
    xs = np.array([place[f"{r.layer}.{r.param}"] for r in result.rows]) + jitter
    errors = np.array([r.rel_error for r in result.rows])
    positive = errors[errors > 0]
    bottom = min(positive.min() if positive.size else result.tol, result.tol) / 10
    for mask, style in (
        ((errors > 0) & (errors < result.tol), {"s": 22, "color": "#1f77b4", "alpha": 0.8, "label": "pass"}),
        (errors >= result.tol, {"s": 34, "marker": "x", "color": "#d62728", "label": "FAIL"}),
        (errors == 0, {"s": 26, "marker": "v", "color": "#888888", "label": f"exactly 0 (drawn at {bottom:.0e})"}),
    ):
        if mask.any():
            ax.scatter(xs[mask], np.where(errors[mask] > 0, errors[mask], bottom), **style)
    ax.axhline(result.tol, color="#555555", linestyle="--", linewidth=1.2, label=f"tolerance {result.tol:g}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(tensors)), tensors)  # slanted when saved where they would collide (style.save)
    ax.set_xlabel("parameter tensor")
    ax.set_ylabel("relative error (log scale)")
    ax.set_title(f"{title}\n{gradients} against finite differences: each checked entry's relative error")
    legend(ax, outside=True, fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def write_gradcheck_report(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    s = read_json(run_dir / "summary.json")
    if s is None or not isinstance(s.get("gradcheck"), dict):
        raise DataError(f"{run_dir / 'summary.json'}: not a gradient check's summary (it has no gradcheck entry)")
    gc = s["gradcheck"]
    result = read_result(run_dir, float(gc["tol"]))
    name = s.get("name", run_dir.name)
    worst, tensors = result.worst, result.per_layer()
    verdict = "passed" if result.passed else "FAILED"
    batch = f", a batch of {gc['batch']} training samples" if gc.get("batch") is not None else ""
    from runner.registry.runs import ENGINES

    engine = ENGINES.get(s.get("engine", "torch"))  # a summary from before engine=numpy could be checked: torch
    gradients = engine.gradients if engine is not None else "the gradients"
    plot = plot_gradcheck(result, name, run_dir / "plots" / "gradcheck.png", gradients)
    md = [
        f"# Gradient check {name}",
        "",
        f"**{verdict}**: largest relative error {result.max_error:.2e} at `{worst.layer}.{worst.param}[{worst.index}]`,"
        f" tolerance {result.tol:g}. {len(result.rows)} entries of {len(tensors)} parameter tensors checked ({gradients} against central differences);"
        f" {s.get('dataset')} / {s.get('model')}, {s.get('params', 0):,} parameters, float64, h = {gc.get('eps'):g}"
        f"{batch}. Folder: `{run_dir}`.",
        "",
        "| layer | param | checked | max rel. error | result |",
        "|---|---|---|---|---|",
        *(
            f"| {layer} | {param} | {n} | {err:.2e} | {'pass' if ok else '**FAIL**'} |"
            for layer, param, n, err, ok in tensors
        ),  # fmt: skip
        "",
        *(["## Settings", "", *table(rows), ""] if (rows := read_settings(run_dir)) else []),
        "## Plot",
        "",
        f"![{plot.stem}](plots/{plot.name})",
        "",
        "## Files",
        "",
        ", ".join(
            f"`{p.name}`" for p in sorted(run_dir.iterdir()) if p.is_file() and p.suffix in (".csv", ".json", ".yaml")
        ),
        "",
    ]
    text = "\n".join(md)
    atomic_write_text(run_dir / "report.md", text)
    atomic_write_text(run_dir / "report.html", markdown_to_html(text, run_dir, title=f"Gradient check {name}"))
    return run_dir / "report.md"
