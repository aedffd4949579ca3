"""What a checkpoint costs: its size, the time to write one, and that time against one epoch.

    python benchmarks/checkpoint_cost.py [--device cpu] [--data-dir data] [--epochs 2]

Prints one row per workload. A run writes a checkpoint every trainer.checkpoint_every epochs
(default 1); this says what that default costs on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORKLOADS = {
    "mnist mlp 784-256-128-10, adam": ["dataset=mnist", "model=mlp"],
    "cifar10 mlp 3x1024, adam": ["dataset=cifar10", "model=mlp", "model.hidden=[1024,1024,1024]",
                                 "dataset.subsample=10000"],
    "gurmukhi cnn 32-64-128 + 512-256-128": ["dataset=gurmukhi", "model=cnn"],
}  # fmt: skip


def measure(overrides: list, epochs: int) -> tuple[float, float, float]:
    """(checkpoint MB, seconds per checkpoint write, seconds per epoch)."""
    from omegaconf import OmegaConf

    from runner.config.compose import compose
    from runner.config.validate import prepare
    from runner.train import checkpoint
    from runner.train.run import make_engine

    cfg = prepare(compose(overrides))
    engine = make_engine(cfg)
    epoch_s, save_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / checkpoint.CHECKPOINT
        for n in range(1, epochs + 1):
            t0 = time.perf_counter()
            engine.epoch(n)
            epoch_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            checkpoint.save(path, {"engine": engine.state_dict(), "rng": checkpoint.rng_state(),
                                   "config": OmegaConf.to_yaml(cfg, resolve=True)})  # fmt: skip
            save_s.append(time.perf_counter() - t0)
        size = path.stat().st_size / 1e6
    return size, statistics.median(save_s), statistics.median(epoch_s)


def main(argv: list) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args(argv)
    print(f"{'workload':40s} {'MB':>8s} {'save s':>8s} {'epoch s':>8s} {'share':>7s}")
    for name, overrides in WORKLOADS.items():
        common = [f"device={args.device}", f"data_dir={args.data_dir}", "trainer.progress=quiet"]
        try:
            mb, save, epoch = measure(overrides + common, args.epochs)
        except Exception as ex:  # noqa: BLE001 - a workload whose data is missing is skipped, saying why
            print(f"{name:40s} skipped: {' '.join(str(ex).split())[:80]}")
            continue
        print(f"{name:40s} {mb:8.1f} {save:8.3f} {epoch:8.2f} {100 * save / epoch:6.1f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
