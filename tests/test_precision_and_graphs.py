"""trainer.precision and trainer.cuda_graph on any machine (the CUDA side is in test_gpu.py)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import compose, train

MLP = ("dataset=mnist", "model=mlp", "model.hidden=[32,16]", "trainer.epochs=2", "trainer.batch_size=24")


def test_precision_bf16_trains_close_to_fp32(tmp_path, tiny_data, capsys):
    args = (f"data_dir={tiny_data}", *MLP, "trainer.epochs=3", "seed=1")
    fp32, _ = train(tmp_path, *args, name="fp32")
    bf16, d = train(tmp_path, *args, "trainer.precision=bf16", name="bf16")
    assert bf16["precision"] == "bf16" and json.loads((d / "summary.json").read_text())["status"] == "ok"
    assert bf16["final"]["train_loss"] == pytest.approx(fp32["final"]["train_loss"], rel=0.1)
    assert bf16["final"]["train_loss"] != fp32["final"]["train_loss"]  # autocast really ran in bf16
    capsys.readouterr()
    tf32, _ = train(tmp_path, *args, "trainer.precision=tf32", "trainer.progress=plain", name="tf32")
    # on a CPU TF32 does not exist: identical to fp32, and the run says so
    if not torch.cuda.is_available():
        assert tf32["final"]["train_loss"] == pytest.approx(fp32["final"]["train_loss"], rel=1e-6)
        assert "note: trainer.precision=tf32 computes in exact float32 on cpu" in capsys.readouterr().out
    # the switches are process-wide: every run sets them, so a tf32 job cannot leak into the next
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    train(tmp_path, *args, "trainer.epochs=1", "trainer.progress=plain", name="fp32_again")
    assert "note: trainer.precision" not in capsys.readouterr().out
    assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32


@pytest.mark.parametrize(
    "overrides,device,expected",
    [
        ((), "cpu", "CUDA graphs need a CUDA device"),
        (("trainer.cuda_graph=off",), "cuda", "trainer.cuda_graph=off"),
        (("trainer.log_steps=true",), "cuda", "trainer.log_steps"),
        ((), "cuda", None),
    ],
)
def test_graph_blocker_names_the_reason(overrides, device, expected):
    from runner.train.graphs import blocker

    reason = blocker(compose(*overrides), torch.device(device))
    assert reason == expected if expected is None else expected in reason


def test_a_cpu_run_records_why_it_ran_eagerly(tmp_path, tiny_data):
    s, d = train(tmp_path, f"data_dir={tiny_data}", *MLP, "trainer.epochs=1", "device=cpu")
    assert s["cuda_graph"] == "off: CUDA graphs need a CUDA device (this run is on cpu)"
    assert json.loads((d / "summary.json").read_text())["precision"] == "fp32"


def test_bad_precision_is_one_line(tmp_path):
    from conftest import run_dlrun

    res = run_dlrun("trainer.precision=fp16", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0
    assert "trainer.precision" in res.stderr and "fp32, tf32, bf16" in res.stderr
