"""What Hydra and PyTorch users bring: learning-rate schedules, early stopping, tags, an Optuna
search through optimized_metric, and TensorBoard / MLflow loggers, each checked by the files it
writes (metrics.csv, summary.json, summary.csv, event files, the MLflow store)."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from conftest import compose, dlrun_cmd, run_dlrun, train

from runner.errors import ConfigError

FN = ("dataset=function", "dataset.n_train=256", "dataset.n_test=64", "trainer.batch_size=32")


def read_rows(path) -> list:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def lrs(run_dir) -> list:
    return [round(float(v), 10) for v in pd.read_csv(run_dir / "metrics.csv")["lr"]]


# ---------------------------------------------------------------- schedules


def test_step_and_cosine_schedules_show_in_metrics_lr(tmp_path):
    _, step = train(tmp_path, *FN, "trainer.epochs=6", "scheduler=step", "scheduler.step_size=2",
                    "scheduler.gamma=0.5", name="step")  # fmt: skip
    assert lrs(step) == [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4]  # the rate each epoch trained with
    _, cos = train(tmp_path, *FN, "trainer.epochs=5", "scheduler=cosine", "scheduler.eta_min=1e-4", name="cos")
    want = [1e-4 + (1e-3 - 1e-4) * (1 + math.cos(math.pi * e / 5)) / 2 for e in range(5)]
    assert lrs(cos) == pytest.approx(want, rel=1e-6)
    _, held = train(tmp_path, *FN, "trainer.epochs=6", "scheduler=cosine", "scheduler.t_max=2",
                    "scheduler.eta_min=1e-4", name="held")  # fmt: skip
    # down to eta_min over t_max epochs, then held there (torch's CosineAnnealingLR climbs back up)
    assert lrs(held) == pytest.approx([1e-3, 5.5e-4, 1e-4, 1e-4, 1e-4, 1e-4], rel=1e-6)


def test_plateau_decays_when_its_metric_stalls(tmp_path):
    # a threshold no epoch can meet: every epoch counts as stalled, so with patience 1 the rate
    # halves after every second epoch (the row shows the rate the epoch trained with)
    _, run = train(tmp_path, *FN, "trainer.epochs=6", "scheduler=plateau", "scheduler.metric=test_loss",
                   "scheduler.patience=1", "scheduler.threshold=100", "scheduler.factor=0.5")  # fmt: skip
    assert lrs(run) == [1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4, 2.5e-4]
    _, calm = train(tmp_path, *FN, "trainer.epochs=6", "scheduler=plateau", "scheduler.metric=test_loss",
                    "scheduler.patience=10", name="calm")  # fmt: skip
    assert lrs(calm) == [1e-3] * 6  # a loss that keeps falling never triggers it


def test_onecycle_steps_per_batch_up_then_down(tmp_path):
    _, run = train(tmp_path, *FN, "trainer.epochs=6", "scheduler=onecycle", "scheduler.max_lr=0.01", name="oc")
    lr = lrs(run)
    peak = lr.index(max(lr))
    assert 0 < peak < 5 and max(lr) > 5e-3 and lr[-1] < 1e-4  # rises to near max_lr, ends far below the start
    assert all(a <= b for a, b in zip(lr[:peak], lr[1 : peak + 1]))


@pytest.mark.parametrize(
    "schedule_args,second",
    [(("scheduler=step", "scheduler.step_size=1", "scheduler.gamma=0.5"), 5e-4),
     (("scheduler=cosine", "scheduler.t_max=2"), 5e-4)],
    ids=["step", "cosine"],
)  # fmt: skip
def test_a_rate_held_in_a_tensor_is_filled_in_place_and_trains_the_same(tmp_path, monkeypatch, schedule_args, second):
    """What a CUDA graph relies on, run on the CPU: the schedule overwrites the very tensor the
    captured step reads, and training with it equals training with a plain number."""
    from runner.train import schedule
    from runner.train.engine import TorchEngine

    args = (*FN, "trainer.epochs=4", *schedule_args)
    _, plain = train(tmp_path, *args, name="plain")
    monkeypatch.setattr(schedule, "holds_lr_in_tensor", lambda cfg, reason: schedule.active(cfg))
    _, held = train(tmp_path, *args, name="held")
    a, b = (pd.read_csv(d / "metrics.csv").drop(columns=["seconds", "train_seconds"]) for d in (held, plain))
    assert list(a["lr"]) == list(b["lr"])  # the same schedule, to the last digit
    pd.testing.assert_frame_equal(a, b, rtol=1e-5)  # float32 steps with the rate as a tensor or a number
    from runner.config.validate import prepare

    engine = TorchEngine(prepare(compose("trainer.progress=quiet", *args)))
    group = engine.trainer.opt.param_groups[0]
    tensor = group["lr"]
    assert isinstance(tensor, torch.Tensor)
    engine.epoch(1)
    engine.after_epoch(None)
    assert group["lr"] is tensor and float(tensor) == pytest.approx(second)


def test_cycling_momentum_keeps_a_graph_away_and_numpy_refuses_schedules():
    from runner.config.validate import prepare
    from runner.train import graphs

    cfg = compose("scheduler=onecycle", "scheduler.cycle_momentum=true", "trainer.cuda_graph=auto")
    assert "cycle_momentum" in graphs.blocker(cfg, torch.device("cuda"))
    assert graphs.blocker(compose("scheduler=onecycle"), torch.device("cuda")) is None
    with pytest.raises(ConfigError) as e:
        prepare(compose("engine=numpy", "optimizer=sgd", "scheduler=step"))
    assert e.value.key == "scheduler"


@pytest.mark.parametrize("override,key", [
    ("scheduler.gamma=0", "scheduler.gamma"),
    ("scheduler.metric=accuracy", "scheduler.metric"),
    ("trainer.early_stopping.metric=loss", "trainer.early_stopping.metric"),
    ("optimized_metric=val_acc", "optimized_metric"),
    ("optimized_metric=best_val_loss", "optimized_metric"),  # function data (FN) without dataset.val_size
])  # fmt: skip
def test_bad_settings_name_their_key(override, key):
    from runner.config.validate import prepare

    extra = {"scheduler.gamma=0": ["scheduler=step"], "scheduler.metric=accuracy": ["scheduler=plateau"],
             "optimized_metric=best_val_loss": ["dataset=function"]}  # fmt: skip
    with pytest.raises(ConfigError) as e:
        prepare(compose(*extra.get(override, []), override))
    assert e.value.key == key


# ---------------------------------------------------------------- early stopping and tags


def test_early_stopping_ends_ok_records_the_epoch_and_keeps_the_best_weights(tmp_path):
    from runner.train import checkpoint

    summary, run = train(tmp_path, *FN, "trainer.epochs=30", "trainer.early_stopping.metric=test_loss",
                         "trainer.early_stopping.patience=2", "trainer.early_stopping.min_delta=0.05",
                         "tags=[es]")  # fmt: skip
    saved = json.loads((run / "summary.json").read_text())
    metrics = pd.read_csv(run / "metrics.csv")
    es = saved["early_stopping"]
    assert saved["status"] == "ok" and saved["stopped_early_at"] == len(metrics) < 30
    losses = list(metrics["test_loss"])
    assert es["best"] == pytest.approx(losses[es["best_epoch"] - 1])
    # after the best epoch, `patience` epochs without an improvement of min_delta, then the end
    assert len(losses) - es["best_epoch"] == 2 and min(losses[es["best_epoch"] :]) > es["best"] - 0.05
    best = checkpoint.load(run / checkpoint.BEST)
    assert best["epoch"] == es["best_epoch"] and saved["tags"] == ["es"]


def test_tags_reach_summary_csv_and_the_reports(tmp_path):
    proc = run_dlrun("-m", *FN, "trainer.epochs=1", "+tags=[baseline,fn]", "model.hidden=[8],[16]",
                     f"hydra.sweep.dir={tmp_path / 's'}", "trainer.progress=quiet", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = read_rows(tmp_path / "s" / "summary.csv")
    assert [r["tags"] for r in rows] == ["baseline fn", "baseline fn"]
    assert all("tags" not in r["dir"] for r in rows)  # labels, not part of the job's folder name
    assert "Tags: `baseline`, `fn`." in (tmp_path / "s" / "report.md").read_text()
    job = tmp_path / "s" / rows[0]["dir"]
    assert "Tags: `baseline`, `fn`." in (job / "report.md").read_text()


# ---------------------------------------------------------------- an Optuna search


def test_optimized_metric_names_a_value_and_a_failed_run_scores_the_worst(tmp_path):
    from runner.sweep import objective

    assert objective.direction("best_val_acc") == "maximize" and objective.direction("final_test_loss") == "minimize"
    ok = {"status": "ok", "final": {"test_loss": 0.25}, "best": {"val_acc": 0.9}}
    assert objective.value(ok, "final_test_loss") == 0.25 and objective.value(ok, "best_val_acc") == 0.9
    assert objective.value({**ok, "status": "diverged"}, "final_test_loss") == math.inf
    assert objective.value(None, "best_val_acc") == -math.inf
    assert objective.value({"status": "ok", "final": {"test_loss": float("nan")}}, "final_test_loss") == math.inf


def test_an_optuna_search_reports_its_trials_and_best_and_survives_a_failed_trial(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra (hydra-optuna-sweeper)")
    out = tmp_path / "search"
    args = ["hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "hydra.sweeper.n_trials=3",
            "optimized_metric=final_test_loss", "hydra.sweeper.direction=minimize",
            "optimizer.lr=choice(0.001,-1.0,0.01)", *FN, "trainer.epochs=2", f"hydra.sweep.dir={out}",
            "trainer.progress=quiet"]  # fmt: skip
    mlflow = importlib.util.find_spec("mlflow") is not None  # the trials nest under the search's MLflow run
    if mlflow:
        args += ["logger=mlflow", f"logger.mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}"]
    proc = run_dlrun("-m", *args, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # one trial failed: the exit code says so, after all three ran
    assert "some sweep jobs failed" in proc.stderr
    # Optuna's own log line, in colour escape codes whatever stderr is, is not among dlrun's lines
    assert "\x1b[" not in proc.stderr and "A new study created" not in proc.stderr, proc.stderr
    rows = read_rows(out / "summary.csv")
    assert len(rows) == 3 and sorted(r["optimizer.lr"] for r in rows) == ["-1.0", "0.001", "0.01"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["optimizer.lr"] == "-1.0" and float(failed[0]["objective"]) == math.inf
    good = [r for r in rows if r["status"] == "ok"]
    best = min(good, key=lambda r: float(r["final_test_loss"]))
    assert all(float(r["objective"]) == pytest.approx(float(r["final_test_loss"])) for r in good)
    md = (out / "report.md").read_text()
    assert f"Best: trial {best['job']}, final_test_loss = " in md and f"`optimizer.lr={best['optimizer.lr']}`" in md
    assert "(worst)" in md and (out / "plots" / "objective.png").is_file()
    # the console's outcome reads each trial by what it returned to the sweeper, and names the best
    lines = proc.stdout.splitlines()
    for r in rows:
        (line,) = [x for x in lines if x.startswith(f"  job   {r['job']}  ")]
        want = f"inf (worst)  {r['error']}" if r["status"] == "failed" else f"{float(r['objective']):.4g}"
        assert line.endswith(f"final_test_loss {want}"), line
    assert f"best: trial {best['job']}, final_test_loss = {float(best['objective']):.4g}, with " \
           f"optimizer.lr={best['optimizer.lr']}" in lines  # fmt: skip
    # drawn values are no grid: the objective per searched value, not the grid's line and bar plots
    assert (out / "plots" / "search_slices.png").is_file() and not (out / "plots" / "final_test_loss.png").exists()
    if mlflow:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
        runs = client.search_runs([client.get_experiment_by_name("dlrun").experiment_id])
        (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(trials) == 2 and parent.info.status == "FAILED"  # the failed trial never reached training


def test_the_search_section_shows_an_accuracy_objective_in_percent_and_drawn_values_to_4_digits():
    from runner.report.search import section

    df = pd.DataFrame({"job": [0, 1], "optimizer.lr": [0.0012520653814999472, 0.007232371232294039],
                       "status": "ok", "objective": [0.465, 0.735]})  # fmt: skip
    md = "\n".join(section(df, ["optimizer.lr"], "best_val_acc"))
    assert "Best: trial 1, best_val_acc = 73.50%, with `optimizer.lr=0.007232371232294039`." in md
    assert "| 0 | 0.001252 | ok | 46.50% |" in md and "| 1 | 0.007232 | ok | 73.50% **best** |" in md


def test_the_search_slices_name_the_best_trial_in_the_title_not_in_a_legend_over_the_trials(tmp_path, monkeypatch):
    """The legend for the best trial's star sat inside the first panel, over the trials near the
    best (a trial at lr 0.078, 90% hid behind it)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from runner.report import search

    seen = {}

    def keep(fig, path):
        seen["legends"] = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        seen["title"] = fig._suptitle.get_text()
        plt.close(fig)
        return path

    monkeypatch.setattr(search, "save", keep)
    df = pd.DataFrame({"job": [0, 1, 2, 3], "optimizer.lr": [0.0044, 0.0019, 0.078, 0.0051],
                       "activation": ["relu", "sigmoid", "tanh", "relu"], "objective": [0.91, 0.83, 0.90, 0.95]})  # fmt: skip
    search.plot_slices(df, ["optimizer.lr", "activation"], "best_val_acc", tmp_path, "s")
    assert seen["legends"] == [] and seen["title"].endswith("\nred star: the best, trial 3 (95)")


