"""One training run from a validated config to a finished run directory.

    dlrun dataset=mnist model=mlp trainer.epochs=3

Writes, in order: config.yaml; metrics.csv, layers.csv and steps.csv (rows per epoch, flushed
as they come) and checkpoint.pt every trainer.checkpoint_every epochs; the confusion matrices
or the function's predictions, the first layer's weight histogram and model.pt; summary.json
(status `finishing`); then (runner.report.finish, in a worker process during sweeps) plots/,
report.md and report.html, the final status, and DONE last, so a DONE file means every other
file is complete.

A folder that holds an unfinished run of the same config (checkpoint.pt) is resumed from its
checkpoint: the CSVs are rewritten with the rows the checkpoint saw, and training goes on at
the step where it stopped. SIGTERM or Ctrl-C during training saves a checkpoint at the next
step boundary (runner.signals). The engine (torch, or the NumPy scratch engine) only computes;
this module owns the files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path

from omegaconf import OmegaConf

from runner import __version__, signals
from runner.console import Reporter
from runner.errors import one_line
from runner.files import CsvAppender, atomic_write_text, read_json, write_json
from runner.registry import load
from runner.registry.runs import ENGINES
from runner.runfolder import finished, start_folder
from runner.train import checkpoint
from runner.train.base import Engine, RunHooks
from runner.train.early_stop import EarlyStopping
from runner.train.results import verdicts, write_results
from runner.train.rows import LAYER_COLUMNS, STEP_COLUMNS, EpochRow, best_of, replica_stats


def make_engine(cfg) -> Engine:
    """The engine class named by cfg.engine's registry entry, built from the config."""
    return load(ENGINES[cfg.engine].cls)(cfg)


class Progress:
    """The run so far: the rows of its CSVs and whether training has ended. What a checkpoint
    saves beside the engine, and what a resumed run starts from."""

    def __init__(self, run_dir: Path, cfg, engine: Engine, saved: dict | None, checkpoints: bool = True):
        self.checkpoints = checkpoints  # off for a study's runs, which never resume
        saved = saved or {}
        self.rows = [EpochRow.from_dict(r) for r in saved.get("rows", [])]  # one per epoch (replica mean)
        self.written = list(saved.get("written", []))  # metrics.csv's rows (per replica with replicas)
        self.layer_rows = list(saved.get("layer_rows", []))
        self.step_rows = list(saved.get("step_rows", []))
        self.ended = saved.get("ended", False)  # training over: all epochs run, or diverged
        self.status = saved.get("status", "running")
        self.stopper = EarlyStopping(cfg.trainer.early_stopping)
        self.stopper.load_state_dict(saved.get("early_stopping"))
        self.stopped_at = saved.get("stopped_early_at")  # the epoch early stopping ended training
        self.last_per_replica = []  # the last epoch's rows of every copy (trainer.replicas > 1)
        self.saved_at = len(self.rows) if saved else None  # epochs in the newest checkpoint
        self.saved_time = time.monotonic()  # when it was written (or the run started)
        self.replicated = cfg.trainer.replicas > 1
        self.files = [
            CsvAppender(run_dir / "metrics.csv", EpochRow.columns(self.replicated), self.written),
            CsvAppender(run_dir / "layers.csv", LAYER_COLUMNS, self.layer_rows) if engine.layer_probes else None,
            CsvAppender(run_dir / "steps.csv", STEP_COLUMNS, self.step_rows) if cfg.trainer.log_steps else None,
        ]

    def add(self, row: EpochRow, layer_rows: list, step_rows: list) -> EpochRow:
        """Record one epoch; returns the row that speaks for it (the replicas' mean)."""
        per_replica = []
        if self.replicated:
            row, per_replica = row.split_replicas()
        self.rows.append(row)
        self.last_per_replica = per_replica
        for group, new, writer in zip(
            (self.written, self.layer_rows, self.step_rows),
            ([r.as_dict() for r in per_replica or [row]], layer_rows, step_rows),
            self.files,
        ):
            group += new
            for r in new:
                writer.append(r)
        return row

    def per_replica_last(self) -> list:
        """The last epoch's rows of every replica."""
        last = self.rows[-1].epoch if self.rows else None
        return [EpochRow.from_dict(r) for r in self.written if r.get("epoch") == last] if self.replicated else []

    def save(self, run_dir: Path, cfg, engine: Engine, where: str = "") -> None:
        if not self.checkpoints:
            return
        checkpoint.save(run_dir / checkpoint.CHECKPOINT, {
            "kind": "checkpoint", "epoch": len(self.rows), "where": where or f"the end of epoch {len(self.rows)}",
            "fingerprint": checkpoint.fingerprint(cfg),
            "config": OmegaConf.to_yaml(cfg, resolve=True), "engine": engine.state_dict(),
            "rng": checkpoint.rng_state(), "rows": [r.as_dict() for r in self.rows], "written": self.written,
            "layer_rows": self.layer_rows, "step_rows": self.step_rows, "ended": self.ended, "status": self.status,
            "early_stopping": self.stopper.state_dict(), "stopped_early_at": self.stopped_at,
        })  # fmt: skip
        self.saved_at, self.saved_time = len(self.rows), time.monotonic()

    def due(self, cfg, epoch: int) -> bool:
        """A periodic checkpoint is due after this epoch (not the last: training's end saves one)."""
        t = cfg.trainer
        every, fresh = t.checkpoint_every, time.monotonic() - self.saved_time < t.checkpoint_seconds
        return bool(every) and epoch % every == 0 and epoch < t.epochs and not fresh

    def close(self) -> None:
        for writer in self.files:
            if writer is not None:
                writer.close()


