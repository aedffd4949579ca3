"""Per-layer probes, the vanishing-gradient verdict, and their files and plots."""

from __future__ import annotations

import json
import types

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import compose, train

from runner.train.probes import weight_layers
from runner.train.rows import LAYER_COLUMNS
from runner.train.verdict import describe, vanishing_verdict


def test_layers_csv_for_mlp(tmp_path, tiny_data):
    s, run = train(
        tmp_path, "dataset=mnist", f"data_dir={tiny_data}", "model.hidden=[16,8]", "trainer.epochs=3", "activation=tanh"
    )
    df = pd.read_csv(run / "layers.csv")
    assert list(df.columns) == LAYER_COLUMNS
    assert df["layer"].tolist()[:3] == ["fc1", "fc2", "out"] and len(df) == 9
    assert (df["grad_norm"] > 0).all() and (df["weight_change"] > 0).all()
    assert df.loc[df["layer"] != "out", "saturation"].between(0, 1).all()
    assert df.loc[df["layer"] == "out", "saturation"].isna().all(), "the output layer has no activation"
    assert df["params"].tolist()[:3] == [16 * 784, 8 * 16, 10 * 8]
    assert isinstance(s["vanishing_gradients"], bool)
    assert set(s["vanishing_evidence"]) >= {"grad_ratio", "loss_improvement", "first_layer_change", "thresholds"}
    hist = pd.read_csv(run / "first_layer_hist.csv")
    assert sorted(hist["epoch"].unique()) == [1, 3] and hist.groupby("epoch")["count"].sum().eq(16 * 784).all()
    for png in ("grad_norms.png", "weight_stats.png", "first_layer_hist.png"):
        assert (run / "plots" / png).stat().st_size > 5000


def test_layers_csv_for_cnn_names_conv_layers(tmp_path, tiny_data):
    _, run = train(
        tmp_path,
        "dataset=gurmukhi",
        f"data_dir={tiny_data}",
        "model=cnn",
        "model.conv=[4,8]",
        "model.hidden=[16]",
        "trainer.epochs=1",
        "activation=relu",
    )
    df = pd.read_csv(run / "layers.csv")
    assert df["layer"].tolist() == ["conv1", "conv2", "fc1", "out"]
    assert df["kind"].tolist() == ["conv", "conv", "fc", "fc"]
    assert df["saturation"].isna().all(), "relu does not saturate"


def test_probes_off(tmp_path, tiny_data):
    s, run = train(tmp_path, "dataset=mnist", f"data_dir={tiny_data}", "trainer.epochs=1", "diagnostics.probes=false")
    assert not (run / "layers.csv").exists() and "vanishing_gradients" not in s
    assert not (run / "plots" / "grad_norms.png").exists()


