"""One training run from a validated config to a finished run directory.

    dlrun dataset=mnist model=mlp trainer.epochs=3

Writes, in order: config.yaml; metrics.csv (a row per epoch, flushed as it goes); the
confusion matrices or the function's predictions; plots/; summary.json last, so a
summary.json with status "ok" means every other file is complete.
"""
from __future__ import annotations

import datetime as dt
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from runner import __version__
from runner.console import Reporter
from runner.data import device as device_data
from runner.errors import ConfigError
from runner.files import CsvAppender, atomic_write_text, write_csv, write_json, write_marker
from runner.models import build_model, count_params
from runner.train.evaluate import evaluate
from runner.train.loop import Trainer, diverged

METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc",
                  "seconds", "train_seconds", "penalty", "lr"]


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("device", "cpu or auto: no CUDA device is available here", name)
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError("device", f"cuda:0..cuda:{torch.cuda.device_count() - 1}", name)
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device", "cpu or auto: MPS is not available here", name)
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # every device's default generator


def best_of(rows: list) -> dict:
    """Lowest loss and highest accuracy of each split, with the epoch it came at."""
    best = {}
    for key in METRIC_COLUMNS:
        if not key.endswith(("_loss", "_acc")):
            continue
        vals = [(r[key], r["epoch"]) for r in rows if r.get(key) is not None and np.isfinite(r[key])]
        if vals:
            pick = min(vals) if key.endswith("_loss") else max(vals, key=lambda v: (v[0], -v[1]))
            best[key], best[f"{key}_epoch"] = pick
    return best


def _write_confusions(model, data, cfg, run_dir: Path) -> None:
    k = len(data.classes)
    for name in ("train", "test"):
        split = data.splits.get(name)
        if split is None:
            continue
        res = evaluate(model, split, True, cfg.trainer.eval_batch_size, k, confusion=True)
        rows = [[cls] + res.confusion[i].tolist() for i, cls in enumerate(data.classes)]
        write_csv(run_dir / f"confusion_{name}.csv", ["true\\pred"] + list(data.classes), rows)


@torch.no_grad()
def _write_predictions(model, data, run_dir: Path) -> None:
    from runner.data import function

    ex = data.extra
    xs = function.grid(ex["low"], ex["high"])
    model.eval()
    pred = model(torch.from_numpy(xs).to(next(model.parameters()).device)).cpu().numpy()
    truth = function.evaluate(ex["fn"], xs)
    write_csv(run_dir / "predictions.csv", ["x", "y_true", "y_pred"],
              [[float(a), float(b), float(c)] for a, b, c in zip(xs[:, 0], truth[:, 0], pred[:, 0])])


def run_training(cfg, run_dir: Path, label: str = "") -> dict:
    started = time.perf_counter()
    device = pick_device(str(cfg.device))
    seed_everything(cfg.seed)
    data = device_data.load(cfg.dataset, Path(cfg.data_dir), cfg.seed, device)
    model = build_model(cfg, data.input_shape, data.num_outputs).to(device)
    trainer = Trainer(model, data, cfg, device, cfg.seed)

    # Data and model are ready: from here on the run directory is filled.
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    summary = {
        "name": cfg.name, "status": "running", "task": "classification" if data.classification else "regression",
        "dataset": cfg.dataset.name, "model": cfg.model.name, "activation": cfg.activation.name,
        "seed": cfg.seed, "epochs": cfg.trainer.epochs, "epochs_run": 0,
        "params": count_params(model), "device": str(device), "device_name": device_name(device),
        "sizes": data.sizes(), "data_origin": data.origin, "classes": data.classes,
        "started": dt.datetime.now().isoformat(timespec="seconds"), "dlrun_version": __version__,
        "torch_version": torch.__version__,
    }
    write_json(run_dir / "summary.json", summary)

    reporter = Reporter(cfg.trainer.progress, cfg.trainer.epochs, label)
    sizes = ", ".join(f"{k} {v:,}" for k, v in data.sizes().items())
    reporter.start([f"dlrun {cfg.name}: {summary['params']:,} parameters on {device} "
                    f"({summary['device_name']}); {sizes}", f"run dir: {run_dir}"])
    writer = CsvAppender(run_dir / "metrics.csv", METRIC_COLUMNS)
    rows = []
    status = "running"
    try:
        for epoch in range(1, cfg.trainer.epochs + 1):
            row = trainer.epoch(epoch)
            rows.append(row)
            writer.append(row)
            reporter.epoch(row)
            if diverged(row):
                status = "diverged"
                break
        reporter.stop()
        writer.close()
        if data.classification:
            _write_confusions(model, data, cfg, run_dir)
        else:
            _write_predictions(model, data, run_dir)
        from runner.report.run_plots import render_run

        render_run(run_dir)
        status = "ok" if status == "running" else status
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except Exception as ex:
        status, summary["error"] = "failed", f"{type(ex).__name__}: {ex}".splitlines()[0]
        raise
    finally:
        writer.close()
        reporter.stop()
        summary.update({
            "status": status, "epochs_run": len(rows),
            "final": {k: v for k, v in (rows[-1] if rows else {}).items() if k.endswith(("_loss", "_acc"))},
            "best": best_of(rows),
            "train_seconds": float(sum(r["train_seconds"] for r in rows)),
            "wall_seconds": time.perf_counter() - started,
            "finished": dt.datetime.now().isoformat(timespec="seconds"),
        })
        write_json(run_dir / "summary.json", summary)
        if status in ("ok", "diverged"):
            write_marker(run_dir, status)  # last: the run's files are complete
    reporter.finish(summary, run_dir)
    return summary
