"""trainer.replicas: N copies trained as one stacked model behave like N separate runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import compose, run_dlrun, train

MLP = ("dataset=mnist", "model=mlp", "model.hidden=[32,16]", "trainer.epochs=2", "trainer.batch_size=24")
CNN = (
    "dataset=cifar10",
    "model=cnn",
    "model.conv=[4,8]",
    "model.hidden=[16]",
    "trainer.epochs=2",
    "trainer.batch_size=12",
)


@pytest.mark.parametrize(
    "arch,extra",
    [
        (MLP, ("optimizer=adam", "regularizer=[l1,l2]", "regularizer.l1=1e-4", "regularizer.l2=1e-3")),
        (MLP, ("optimizer=sgd", "optimizer.lr=0.05", "regularizer=batchnorm")),
        (CNN, ("optimizer=adam", "regularizer=[batchnorm,l2]", "regularizer.l2=1e-3")),
    ],
)
def test_replica_zero_matches_a_single_run_and_copies_differ(tmp_path, tiny_data, arch, extra):
    args = (f"data_dir={tiny_data}", "dataset.val_size=0.2", *arch, *extra, "seed=5")
    single, d1 = train(tmp_path, *args, name="single")
    stacked, d3 = train(tmp_path, *args, "trainer.replicas=3", name="stacked")
    one, many = pd.read_csv(d1 / "metrics.csv"), pd.read_csv(d3 / "metrics.csv")
    assert list(many.columns[:2]) == ["epoch", "replica"]
    assert sorted(zip(many["epoch"], many["replica"])) == [(e, r) for e in (1, 2) for r in range(3)]
    r0 = many[many["replica"] == 0].reset_index(drop=True)
    for col in ("train_loss", "val_loss", "test_loss", "train_acc", "test_acc", "penalty"):
        assert r0[col].to_numpy() == pytest.approx(one[col].to_numpy(), rel=1e-3, abs=1e-6), (
            col
        )  # float32 sums in another order
    # other seeds start elsewhere and shuffle differently
    last = many[many["epoch"] == 2]
    assert last["train_loss"].nunique() == 3
    assert stacked["replicas"] == 3 and stacked["params"] == single["params"]
    # summary.json: the mean and sample std of each copy's final metrics
    for key in ("test_loss", "test_acc", "val_loss"):
        vals = last[key].to_numpy()
        assert stacked["final"][key] == pytest.approx(vals.mean(), rel=1e-9)
        assert stacked["final_std"][key] == pytest.approx(vals.std(ddof=1), rel=1e-9, abs=1e-12)
    assert len(stacked["replica_final"]) == 3


def test_stacked_step_equals_separate_steps():
    """One optimizer step on the stacked model moves each copy as its own step would."""
    from runner.models import build_model
    from runner.models.stacked import StackedNet
    from runner.train.evaluate import replica_losses
    from runner.train.penalties import penalized_weights, penalty

    cfg = compose(
        "model=cnn",
        "model.conv=[3,5]",
        "model.hidden=[7]",
        "regularizer=[batchnorm,dropout]",
        "regularizer.dropout=0.0",
        "dataset=cifar10",
    )
    nets = []
    for s in range(3):
        torch.manual_seed(s)
        nets.append(build_model(cfg, (3, 8, 8), 4).double())
    stacked = StackedNet(nets).double()
    x = torch.randn(3, 6, 3, 8, 8, dtype=torch.float64)
    y = torch.randint(0, 4, (3, 6))
    out = stacked(x)
    for r, net in enumerate(nets):
        assert out[r].detach().numpy() == pytest.approx(net(x[r]).detach().numpy(), rel=1e-10, abs=1e-12)
    (replica_losses(out, y, True).sum() + penalty(penalized_weights(stacked), 1e-3, 1e-2)).backward()
    head = stacked.head.weight.grad
    for r, net in enumerate(nets):
        loss = torch.nn.functional.cross_entropy(net(x[r]), y[r]) + penalty(penalized_weights(net), 1e-3, 1e-2)
        loss.backward()
        assert head[r].numpy() == pytest.approx(net.head.weight.grad.numpy(), rel=1e-9, abs=1e-12)
        conv = stacked.features[0].weight.grad.view(3, -1, 3, 3, 3)[r]
        assert conv.numpy() == pytest.approx(net.features[0].weight.grad.numpy(), rel=1e-9, abs=1e-12)


def test_replicated_run_files_and_reports(tmp_path, tiny_data):
    summary, d = train(tmp_path, f"data_dir={tiny_data}", *MLP, "trainer.replicas=2", "diagnostics.probes=true")
    assert summary["status"] == "ok" and (d / "DONE").is_file()
    assert not (d / "layers.csv").exists()  # probes watch one model: documented as off
    assert (d / "plots" / "curves.png").is_file()
    from runner.report.metrics import read_metrics

    m = read_metrics(d / "metrics.csv")
    assert len(m) == 2 and "test_acc_std" in m and m["test_acc_std"].notna().all()
    assert "± " in (d / "report.md").read_text()
    conf = pd.read_csv(d / "confusion_test.csv", index_col=0)
    assert conf.to_numpy().sum() == 2 * summary["sizes"]["test"]  # pooled over both copies


def test_replicated_regression_predicts_the_mean(tmp_path):
    summary, d = train(
        tmp_path,
        "dataset=function",
        "dataset.fn=sin_plus_x",
        "dataset.n_train=64",
        "dataset.n_test=32",
        "model=mlp",
        "model.hidden=[8]",
        "trainer.epochs=2",
        "trainer.replicas=2",
    )
    assert summary["status"] == "ok" and summary["final"]["train_acc"] is None
    pred = pd.read_csv(d / "predictions.csv")
    assert np.isfinite(pred["y_pred"]).all()


def test_sweep_summary_gets_spread_columns(tmp_path, tiny_data):
    res = run_dlrun(
        "-m",
        f"data_dir={tiny_data}",
        *MLP,
        "trainer.epochs=1",
        "trainer.replicas=2",
        "activation=relu,tanh",
        "trainer.progress=plain",
        f"hydra.sweep.dir={tmp_path / 'sw'}",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    df = pd.read_csv(tmp_path / "sw" / "summary.csv")
    assert (df["replicas"] == 2).all() and df["final_test_acc_std"].notna().all()
    assert df["final_train_acc_std"].notna().all()  # the train split's spread too, for the plots' train bars
    assert "±" in (tmp_path / "sw" / "report.md").read_text()


def test_a_seed_sweep_with_replicas_pools_every_copy_and_says_when_their_seeds_overlap(tmp_path, monkeypatch):
    import json
    import re

    sw = tmp_path / "sw"
    res = run_dlrun("-m", "dataset=function", "model.hidden=[8]", "trainer.epochs=2", "trainer.replicas=2",
                    "seed=0,1", "trainer.progress=quiet", "sweep.x=params", f"hydra.sweep.dir={sw}",
                    cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    copies = [
        c["test_loss"] for f in sorted(sw.glob("*/summary.json")) for c in json.loads(f.read_text())["replica_final"]
    ]
    md = (sw / "report.md").read_text()
    mean, std, runs = re.search(r"over seeds.*?\n\| ([\d.]+) \| ([\d.]+) \| (\d+) \|", md, re.S).groups()
    assert int(runs) == 4 and float(mean) == pytest.approx(np.mean(copies), abs=5e-4)
    assert float(std) == pytest.approx(np.std(copies, ddof=1), abs=5e-4)  # over the copies, not the jobs' means
    assert "1 copy started from a seed another job's copy also used" in md  # seed 1: job 0's copy 1, job 1's copy 0
    # the final plot's bars and error bars pool the same copies (they were the spread of the jobs' means)
    from runner.report import sweep_report

    drawn = []
    monkeypatch.setattr(sweep_report, "plot_final", lambda df, *a, **k: drawn.append(df))
    sweep_report.render_sweep(sw)
    assert sorted(drawn[0]["seed"]) == [0, 1, 1, 2]
    assert sorted(drawn[0]["final_test_loss"]) == pytest.approx(sorted(copies))
    assert (drawn[0]["params"] == 25).all()  # the sweep.x column comes with the copies (its render failed)


@pytest.mark.parametrize(
    "override,msg",
    [
        ("trainer.replicas=0", "trainer.replicas"),
        ("trainer.log_steps=true", "trainer.log_steps"),
        ("task=gradcheck", "trainer.replicas"),
        # one optimizer and one loop for all copies: a metric-driven decision would use their mean
        ("scheduler=plateau", "scheduler: expected one of none, step, cosine, onecycle"),
        ("trainer.early_stopping.metric=test_loss", "trainer.early_stopping.metric"),
    ],
)
def test_replicas_refuse_what_they_cannot_do(tmp_path, override, msg):
    extra = () if override == "trainer.replicas=0" else ("trainer.replicas=2",)
    res = run_dlrun("dataset=function", "dataset.fn=sin_plus_x", override, *extra, cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert msg in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_a_replicated_regression_shows_its_losses_spread(tmp_path, capsys):
    """The report said 'metrics are their mean, ± one standard deviation' and a regression's
    report, console and sweep lines showed no ± at all: only accuracies had it."""
    from runner.console import Reporter
    from runner.report.run_report import write_run_report

    summary, d = train(tmp_path, "dataset=function", "trainer.epochs=2", "trainer.replicas=3")
    std = summary["final_std"]
    md = (d / "report.md").read_text()
    for split in ("train", "test"):
        mean, sd = summary["final"][f"{split}_loss"], std[f"{split}_loss"]
        assert sd > 0 and f"| {mean:.4g} ± {sd:.4g} |" in md, md
    Reporter("plain", 2).finish(summary, d)
    assert f"test  loss {summary['final']['test_loss']:.4g} ± {std['test_loss']:.4g}" in capsys.readouterr().out
    (d / "summary.json").write_text(json.dumps({**summary, "final_std": {}}))  # one copy: no ±
    write_run_report(d)
    assert "±" not in (d / "report.md").read_text().split("| split")[1]


def test_an_eval_of_replicated_weights_gives_the_copies_spread(tmp_path, tiny_data, capsys):
    """task=eval of a replicated run wrote their mean alone: no final_std, no ± in its report or
    line, and a report pointing at a metrics.csv an eval does not write."""
    from runner.config.validate import prepare
    from runner.train.eval import run_eval

    summary, d = train(tmp_path, f"data_dir={tiny_data}", *MLP, "trainer.replicas=2")
    cfg = compose("task=eval", f"ckpt={d}", f"data_dir={tiny_data}", "trainer.progress=quiet")
    prepare(cfg)
    ev = run_eval(cfg, tmp_path / "eval")
    for key in ("test_loss", "test_acc"):  # the same weights in eval mode as the run's last evaluation
        assert ev["final_std"][key] == pytest.approx(summary["final_std"][key], rel=1e-6, abs=1e-12), key
    line = capsys.readouterr().out
    assert f"test_acc {100 * ev['final']['test_acc']:.2f} ± {100 * ev['final_std']['test_acc']:.2f}%" in line, line
    md = (tmp_path / "eval" / "report.md").read_text()
    assert "eval.csv has a row per split and replica" in md and "metrics.csv" not in md.split("## Files")[0]
    assert f"{100 * ev['final']['test_acc']:.2f} ± {100 * ev['final_std']['test_acc']:.2f}%" in md
