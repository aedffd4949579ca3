"""make bench runs end to end on the CPU and writes the table it promises (timings are not
asserted: a benchmark measures, a test checks behaviour)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO


def bench(*args, timeout: int = 600) -> subprocess.CompletedProcess:
    """benchmarks/bench.py with these arguments (strings with spaces are split)."""
    argv = [a for arg in args for a in (arg.split() if isinstance(arg, str) else [str(arg)])]
    cmd = [sys.executable, str(REPO / "benchmarks" / "bench.py"), *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_bench_writes_bench_csv(tmp_path, tiny_data):
    res = bench(
        "--device cpu --quick --only mnist_mlp --skip-grid --workers 0 --train-samples 100 --test-samples 50",
        "--data-dir", tiny_data, "--out", tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    path = next(tmp_path.glob("*/bench.csv"))
    assert f"bench.csv: {path}" in res.stdout
    df = pd.read_csv(path)
    assert {"workload", "path", "epoch_s", "speedup_vs_dataloader0", "test_acc"} <= set(df.columns)
    assert sorted(df["path"]) == ["dataloader0", "dlrun"]
    assert (df["epoch_s"] > 0).all() and df["test_acc"].between(0, 1).all()
    ref = df.set_index("path")
    assert ref.loc["dataloader0", "speedup_vs_dataloader0"] == 1.0
    assert ref.loc["dlrun", "speedup_vs_dataloader0"] == ref.loc["dataloader0", "epoch_s"] / ref.loc["dlrun", "epoch_s"]
    assert (df["train_samples"] == 100).all()


@pytest.mark.parametrize(
    "args,key",
    [
        (["--device", "tpu"], "--device"),
        (["--epochs", "0"], "--epochs"),
        (["--workers", "0,x"], "--workers"),
        (["--only", "imagenet"], "--only"),
        (["--seeds", "0"], "--seeds"),
    ],
)
def test_bench_refuses_bad_arguments_in_one_line(tmp_path, args, key):
    res = bench(*args, "--out", tmp_path, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith(f"bench: {key}") and len(res.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_bench_with_missing_data_leaves_no_result(tmp_path):
    res = bench("--device cpu --only mnist_mlp --skip-grid --no-download", "--data-dir", tmp_path / "nothing",
                "--out", tmp_path / "out", timeout=300)  # fmt: skip
    assert res.returncode == 2 and "Traceback" not in res.stderr and "mnist" in res.stderr
    assert not list((tmp_path / "out").glob("*/bench.csv")) and not list((tmp_path / "out").glob("*"))
