"""Model shapes, regularization layers, initialisation, and the L1/L2 penalties by hand."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from conftest import compose

from runner.models import build_model, count_params
from runner.train.penalties import l1_penalty, l2_penalty, penalized_weights, penalty


def model(*overrides, shape=(1, 28, 28), outputs=10):
    return build_model(compose(*overrides), shape, outputs)


def test_default_cnn_structure_and_parameter_count():
    net = model("model=cnn", "dataset=cifar10", shape=(3, 32, 32))
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [c.out_channels for c in convs] == [32, 64, 128]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert [layer.out_features for layer in linears] == [512, 256, 128, 10]
    assert linears[0].in_features == 128 * 4 * 4  # three 2x2 pools: 32 -> 4
    expected = (
        (3 * 9 * 32 + 32)
        + (32 * 9 * 64 + 64)
        + (64 * 9 * 128 + 128)
        + (2048 * 512 + 512)
        + (512 * 256 + 256)
        + (256 * 128 + 128)
        + (128 * 10 + 10)
    )
    assert count_params(net) == expected
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_mlp_flattens_and_uses_the_activation_everywhere():
    net = model("model.hidden=[64,32]", "activation=tanh")
    assert net(torch.randn(5, 1, 28, 28)).shape == (5, 10)
    assert sum(isinstance(m, nn.Tanh) for m in net.modules()) == 2


def test_dropout_and_batchnorm_placement():
    net = model("model.hidden=[16,8]", "regularizer=[dropout,batchnorm]", "regularizer.dropout=0.3")
    kinds = [type(m).__name__ for m in net.hidden]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear", "BatchNorm1d", "ReLU", "Dropout"]
    assert all(m.p == 0.3 for m in net.modules() if isinstance(m, nn.Dropout))
    cnn = model("model=cnn", "model.conv=[4,8]", "regularizer=batchnorm")
    assert [type(m).__name__ for m in cnn.features][:4] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert not any(isinstance(m, nn.Dropout) for m in cnn.features), "no dropout in the conv stack"


@pytest.mark.parametrize("init", ["xavier", "kaiming"])
def test_initialisations(init):
    torch.manual_seed(0)
    net = model(f"init={init}", "model.hidden=[512,512]")
    first = net.hidden[0]
    fan_in, fan_out = first.in_features, first.out_features
    assert torch.count_nonzero(first.bias) == 0
    std = first.weight.std().item()
    want = (2 / (fan_in + fan_out)) ** 0.5 if init == "xavier" else (2 / fan_in) ** 0.5
    assert std == pytest.approx(want, rel=0.05)


def test_penalties_equal_hand_computed_values():
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 0.0]]))
        net[0].bias.fill_(100.0)  # biases are not penalised
        net[2].weight.copy_(torch.tensor([[-3.0, 4.0]]))
        net[2].bias.fill_(-7.0)
    w = penalized_weights(net)
    assert len(w) == 2
    # sum |w| = 1 + 2 + 0.5 + 0 + 3 + 4 = 10.5 ; sum w^2 = 1 + 4 + 0.25 + 0 + 9 + 16 = 30.25
    assert l1_penalty(w, 0.1).item() == pytest.approx(1.05)
    assert l2_penalty(w, 0.01).item() == pytest.approx(0.3025)
    assert penalty(w, 0.1, 0.01).item() == pytest.approx(1.3525)
    assert penalty(w, 0.0, 0.0) is None


def test_penalty_gradients_are_the_textbook_ones():
    lin = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0, 3.0], [-0.5, 0.25, -4.0]]))
    penalty([lin.weight], l1=0.1, l2=0.01).backward()
    expected = 0.1 * torch.sign(lin.weight) + 2 * 0.01 * lin.weight
    assert torch.allclose(lin.weight.grad, expected)


def test_conv_kernels_are_penalised_batchnorm_is_not():
    net = model("model=cnn", "model.conv=[4]", "model.hidden=[8]", "regularizer=batchnorm")
    w = penalized_weights(net)
    assert [tuple(t.shape) for t in w] == [(4, 1, 3, 3), (8, 4 * 14 * 14), (10, 8)]


def test_per_copy_penalty_is_each_stacked_copys_own():
    copies = [
        [torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5], [-0.5]])],
        [torch.tensor([[0.0, 3.0]]), torch.tensor([[-1.0], [2.0]])],
    ]
    stacked = [torch.stack([c[i] for c in copies]) for i in range(2)]
    per = penalty(stacked, 0.1, 0.01, per_copy=True)
    assert per.shape == (2,)
    for r, ws in enumerate(copies):
        assert per[r].item() == pytest.approx(penalty(ws, 0.1, 0.01).item())
    assert per.sum().item() == pytest.approx(penalty(stacked, 0.1, 0.01).item())
    assert penalty(stacked, 0.0, 0.0, per_copy=True) is None


# ---------------------------------------------------------------- batches with BatchNorm


@pytest.mark.parametrize("smallest", [1, 2])
def test_an_epochs_batches_hold_every_sample_once_and_none_smaller_than_the_model_can_take(smallest):
    from runner.train import batching

    for n in range(1, 40):
        for bs in (1, 2, 3, 8, 16, 64):
            if n < smallest or (smallest == 2 and bs == 1):
                continue  # refused before training (validation, batching.check_split_size)
            batches = batching.split(torch.randperm(n), bs, smallest)
            assert sorted(torch.cat(batches).tolist()) == list(range(n))
            assert len(batches) == batching.count(n, bs, smallest)  # what the schedule is told
            assert all(len(b) >= smallest for b in batches) and all(len(b) == bs for b in batches[:-2])
            assert len(batches[-1]) <= bs + smallest - 1
    rows = batching.split(torch.arange(10).repeat(3, 1), 3, 2)  # replicas: [R, n] splits along n
    assert [tuple(b.shape) for b in rows] == [(3, 3), (3, 3), (3, 4)]


def test_batchnorm_trains_where_the_last_batch_would_hold_one_sample(tmp_path):
    """33 samples in batches of 32: torch's BatchNorm raised on the lone 33rd (a traceback mid-epoch)."""
    from conftest import train

    args = ["dataset=function", "dataset.n_train=33", "trainer.batch_size=32", "regularizer=batchnorm",
            "trainer.epochs=2", "trainer.log_steps=true", "scheduler=onecycle"]  # fmt: skip
    summary, run = train(tmp_path, *args)
    assert summary["status"] == "ok"
    steps = (run / "steps.csv").read_text().splitlines()
    assert len(steps) == 1 + 2  # one step of all 33 per epoch; onecycle was told so (it raises on a step too many)
    summary, _ = train(tmp_path, *args[:-3], "regularizer=none", "trainer.epochs=1", name="plain")
    assert summary["status"] == "ok"  # without BatchNorm the lone sample is a batch of its own


def test_batchnorm_refuses_a_batch_size_or_a_training_split_of_one(tmp_path, tiny_data):
    from conftest import train

    from runner.config.validate import validate
    from runner.errors import ConfigError, UserError

    with pytest.raises(ConfigError, match=r"^trainer.batch_size: expected an integer >= 2 with regularizer.batchnorm"):
        validate(compose("regularizer=batchnorm", "trainer.batch_size=1"))
    with pytest.raises(ConfigError, match=r"^gradcheck.batch: expected an integer >= 2 with regularizer.batchnorm"):
        validate(compose("task=gradcheck", "regularizer=batchnorm", "gradcheck.batch=1"))  # a traceback before
    validate(compose("task=gradcheck", "gradcheck.batch=1"))
    with pytest.raises(UserError, match=r"^the training split has 1 sample; a model with BatchNorm"):
        train(tmp_path, "dataset=mnist", f"data_dir={tiny_data}", "dataset.subsample=1", "regularizer=batchnorm")
