"""CUDA paths. Skipped without a CUDA device; run on a GPU machine before calling a GPU
feature done."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import train

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_data_lives_on_the_gpu_and_runs_repeat(tmp_path, tiny_data):
    args = (
        "dataset=mnist",
        f"data_dir={tiny_data}",
        "model=cnn",
        "model.conv=[8,16]",
        "model.hidden=[32]",
        "trainer.epochs=3",
        "trainer.batch_size=16",
        "device=cuda",
        "seed=3",
    )
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


# the split below leaves a last, smaller batch (90 training samples, batch 16): two graphs
GRAPH_CASES = [
    (
        "model=mlp",
        "model.hidden=[64,32]",
        "regularizer=[l1,l2,batchnorm]",
        "regularizer.l1=1e-5",
        "regularizer.l2=1e-4",
        "optimizer=adam",
    ),
    (
        "model=cnn",
        "model.conv=[8,16]",
        "model.hidden=[32]",
        "regularizer=[l2,batchnorm,augment]",  # augmentation's draws are read inside the graph
        "regularizer.l2=1e-4",
        "optimizer=sgd",
        "optimizer.lr=0.05",
    ),
]


@pytest.mark.parametrize("model_args", GRAPH_CASES)
def test_cuda_graph_gives_the_eager_metrics(tmp_path, tiny_data, model_args):
    args = (
        "dataset=mnist",
        f"data_dir={tiny_data}",
        "dataset.subsample=100",
        "dataset.val_size=10",
        "trainer.epochs=4",
        "trainer.batch_size=16",
        "device=cuda",
        "seed=2",
        *model_args,
    )
    graph, dg = train(tmp_path, *args, name="graph")
    eager, de = train(tmp_path, *args, "trainer.cuda_graph=off", name="eager")
    assert graph["cuda_graph"].startswith("on (2 graphs"), graph["cuda_graph"]
    assert eager["cuda_graph"] == "off: trainer.cuda_graph=off"
    mg, me = (pd.read_csv(d / "metrics.csv") for d in (dg, de))
    for col in ("train_loss", "val_loss", "test_loss", "test_acc", "penalty"):
        assert mg[col].to_numpy() == pytest.approx(me[col].to_numpy(), rel=1e-4, abs=1e-6), col
    lg, le = (pd.read_csv(d / "layers.csv") for d in (dg, de))  # probes run inside the graph too
    assert lg["grad_norm"].to_numpy() == pytest.approx(le["grad_norm"].to_numpy(), rel=1e-4)


def test_log_steps_falls_back_to_eager_and_says_why(tmp_path, tiny_data):
    s, _ = train(
        tmp_path, "dataset=mnist", f"data_dir={tiny_data}", "trainer.epochs=1", "device=cuda", "trainer.log_steps=true"
    )
    assert s["status"] == "ok" and s["cuda_graph"].startswith("off: trainer.log_steps")


def test_replicas_and_bf16_on_cuda(tmp_path, tiny_data):
    args = (
        "dataset=mnist",
        f"data_dir={tiny_data}",
        "model=mlp",
        "model.hidden=[32]",
        "trainer.epochs=2",
        "device=cuda",
        "seed=4",
    )
    one, d1 = train(tmp_path, *args, name="one")
    many, d3 = train(tmp_path, *args, "trainer.replicas=3", name="many")
    assert many["cuda_graph"].startswith("on")
    m1, m3 = pd.read_csv(d1 / "metrics.csv"), pd.read_csv(d3 / "metrics.csv")
    r0 = m3[m3["replica"] == 0].reset_index(drop=True)
    assert r0["test_loss"].to_numpy() == pytest.approx(m1["test_loss"].to_numpy(), rel=1e-3)
    bf, _ = train(tmp_path, *args, "trainer.precision=bf16", name="bf16")
    assert bf["status"] == "ok" and bf["final"]["train_loss"] == pytest.approx(one["final"]["train_loss"], rel=0.1)