def test_an_objective_the_data_does_not_measure_fails_the_run_in_one_line(tmp_path, tiny_data):
    # class folders with a val/ beside MNIST's IDX files, which are read first: the config cannot
    # tell whether the run has a val split, the data read says it has none
    (tiny_data / "digits" / "val").mkdir(parents=True)
    proc = run_dlrun("optimized_metric=best_val_acc", "dataset.folder=digits", f"data_dir={tiny_data}",
                     "trainer.epochs=1", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)  # fmt: skip
    assert proc.stderr == ("dlrun: error: optimized_metric: expected final_ or best_ of a column this run measures: "
                           "train_loss, train_acc, test_loss, test_acc (a val_ column needs dataset.val_size), "
                           "got 'best_val_acc'\n")  # fmt: skip
    assert proc.returncode == 2 and not (tmp_path / "r" / "DONE").exists()
    ok = run_dlrun("optimized_metric=best_val_acc", "dataset.val_size=20", f"data_dir={tiny_data}", "trainer.epochs=1",
                   f"hydra.run.dir={tmp_path / 'v'}", cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0 and (tmp_path / "v" / "DONE").is_file(), ok.stderr


@pytest.mark.parametrize(
    "overrides,columns",
    [
        (["dataset=mnist"], ["train_loss", "train_acc", "test_loss", "test_acc"]),
        (["dataset=mnist", "dataset.val_size=100"],
         ["train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"]),
        ([*FN], ["train_loss", "test_loss"]),
        ([*FN, "dataset.val_size=0.2"], ["train_loss", "val_loss", "test_loss"]),
        (["dataset=gurmukhi"], ["train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"]),
        # the shipped val/ is the test split; with test/ as the test split val/ is a split of its own
        (["dataset=gurmukhi", "dataset.val_size=0"], ["train_loss", "train_acc", "test_loss", "test_acc"]),
        (["dataset=gurmukhi", "dataset.val_size=0", "dataset.test_folder=test"], None),
    ],
)  # fmt: skip
def test_the_columns_a_run_will_measure_are_read_from_the_config_where_it_says(tmp_path, overrides, columns):
    from runner.registry.data import planned_columns

    (tmp_path / "gurmukhi" / "val").mkdir(parents=True)
    assert planned_columns(compose(*overrides, f"data_dir={tmp_path}")) == columns


@pytest.mark.parametrize(
    "given,line",
    [
        # Optuna's default direction is minimize: it would have searched for the least accurate model
        (
            ["dataset=mnist", "optimized_metric=final_test_acc"],  # refused before any data is read
            "hydra.sweeper.direction: expected maximize for optimized_metric="
            "final_test_acc (set hydra.sweeper.direction=maximize, or ${dlrun.direction:${optimized_metric}} in a "
            "preset), got 'minimize'",
        ),
        ([*FN, "optimized_metric=best_test_loss", "hydra.sweeper.direction=maximize"], "expected minimize"),
        (FN, "optimized_metric: expected the value the trials return to the sweeper"),  # was a traceback
        # every trial would have scored the worst value: a regression measures no accuracy, nor a val_ split without one
        ([*FN, "optimized_metric=best_test_acc", "hydra.sweeper.direction=maximize"],
         "optimized_metric: expected final_ or best_ of a column this run measures: train_loss, test_loss "
         "(a val_ column needs dataset.val_size), got 'best_test_acc'"),
        ([*FN, "optimized_metric=best_val_loss"], "got 'best_val_loss'"),
        # MNIST has no val split of its own: known from the config, as is early stopping's column
        (["dataset=mnist", "optimized_metric=best_val_acc", "hydra.sweeper.direction=maximize"],
         "optimized_metric: expected final_ or best_ of a column this run measures: train_loss, train_acc, "
         "test_loss, test_acc (a val_ column needs dataset.val_size), got 'best_val_acc'"),
        ([*FN, "optimized_metric=best_test_loss", "trainer.early_stopping.metric=val_loss"],
         "trainer.early_stopping.metric: expected a column this run measures: train_loss, test_loss"),
    ],
)  # fmt: skip
def test_an_optuna_search_that_would_go_the_wrong_way_or_nowhere_is_refused(tmp_path, given, line):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra (hydra-optuna-sweeper)")
    proc = run_dlrun("-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "optimizer.lr=interval(0.001,0.01)",
                     "trainer.epochs=1", f"hydra.sweep.dir={tmp_path / 's'}", *given, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and line in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "given,line",
    [
        # each was a traceback (no best trial, a division by zero, an assertion, joblib's ValueError)
        (["hydra/sweeper=optuna", "hydra.sweeper.n_trials=0"],
         "hydra.sweeper.n_trials: expected an integer >= 1 (the trials of the search), got 0"),
        (["hydra/sweeper=optuna", "hydra.sweeper.n_jobs=0"],
         "hydra.sweeper.n_jobs: expected an integer >= 1 (the trials proposed at once), got 0"),
        (["hydra/sweeper=optuna", "hydra.sweeper.n_jobs=-2"], "hydra.sweeper.n_jobs: expected"),
        (["hydra.sweeper.max_batch_size=0"],
         "hydra.sweeper.max_batch_size: expected null (all jobs at once) or an integer >= 1, got 0"),
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=0"],
         "hydra.launcher.n_jobs: expected an integer other than 0 (jobs side by side; -1: one per CPU core), got 0"),
    ],
)  # fmt: skip
def test_a_sweeper_or_launcher_count_out_of_range_is_one_line(tmp_path, given, line):
    if "hydra/sweeper=optuna" in given:
        pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra")
    search = ["optimized_metric=final_test_loss", "hydra.sweeper.direction=minimize"] if "optuna" in given[0] else []
    proc = run_dlrun("-m", *given, *search, "activation=relu,tanh", *FN, "trainer.epochs=1",
                     f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.startswith(f"dlrun: error: {line}"), proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and not (tmp_path / "s").exists(), proc.stderr


@pytest.mark.parametrize(
    "given,line",
    [
        # each was a ValueError's traceback, from Hydra's basic sweeper or from Optuna
        (["seed=range(1,5,0)"], "seed=range(1,5,0): the step of a range is 0"),
        (["seed=range(5,1)"], "seed=range(5,1): the range holds no values"),  # was a sweep of no jobs
        (["optimizer.lr=interval(0.001,0.01)"], "optimizer.lr=interval(0.001,0.01): an interval is drawn from by a "
         "search (hydra/sweeper=optuna, or hparams_search=...); a grid sweep takes values"),
        (["hparams_search=mnist_optuna", "optimizer.lr=interval(0.1,0.01)"],
         "optimizer.lr=interval(0.1,0.01): expected interval(low, high) with low <= high, got 0.1 > 0.01"),
        (["hparams_search=mnist_optuna", "optimizer.lr=tag(log,interval(0,0.1))"], "a log interval needs low > 0, got 0"),
        (["hparams_search=mnist_optuna", "seed=range(5,1)"],
         "seed=range(5,1): Optuna draws from range(low, high[, step]) with low <= high and a step > 0 (high included)"),
        (["hparams_search=mnist_optuna", "seed=shuffle(range(5,1))"], "the range holds no values"),
        (["hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "optimizer.lr=interval(0.001,0.01)"],
         "optimizer.lr=interval(0.001,0.01): Optuna's grid sampler (hydra/sweeper/sampler=grid) walks values, and an "
         "interval has none; give choice(a,b,c) or range(start,stop,step), or use another sampler"),  # a ValueError
    ],
)  # fmt: skip
def test_a_swept_value_the_sweeper_cannot_draw_from_is_one_line(given, line):
    from omegaconf import open_dict

    from runner.config.compose import compose as compose_config
    from runner.errors import UserError
    from runner.sweep.preflight import check_search_space

    def search_space(swept):  # the config the sweep's callback sees: Hydra's compose() takes no sweep itself
        cfg = compose_config(["dataset=function", *given[:-1]], hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.overrides.task = [*cfg.hydra.overrides.task, swept]
        check_search_space(cfg)

    if "hparams_search=mnist_optuna" in given or "hydra/sweeper=optuna" in given:
        pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra")
    with pytest.raises(UserError) as e:
        search_space(given[-1])
    assert line in str(e.value) and str(e.value).startswith(given[-1] + ": "), str(e.value)
    search_space("seed=range(1,3)")  # what either sweeper takes


def test_a_sweep_refused_for_its_search_space_leaves_no_folder(tmp_path):
    proc = run_dlrun("-m", "seed=range(1,5,0)", *FN, f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)
    assert proc.stderr == ("dlrun: error: seed=range(1,5,0): the step of a range is 0; expected range(start, stop[, "
                           "step]) with a step other than 0\n") and proc.returncode == 2  # fmt: skip
    assert not (tmp_path / "s").exists()


def test_a_search_space_set_through_the_sweepers_params_says_to_set_the_key(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra")
    proc = run_dlrun("hparams_search=mnist_optuna", "hydra.sweeper.params.optimizer.lr=interval(0.1,0.2)", *FN,
                     f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)  # fmt: skip
    assert proc.stderr == ("dlrun: error: hydra.sweeper.params.optimizer.lr=interval(0.1,0.2): a sweep's values are set "
                           "on the key itself: optimizer.lr=interval(0.1,0.2) (they replace a preset's for that key)\n")  # fmt: skip
    assert proc.returncode == 2 and not (tmp_path / "s").exists()


def test_the_hparams_search_preset_composes_as_a_multirun_of_optuna():
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra (hydra-optuna-sweeper)")
    from runner.config.compose import compose as compose_config

    cfg = compose_config(["hparams_search=mnist_optuna"], hydra_config=True)
    assert cfg.optimized_metric == "best_val_acc" and str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert cfg.hydra.sweeper.direction == "maximize" and "Optuna" in cfg.hydra.sweeper._target_
    assert set(cfg.hydra.sweeper.params) == {"optimizer.lr", "model.width", "regularizer.dropout"}


# ---------------------------------------------------------------- loggers


def test_tensorboard_event_files_mirror_metrics_csv(tmp_path):
    pytest.importorskip("tensorboard", reason="needs the [tensorboard] extra")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run = train(tmp_path, *FN, "trainer.epochs=3", "logger=tensorboard", "tags=[tb]")
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    metrics = pd.read_csv(run / "metrics.csv")
    for tag, column in (("loss/train", "train_loss"), ("loss/test", "test_loss"), ("lr", "lr")):
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in got] == [1, 2, 3]
        assert [v for _, v in got] == pytest.approx(list(metrics[column]), rel=1e-6)
    layers = pd.read_csv(run / "layers.csv")
    first = layers["layer"].iloc[0]
    assert len(events.Scalars(f"layers/{first}/grad_norm")) == 3
    assert (run / "tensorboard" / "hparams").is_dir()  # the config with the final metrics


@pytest.mark.parametrize("render_workers", [0, 1])  # 1: each job's plots are drawn by a worker process
def test_mlflow_logs_a_sweep_as_nested_runs_in_an_sqlite_store(tmp_path, render_workers):
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    proc = run_dlrun("-m", *FN, "trainer.epochs=2", "logger=mlflow", f"logger.mlflow.tracking_uri=sqlite:///{db}",
                     "model.hidden=[8],[16]", "tags=[nightly]", f"hydra.sweep.dir={tmp_path / 's'}",
                     f"sweep.render_workers={render_workers}", "trainer.progress=quiet", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "INFO" not in proc.stdout + proc.stderr  # a new store's table creation says nothing
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.get_experiment_by_name("dlrun")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    for r in children:
        job = tmp_path / "s" / r.info.run_name
        metrics = pd.read_csv(job / "metrics.csv")
        history = client.get_metric_history(r.info.run_id, "train_loss")
        assert [m.step for m in history] == [1, 2]
        assert [m.value for m in history] == pytest.approx(list(metrics["train_loss"]))
        assert r.data.params["optimizer.lr"] == "0.001" and r.data.tags["dlrun.tags"] == "nightly"
        assert r.info.status == "FINISHED" and "final_test_loss" in r.data.metrics
        artifacts = {a.path for a in client.list_artifacts(r.info.run_id)}
        assert {"summary.json", "metrics.csv", "report.md", "plots"} <= artifacts
        # the final files, also where a worker drew the plots after the next job had started
        plots = {Path(a.path).name for a in client.list_artifacts(r.info.run_id, "plots")}
        assert plots == {p.name for p in (job / "plots").glob("*.png")} and plots
        got = json.loads(Path(client.download_artifacts(r.info.run_id, "summary.json", str(tmp_path))).read_text())
        assert got["status"] == "ok"
    # the sweep's own run: its report and counts, and it ended
    parent = client.get_run(parents[0].info.run_id)
    assert parent.info.status == "FINISHED" and parent.data.metrics["jobs_ok"] == 2
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"summary.csv", "report.md", "report.html", "plots"} <= artifacts


def test_a_sweep_with_a_failed_job_ends_its_mlflow_parent_failed(tmp_path):
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    args = ("-m", *FN, "trainer.epochs=1", "logger=mlflow", f"logger.mlflow.tracking_uri=sqlite:///{db}",
            "logger.mlflow.artifacts=false", f"hydra.sweep.dir={tmp_path / 's'}", "trainer.progress=quiet")  # fmt: skip
    proc = run_dlrun(*args, "dataset.val_size=0.1,5000", cwd=tmp_path)  # 5000: more than the 256 points
    assert proc.returncode == 1
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    runs = client.search_runs([client.get_experiment_by_name("dlrun").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.info.status == "FAILED" and parent.data.metrics["jobs_failed"] == 1


def test_a_diverged_run_ends_its_mlflow_run_failed_tagged_diverged(tmp_path):
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    s, run_dir = train(tmp_path, "dataset=function", "optimizer=sgd", "optimizer.lr=50", "trainer.epochs=5",
                       "model.hidden=[32,32]", "logger=mlflow", f"logger.mlflow.tracking_uri={uri}")  # fmt: skip
    assert s["status"] == "diverged"
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("dlrun").experiment_id])
    assert run.info.status == "FAILED" and run.data.tags["dlrun.status"] == "diverged"
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.step for m in history] == list(range(1, s["epochs_run"] + 1))
    assert not math.isfinite(history[-1].value), "the epoch that diverged is logged as it was"


def _mlflow_logger(uri: str):
    from omegaconf import OmegaConf

    from runner.loggers.mlflow import MlflowLogger

    return MlflowLogger(OmegaConf.create({"logger": {"mlflow": {"tracking_uri": uri, "experiment": "dlrun",
                                                                "artifacts": False}}}))  # fmt: skip


def _open_mlflow_store(uri: str, barrier, results) -> None:
    """In a spawned process: open the store when all the others do (as parallel jobs do)."""
    logger = _mlflow_logger(uri)
    barrier.wait()
    try:
        results.put(logger._store()[1])
    except Exception as ex:  # noqa: BLE001 - the test names what failed
        results.put(f"{type(ex).__name__}: {ex}"[:200])


def test_parallel_jobs_opening_a_new_mlflow_store_together_all_get_the_experiment(tmp_path):
    """Measured without the lock: 4 of 4 processes failed in MLflow's table creation."""
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    n = 4
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_open_mlflow_store, args=(f"sqlite:///{tmp_path / 'mlflow.db'}", barrier, results))
             for _ in range(n)]  # fmt: skip
    for p in procs:
        p.start()
    got = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert len(set(got)) == 1 and got[0].isdigit(), got  # one experiment, the same id for all


