"""One training run from a validated config to a finished run directory.

    dlrun dataset=mnist model=mlp trainer.epochs=3

Writes, in order: config.yaml; metrics.csv, layers.csv and steps.csv (rows per epoch, flushed
as they come); the confusion matrices or the function's predictions, and the first layer's
weight histogram; summary.json; then (runner.report.finish, in a worker process during
sweeps) plots/, report.md and report.html, and DONE last, so a DONE file means every other
file is complete. The engine (torch, or the NumPy scratch engine) only computes; this module owns
the files.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from omegaconf import OmegaConf

from runner import __version__
from runner.console import Reporter
from runner.errors import one_line
from runner.files import CsvAppender, atomic_write_text, write_csv, write_json
from runner.registry import load
from runner.registry.runs import ENGINES
from runner.train.base import Engine, RunHooks
from runner.train.probes import LAYER_COLUMNS
from runner.train.rows import EpochRow, best_of, replica_stats

HIST_COLUMNS = ["epoch", "bin_left", "bin_right", "count"]
STEP_COLUMNS = ["step", "epoch", "loss", "grad_norm"]


def make_engine(cfg) -> Engine:
    """The engine class named by cfg.engine's registry entry, built from the config."""
    return load(ENGINES[cfg.engine].cls)(cfg)


def _write_results(engine, run_dir: Path, last_epoch: int) -> None:
    data = engine.data
    if data.classification:
        for split in ("train", "test"):
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
            ["x", "y_true", "y_pred"],
            [[float(a), float(b), float(c)] for a, b, c in zip(xs[:, 0], truth[:, 0], pred[:, 0])],
        )
    if engine.layer_probes and last_epoch > 0:
        write_csv(run_dir / "first_layer_hist.csv", HIST_COLUMNS, engine.histogram_rows(last_epoch))


def run_training(cfg, run_dir: Path, label: str = "", hooks: RunHooks | None = None, finish=None) -> dict:
    """hooks (for studies) watch the run (runner.train.base.RunHooks). finish(run_dir, status)
    writes the plots, the report and DONE; default: inline, now."""
    started = time.perf_counter()
    hooks = hooks or RunHooks()
    engine = make_engine(cfg)  # reads the data and builds the model: may still refuse the config
    data = engine.data

    # Data and model are ready: from here on the run directory is filled.
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    summary = {
        "name": cfg.name,
        "status": "running",
        "task": "classification" if data.classification else "regression",
        "engine": cfg.engine,
        "dataset": cfg.dataset.name,
        "model": cfg.model.name,
        "activation": cfg.activation.name,
        "seed": cfg.seed,
        "epochs": cfg.trainer.epochs,
        "epochs_run": 0,
        "params": engine.params,
        "device": str(engine.device),
        "device_name": engine.device_name,
        "precision": cfg.trainer.precision,
        "replicas": cfg.trainer.replicas,
        "sizes": data.sizes(),
        "data_origin": data.origin,
        "classes": data.classes,
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "dlrun_version": __version__,
    }
    write_json(run_dir / "summary.json", summary)

    reporter = Reporter(cfg.trainer.progress, cfg.trainer.epochs, label)
    sizes = ", ".join(f"{k} {v:,}" for k, v in data.sizes().items())
    reporter.start(
        [
            f"dlrun {cfg.name}: {engine.params:,} parameters on {engine.device} ({engine.device_name}); {sizes}",
            f"run dir: {run_dir}",
        ]
    )
    replicated = cfg.trainer.replicas > 1
    writer = CsvAppender(run_dir / "metrics.csv", EpochRow.columns(replicated))
    layer_writer = CsvAppender(run_dir / "layers.csv", LAYER_COLUMNS) if engine.layer_probes else None
    step_writer = CsvAppender(run_dir / "steps.csv", STEP_COLUMNS) if cfg.trainer.log_steps else None
    rows, layer_rows, per_replica = [], [], []
    status = "running"
    try:
        hooks.on_start(engine)
        for epoch in range(1, cfg.trainer.epochs + 1):
            row, lrows = engine.epoch(epoch)
            if replicated:
                row, per_replica = row.split_replicas()
            rows.append(row)
            for r in per_replica or [row]:
                writer.append(r.as_dict())
            for lr in lrows:
                layer_writer.append(lr)
            if step_writer is not None:
                for sr in engine.step_rows():
                    step_writer.append(sr)
            layer_rows += lrows
            reporter.epoch(row)
            hooks.on_epoch(engine, row)
            if row.diverged():
                status = "diverged"
                break
        reporter.stop()
        for w in (writer, layer_writer, step_writer):
            if w is not None:
                w.close()
        hooks.on_end(engine)
        _write_results(engine, run_dir, len(rows))
        if cfg.diagnostics.sensitivity and rows and not rows[-1].diverged():
            summary["sensitivity"] = engine.sensitivity(cfg.diagnostics.sensitivity_samples)
        if layer_rows:
            from runner.train.verdict import vanishing_verdict

            verdict = vanishing_verdict(layer_rows, [r.train_loss for r in rows], cfg.diagnostics)
            if verdict is not None:
                summary["vanishing_gradients"] = verdict["vanishing_gradients"]
                summary["vanishing_evidence"] = {**verdict["evidence"], "thresholds": verdict["thresholds"]}
        status = "ok" if status == "running" else status
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception as ex:
        status, summary["error"] = "failed", one_line(ex)
        raise
    finally:
        for w in (writer, layer_writer, step_writer):
            if w is not None:
                w.close()
        reporter.stop()
        if per_replica:
            summary.update(replica_stats(per_replica))
        summary.update(engine.facts())
        summary.update(
            {
                "status": status,
                "epochs_run": len(rows),
                "final": rows[-1].metrics() if rows else {},
                "best": best_of(rows),
                "train_seconds": float(sum(r.train_seconds for r in rows)),
                "wall_seconds": time.perf_counter() - started,
                "finished": dt.datetime.now().isoformat(timespec="seconds"),
            }
        )
        write_json(run_dir / "summary.json", summary)
    # The results are on disk; the plots, the report and DONE (last) follow.
    if finish is None:
        from runner.report.finish import finish_run as finish
    finish(run_dir, status)
    for line in engine.notes():
        reporter.note(line)
    reporter.finish(summary, run_dir)
    return summary
