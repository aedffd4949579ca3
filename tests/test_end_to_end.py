"""`dlrun` end to end on tiny data: the run directory holds the files the README promises."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import run_dlrun, train

METRICS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "seconds"]
PNG = b"\x89PNG\r\n\x1a\n"


def header(path):
    with open(path, newline="") as f:
        return next(csv.reader(f))


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 5000, path


@pytest.mark.parametrize(
    "dataset,model_args",
    [
        ("mnist", ["model=mlp", "model.hidden=[16]", "dataset.val_size=0.2"]),
        ("gurmukhi", ["model=cnn", "model.conv=[4,8]", "model.hidden=[16]"]),
        ("cifar10", ["model=cnn", "model.conv=[4,8]", "model.hidden=[16]"]),
    ],
)
def test_classification_run_writes_every_file(tmp_path, tiny_data, dataset, model_args):
    run = tmp_path / "run"
    proc = run_dlrun(
        f"dataset={dataset}",
        *model_args,
        "trainer.epochs=2",
        "trainer.batch_size=16",
        f"data_dir={tiny_data}",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "epoch 2/2" in proc.stdout and "Traceback" not in proc.stderr
    assert header(run / "metrics.csv")[: len(METRICS)] == METRICS
    m = pd.read_csv(run / "metrics.csv")
    assert m["epoch"].tolist() == [1, 2]
    assert m["test_acc"].between(0, 1).all() and (m["seconds"] > 0).all()
    assert (run / "config.yaml").read_text().startswith("dataset:")
    s = json.loads((run / "summary.json").read_text())
    assert s["status"] == "ok" and s["epochs_run"] == 2 and s["params"] > 0
    assert s["device"] == "cpu" and s["wall_seconds"] > 0
    assert set(s["final"]) >= {"train_loss", "train_acc", "test_loss", "test_acc"}
    assert s["best"]["test_acc"] >= s["final"]["test_acc"]
    for split in ("train", "test"):
        table = pd.read_csv(run / f"confusion_{split}.csv", index_col=0, keep_default_na=False)
        assert table.shape == (10, 10)
        assert [str(c) for c in table.columns] == [str(c) for c in s["classes"]]
        assert table.to_numpy().sum() == s["sizes"][split]
        assert_png(run / "plots" / f"confusion_{split}.png")
    assert_png(run / "plots" / "curves.png")


def test_function_run_writes_predictions(tmp_path):
    run = tmp_path / "run"
    proc = run_dlrun(
        "dataset=function",
        "dataset.fn=sin_plus_x",
        "model.hidden=[16,16]",
        "trainer.epochs=3",
        "dataset.n_train=200",
        "dataset.val_size=0.1",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    m = pd.read_csv(run / "metrics.csv")
    assert list(m.columns[: len(METRICS)]) == METRICS
    assert m["train_acc"].isna().all() and m["test_loss"].notna().all(), "accuracy is blank for regression"
    pred = pd.read_csv(run / "predictions.csv")
    assert list(pred.columns) == ["x", "y_true", "y_pred"]
    assert pred["x"].min() == pytest.approx(1.0) and pred["x"].max() == pytest.approx(10.0)
    assert not (run / "confusion_test.csv").exists()
    for png in ("curves.png", "predictions.png"):
        assert_png(run / "plots" / png)
    assert json.loads((run / "summary.json").read_text())["task"] == "regression"


def test_same_seed_same_metrics_on_cpu(tmp_path):
    args = (
        "dataset=function",
        "model.hidden=[8,8]",
        "trainer.epochs=3",
        "regularizer=[l2,dropout]",
        "dataset.n_train=256",
        "seed=11",
    )
    a, da = train(tmp_path, *args, name="a")
    b, db = train(tmp_path, *args, name="b")
    c, dc = train(tmp_path, *args[:-1], "seed=12", name="c")
    cols = ["epoch", "train_loss", "test_loss", "penalty"]
    ma, mb, mc = (pd.read_csv(d / "metrics.csv")[cols] for d in (da, db, dc))
    pd.testing.assert_frame_equal(ma, mb, check_exact=True)
    assert not ma.equals(mc)


def test_training_learns_and_penalty_is_logged(tmp_path, tiny_data):
    s, run = train(
        tmp_path,
        "dataset=mnist",
        f"data_dir={tiny_data}",
        "model.hidden=[32]",
        "trainer.epochs=8",
        "trainer.batch_size=16",
        "regularizer=l1",
        "regularizer.l1=1e-5",
    )
    m = pd.read_csv(run / "metrics.csv")
    assert m["test_acc"].iloc[-1] >= 0.9, "the tiny banded digits are easy"
    assert (m["penalty"] > 0).all() and m["lr"].eq(1e-3).all()


@pytest.mark.parametrize("mode", ["running", "full"])
def test_train_metrics_modes(tmp_path, tiny_data, mode):
    s, run = train(
        tmp_path,
        "dataset=mnist",
        f"data_dir={tiny_data}",
        "model.hidden=[8]",
        "trainer.epochs=1",
        f"trainer.train_metrics={mode}",
        "regularizer=dropout",
        "regularizer.dropout=0.5",
    )
    # confusion_train.csv is the trained model in eval mode on the whole train split: exactly what
    # `full` reports for the last epoch, and not what the running mean under dropout reports
    table = pd.read_csv(run / "confusion_train.csv", index_col=0).to_numpy()
    eval_acc = table.trace() / table.sum()
    if mode == "full":
        assert s["final"]["train_acc"] == pytest.approx(eval_acc)
    else:
        assert s["final"]["train_acc"] != pytest.approx(eval_acc)


def test_divergence_is_recorded_not_crashed(tmp_path):
    s, run = train(
        tmp_path, "dataset=function", "optimizer=sgd", "optimizer.lr=50", "trainer.epochs=5", "model.hidden=[32,32]"
    )
    assert s["status"] == "diverged"
    losses = pd.read_csv(run / "metrics.csv")["train_loss"].to_numpy()
    assert len(losses) == s["epochs_run"] < 5, "training stops at the first non-finite loss"
    assert not np.isfinite(losses[-1]) and np.isfinite(losses[:-1]).all()
    assert json.loads((run / "summary.json").read_text())["status"] == "diverged"
    assert (run / "plots" / "curves.png").is_file()


def test_a_single_run_that_diverges_exits_3_as_a_sweep_does(tmp_path):
    run = tmp_path / "run"
    proc = run_dlrun("dataset=function", "optimizer=sgd", "optimizer.lr=1000", "trainer.epochs=2",
                     "dataset.n_train=128", "trainer.batch_size=16", f"hydra.run.dir={run}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert (
        proc.stderr
        == f"dlrun: the run diverged: its loss became NaN or inf (exit code 3); see {run / 'summary.json'}\n"
    )
    assert json.loads((run / "summary.json").read_text())["status"] == "diverged" and (run / "DONE").is_file()


def test_eval_without_a_dataset_uses_the_trained_runs_data_and_splits(tmp_path):
    run = tmp_path / "run"
    trained_on = ["dataset=function", "dataset.fn=sin_plus_x", "dataset.val_size=0.2", "dataset.n_test=300", "seed=3"]
    assert run_dlrun(*trained_on, "trainer.epochs=2", f"hydra.run.dir={run}", cwd=tmp_path).returncode == 0
    trained = json.loads((run / "summary.json").read_text())

    def evaluate(name, *args):
        proc = run_dlrun("task=eval", f"ckpt={run}", *args, f"hydra.run.dir={tmp_path / name}", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return {r["split"]: r for r in csv.DictReader(open(tmp_path / name / "eval.csv"))}

    same = evaluate("same")  # the command names no data: the run's dataset, seed and val split
    for split in ("train", "val", "test"):
        assert int(same[split]["samples"]) == trained["sizes"][split], split
    for split in ("val", "test"):  # final metrics are measured in eval mode after the last epoch
        assert float(same[split]["loss"]) == pytest.approx(trained["final"][f"{split}_loss"], rel=1e-6), split
    redraw = subprocess.run([sys.executable, "-m", "runner.report", str(tmp_path / "same")], capture_output=True,
                            text=True)  # fmt: skip
    assert redraw.returncode == 0, redraw.stderr  # an eval's folder re-renders like a run's
    report = (tmp_path / "same" / "report.md").read_text()
    assert f"the weights of `{run / 'model.pt'}` after 2 epoch(s) of training" in report
    # weights measured once: no "final" loss and no best epoch, which read as if the eval had trained
    assert "| split | samples | loss |\n" in report and "best" not in report and "final" not in report
    fewer = evaluate("fewer", "dataset.n_test=50")  # one key changed, the rest still the run's
    assert int(fewer["test"]["samples"]) == 50 and int(fewer["val"]["samples"]) == trained["sizes"]["val"]
    other = evaluate("other", "dataset=function", "dataset.fn=sin_plus_x")  # the command's own dataset node
    ignored = run_dlrun("task=eval", f"ckpt={run}", "dataset.num_classes=3", f"hydra.run.dir={tmp_path / 'no'}",
                        cwd=tmp_path)  # checked on the run's data, merged: an image key on function data  # fmt: skip
    assert ignored.returncode == 2 and "dataset.num_classes=3 does nothing for function data" in ignored.stderr
    assert "val" not in other and int(other["test"]["samples"]) == 500
    same_net = evaluate("same_net", "model=mlp", "activation=relu", "regularizer=none")  # what it was trained with
    assert same_net["test"]["loss"] == same["test"]["loss"]
    # a network key set to anything else was dropped without a word: the saved network was evaluated
    for given, saved in [("model.hidden=[64]", "model.hidden=[256, 128]"), ("model.depth=3", "model.hidden=[256, 128]"),
                         ("activation=tanh", "activation.name=relu"), ("regularizer=dropout", "regularizer.dropout=0"),
                         ("optimizer.lr=0.5", "optimizer.lr=0.001")]:  # fmt: skip
        refused = run_dlrun("task=eval", f"ckpt={run}", given, f"hydra.run.dir={tmp_path / 'net'}", cwd=tmp_path)
        assert refused.returncode == 2 and not (tmp_path / "net").exists(), refused.stderr
        assert refused.stderr == (
            f"dlrun: error: {given} does nothing for task=eval: the network (model, activation, regularizer, init, "
            f"engine, trainer.replicas, optimizer) is the one saved with {run / 'model.pt'} ({saved}); train a run "
            "to change it\n"
        )


def test_holdout_mode_replaces_test(tmp_path, tiny_data):
    s, _ = train(tmp_path, "dataset=mnist", f"data_dir={tiny_data}", "dataset.holdout=0.3", "trainer.epochs=1")
    assert s["sizes"] == {"train": 140, "test": 60}  # 200 training images split 70:30


def test_the_readme_gives_every_csv_its_columns():
    """Files are the contract: each CSV dlrun writes has its columns in the README, in order where
    the README lists them in one line, so a column added in the code and not there fails here."""
    from pathlib import Path

    from markdown_it import MarkdownIt

    from runner.reproduce.compare import COLUMNS as REPRODUCTION
    from runner.studies import flatness_interpolation, function_fit, minimal_ratio, trajectory_pca
    from runner.train import gradcheck, rows
    from runner.train.eval import EVAL_COLUMNS

    spans, stack = (
        set(),
        list(MarkdownIt().enable("table").parse((Path(__file__).parent.parent / "README.md").read_text())),
    )
    while stack:
        token = stack.pop()
        spans |= {token.content} if token.type == "code_inline" else set()
        stack += token.children or []
    listed = {"first_layer_hist.csv": rows.HIST_COLUMNS, "steps.csv": rows.STEP_COLUMNS,
              "predictions.csv": rows.PREDICTION_COLUMNS, "eval.csv": EVAL_COLUMNS,
              "gradcheck.csv": gradcheck.CSV_COLUMNS, "function_fit.csv": function_fit.CSV_COLUMNS,
              "interpolation.csv": flatness_interpolation.CSV_COLUMNS, "minimal_ratio.csv": minimal_ratio.CSV_COLUMNS,
              "trajectory_pca.csv": trajectory_pca.CSV_COLUMNS, "explained_variance.csv": trajectory_pca.VARIANCE_COLUMNS}  # fmt: skip
    for name, columns in listed.items():
        assert ", ".join(columns) in spans, f"README: {name} has no `{', '.join(columns)}`"
    named = {part for span in spans for part in span.split(", ")}
    for name, columns in {"metrics.csv": rows.SPLIT_COLUMNS, "layers.csv": rows.LAYER_COLUMNS,
                          "reproduction.csv": REPRODUCTION}.items():  # fmt: skip
        assert not set(columns) - named, f"README: {name} columns not named: {set(columns) - named}"


def test_the_readme_names_every_key_of_a_runs_summary_json(tmp_path):
    """summary.json's name, model, epochs, data_origin, started, finished and dlrun_version were
    written by every run and named nowhere in the README's row for the file."""
    import re
    from pathlib import Path

    summary, _ = train(tmp_path, "dataset=function", "trainer.epochs=1")
    text = (Path(__file__).parent.parent / "README.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `summary.json` |"))
    named = set(re.findall(r"`([a-z_]+)`", row))
    assert not set(summary) - named, f"summary.json keys the README does not name: {set(summary) - named}"