def test_an_mlflow_server_that_is_not_there_is_named_not_retried_for_minutes(monkeypatch):
    """MLflow retries each request 7 times with back-off: a stopped server cost a run 250 s
    before the logger gave up with urllib3's words. (Retries are off here so that the old code
    fails fast too.)"""
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    import socket

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError) as err:
        _mlflow_logger(f"http://127.0.0.1:{port}")._store()
    assert str(err.value) == (f"logger.mlflow.tracking_uri: no server answers at http://127.0.0.1:{port} "
                              "(Connection refused); start it (mlflow server) or give another URI")  # fmt: skip


def test_an_sqlite_store_under_a_file_names_the_key(tmp_path):
    """mkdir's own words (FileExistsError: '/etc/passwd') did not say which setting was wrong."""
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    uri = f"sqlite:///{tmp_path}/notes.txt/mlflow.db"
    with pytest.raises(OSError) as err:
        _mlflow_logger(uri)._store()
    assert str(err.value) == (f"logger.mlflow.tracking_uri: cannot make the folder {tmp_path}/notes.txt for {uri} "
                              f"({tmp_path}/notes.txt is a file); give a path under a writable folder")  # fmt: skip


def test_a_server_that_answers_passes_the_mlflow_probe(monkeypatch):
    """Any HTTP answer means a server is there: what it says next is MLflow's to judge."""
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from mlflow.exceptions import MlflowException

    class NotMlflow(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_error(404)

        def log_message(self, *args):
            pass

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    server = HTTPServer(("127.0.0.1", 0), NotMlflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(MlflowException):
            _mlflow_logger(f"http://127.0.0.1:{server.server_address[1]}")._store()
    finally:
        server.shutdown()


def test_a_stopped_sweep_ends_its_mlflow_runs_killed_and_its_rerun_finishes_them(tmp_path):
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    from mlflow.tracking import MlflowClient

    db, out = tmp_path / "mlflow.db", tmp_path / "s"
    cmd = [*dlrun_cmd(), "-m", *FN, "trainer.epochs=100", "seed=0,1", "logger=mlflow", f"hydra.sweep.dir={out}",
           f"logger.mlflow.tracking_uri=sqlite:///{db}", "logger.mlflow.artifacts=false", "trainer.progress=quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    watch = lambda: [p for p in out.glob("1_*/metrics.csv") if len(p.read_text().splitlines()) > 3]  # noqa: E731
    while not watch() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the sweep ended before job 1 was stopped; make the epochs longer"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp_id = client.get_experiment_by_name("dlrun").experiment_id

    def runs() -> tuple:
        found = client.search_runs([exp_id])
        (parent,) = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
        return parent, {r.info.run_name[0]: r for r in found if r is not parent}

    parent, jobs = runs()
    assert parent.info.status == "KILLED" and jobs["0"].info.status == "FINISHED" and jobs["1"].info.status == "KILLED"
    again = run_dlrun(*cmd[len(dlrun_cmd()) :], cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    parent_again, jobs_again = runs()  # the same runs, reopened and ended
    assert parent_again.info.run_id == parent.info.run_id and parent_again.info.status == "FINISHED"
    assert jobs_again["1"].info.run_id == jobs["1"].info.run_id and jobs_again["1"].info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(jobs["1"].info.run_id, "train_loss")]
    assert steps == list(range(1, 101))  # each epoch once: the stop saved a checkpoint where it was


@pytest.mark.parametrize("checkpoint_every", [3, 0], ids=["past-its-checkpoint", "before-any-checkpoint"])
def test_a_run_killed_with_sigkill_goes_on_in_its_mlflow_run_and_logs_each_epoch_once(tmp_path, checkpoint_every):
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    from mlflow.tracking import MlflowClient

    db, run = tmp_path / "mlflow.db", tmp_path / "run"
    args = [*FN, "trainer.epochs=60", "logger=mlflow", f"logger.mlflow.tracking_uri=sqlite:///{db}",
            "logger.mlflow.artifacts=false", "trainer.progress=quiet", "trainer.checkpoint_seconds=0",
            f"trainer.checkpoint_every={checkpoint_every}", f"hydra.run.dir={run}"]  # fmt: skip
    proc = subprocess.Popen([*dlrun_cmd(), *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    rows = lambda: len(p.read_text().splitlines()) - 1 if (p := run / "metrics.csv").is_file() else 0  # noqa: E731
    while rows() < 5 and proc.poll() is None and time.monotonic() < deadline:  # epochs 4, 5 past the checkpoint
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before the kill; make it longer"
    proc.kill()
    proc.communicate(timeout=60)
    assert (run / "checkpoint.pt").is_file() == bool(checkpoint_every)
    again = run_dlrun(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    (found,) = client.search_runs([client.get_experiment_by_name("dlrun").experiment_id])  # no orphan RUNNING run
    assert found.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(found.info.run_id, "train_loss")]
    assert sorted(steps) == list(range(1, 61)), "each epoch logged once"


@pytest.mark.parametrize("stop", ["SIGTERM", "second Ctrl-C"])
def test_a_run_stopped_while_its_plots_are_drawn_ends_its_logger_runs_and_a_rerun_finishes_them(
    tmp_path, monkeypatch, stop
):
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    from mlflow.tracking import MlflowClient

    from runner import signals
    from runner.report import run_plots

    pytest.importorskip("tensorboard", reason="needs the [tensorboard] extra")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = (*FN, "trainer.epochs=2", "logger=[mlflow,tensorboard]", f"logger.mlflow.tracking_uri={uri}")

    raised = signals.Interrupted(signal.SIGTERM) if stop == "SIGTERM" else KeyboardInterrupt()

    def stop_now(run_dir):  # as if the signal came while matplotlib was drawing
        raise raised

    with monkeypatch.context() as m:
        m.setattr(run_plots, "render_run", stop_now)
        with pytest.raises(type(raised)) as stopped:
            train(tmp_path, *args)
    run_dir = tmp_path / "run"
    assert stopped.value.saved == run_dir / "checkpoint.pt" and stopped.value.saved.is_file()
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("dlrun").experiment_id])
    assert run.info.status == "KILLED" and run.data.tags["dlrun.status"] == "interrupted"
    assert not (run_dir / "tensorboard" / "hparams").exists(), "no final hparams for an unfinished run"
    summary, _ = train(tmp_path, *args)  # the rerun draws the plots only
    assert summary["status"] == "ok" and (run_dir / "DONE").is_file()
    assert len(list((run_dir / "tensorboard" / "hparams").glob("events.*"))) == 1
    again = client.get_run(run.info.run_id)
    assert again.info.status == "FINISHED" and again.data.tags["dlrun.status"] == "ok"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2]


def test_a_stop_while_mlflow_opens_is_taken_at_the_first_epoch_and_the_rerun_goes_on_in_the_same_run(
    tmp_path, monkeypatch
):
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    from mlflow.tracking import MlflowClient

    from runner import signals
    from runner.loggers.mlflow import MlflowLogger

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = (*FN, "trainer.epochs=2", "logger=mlflow", f"logger.mlflow.tracking_uri={uri}")
    opened = MlflowLogger.start

    def sigterm_while_opening(self, *a):
        opened(self, *a)
        signals._handler(signal.SIGTERM, None)  # what dlrun's handler does when SIGTERM arrives

    try:
        with monkeypatch.context() as m:
            m.setattr(MlflowLogger, "start", sigterm_while_opening)
            with pytest.raises(signals.Interrupted) as stopped:
                train(tmp_path, *args)
    finally:
        signals.reset()
    run_dir = tmp_path / "run"
    assert stopped.value.where == "before epoch 1" and (run_dir / "checkpoint.pt").is_file()
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.get_experiment_by_name("dlrun").experiment_id
    (run,) = client.search_runs([exp_id])
    assert run.info.status == "KILLED"
    summary, _ = train(tmp_path, *args)
    assert summary["status"] == "ok"
    (again,) = client.search_runs([exp_id])  # resumed at epoch 0: the same run, not a second one
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2]


def test_a_logger_without_its_package_is_one_line_naming_the_extra(monkeypatch):
    from runner.config.validate import prepare
    from runner.registry import loggers

    monkeypatch.setattr(loggers, "LOGGERS", loggers.Registry("logger", "logger"))
    loggers.LOGGERS.add("tensorboard", loggers.Logger("x", "x:y", "no_such_package_for_dlrun", "tensorboard"))
    loggers.LOGGERS.add("mlflow", loggers.Logger("x", "x:y", "no_such_package_for_dlrun", "mlflow"))
    with pytest.raises(ConfigError) as e:
        prepare(compose("logger=tensorboard"))
    assert str(e.value) == ("logger=tensorboard: expected the no_such_package_for_dlrun package: "
                            "pip install 'dlrun[tensorboard]', got 'not installed'")  # fmt: skip


@pytest.mark.parametrize("uri", ["mlruns", "file:///tmp/mlruns", "./outputs/mlruns"])
def test_an_mlflow_file_store_that_mlflow_would_not_write_is_refused_before_training(tmp_path, monkeypatch, uri):
    """MLflow 3 raises on writing a file store: the run trained on, its mirror dropped in the first
    epoch with a line cut mid-sentence, and a sweep did so in every job."""
    import mlflow.environment_variables as env

    from runner.config.validate import prepare

    if not hasattr(env, "MLFLOW_ALLOW_FILE_STORE"):
        pytest.skip("this MLflow writes file stores")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(ConfigError, match=r"^logger\.mlflow\.tracking_uri: expected a database or server URI, e\.g\. "
                       r"sqlite:///outputs/mlflow\.db \(MLflow [\d.]+ writes a file store only with "
                       rf"MLFLOW_ALLOW_FILE_STORE=true set\), got '{uri}'$"):  # fmt: skip
        prepare(compose("logger=mlflow", f"logger.mlflow.tracking_uri='{uri}'"))
    prepare(compose("logger.mlflow.tracking_uri=mlruns"))  # the logger off: not its business
    prepare(compose("logger=mlflow", "logger.mlflow.tracking_uri=sqlite:///x.db"))
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow's own way to keep writing one
    prepare(compose("logger=mlflow", f"logger.mlflow.tracking_uri='{uri}'"))
    if uri != "mlruns":
        return
    proc = run_dlrun(*FN, "trainer.epochs=1", "logger=mlflow", "logger.mlflow.tracking_uri=mlruns", cwd=tmp_path,
                     env={"MLFLOW_ALLOW_FILE_STORE": "false"})  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and not (tmp_path / "outputs").exists(), proc.stderr


@pytest.mark.parametrize("value", ["", ".", "../other", "/tmp/all-runs", "tb/../.."])
def test_a_tensorboard_folder_outside_the_run_folder_is_refused(value):
    """Empty or "." wrote the event files among the run's own, ".." into a neighbour's folder, and an
    absolute path every job of a sweep into one folder, where TensorBoard shows them as one run."""
    from runner.config.validate import prepare

    with pytest.raises(ConfigError) as e:
        prepare(compose("logger=tensorboard", f"logger.tensorboard.dir='{value}'"))
    assert (
        str(e.value)
        == f"logger.tensorboard.dir: expected a folder inside the run folder, e.g. tensorboard, got {value!r}"
    )
    assert (
        prepare(compose("logger=tensorboard", "logger.tensorboard.dir=tb/events")).logger.tensorboard.dir == "tb/events"
    )


def test_the_optuna_sweeper_missing_is_one_line_naming_the_extra():
    from runner.messages import _missing_option_line

    text = "In 'hparams_search/mnist_optuna': Could not load 'hydra/sweeper/optuna'."
    assert _missing_option_line(text) == "hydra/sweeper=optuna: needs hydra-optuna-sweeper: pip install 'dlrun[search]'"


def test_an_optuna_search_run_again_reads_its_finished_trials_back(tmp_path):
    """The sampler, seeded with `seed` where the command sets no seed of its own (Optuna's default
    is unseeded), proposes the same trials given the same history, so a re-run skips every
    finished trial and hands the sampler the objective it recorded."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra (hydra-optuna-sweeper)")
    out = tmp_path / "search"
    args = ["-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "seed=3",
            "optimized_metric=final_test_loss", "hydra.sweeper.direction=minimize", "optimizer.lr=interval(0.0001,0.01)",
            *FN, "trainer.epochs=1", f"hydra.sweep.dir={out}", "trainer.progress=quiet"]  # fmt: skip
    first = run_dlrun(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = (out / "summary.csv").read_text()
    again = run_dlrun(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("finished earlier (ok), skipped") == 2
    lines = [line for line in first.stdout.splitlines() if line.startswith("job ") and "final_test_loss =" in line]
    assert len(lines) == 2 and all(line in again.stdout for line in lines)  # the same objectives, read back
    (best,) = [line for line in first.stdout.splitlines() if line.startswith("best: trial ")]
    assert best in again.stdout.splitlines()  # and the same best trial named at the end
    assert (out / "summary.csv").read_text() == before  # nothing was retrained
    assert len([p for p in out.iterdir() if p.is_dir() and p.name != "plots"]) == 2
    recorded = yaml.safe_load((out / "multirun.yaml").read_text())
    assert recorded["hydra"]["sweeper"]["sampler"]["seed"] == 3  # the run's seed, for all to see


def test_a_watched_column_the_run_does_not_measure_is_refused_before_training(tmp_path):
    for args, key in ((("trainer.early_stopping.metric=val_loss",), "trainer.early_stopping.metric"),
                      (("scheduler=plateau",), "scheduler.metric"),
                      (("trainer.early_stopping.metric=test_acc",), "trainer.early_stopping.metric")):  # fmt: skip
        with pytest.raises(ConfigError) as e:
            train(tmp_path, *FN, "trainer.epochs=1", *args)  # the function dataset: train and test, losses only
        assert e.value.key == key and "train_loss, test_loss" in str(e.value)
        assert not (tmp_path / "run").exists()


def test_an_optuna_storage_the_sweeper_cannot_open_is_one_line_and_leaves_nothing(tmp_path):
    """hydra.sweeper.storage went straight to optuna.create_study: a bad URL, a missing driver or
    folder, or Optuna 2 beside SQLAlchemy 2 (the schema version is never committed) was a traceback,
    the last one after it had made a database file that no later run could use."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra")
    proc = run_dlrun("-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "optimizer.lr=interval(0.001,0.01)",
                     "optimized_metric=final_test_loss", "hydra.sweeper.direction=minimize", *FN, "trainer.epochs=1",
                     f"hydra.sweep.dir={tmp_path / 's'}", "hydra.sweeper.storage=sqlite:///search.db", cwd=tmp_path)  # fmt: skip
    import optuna

    try:  # whether this install can keep a study in a database at all
        optuna.create_study(storage=f"sqlite:///{tmp_path / 'probe' / 'p.db'}").optimize(lambda t: 0.0, n_trials=1)
        works = True
    except Exception:  # noqa: BLE001
        works = False
    if works:
        assert proc.returncode == 0, proc.stderr
        assert len(optuna.load_study(study_name=None, storage="sqlite:///" + str(tmp_path / "search.db")).trials) == 2
    else:
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith(f"dlrun: error: hydra.sweeper.storage=sqlite:///search.db: Optuna "
                                      f"{optuna.__version__} cannot keep a study in a database"), proc.stderr  # fmt: skip
        assert proc.stderr.endswith("; leave hydra.sweeper.storage unset: the sweep folder keeps the search, and the "
                                    "same command resumes it\n")  # fmt: skip
        assert not (tmp_path / "s").exists() and not (tmp_path / "search.db").exists()


