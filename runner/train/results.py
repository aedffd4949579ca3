"""The files a trained run writes after its last epoch: the confusion matrices (or the
function's predictions), the first layer's weight histogram, and the verdicts that go into
summary.json (input sensitivity, vanishing gradients)."""

from __future__ import annotations

from pathlib import Path

from runner.files import write_csv
from runner.train.rows import HIST_COLUMNS, PREDICTION_COLUMNS


def write_results(engine, run_dir: Path, last_epoch: int, splits: tuple = ("train", "test")) -> None:
    data = engine.data
    if data.classification:
        for split in splits:
            counts = engine.confusion(split)
            if counts is not None:
                rows = [[cls] + [int(v) for v in counts[i]] for i, cls in enumerate(data.classes)]
                write_csv(run_dir / f"confusion_{split}.csv", ["true\\pred"] + list(data.classes), rows)
    else:
        from runner.data import function

        ex = data.extra
        xs = function.grid(ex["low"], ex["high"])
        pred, truth = engine.predict(xs), function.evaluate(ex["fn"], xs)
        write_csv(
            run_dir / "predictions.csv",
            PREDICTION_COLUMNS,
            [[float(a), float(b), float(c)] for a, b, c in zip(xs[:, 0], truth[:, 0], pred[:, 0])],
        )
    if engine.layer_probes and last_epoch > 0:
        write_csv(run_dir / "first_layer_hist.csv", HIST_COLUMNS, engine.histogram_rows(last_epoch))


def verdicts(cfg, engine, rows: list, layer_rows: list) -> dict:
    """summary.json entries judged from the whole run: sensitivity, vanishing gradients, a dead network."""
    out = {}
    if cfg.diagnostics.sensitivity and rows and not rows[-1].diverged():
        out["sensitivity"] = engine.sensitivity(cfg.diagnostics.sensitivity_samples)
    if layer_rows:
        from runner.train.verdict import dead_from_epoch, vanishing_verdict

        losses = [r.train_loss for r in rows]
        verdict = vanishing_verdict(layer_rows, losses, cfg.diagnostics)
        if verdict is not None:
            out["vanishing_gradients"] = verdict["vanishing_gradients"]
            out["vanishing_evidence"] = {**verdict["evidence"], "thresholds": verdict["thresholds"]}
        dead = dead_from_epoch(layer_rows, losses)
        if dead is not None:
            out["dead_from_epoch"] = dead
    return out