def test_first_layer_histogram_fits_its_bins_to_the_layer_and_counts_in_whole_weights(tmp_path, monkeypatch):
    """A 32-weight first layer (1-D regression) was counted in a fixed 60 bins, most of them empty,
    and the plot's count axis had ticks at 0.5 and 2.5 weights."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import layer_plots
    from runner.train.probes import LayerProbes

    rng = np.random.default_rng(0)

    def rows(n):
        probes = types.SimpleNamespace(weights=[torch.tensor(rng.normal(size=n))], first_epoch=rng.normal(size=n))
        return pd.DataFrame(LayerProbes.histogram_rows(probes, 4), columns=["epoch", "bin_left", "bin_right", "count"])

    small, large = rows(32), rows(100_000)
    assert 5 <= small.groupby("epoch").size().iloc[0] <= 12 and small.groupby("epoch")["count"].sum().eq(32).all()
    assert large.groupby("epoch").size().eq(60).all() and large.groupby("epoch")["count"].sum().eq(100_000).all()
    ticks = {}

    def keep(fig, path):
        ticks["y"] = fig.axes[0].get_yticks()
        plt.close(fig)
        return path

    monkeypatch.setattr(layer_plots, "save", keep)
    few = pd.DataFrame([[e, i / 10, (i + 1) / 10, c] for e in (1, 4) for i, c in enumerate([0, 1, 3, 2, 1])],
                       columns=small.columns)  # fmt: skip
    layer_plots.plot_first_layer_hist(few, "t", tmp_path / "h.png")  # at most 3 weights in a bin
    assert len(ticks["y"]) >= 3 and all(float(t).is_integer() for t in ticks["y"])


def test_grad_norm_and_weight_change_are_exact(tiny_data):
    """One full-batch step per epoch: the probe's gradient norm is that step's, and the weight
    change is ||W - W0|| / ||W0||."""
    from runner.config.validate import prepare
    from runner.data import device as dd
    from runner.models import build_model
    from runner.train.evaluate import batch_loss
    from runner.train.loop import Trainer
    from runner.train.probes import LayerProbes

    cfg = compose(
        "dataset=mnist",
        f"data_dir={tiny_data}",
        "model.hidden=[8]",
        "trainer.batch_size=100000",
        "optimizer=sgd",
        "optimizer.momentum=0",
    )
    prepare(cfg)
    data = dd.load(cfg.dataset, tiny_data, 0, torch.device("cpu"))
    torch.manual_seed(0)
    model = build_model(cfg, data.input_shape, 10)
    reference = build_model(cfg, data.input_shape, 10)
    reference.load_state_dict(model.state_dict())
    probes = LayerProbes(model, data.splits["train"].x[:16], 0.99)
    Trainer(model, data, cfg, torch.device("cpu"), 0, probes).train_epoch(1)
    rows = probes.epoch_rows(1)
    train_split = data.splits["train"]
    batch_loss(reference(train_split.x), train_split.y, True).backward()
    for row, layer in zip(rows, weight_layers(reference)):
        assert row["grad_norm"] == pytest.approx(layer.module.weight.grad.norm().item(), rel=1e-4)
    w0 = reference.hidden[0].weight.detach()
    w1 = model.hidden[0].weight.detach()
    assert rows[0]["weight_change"] == pytest.approx(((w1 - w0).norm() / w0.norm()).item(), rel=1e-5)


def test_saturation_counts_saturated_units():
    from runner.train.probes import saturated_fraction

    y = torch.tensor([0.001, 0.5, 0.999, 0.7])
    assert saturated_fraction(torch.nn.Sigmoid(), y, 0.99).item() == pytest.approx(0.5)
    assert saturated_fraction(torch.nn.Tanh(), torch.tensor([-0.995, 0.0, 0.2, 0.999]), 0.99).item() == 0.5


def _rows(epochs: int, first: float, last: float, change: float) -> list:
    rows = []
    for e in range(1, epochs + 1):
        rows += [
            {"epoch": e, "layer": "fc1", "grad_norm": first, "weight_change": change},
            {"epoch": e, "layer": "fc2", "grad_norm": (first * last) ** 0.5, "weight_change": change},
            {"epoch": e, "layer": "out", "grad_norm": last, "weight_change": change},
        ]
    return rows


CFG = types.SimpleNamespace(ratio=1e-3, window=5, min_improvement=0.01, min_weight_change=0.01, max_loss_fraction=0.25)


def test_verdict_vanishing_when_ratio_small_and_loss_flat():
    v = vanishing_verdict(_rows(10, 1e-6, 1e-1, 0.5), [2.30] * 5 + [2.299] * 5, CFG)
    assert v["vanishing_gradients"] is True
    assert v["evidence"]["grad_ratio"] == pytest.approx(1e-5)
    assert v["evidence"]["loss_improvement"] == pytest.approx((2.30 - 2.299) / 2.30)


def test_verdict_healthy_network():
    losses = list(np.geomspace(2.3, 0.1, 10))
    assert vanishing_verdict(_rows(10, 0.3, 0.5, 0.5), losses, CFG)["vanishing_gradients"] is False


def test_verdict_small_ratio_alone_is_not_enough():
    losses = list(np.geomspace(2.3, 0.1, 10))  # still learning, and learned well
    assert vanishing_verdict(_rows(10, 1e-5, 1.0, 0.5), losses, CFG)["vanishing_gradients"] is False


def test_verdict_small_ratio_and_loss_far_from_healthy():
    losses = list(np.linspace(2.3, 1.1, 10))  # still improving, but at 48% of where it started
    v = vanishing_verdict(_rows(10, 1e-5, 1.0, 0.5), losses, CFG)
    assert v["vanishing_gradients"] is True and v["evidence"]["loss_fraction"] == pytest.approx(1.1 / 2.3)


def test_verdict_uses_the_epoch_where_the_ratio_is_smallest():
    rows = _rows(1, 1e-6, 1.0, 0.5) + [dict(r, epoch=e) for e in (2, 3) for r in _rows(1, 0.3, 1.0, 0.5)]
    v = vanishing_verdict(rows, [2.3, 2.2, 2.1], CFG)
    assert v["evidence"]["grad_ratio"] == pytest.approx(1e-6) and v["vanishing_gradients"] is True


def test_verdict_small_ratio_and_frozen_first_layer():
    losses = list(np.geomspace(2.3, 1.0, 10))
    v = vanishing_verdict(_rows(10, 1e-5, 1.0, 0.001), losses, CFG)
    assert v["vanishing_gradients"] is True and v["evidence"]["first_layer_change"] == 0.001


def test_verdict_window_and_short_runs():
    v = vanishing_verdict(_rows(3, 1e-5, 1.0, 0.5), [2.3, 2.3, 2.3], CFG)
    assert v["evidence"]["window"] == 2 and v["vanishing_gradients"] is True
    one = vanishing_verdict(_rows(1, 1e-5, 1.0, 0.5), [2.3], CFG)
    assert one["evidence"]["loss_improvement"] is None and one["vanishing_gradients"] is False
    assert "one epoch" in describe(
        {"vanishing_gradients": False, "vanishing_evidence": {**one["evidence"], "thresholds": one["thresholds"]}}
    )


def test_verdict_thresholds_are_config_keys():
    strict = types.SimpleNamespace(
        ratio=1e-6, window=5, min_improvement=0.01, min_weight_change=0.01, max_loss_fraction=0.25
    )
    rows, losses = _rows(10, 1e-5, 1.0, 0.5), [2.3] * 10
    assert vanishing_verdict(rows, losses, CFG)["vanishing_gradients"] is True
    assert vanishing_verdict(rows, losses, strict)["vanishing_gradients"] is False


def test_deep_sigmoid_network_is_flagged_and_relu_is_not(tmp_path, tiny_data):
    common = (
        "dataset=mnist",
        f"data_dir={tiny_data}",
        "model.depth=8",
        "model.width=32",
        "trainer.epochs=6",
        "trainer.batch_size=32",
        "optimizer=sgd",
        "optimizer.lr=0.01",
    )
    sig, run = train(tmp_path, *common, "activation=sigmoid", name="sigmoid")
    relu, _ = train(tmp_path, *common, "activation=relu", "init=kaiming", name="relu")
    assert sig["vanishing_gradients"] is True, sig["vanishing_evidence"]
    assert relu["vanishing_gradients"] is False, relu["vanishing_evidence"]
    assert json.loads((run / "summary.json").read_text())["vanishing_evidence"]["grad_ratio"] < 1e-3


def test_a_dead_network_is_found_from_the_epoch_its_gradients_stop():
    from runner.train.verdict import dead_from_epoch

    dead = [dict(r, grad_norm=0.0) for r in _rows(3, 1.0, 1.0, 0.5)]
    assert dead_from_epoch(dead, [3.9] * 3) == 1
    alive_then_dead = _rows(2, 0.3, 0.5, 0.5) + [dict(r, epoch=r["epoch"] + 2) for r in dead[:6]]
    assert dead_from_epoch(alive_then_dead, [3.9] * 4) == 3
    one_layer_left = dead[:-1] + [dict(dead[-1], grad_norm=1e-30)]
    assert dead_from_epoch(one_layer_left, [3.9] * 3) is None
    revived = dead[:3] + [dict(r, epoch=r["epoch"] + 1) for r in _rows(2, 0.3, 0.5, 0.5)]
    assert dead_from_epoch(revived, [3.9] * 3) is None  # its gradients came back: not dead at the end
    assert dead_from_epoch(dead, [3.9, 3.9, 0.0]) is None  # a loss of 0 has no gradient to give
    assert dead_from_epoch([dict(r, grad_norm=float("nan")) for r in dead], [float("nan")] * 3) is None


def test_a_dead_network_says_so_where_the_vanishing_verdict_could_not(tmp_path, capsys):
    # seed 1: the ReLU on the output is off for every input from the first step (checked below)
    s, run = train(tmp_path, "dataset=function", "model.head_activation=true", "seed=1", "trainer.epochs=3",
                   "trainer.progress=plain")  # fmt: skip
    layers = pd.read_csv(run / "layers.csv")
    assert (layers["grad_norm"] == 0).all(), "precondition: seed 1 no longer gives a dead network"
    assert "vanishing_gradients" not in s  # no ratio to judge: 0 / 0
    assert s["dead_from_epoch"] == 1
    assert json.loads((run / "summary.json").read_text())["dead_from_epoch"] == 1
    line = "dead network: no weight layer got any gradient from epoch 1 on"
    assert line in capsys.readouterr().out
    assert line in (run / "report.md").read_text()


def test_a_split_sample_takes_every_class_in_proportion_not_the_first_n():
    """Class-folder sources list their samples class by class (CIFAR-10's first 1,024 training
    images are all airplanes): a sample of a split draws from all of it, fixed by the seed."""
    from runner.data.device import Split

    y = torch.arange(10).repeat_interleave(50)  # class-ordered, as read from class folders
    split = Split(torch.arange(500, dtype=torch.float32)[:, None], y)
    a = split.sample(100, seed=3)
    assert np.bincount(a.y.numpy(), minlength=10).tolist() == [10] * 10
    assert torch.equal(a.y, y[a.x[:, 0].long()])  # images and labels stay paired
    assert torch.equal(a.x, split.sample(100, seed=3).x)
    assert not torch.equal(a.x, split.sample(100, seed=4).x)
    assert split.sample(0, seed=3) is split and split.sample(500, seed=3) is split
    regression = Split(torch.arange(500, dtype=torch.float32)[:, None], torch.zeros(500, 1)).sample(50, seed=0)
    assert len(regression) == 50 and regression.x.max() > 100  # drawn from the whole range


def test_the_probes_and_the_sensitivity_see_every_class_of_a_class_ordered_source(tmp_path, monkeypatch):
    from conftest import write_class_folders

    from runner.config.validate import prepare
    from runner.train import sensitivity
    from runner.train.engine import TorchEngine

    data = write_class_folders(tmp_path / "data" / "gurmukhi", splits=("train", "val"), n_per_class=12).parent
    cfg = compose("dataset=gurmukhi", f"data_dir={data}", "model.hidden=[8]", "diagnostics.probe_samples=20",
                  "trainer.progress=quiet")  # fmt: skip
    engine = TorchEngine(prepare(cfg))
    split = engine.data.splits["train"]
    assert split.y[:20].unique().numel() <= 2  # the source's order: by class

    def classes(x):  # each sampled image's label, found by its pixels
        return split.y[torch.cdist(x.flatten(1), split.x.flatten(1)).argmin(1)].unique().numel()

    assert classes(engine.probes.probe_x) == 10
    seen = []
    monkeypatch.setattr(sensitivity, "jacobian_norms", lambda model, x: seen.append(x) or torch.ones(len(x)))
    engine.sensitivity(20)
    test = engine.data.splits["test"]
    assert len(seen[0]) == 20 and test.y[:20].unique().numel() <= 2
    assert test.y[torch.cdist(seen[0].flatten(1), test.x.flatten(1)).argmin(1)].unique().numel() == 10
