"""report.md and report.html of one run, from its files: what ran, the final and best
metrics, the verdicts, and every plot (embedded in the HTML)."""

from __future__ import annotations

from pathlib import Path

from runner.files import atomic_write_text, read_json
from runner.formatting import number, percent, spread, spread_number
from runner.registry.data import SPLITS
from runner.report.html import markdown_to_html
from runner.report.settings import read_settings, table
from runner.train.verdict import verdict_lines

PLOT_ORDER = [
    "curves",
    "predictions",
    "steps",
    "confusion_test",
    "confusion_train",
    "grad_norms",
    "weight_stats",
    "first_layer_hist",
]


def write_run_report(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    s = read_json(run_dir / "summary.json") or {}
    final, best = s.get("final") or {}, s.get("best") or {}
    if s.get("task") == "eval":  # saved weights evaluated: no epochs of its own
        epochs = f"the weights of `{s.get('ckpt')}` after {s.get('trained_epochs')} epoch(s) of training"
    else:
        epochs = f"{s.get('epochs_run')} of {s.get('epochs')} epochs"
    md = [
        f"# Run {s.get('name', run_dir.name)}",
        "",
        f"Status **{s.get('status', '?')}**: {s.get('dataset')} / {s.get('model')} / {s.get('activation')}, "
        f"{s.get('params', 0):,} parameters, {epochs}, seed {s.get('seed')}, "
        f"{s.get('engine', 'torch')} engine on {s.get('device')} ({s.get('device_name')}), "
        f"{s.get('wall_seconds', 0):.1f} s wall. Folder: `{run_dir}`.",
        "",
    ]
    if s.get("tags"):
        md += ["Tags: " + ", ".join(f"`{t}`" for t in s["tags"]) + ".", ""]
    if s.get("stopped_early_at") is not None:
        es = s.get("early_stopping") or {}
        md += [f"Stopped early after epoch {s['stopped_early_at']}: {es.get('metric')} did not improve for "
               f"{es.get('patience')} epochs; best {number(es.get('best'))} at epoch {es.get('best_epoch')} "
               "(its weights: best.pt).", ""]  # fmt: skip
    if s.get("replicas", 1) > 1:
        md += [
            f"Trained as {s['replicas']} replicas (seeds {s.get('seed')}..{s.get('seed', 0) + s['replicas'] - 1}, "
            "one stacked model): metrics are their mean, ± one standard deviation; "
            + (
                "eval.csv has a row per split and replica."
                if s.get("task") == "eval"
                else "metrics.csv has a row per epoch and replica."
            ),
            "",
        ]
    sizes = s.get("sizes") or {}
    # regression measures no accuracy: its table shows the best loss where a classifier's shows
    # accuracy; an eval measured its weights once, so it has no "final" or "best" epoch
    kind = "acc" if any(final.get(f"{split}_acc") is not None for split in SPLITS) else "loss"
    once = s.get("task") == "eval"
    head = ["split", "samples", "loss" if once else "final loss"]
    head += ["accuracy" if once else "final accuracy"] if kind == "acc" else []
    head += [] if once else [f"best {'accuracy' if kind == 'acc' else 'loss'} (epoch)"]
    md += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for split in SPLITS:
        if f"{split}_loss" in final:
            cells = [split, f"{sizes[split]:,}" if isinstance(sizes.get(split), int) else "-"]
            cells.append(spread_number(final.get(f"{split}_loss"), (s.get("final_std") or {}).get(f"{split}_loss")))
            if kind == "acc":
                cells.append(spread(final.get(f"{split}_acc"), (s.get("final_std") or {}).get(f"{split}_acc")))
            if not once:
                b = best.get(f"{split}_{kind}")
                shown = percent(b) if kind == "acc" and b is not None else number(b)
                cells.append("-" if b is None else f"{shown} ({best.get(f'{split}_{kind}_epoch')})")
            md.append("| " + " | ".join(cells) + " |")
    md.append("")
    if rows := read_settings(run_dir):  # an eval's: the saved network's, and the data it was evaluated on
        md += [
            "## Settings of the saved network and the data evaluated" if once else "## Settings",
            "",
            *table(rows),
            "",
        ]
    if verdicts := verdict_lines(s):
        md += ["## Gradients", "", *(line for v in verdicts for line in (v, ""))]
    if s.get("sensitivity") is not None:
        md += [
            "## Input sensitivity",
            "",
            f"Mean Frobenius norm of the input-output Jacobian over test samples: {s['sensitivity']:.4g}.",
            "",
        ]
    if s.get("error"):
        md += ["## Error", "", f"`{s['error']}`", ""]
    plots = sorted(
        (run_dir / "plots").glob("*.png"),
        key=lambda p: PLOT_ORDER.index(p.stem) if p.stem in PLOT_ORDER else len(PLOT_ORDER),
    )
    if plots:
        md += ["## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in plots] + [""]
    files = sorted(p.name for p in run_dir.iterdir() if p.is_file() and p.suffix in (".csv", ".json", ".yaml"))
    md += ["## Files", "", ", ".join(f"`{f}`" for f in files), ""]
    text = "\n".join(md)
    atomic_write_text(run_dir / "report.md", text)
    atomic_write_text(run_dir / "report.html", markdown_to_html(text, run_dir, title=f"Run {s.get('name', '')}"))
    return run_dir / "report.md"