def _summary(cfg, engine: Engine, resumed_from: int | None) -> dict:
    data = engine.data
    summary = {
        "name": cfg.name, "status": "running", "task": "classification" if data.classification else "regression",
        "engine": cfg.engine, "dataset": cfg.dataset.name, "model": cfg.model.name,
        "activation": cfg.activation.name, "seed": cfg.seed, "epochs": cfg.trainer.epochs, "epochs_run": 0,
        "params": engine.params, "device": str(engine.device), "device_name": engine.device_name,
        "precision": cfg.trainer.precision, "replicas": cfg.trainer.replicas, "sizes": data.sizes(),
        "data_origin": data.origin, "classes": data.classes,
        "started": dt.datetime.now().isoformat(timespec="seconds"), "dlrun_version": __version__,
        "tags": list(cfg.tags),
    }  # fmt: skip
    if resumed_from is not None:
        summary["resumed_from_epoch"] = resumed_from
    return summary


def run_training(cfg, run_dir: Path, label: str = "", hooks: RunHooks | None = None, finish=None,
                 resume: bool = True) -> dict:  # fmt: skip
    """hooks (for studies) watch the run (runner.train.base.RunHooks). finish(run_dir, status)
    writes the plots, the report and DONE; default: inline, now. resume: go on from a
    checkpoint of the same config in run_dir (studies start their runs afresh)."""
    load(ENGINES[cfg.engine].cls)  # imports torch: once per process, so a sweep's first job is not charged for it
    started = time.perf_counter()
    hooks = hooks or RunHooks()
    engine = make_engine(cfg)  # reads the data and builds the model: may still refuse the config
    _check_watched_columns(cfg, engine)
    saved = start_folder(run_dir, cfg, resume)  # the checkpoint to resume from, or None (folder cleared)
    if saved is not None:
        engine.load_state_dict(saved["engine"])
        checkpoint.set_rng_state(saved["rng"])

    # Data and model are ready: from here on the run directory is filled.
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    progress = Progress(run_dir, cfg, engine, saved, checkpoints=resume)
    summary = _summary(cfg, engine, len(progress.rows) if saved is not None else None)
    write_json(run_dir / "summary.json", summary)
    reporter = Reporter(cfg.trainer.progress, cfg.trainer.epochs, label)
    sizes = ", ".join(f"{k} {v:,}" for k, v in engine.data.sizes().items())
    resumed = f"; resumed from its checkpoint at {saved.get('where')}" if saved is not None else ""
    from runner.loggers import Loggers

    loggers = Loggers(cfg, label)

    def mirror_final_files() -> None:  # the loggers' last word: the final files, once written
        loggers.end({**summary, **(read_json(run_dir / "summary.json") or {})}, run_dir)

    status = "interrupted"  # what it stays when a library ends the process (SystemExit) mid-training
    try:
        # From here a stop signal waits for the next step boundary, even one that comes while
        # the loggers start (opening MLflow takes seconds): the run ends `interrupted`, saved.
        with signals.deferred():
            reporter.start([f"dlrun {cfg.name}: {engine.params:,} parameters on {engine.device} "
                            f"({engine.device_name}); {sizes}{resumed}", f"run dir: {run_dir}"])  # fmt: skip
            if cfg.trainer.batch_size > (n := engine.data.sizes().get("train", 0)):  # what it comes to, said once
                reporter.note(f"trainer.batch_size={cfg.trainer.batch_size} is more than the {n:,} training samples: "
                              "each epoch is one step on all of them")  # fmt: skip
            loggers.start(cfg, run_dir, summary, len(progress.rows) if saved is not None else None)
            if saved is None:
                hooks.on_start(engine)
            for epoch in range(len(progress.rows) + 1, cfg.trainer.epochs + 1):
                if progress.ended:
                    break
                signals.check(f"before epoch {epoch}")
                row, layer_rows = engine.epoch(epoch)
                row = progress.add(row, layer_rows, engine.step_rows())
                reporter.epoch(row)
                hooks.on_epoch(engine, row)
                loggers.epoch(row, progress.last_per_replica, layer_rows)
                engine.after_epoch(row)
                if row.diverged():
                    progress.ended, progress.status = True, "diverged"
                    continue
                if progress.stopper.on:
                    best, stop = progress.stopper.update(row)
                    if best and resume:  # with checkpoints, the best epoch's weights are kept
                        checkpoint.save_model(run_dir, engine, cfg, epoch, checkpoint.BEST)
                    if stop and epoch < cfg.trainer.epochs:
                        progress.ended, progress.stopped_at = True, epoch
                        continue
                if progress.due(cfg, epoch):
                    progress.save(run_dir, cfg, engine)
            progress.ended, progress.status = True, "ok" if progress.status == "running" else progress.status
            if saved is None or not saved.get("ended"):
                progress.save(run_dir, cfg, engine)  # training is over: a failure below resumes from here
        signals.check(AFTER_LOOP)  # one that came during the last epoch stops here, saved
        reporter.stop()
        progress.close()
        hooks.on_end(engine)
        rows = progress.rows
        write_results(engine, run_dir, len(rows))
        summary.update(verdicts(cfg, engine, rows, progress.layer_rows))
        checkpoint.save_model(run_dir, engine, cfg, len(rows))
        status = progress.status
    except signals.Interrupted as ex:
        status = "interrupted"
        ex.where = ex.where or AFTER_LOOP  # the loop's own checks name their step; past it, a signal stops at once
        if not progress.ended:
            progress.save(run_dir, cfg, engine, ex.where)  # a step boundary: the resumed run goes on from here
        ex.saved = run_dir / checkpoint.CHECKPOINT if resume else None
        summary["interrupted"] = _stop_record(ex)
        raise
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception as ex:
        status, summary["error"] = "failed", one_line(ex)
        raise
    finally:
        # a signal now waits (it is taken before the plots, below): one that cut summary.json's
        # write short left the run `running` although it had stopped, saved
        with signals.deferred():
            progress.close()
            reporter.stop()
            _close_summary(summary, progress, engine, started, status)
            if status not in ("ok", "diverged"):
                loggers.end(summary, run_dir)

    # The results are on disk; the plots, the report, the final status and DONE (last) follow.
    # The loggers end after them (in a sweep, once a render worker is done) and mirror the
    # final files: the plots, and summary.json with its status (failed, if the plots failed).
    try:  # from the deferred block's end: a signal from here on is this clause's to take
        signals.check(AFTER_LOOP)  # one that came while summary.json was written
        if finish is None:
            from runner.report.finish import finish_run as finish
        finish(run_dir, status, mirror_final_files)
    except (signals.Interrupted, KeyboardInterrupt) as ex:  # training is saved: a rerun draws the plots
        if finished(run_dir) is None:
            if isinstance(ex, signals.Interrupted):  # matplotlib's drawing was cut short: nothing named where
                ex.where = ex.where or BEFORE_PLOTS
            ex.saved = run_dir / checkpoint.CHECKPOINT if resume else None
            stopped = {"interrupted": _stop_record(ex)} if isinstance(ex, signals.Interrupted) else {}
            write_json(run_dir / "summary.json", {**summary, "status": "interrupted", **stopped})
            with signals.deferred(), contextlib.suppress(KeyboardInterrupt):  # a third Ctrl-C skips this
                mirror_final_files()  # the loggers' runs end as stopped (a rerun reopens them)
        raise
    summary["status"] = status
    if progress.stopped_at is not None:
        es = progress.stopper
        reporter.note(f"stopped early after epoch {progress.stopped_at}: {es.metric} did not improve for {es.patience} "
                      f"epochs (best {es.best:.4g} at epoch {es.best_epoch})")  # fmt: skip
    for line in engine.notes():
        reporter.note(line)
    reporter.finish(summary, run_dir)
    return summary


