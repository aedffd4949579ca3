"""CUDA paths. Skipped without a CUDA device; run on a GPU machine before calling a GPU
feature done."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

from conftest import train

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_data_lives_on_the_gpu_and_runs_repeat(tmp_path, tiny_data):
    args = ("dataset=mnist", f"data_dir={tiny_data}", "model=cnn", "model.conv=[8,16]", "model.hidden=[32]",
            "trainer.epochs=3", "trainer.batch_size=16", "device=cuda", "seed=3")
    a, da = train(tmp_path, *args, name="a")
    b, db = train(tmp_path, *args, name="b")
    assert a["device"].startswith("cuda") and a["status"] == "ok"
    ma, mb = (pd.read_csv(d / "metrics.csv") for d in (da, db))
    for col in ("train_loss", "test_loss"):
        assert ma[col].to_numpy() == pytest.approx(mb[col].to_numpy(), rel=1e-4)


def test_device_data_is_normalised_on_the_device(tiny_data):
    from conftest import compose
    from runner.data.device import load

    cfg = compose("dataset=mnist", f"data_dir={tiny_data}")
    data = load(cfg.dataset, tiny_data, 0, torch.device("cuda"))
    x = data.splits["train"].x
    assert x.is_cuda and x.dtype == torch.float32
