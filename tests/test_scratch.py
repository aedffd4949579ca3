"""The NumPy engine: hand-written gradients against finite differences and against torch,
SGD against torch's, and whole runs through dlrun."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import compose, run_dlrun, train

from runner.config.validate import validate
from runner.errors import ConfigError
from runner.scratch.engine import build_network
from runner.scratch.layers import Dropout, Linear, MeanSquaredError, Network, SoftmaxCrossEntropy
from runner.scratch.optim import SGD, add_penalty_gradients, penalty

L1, L2 = 1e-3, 2e-3


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300))


def make(activation: str, dropout: float = 0.0, head_activation: bool = False) -> Network:
    cfg = compose(
        "model.hidden=[7,5]",
        f"activation={activation}",
        f"regularizer.dropout={dropout}",
        f"model.head_activation={head_activation}",
    )
    return build_network(cfg, 6, 4, np.random.default_rng(0), dtype=np.float64)


def loss_and_grads(net: Network, x, y, loss, seed=0):
    """Loss with penalties, and the hand-written gradients; dropout masks fixed by `seed`."""
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.rng = np.random.default_rng(seed)
    value = loss.forward(net.forward(x, train=True), y) + penalty(net, L1, L2)
    net.backward(loss.backward())
    add_penalty_gradients(net, L1, L2)
    return value, [g.copy() for _, g, _ in net.params()]


DATA = np.random.default_rng(1).normal(size=(9, 6)), np.array([0, 1, 2, 3, 0, 1, 2, 3, 1])


@pytest.mark.parametrize(
    "activation,dropout,head", [("relu", 0.0, False), ("sigmoid", 0.3, False), ("tanh", 0.5, True), ("relu", 0.2, True)]
)
def test_gradients_match_finite_differences(activation, dropout, head):
    net, (x, y) = make(activation, dropout, head), DATA
    _, grads = loss_and_grads(net, x, y, SoftmaxCrossEntropy())
    h = 1e-5  # float64: rounding ~1e-16/h and truncation ~h^2 both stay near 1e-10
    for (value, _, _), grad in zip(net.params(), grads):
        numeric = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            orig = value[i]
            value[i] = orig + h
            plus, _ = loss_and_grads(net, x, y, SoftmaxCrossEntropy())
            value[i] = orig - h
            minus, _ = loss_and_grads(net, x, y, SoftmaxCrossEntropy())
            value[i] = orig
            numeric[i] = (plus - minus) / (2 * h)
        assert rel(grad, numeric) < 1e-8, (activation, value.shape)


def to_torch(net: Network, activation: str) -> torch.nn.Sequential:
    acts = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}
    mods = []
    for layer in net.layers:
        if isinstance(layer, Linear):
            lin = torch.nn.Linear(layer.W.shape[1], layer.W.shape[0]).double()
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.W))
                lin.bias.copy_(torch.from_numpy(layer.b))
            mods.append(lin)
        elif not isinstance(layer, Dropout):
            mods.append(acts[activation]())
    return torch.nn.Sequential(*mods)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_gradients_match_torch_autograd(activation, task):
    net = make(activation)
    x = DATA[0]
    if task == "classification":
        y, loss, tloss = DATA[1], SoftmaxCrossEntropy(), lambda o, t: torch.nn.functional.cross_entropy(o, t)
    else:
        y = np.random.default_rng(2).normal(size=(9, 4))
        loss, tloss = MeanSquaredError(), lambda o, t: torch.nn.functional.mse_loss(o, t)
    value, grads = loss_and_grads(net, x, y, loss)
    model = to_torch(net, activation)
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    total = (
        tloss(model(torch.from_numpy(x)), torch.from_numpy(y))
        + L1 * sum(w.abs().sum() for w in weights)
        + L2 * sum((w**2).sum() for w in weights)
    )
    total.backward()
    assert value == pytest.approx(total.item(), rel=1e-12)
    torch_grads = [p.grad.numpy() for p in model.parameters()]
    for ours, theirs in zip(grads, torch_grads):
        assert rel(ours, theirs) < 1e-8


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_matches_torch(momentum, nesterov):
    net = make("tanh")
    model = to_torch(net, "tanh")
    opt_t = torch.optim.SGD(model.parameters(), lr=0.1, momentum=momentum, nesterov=nesterov)
    opt = SGD(0.1, momentum, nesterov)
    x, y = DATA
    for _ in range(4):
        loss_and_grads(net, x, y, SoftmaxCrossEntropy())
        opt.step(net)
        opt_t.zero_grad()
        weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
        (
            torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
            + L1 * sum(w.abs().sum() for w in weights)
            + L2 * sum((w**2).sum() for w in weights)
        ).backward()
        opt_t.step()
    for (value, _, _), p in zip(net.params(), model.parameters()):
        assert rel(value, p.detach().numpy()) < 1e-12


def test_default_init_matches_torch_distribution():
    lin = Linear(400, 300, np.random.default_rng(0), dtype=np.float64)
    bound = 1 / np.sqrt(400)
    assert lin.W.min() >= -bound and lin.W.max() <= bound
    assert lin.W.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)


def test_numpy_engine_run_writes_the_same_files(tmp_path, tiny_data):
    run = tmp_path / "run"
    proc = run_dlrun(
        "engine=numpy",
        "optimizer=sgd",
        "dataset=mnist",
        "model.hidden=[16]",
        "trainer.epochs=3",
        "trainer.batch_size=16",
        "regularizer=[l2,dropout]",
        f"data_dir={tiny_data}",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    s = json.loads((run / "summary.json").read_text())
    assert s["engine"] == "numpy" and s["status"] == "ok" and s["params"] == 784 * 16 + 16 + 16 * 10 + 10
    m = pd.read_csv(run / "metrics.csv")
    assert m["test_acc"].iloc[-1] >= 0.9 and (m["penalty"] > 0).all()
    for f in ("confusion_train.csv", "confusion_test.csv", "plots/curves.png", "plots/confusion_test.png", "DONE"):
        assert (run / f).is_file(), f


def test_numpy_engine_regression(tmp_path):
    s, run = train(
        tmp_path,
        "engine=numpy",
        "optimizer=sgd",
        "optimizer.lr=0.05",
        "dataset=function",
        "model.hidden=[32,32]",
        "activation=tanh",
        "trainer.epochs=30",
        "trainer.batch_size=32",
    )
    m = pd.read_csv(run / "metrics.csv")
    assert m["train_loss"].iloc[-1] < 0.2 * m["train_loss"].iloc[0]
    assert (run / "predictions.csv").is_file()


@pytest.mark.parametrize(
    "override,key",
    [
        ("model=cnn", "model"),
        ("optimizer=adam", "optimizer"),
        ("activation=gelu", "activation"),
        ("regularizer=batchnorm", "regularizer.batchnorm"),
    ],
)
def test_numpy_engine_refuses_what_it_cannot_do(override, key):
    with pytest.raises(ConfigError) as e:
        validate(compose("engine=numpy", "optimizer=sgd", override))
    assert e.value.key == key and "for engine=numpy" in str(e.value)  # it says why this value is refused


@pytest.mark.realdata
def test_engines_agree_on_mnist(tmp_path, shared_data):
    common = (
        "dataset=mnist",
        f"data_dir={shared_data}",
        "dataset.subsample=6000",
        "dataset.test_subsample=0.5",
        "model.hidden=[]",
        "model.head_activation=true",
        "optimizer=sgd",
        "optimizer.momentum=0",
        "optimizer.lr=0.01",
        "trainer.batch_size=32",
        "trainer.epochs=2",
        "device=cpu",
    )
    ours, _ = train(tmp_path, "engine=numpy", *common, name="numpy")
    torch_, _ = train(tmp_path, "engine=torch", *common, name="torch")
    print(f"numpy {ours['final']['test_acc']:.4f} torch {torch_['final']['test_acc']:.4f}")
    assert abs(ours["final"]["test_acc"] - torch_["final"]["test_acc"]) <= 0.01
    assert ours["final"]["test_acc"] > 0.8
