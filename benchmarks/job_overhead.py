"""What a job costs besides its training: composing its config, drawing its plots, and a whole
`dlrun` process for a one-epoch run (interpreter, imports, Hydra, the run's files). In a quick
sweep or a quick reproduction these, not the epochs, set the wall time. Also `dlrun --help`,
which composes and lists every config group without importing torch.

    python benchmarks/job_overhead.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def median_seconds(fn, repeat: int) -> float:
    fn()  # warm-up: first imports, font cache
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def compose_job() -> None:
    from runner.config.compose import compose

    compose(["dataset=cifar10", "model=mlp", "activation=tanh", "model.depth=2"])


def plots(folder: Path):
    import numpy as np
    import pandas as pd

    from runner.report.confusion import plot_confusion
    from runner.report.curves import plot_curves

    rng = np.random.default_rng(0)
    classes = [str(c) for c in range(10)]
    table = pd.DataFrame(rng.integers(0, 100, (10, 10)), index=classes, columns=classes)
    epochs = np.arange(1, 11)
    metrics = pd.DataFrame({"epoch": epochs, "train_loss": 2 / epochs, "test_loss": 2.2 / epochs,
                            "train_acc": 1 - 0.5 / epochs, "test_acc": 0.9 - 0.5 / epochs})  # fmt: skip
    return (
        lambda: plot_curves(metrics, "benchmark: learning curves", folder / "curves.png"),
        lambda: plot_confusion(table, "benchmark: confusion matrix (test)", folder / "confusion.png"),
    )


def one_epoch_process(folder: Path) -> None:
    run = folder / f"run-{time.monotonic_ns()}"
    cmd = [str(Path(sys.executable).with_name("dlrun")), "dataset=function", "trainer.epochs=1",
           "trainer.progress=quiet", f"hydra.run.dir={run}"]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=folder)


def help_process() -> None:
    subprocess.run([str(Path(sys.executable).with_name("dlrun")), "--help"], check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="timed repeats of each (median shown)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        curves, confusion = plots(folder)
        rows = [
            ("compose a job's config (Hydra)", median_seconds(compose_job, args.repeat)),
            ("dlrun --help process", median_seconds(help_process, args.repeat)),
            ("learning-curves plot", median_seconds(curves, args.repeat)),
            ("confusion-matrix plot, 10 classes", median_seconds(confusion, args.repeat)),
            ("dlrun process, 1-epoch function fit", median_seconds(lambda: one_epoch_process(folder), args.repeat)),
        ]
    width = max(len(name) for name, _ in rows)
    print(f"{'cost':{width}s}  seconds (median of {args.repeat})")
    for name, seconds in rows:
        print(f"{name:{width}s}  {seconds:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