def test_the_readme_names_every_summary_csv_column():
    import itertools
    import re
    from pathlib import Path

    from runner.sweep.summary import TAIL_COLUMNS

    text = (Path(__file__).parent.parent / "README.md").read_text()
    paragraph = re.search(r"`summary.csv` columns:(.*?)\n\n", text, re.S).group(1)
    named = set()
    for token in re.findall(r"`([a-z_{},]+)`", paragraph):  # final_{val,test}_{loss,acc}_std: every spelling
        parts = re.split(r"\{([^}]*)\}", token)  # text, choices, text, ...
        options = [p.split(",") if i % 2 else [p] for i, p in enumerate(parts)]
        named |= {"".join(combo) for combo in itertools.product(*options)}
    assert not set(TAIL_COLUMNS) - named, f"columns the README does not name: {set(TAIL_COLUMNS) - named}"
    assert {"job", "status", "objective"} <= named


def test_a_batch_larger_than_the_training_split_is_noted_once(tmp_path, capsys):
    """trainer.batch_size=100000 on 1,000 samples trained one full-batch step an epoch without a word."""
    train(tmp_path, "dataset=function", "trainer.epochs=2", "trainer.batch_size=1000",
                       "trainer.progress=plain", name="fits")  # fmt: skip
    assert "note: trainer.batch_size" not in capsys.readouterr().out  # exactly the split: no note
    train(tmp_path, "dataset=function", "trainer.epochs=2", "trainer.batch_size=1001", "trainer.progress=plain")
    out = capsys.readouterr().out
    assert out.count("note: trainer.batch_size=1001 is more than the 1,000 training samples: each epoch is one step "
                     "on all of them") == 1  # fmt: skip
