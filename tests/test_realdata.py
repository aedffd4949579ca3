"""Short runs on the real datasets (the offline copies in ../shared/datasets) that must reach
stated accuracies on a CPU. Skipped, saying why, where the copies are absent."""

from __future__ import annotations

import json

import pytest
from conftest import run_dlrun, train

pytestmark = pytest.mark.realdata


def test_gurmukhi_mlp_five_epochs_reaches_90_percent_val(tmp_path, shared_data):
    s, _ = train(
        tmp_path,
        "dataset=gurmukhi",
        "model=mlp",
        "activation=tanh",
        "trainer.epochs=5",
        f"data_dir={shared_data}",
        "device=cpu",
    )
    assert s["sizes"] == {"train": 900, "val": 100, "test": 178}
    print(f"gurmukhi mlp: val {s['final']['val_acc']:.4f} test {s['final']['test_acc']:.4f}")
    assert s["final"]["val_acc"] >= 0.90
    assert s["final"]["test_acc"] >= 0.90


def test_mnist_mlp_one_epoch_reaches_90_percent_test(tmp_path, shared_data):
    s, _ = train(tmp_path, "dataset=mnist", "model=mlp", "trainer.epochs=1", f"data_dir={shared_data}", "device=cpu")
    assert s["sizes"] == {"train": 60000, "test": 10000}
    print(f"mnist mlp: test {s['final']['test_acc']:.4f} in {s['train_seconds']:.1f}s")
    assert s["final"]["test_acc"] >= 0.90


def test_fashion_mnist_loads_and_learns(tmp_path, shared_data):
    s, _ = train(
        tmp_path,
        "dataset=fashion_mnist",
        "trainer.epochs=1",
        "dataset.subsample=12000",
        f"data_dir={shared_data}",
        "device=cpu",
    )
    assert s["final"]["test_acc"] >= 0.75


def test_gurmukhi_cnn_through_the_cli(tmp_path, shared_data):
    run = tmp_path / "run"
    proc = run_dlrun(
        "dataset=gurmukhi",
        "model=cnn",
        "activation=tanh",
        "trainer.epochs=3",
        f"data_dir={shared_data}",
        "device=cpu",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "ok" and s["final"]["test_acc"] >= 0.85
    for name in (
        "config.yaml",
        "metrics.csv",
        "confusion_train.csv",
        "confusion_test.csv",
        "plots/curves.png",
        "plots/confusion_train.png",
        "plots/confusion_test.png",
    ):
        assert (run / name).is_file(), name
