"""logger=tensorboard: the run's metrics, per-layer probes and hyperparameters as TensorBoard
event files in <run>/tensorboard/, written with torch's SummaryWriter.

Tags: loss/<split>, acc/<split>, lr, penalty, seconds per epoch; layers/<layer>/<column> for
every layers.csv column; replica_<r>/... per copy with trainer.replicas > 1. At the end the
hyperparameters (the resolved config) with the final metrics (hparams/ tab), and the tags as
text. A resumed run purges the events past its checkpoint, so no epoch appears twice.
"""

from __future__ import annotations

from pathlib import Path

from runner.loggers import RunLogger, flat_params

SKIP = ("epoch", "replica", "layer")


def _scalars(row_dict: dict) -> dict:
    out = {}
    for key, value in row_dict.items():
        if key in SKIP or value is None or isinstance(value, (list, str)):
            continue
        split, _, kind = key.rpartition("_")
        tag = f"{kind}/{split}" if kind in ("loss", "acc") and split else key
        out[tag] = float(value)
    return out


class TensorBoardLogger(RunLogger):
    def __init__(self, cfg):
        self.section = cfg.logger.tensorboard
        self.writer = None

    def start(self, cfg, run_dir: Path, summary: dict, resumed_at: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.cfg, self.dir = cfg, Path(run_dir) / self.section.dir
        self.writer = SummaryWriter(str(self.dir), purge_step=None if resumed_at is None else resumed_at + 1)

    def epoch(self, row, per_replica: list, layer_rows: list) -> None:
        step = row.epoch
        for tag, value in _scalars(row.as_dict()).items():
            self.writer.add_scalar(tag, value, step)
        for r in per_replica:
            for tag, value in _scalars(r.as_dict()).items():
                self.writer.add_scalar(f"replica_{r.replica}/{tag}", value, step)
        if self.section.layers:
            for lr in layer_rows:
                for column, value in lr.items():
                    if column not in SKIP and isinstance(value, (int, float)) and value is not None:
                        self.writer.add_scalar(f"layers/{lr['layer']}/{column}", float(value), step)
        self.writer.flush()

    def end(self, summary: dict, run_dir: Path) -> None:
        if self.writer is None:
            return
        hparams = {k: v for k, v in flat_params(self.cfg).items() if isinstance(v, (int, float, str, bool))}
        final = {f"hparam/final_{k}": float(v) for k, v in (summary.get("final") or {}).items() if v is not None}
        final.update({f"hparam/best_{k}": float(v) for k, v in (summary.get("best") or {}).items()
                      if v is not None and not k.endswith("_epoch")})  # fmt: skip
        if final and summary.get("status") != "interrupted":  # the rerun that finishes it writes them
            self.writer.add_hparams(hparams, final, run_name="hparams")
        tags = list(summary.get("tags") or [])
        if tags:
            self.writer.add_text("tags", ", ".join(tags))
        self.writer.add_text("status", str(summary.get("status")))
        self.writer.close()
