"""Gradient checking: passes on correct models of every kind, fails on a planted bug."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
import torch.nn as nn
from conftest import compose, run_dlrun

from runner.config.validate import prepare
from runner.errors import CheckFailed
from runner.train.gradcheck import check_gradients, fix_dropout_masks, run_gradcheck


class ScaledBackwardReLU(torch.autograd.Function):
    """ReLU whose backward multiplies by `factor`: 1.0 is correct, anything else a planted bug."""

    @staticmethod
    def forward(ctx, x, factor):
        ctx.save_for_backward(x)
        ctx.factor = factor
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0).to(g.dtype) * ctx.factor, None


class PlantedReLU(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return ScaledBackwardReLU.apply(x, self.factor)


def tiny_net(factor: float) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), PlantedReLU(factor), nn.Linear(7, 3)).double()


def ce_loss(x, y):
    return lambda m: nn.functional.cross_entropy(m(x), y)


@pytest.mark.parametrize("factor,passes", [(1.0, True), (1.01, False), (0.5, False)])
def test_planted_wrong_derivative_fails(factor, passes):
    torch.manual_seed(1)
    x, y = torch.randn(6, 5, dtype=torch.float64), torch.randint(0, 3, (6,))
    result = check_gradients(tiny_net(factor), ce_loss(x, y), samples=10, eps=1e-5, tol=1e-4, floor=1e-8)
    assert result.passed is passes
    if not passes:
        # only the layer before the planted activation is wrong: the later one stays exact
        per = {(layer, p): ok for layer, p, _, _, ok in result.per_layer()}
        assert per[("fc1", "weight")] is False and per[("fc2", "weight")] is True


def test_fixed_dropout_mask_makes_the_loss_deterministic():
    torch.manual_seed(0)
    net = fix_dropout_masks(nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 2)).double(), 0)
    x = torch.randn(3, 4, dtype=torch.float64)
    a, b = net(x), net(x)
    assert torch.equal(a, b)
    assert (net[1].mask == 0).any() and (net[1].mask == 2).any()


@pytest.mark.parametrize(
    "overrides",
    [
        ["model=mlp", "activation=sigmoid"],
        ["model=mlp", "regularizer=[l1,l2,dropout]", "activation=tanh"],
        ["model=mlp", "regularizer=batchnorm", "activation=gelu"],
        ["model=cnn", "model.conv=[4,8]", "model.hidden=[16]"],
        [
            "model=cnn",
            "model.conv=[4,8]",
            "model.hidden=[16]",
            "regularizer=[l1,l2,dropout,batchnorm]",
            "activation=leaky_relu",
        ],
        ["dataset=function", "model.hidden=[8,8]", "activation=elu", "regularizer=[l2,dropout]"],
    ],
)
def test_gradcheck_passes_on_every_model_kind(tmp_path, tiny_data, overrides):
    dataset = [] if any(o.startswith("dataset=") for o in overrides) else ["dataset=gurmukhi"]
    cfg = compose("task=gradcheck", f"data_dir={tiny_data}", "trainer.progress=quiet", *dataset, *overrides)
    prepare(cfg)
    summary = run_gradcheck(cfg, tmp_path / "run")
    assert summary["status"] == "ok" and summary["gradcheck"]["passed"]
    df = pd.read_csv(tmp_path / "run" / "gradcheck.csv")
    assert list(df.columns) == ["layer", "param", "index", "analytic", "numeric", "rel_error", "step"]
    assert (df["rel_error"] < cfg.gradcheck.tol).all()
    assert df.groupby(["layer", "param"]).size().min() >= 1 and df["layer"].nunique() >= 2
    assert (tmp_path / "run" / "DONE").is_file()


def test_gradcheck_task_reports_failure(tmp_path, tiny_data, monkeypatch):
    import runner.models.layers as layers

    monkeypatch.setattr(layers, "activation", lambda cfg: PlantedReLU(1.5))  # every hidden activation
    cfg = compose(
        "task=gradcheck", f"data_dir={tiny_data}", "dataset=gurmukhi", "model.hidden=[16]", "trainer.progress=quiet"
    )
    prepare(cfg)
    with pytest.raises(CheckFailed, match="gradcheck failed: max relative error"):
        run_gradcheck(cfg, tmp_path / "run")
    assert (tmp_path / "run" / "gradcheck.csv").is_file() and not (tmp_path / "run" / "DONE").exists()
    md = (tmp_path / "run" / "report.md").read_text()  # a failed check shows where it failed
    assert md.count("**FAIL**") >= 1 and "**FAILED**: largest relative error" in md
    assert (tmp_path / "run" / "plots" / "gradcheck.png").stat().st_size > 5000


def test_a_gradient_check_writes_its_report_and_make_report_writes_it_again(tmp_path, tiny_data):
    """A gradient check wrote no report.md, report.html or plot, and `make report DIR=<its folder>`
    called it neither a run, a sweep nor a study folder."""
    import subprocess
    import sys

    from runner.train.gradcheck import CSV_COLUMNS

    cfg = compose("task=gradcheck", f"data_dir={tiny_data}", "dataset=gurmukhi", "model.hidden=[16]",
                  "trainer.progress=quiet")  # fmt: skip
    prepare(cfg)
    run = tmp_path / "run"
    run_gradcheck(cfg, run)
    md, df = (run / "report.md").read_text(), pd.read_csv(run / "gradcheck.csv")
    assert md.startswith("# Gradient check ") and "**passed**: largest relative error" in md
    for (layer, param), errors in df.groupby(["layer", "param"], sort=False)["rel_error"]:
        assert f"| {layer} | {param} | {len(errors)} | {errors.max():.2e} | pass |" in md
    assert "![gradcheck](plots/gradcheck.png)" in md and "data:image/png;base64" in (run / "report.html").read_text()
    # what was checked, and nothing of training, which a gradient check does not do
    assert "| model | mlp, hidden [16] |" in md and "| regularizer | none |" in md and "| optimizer |" not in md

    def report():
        return subprocess.run([sys.executable, "-m", "runner.report", str(run)], capture_output=True, text=True)

    for name in ("report.md", "report.html", "plots/gradcheck.png"):
        (run / name).unlink()
    assert (
        report().returncode == 0 and (run / "report.md").read_text() == md and (run / "plots/gradcheck.png").is_file()
    )
    lines = (run / "gradcheck.csv").read_text().splitlines()
    cells = lines[2].split(",")
    cells[CSV_COLUMNS.index("rel_error")] = "oops"
    (run / "gradcheck.csv").write_text("\n".join([*lines[:2], ",".join(cells), *lines[3:]]) + "\n")
    damaged = report()
    assert damaged.returncode == 2 and damaged.stderr == (
        f"report: error: {run / 'gradcheck.csv'}: line 3, column rel_error: expected a number, got 'oops'\n"
    )


def test_gradcheck_cli_exit_code_and_table(tmp_path, tiny_data):
    proc = run_dlrun(
        "task=gradcheck",
        "dataset=gurmukhi",
        "model=cnn",
        "model.conv=[4]",
        "model.hidden=[8]",
        "regularizer=[l1,l2,dropout]",
        f"data_dir={tiny_data}",
        f"hydra.run.dir={tmp_path / 'r'}",
        "trainer.precision=bf16",  # read by training only: said before it runs
        "tags=[checked]",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "gradcheck passed" in proc.stdout and "conv1" in proc.stdout and "max rel. error" in proc.stdout
    assert "note: trainer.precision=bf16 does nothing for task=gradcheck: it differentiates" in proc.stdout
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["tags"] == ["checked"]


# ---------------------------------------------------------------- the NumPy engine's own backward pass


@pytest.mark.parametrize(
    "overrides",
    [
        ["activation=sigmoid", "regularizer=[l1,l2,dropout]", "regularizer.dropout=0.5"],
        ["activation=tanh", "model.hidden=[8,8,8]", "model.head_activation=true", "regularizer=dropout"],
        ["dataset=function", "model.hidden=[8,8]", "regularizer=l2"],
    ],
)
def test_the_numpy_engine_s_hand_written_backward_passes_the_gradient_check(tmp_path, tiny_data, overrides):
    """task=gradcheck engine=numpy was refused ('expected train or eval'): the network written
    from scratch, whose backward is the one a finite difference is there to check, could not be."""
    dataset = [] if any(o.startswith("dataset=") for o in overrides) else ["dataset=gurmukhi"]
    cfg = compose(
        "task=gradcheck", "engine=numpy", f"data_dir={tiny_data}", "trainer.progress=quiet", *dataset, *overrides
    )  # fmt: skip  (adam stays: a gradient check trains nothing)
    prepare(cfg)
    summary = run_gradcheck(cfg, tmp_path / "run")
    assert summary["status"] == "ok" and summary["engine"] == "numpy" and summary["gradcheck"]["passed"]
    df = pd.read_csv(tmp_path / "run" / "gradcheck.csv")
    hidden = len(cfg.model.hidden)
    assert sorted(set(df["layer"])) == sorted([f"fc{k}" for k in range(1, hidden + 1)] + ["out"])
    assert (df["rel_error"] < 1e-5).all(), df.sort_values("rel_error").tail(3)
    assert (df["analytic"] != 0).any() and (tmp_path / "run" / "DONE").is_file()


@pytest.mark.parametrize("layer_name,factor", [("Sigmoid", 1.01), ("Dropout", 0.5)])
def test_a_wrong_derivative_in_a_numpy_layer_fails_the_check_at_the_layers_before_it(
    tmp_path, tiny_data, monkeypatch, layer_name, factor
):
    from runner.scratch import layers

    cls = getattr(layers, layer_name)
    right = cls.backward
    monkeypatch.setattr(cls, "backward", lambda self, g: right(self, g) * factor)
    cfg = compose("task=gradcheck", "engine=numpy", f"data_dir={tiny_data}", "dataset=gurmukhi",
                  "model.hidden=[16]", "activation=sigmoid", "regularizer=dropout", "trainer.progress=quiet")  # fmt: skip
    prepare(cfg)
    with pytest.raises(CheckFailed, match="gradcheck failed: max relative error .* at fc1"):
        run_gradcheck(cfg, tmp_path / "run")
    df = pd.read_csv(tmp_path / "run" / "gradcheck.csv")
    worst = df.groupby("layer")["rel_error"].max()
    assert worst["fc1"] > 1e-3 and worst["out"] < 1e-6, worst  # only what lies behind the planted layer is wrong
    assert not (tmp_path / "run" / "DONE").exists()


def test_a_numpy_gradient_check_is_refused_only_what_the_scratch_engine_cannot_build(tmp_path):
    from runner.config.validate import validate
    from runner.errors import ConfigError

    validate(compose("task=gradcheck", "engine=numpy", "optimizer=adam", "scheduler=cosine"))  # read by training only
    for bad, line in [("model=cnn", "model: expected mlp for engine=numpy"),
                      ("activation=gelu", "activation: expected one of relu, sigmoid, tanh for engine=numpy"),
                      ("regularizer=batchnorm", "regularizer.batchnorm: expected false for engine=numpy")]:  # fmt: skip
        with pytest.raises(ConfigError, match=line):
            validate(compose("task=gradcheck", "engine=numpy", bad))
