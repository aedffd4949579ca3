"""What the per-layer probes (layers.csv) cost per epoch: the same run with diagnostics.probes
on and off, median of a few epochs after a warm-up epoch.

    python benchmarks/probe_cost.py --data-dir data [--device cpu] [--epochs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORKLOADS = {
    "mnist mlp 784-256-128-10, batch 128": ["dataset=mnist", "model=mlp"],
    "mnist mlp sigmoid 8x256, batch 128": [
        "dataset=mnist",
        "model=mlp",
        "activation=sigmoid",
        "model.depth=8",
        "model.width=256",
    ],
    "gurmukhi cnn 32-64-128 + 512-256-128, batch 64": ["dataset=gurmukhi", "model=cnn", "trainer.batch_size=64"],
}


def compose(overrides: list):
    from runner.config.compose import compose as compose_config
    from runner.config.validate import prepare

    return prepare(compose_config(overrides))


def epoch_seconds(overrides: list, epochs: int) -> float:
    from runner.train.engine import TorchEngine

    engine = TorchEngine(compose(overrides))
    engine.epoch(1)  # warm-up
    times = []
    for n in range(2, epochs + 2):
        t0 = time.perf_counter()
        engine.epoch(n)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for name, overrides in WORKLOADS.items():
        base = overrides + [f"data_dir={args.data_dir}", f"device={args.device}"]
        off = epoch_seconds(base + ["diagnostics.probes=false"], args.epochs)
        on = epoch_seconds(base + ["diagnostics.probes=true"], args.epochs)
        rows.append((name, off, on, 100 * (on - off) / off))
    import torch

    dev = (
        "cuda: " + torch.cuda.get_device_name()
        if torch.cuda.is_available() and args.device != "cpu"
        else f"cpu ({torch.get_num_threads()} threads)"
    )
    print(f"probe cost per epoch (median of {args.epochs} epochs after a warm-up), {dev}")
    print(f"{'workload':48s} {'probes off':>11s} {'probes on':>11s} {'overhead':>9s}")
    for name, off, on, pct in rows:
        print(f"{name:48s} {off:10.3f}s {on:10.3f}s {pct:8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