def test_each_fault_of_an_optuna_storage_is_named(monkeypatch, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra")
    import optuna
    import sqlalchemy

    from runner.config.compose import compose as compose_config
    from runner.errors import UserError
    from runner.sweep.preflight import check_storage

    def check(storage):
        cfg = compose_config(["hparams_search=mnist_optuna", f"hydra.sweeper.storage={storage}"], hydra_config=True)
        check_storage(cfg)

    def refused(storage) -> str:
        with pytest.raises(UserError) as e:
            check(storage)
        return str(e.value)

    check("null")  # unset: nothing to open
    check_storage(compose_config(["dataset=function"], hydra_config=True))  # the grid sweeper keeps no storage
    assert refused("foo").startswith("hydra.sweeper.storage=foo: not a database URL; expected e.g. sqlite:///optuna.db")
    opened = []
    monkeypatch.setattr(optuna.storages, "RDBStorage", lambda url: None)  # an install that works
    monkeypatch.setattr(optuna.storages, "get_storage", lambda url: opened.append(url))
    check(f"sqlite:///{tmp_path}/ok.db")
    assert opened == [f"sqlite:///{tmp_path}/ok.db"]

    def cannot_open(url):
        raise sqlalchemy.exc.OperationalError("connect", {}, Exception("unable to open database file"))

    monkeypatch.setattr(optuna.storages, "get_storage", cannot_open)
    line = refused("sqlite:////nowhere/x.db")
    assert line.startswith("hydra.sweeper.storage=sqlite:////nowhere/x.db: Optuna cannot open it (") and (
        "unable to open database file" in line and "Background on this error" not in line
    ), line

    def never_stamped(url):
        raise AssertionError

    monkeypatch.setattr(optuna.storages, "RDBStorage", never_stamped)
    assert refused("sqlite:///x.db").startswith(f"hydra.sweeper.storage=sqlite:///x.db: Optuna {optuna.__version__} "
                                                f"cannot keep a study in a database with SQLAlchemy "
                                                f"{sqlalchemy.__version__} (its schema version is never written); ")  # fmt: skip


def test_a_grid_sampler_search_runs_its_grid_and_is_finished(tmp_path):
    """The Optuna sweeper cuts n_trials to the grid sampler's points: dlrun counted n_trials, called
    the rest 'not started' and ended the finished search with exit code 1."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra")
    command = ("-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "hydra.sweeper.n_trials=5",
               "optimized_metric=final_test_loss", "hydra.sweeper.direction=minimize", "seed=range(1,3)",
               "optimizer.lr=choice(0.001,0.01)", *FN, "trainer.epochs=1", f"hydra.sweep.dir={tmp_path / 's'}")  # fmt: skip
    proc = run_dlrun(*command, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    assert ("note: hydra/sweeper/sampler=grid: the grid holds 4 points, so the search runs 4 trials, not "
            "hydra.sweeper.n_trials=5") in proc.stdout  # fmt: skip
    assert "sweep finished: 4 jobs (4 ok)" in proc.stdout
    table = pd.read_csv(tmp_path / "s" / "summary.csv")
    assert sorted(zip(table["seed"], table["optimizer.lr"])) == [(1, 0.001), (1, 0.01), (2, 0.001), (2, 0.01)]
    # stopped after two trials: run again, the grid's points come in the same order (Optuna 2's grid
    # sampler draws them with Python's unseeded random), the two finished are read back, the rest run
    jobs = sorted(p.name for p in (tmp_path / "s").iterdir() if p.name[0].isdigit())
    for name in jobs[2:]:
        shutil.rmtree(tmp_path / "s" / name)
    again = run_dlrun(*command, cwd=tmp_path)
    assert again.returncode == 0 and "sweep finished: 4 jobs (4 ok)" in again.stdout, again.stderr
    assert sorted(p.name for p in (tmp_path / "s").iterdir() if p.name[0].isdigit()) == jobs
    assert again.stdout.count("finished earlier (ok), skipped") == 2, again.stdout