def _check_watched_columns(cfg, engine: Engine) -> None:
    """The watched columns against the splits the data has (runner/config/checks.py:
    require_measured); the config's check made it already unless class folders brought a val split."""
    from runner.config.checks import require_measured
    from runner.train.rows import KINDS

    kinds = KINDS if engine.data.classification else ("loss",)
    require_measured(cfg, [f"{s}_{k}" for s in engine.data.splits for k in kinds])


# where a stop outside the training loop's step boundaries came, for its line and summary.json
AFTER_LOOP = "the end of training"
BEFORE_PLOTS = "after training (plots not drawn)"


def _stop_record(ex) -> dict:
    """summary.json's `interrupted`: the signal, where it stopped the run, the checkpoint saved."""
    return {"signal": str(ex), "where": ex.where, "checkpoint": str(ex.saved)}


def _close_summary(summary: dict, progress: Progress, engine: Engine, started: float, status: str) -> None:
    """summary.json as training left it; a trained run says `finishing` until its plots and
    report are written (runner.report.finish writes the final status, then DONE)."""
    rows = progress.rows
    if progress.replicated and rows:
        summary.update(replica_stats(progress.per_replica_last()))
    summary.update(engine.facts())
    summary.update(progress.stopper.facts(progress.stopped_at))
    summary.update({
        "status": "finishing" if status in ("ok", "diverged") else status,
        "epochs_run": len(rows), "final": rows[-1].metrics() if rows else {}, "best": best_of(rows),
        "train_seconds": float(sum(r.train_seconds for r in rows)),
        "wall_seconds": time.perf_counter() - started,
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
    })  # fmt: skip
    write_json(Path(progress.files[0].path).parent / "summary.json", summary)
