"""Sweeps end to end: presets, summary.csv, the report, resuming, isolation of failures,
launchers, and directories that never collide."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import compose, dlrun_cmd, dlrun_env, run_dlrun

from runner.report.sweep_tables import paper_table, pivot

SWEEP_ARGS = (
    "-m",
    "activation=relu,tanh",
    "model.depth=1,2",
    "model.width=8",
    "trainer.epochs=1",
    "trainer.batch_size=32",
)


def sweep(tmp_path, tiny_data, *args, sweep_dir=None):
    sweep_dir = sweep_dir or tmp_path / "sweep"
    proc = run_dlrun(*args, f"data_dir={tiny_data}", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    return proc, sweep_dir


def summary(sweep_dir) -> pd.DataFrame:
    return pd.read_csv(sweep_dir / "summary.csv")


def test_four_job_sweep_writes_summary_and_report(tmp_path, tiny_data):
    proc, d = sweep(tmp_path, tiny_data, *SWEEP_ARGS)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    df = summary(d)
    assert len(df) == 4
    for col in (
        "job",
        "activation",
        "model.depth",
        "status",
        "final_train_acc",
        "final_test_acc",
        "final_test_loss",
        "best_test_acc",
        "params",
        "seconds",
        "error",
        "dir",
    ):
        assert col in df.columns, col
    assert df["status"].eq("ok").all()
    assert df[["activation", "model.depth"]].values.tolist() == [["relu", 1], ["relu", 2], ["tanh", 1], ["tanh", 2]]
    assert df.loc[df["model.depth"] == 2, "params"].gt(df.loc[df["model.depth"] == 1, "params"].max()).all()
    md = (d / "report.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert {
        "plots/curves_loss.png",
        "plots/curves_acc.png",
        "plots/final_test_acc.png",
        "plots/heatmap_test_acc.png",
    } <= set(images)
    for img in images:
        assert (d / img).stat().st_size > 5000, img
    assert "activation by depth" in md
    shared = md.split("## Settings every job shared")[1].split("##")[0]
    assert "| batches | 32 samples per step, 1 epoch |" in shared and "| optimizer | adam, lr 0.001," in shared
    assert "| activation |" not in shared, "what the sweep varied is in its table"
    assert "| model | mlp, hidden varies |" in shared  # the part of a line the jobs share stays
    html = (d / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(images), "sweep plots are embedded"
    links = re.findall(r'href="([^"]+)"', html)
    assert links and all((d / requote(link)).is_file() for link in links), "job links point at existing plots"
    assert "sweep finished: 4 jobs (4 ok)" in proc.stdout


def requote(link: str) -> str:
    from urllib.parse import unquote

    return unquote(link)


def test_a_sweep_over_a_key_its_folder_is_named_by_keeps_every_job_in_it(tmp_path, tiny_data):
    """The default folder is <dataset>-<model>: with -m model=mlp,cnn Hydra put the cnn job under
    outputs/sweeps/<dataset>-cnn/, and the sweep, under <dataset>-mlp/, counted it `not started`
    and exited 1. So did a folder of one's own named by a swept key, under any launcher."""
    small = ("dataset=gurmukhi", "dataset.subsample=40", "model.hidden=[8]", "trainer.epochs=1")
    proc = run_dlrun("-m", "model=mlp,cnn", *small, f"data_dir={tiny_data}", cwd=tmp_path)
    assert proc.returncode == 0 and "sweep finished: 2 jobs (2 ok)" in proc.stdout, proc.stdout + proc.stderr
    (folder,) = (tmp_path / "outputs" / "sweeps").iterdir()
    assert folder.name == "gurmukhi-mlp"
    (stamp,) = folder.iterdir()
    assert sorted(p.name.split(",")[0] for p in stamp.glob("*_*")) == [
        "0_dataset.subsample=40",
        "1_dataset.subsample=40",
    ]
    assert set(summary(stamp)["status"]) == {"ok"}
    for launcher in ([], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]):
        proc = run_dlrun("-m", "activation=relu,tanh", *small, f"data_dir={tiny_data}", *launcher,
                         f"hydra.sweep.dir={tmp_path / 'own' / str(len(launcher))}" + "/${activation.name}", cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0 and "sweep finished: 2 jobs (2 ok)" in proc.stdout, proc.stdout + proc.stderr
        assert [p.name for p in (tmp_path / "own" / str(len(launcher))).iterdir()] == ["relu"]


def test_a_value_of_hydras_grammar_is_quoted_to_read_back_as_it_is():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from runner.config.overrides import quoted

    parser = OverridesParser.create()
    for text in ["/tmp/a b/0_x=1,y='q'", "C:\\runs\\", "a\\'b", "it's", "", "x\\\\", "'", "${now:%H}"]:
        assert parser.parse_override(f"k={quoted(text)}").value() == text, text


def test_rerun_skips_finished_jobs(tmp_path, tiny_data):
    proc, d = sweep(tmp_path, tiny_data, *SWEEP_ARGS)
    assert proc.returncode == 0
    stamps = {p: p.stat().st_mtime_ns for p in d.glob("*/metrics.csv")}
    assert len(stamps) == 4
    (d / "report.md").unlink()
    again, _ = sweep(tmp_path, tiny_data, *SWEEP_ARGS, sweep_dir=d)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("finished earlier (ok), skipped") == 4
    assert {p: p.stat().st_mtime_ns for p in d.glob("*/metrics.csv")} == stamps, "nothing was trained again"
    assert len(summary(d)) == 4 and (d / "report.md").is_file(), "the report is rendered again"
    # a finished job whose summary.json was damaged since: reported as unfinished, then run again
    job = sorted(d.glob("1_*"))[0]
    (job / "summary.json").write_text('{"status": "ok", "fin')
    r = subprocess.run([sys.executable, "-m", "runner.report", str(d)], capture_output=True, text=True)
    row = summary(d).iloc[1]
    assert r.returncode == 0 and row["status"] == "unfinished" and "summary.json is missing or damaged" in row["error"]
    again, _ = sweep(tmp_path, tiny_data, *SWEEP_ARGS, sweep_dir=d)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("finished earlier (ok), skipped") == 3
    assert "job 1: finished earlier, but its summary.json is missing or damaged: it runs again" in again.stdout
    assert summary(d)["status"].eq("ok").all() and summary(d)["final_test_acc"].notna().all()


def test_failing_job_is_isolated_and_retried(tmp_path, tiny_data):
    args = ("-m", "dataset.val_size=0.1,5000", "model.hidden=[8]", "trainer.epochs=1")
    proc, d = sweep(tmp_path, tiny_data, *args)
    assert proc.returncode == 1, proc.stderr
    assert "some sweep jobs failed" in proc.stderr and "Traceback" not in proc.stderr
    df = summary(d)
    assert df["status"].tolist() == ["ok", "failed"]
    assert "dataset.val_size" in df.loc[1, "error"]
    closing = proc.stdout.split("sweep finished")[1]
    assert re.search(r"job +1 +failed +dataset.val_size=5000 +" + re.escape(df.loc[1, "error"]), closing), closing
    failed_dir = d / df.loc[1, "dir"]
    assert (failed_dir / "error.txt").is_file() and not (failed_dir / "DONE").exists()
    ok_metrics = d / df.loc[0, "dir"] / "metrics.csv"
    stamp = ok_metrics.stat().st_mtime_ns
    again, _ = sweep(tmp_path, tiny_data, *args, sweep_dir=d)
    assert again.returncode == 1
    assert "job 0: finished earlier" in again.stdout and "job 1 failed" in again.stderr, "the failed job runs again"
    assert ok_metrics.stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    "args,line",
    [
        (("trainer.epochs=-1",), "trainer.epochs: expected an integer >= 1, got -1"),
        # the last job (model=cnn) fails an earlier check first; it has the first job's error too
        (
            ("model=mlp,cnn", "dataset=function", "trainer.epochs=-1"),
            "trainer.epochs: expected an integer >= 1, got -1",
        ),
        (("study.reduced=true",), "study.reduced=true changes nothing in this config"),
        # a size the splits cannot carve from a subsample: every job failed once its data was read
        (
            ("dataset.subsample=20", "dataset.val_size=30"),
            "dataset.val_size: expected 1 to 19 of the 20 samples (a count, or a fraction of them), leaving at least one "
            "to train on, got 30",
        ),
        # MNIST has no val split without val_size: every job failed once its data was read
        (
            ("trainer.early_stopping.metric=val_loss",),
            "trainer.early_stopping.metric: expected a column this run "
            "measures: train_loss, train_acc, test_loss, test_acc (a val_ column needs dataset.val_size), got 'val_loss'",
        ),
        (
            ("scheduler=plateau",),
            "scheduler=plateau: scheduler.metric: expected a column this run measures",
        ),  # its file
        # the dataset's files are not there (a wrong data_dir): every job failed alike, each in a folder of its own
        (("dataset=gurmukhi", "dataset.folder=nowhere"), "dataset gurmukhi: no class folders at "),
        # an interpolation no job can resolve: every job failed with OmegaConf's words
        (("trainer.epochs=${oc.env:DLRUN_TEST_UNSET}",), "trainer.epochs: the environment variable DLRUN_TEST_UNSET "),
        (("trainer.epochs=${oops}",), "trainer.epochs: ${oops} names no key of the config"),
    ],
)
def test_a_config_error_every_job_has_is_refused_before_the_sweep_starts(tmp_path, tiny_data, args, line):
    proc, d = sweep(tmp_path, tiny_data, "-m", "activation=relu,tanh", "model.hidden=[8]", *args)
    assert proc.returncode == 2, proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dlrun: error: {line}"), proc.stderr
    assert lines[0].endswith("(every job of this sweep)")
    assert not d.exists() and "job 0" not in proc.stdout, "no job ran and no sweep folder was made"


def test_a_config_error_of_some_jobs_only_stays_those_jobs_failure(tmp_path, tiny_data):
    proc, d = sweep(tmp_path, tiny_data, "-m", "model=cnn,mlp", "dataset=function", "trainer.epochs=1")
    assert proc.returncode == 1, proc.stderr
    df = summary(d)
    assert df["status"].tolist() == ["failed", "ok"]
    assert df.loc[0, "error"].startswith("model: expected mlp for dataset=function")


def test_preflight_leaves_a_value_that_only_a_job_resolves_to_the_jobs(tmp_path, tiny_data):
    """${hydra:job.num} has no value before the jobs exist: it is not refused for every job."""
    proc, d = sweep(tmp_path, tiny_data, "-m", "activation=relu,tanh", "model.hidden=[8]",
                    "trainer.epochs=${hydra:job.num}")  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    df = summary(d)
    assert df["status"].tolist() == ["failed", "ok"]  # job 0 trains 0 epochs, job 1 one
    assert df.loc[0, "error"] == "trainer.epochs: expected an integer >= 1, got 0"


def test_variables_hydra_sets_in_each_job_resolve_in_the_preflight_too(tmp_path, tiny_data):
    """+hydra.job.env_set.X=... reaches each job's environment: the preflight sets it too, not refusing
    ${oc.env:X} as unset in every job."""
    proc, d = sweep(tmp_path, tiny_data, "-m", "activation=relu,tanh", "model.hidden=[8]",
                    "trainer.epochs=${oc.env:DLRUN_TEST_EPOCHS}", "+hydra.job.env_set.DLRUN_TEST_EPOCHS=1",
                    "name=${oc.env:DLRUN_TEST_NAME}", "+hydra.job.env_set.DLRUN_TEST_NAME=mine")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    df = summary(d)
    assert df["status"].tolist() == ["ok", "ok"] and df["epochs_run"].tolist() == [1, 1]
    assert {json.loads(p.read_text())["name"] for p in d.glob("*/summary.json")} == {"mine"}
    assert "DLRUN_TEST_EPOCHS" not in os.environ


def test_preflight_leaves_to_jobs_on_other_machines_what_only_this_one_lacks(tmp_path, monkeypatch):
    """A SLURM node may set a variable (or hold a data_dir) the login node lacks: with a launcher that
    runs jobs elsewhere, the preflight refuses only what no machine can resolve."""
    from hydra import initialize_config_dir

    from runner.config.compose import conf_dir
    from runner.config.schema import register
    from runner.sweep.preflight import _problems

    register()  # dlrun's schema and resolvers, as the CLI has them
    unset = ["dataset=function", "trainer.epochs=${oc.env:DLRUN_TEST_UNSET}"]
    no_data = ["dataset=gurmukhi", f"data_dir={tmp_path / 'nowhere'}"]
    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
        assert _problems(unset, here=True)[0].startswith("trainer.epochs: the environment variable DLRUN_TEST_UNSET")
        assert _problems(unset, here=False) == []
        assert _problems(no_data, here=True)[0].startswith("dataset gurmukhi: no class folders at ")
        assert _problems(no_data, here=False) == []
        assert _problems([*unset[:1], "trainer.epochs=${oops}"], here=False) == [
            "trainer.epochs: ${oops} names no key of the config"
        ]


@pytest.mark.skipif(shutil.which("srun") is not None, reason="this machine has SLURM")
def test_the_slurm_launcher_where_there_is_no_slurm_is_one_line(tmp_path, tiny_data):
    """submitit raised 'Could not detect "srun", are you indeed on a slurm cluster?' with a traceback."""
    proc, d = sweep(tmp_path, tiny_data, "-m", "activation=relu,tanh", "hydra/launcher=submitit_slurm")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr == (
        "dlrun: error: hydra/launcher=submitit_slurm: this machine has no SLURM (no srun on the PATH); run the "
        "command on a SLURM login node, or try the same path here with hydra/launcher=submitit_local\n"
    )
    assert not d.exists()


def test_preflight_reads_the_grid_as_hydras_basic_sweeper_does():
    from omegaconf import OmegaConf

    from runner.sweep.preflight import first_and_last_job

    config = OmegaConf.create(
        {
            "hydra": {
                "sweeper": {
                    "params": {"activation": "relu,tanh", "optimizer.lr": "interval(1e-4, 1e-2)", "seed": "1,2"}
                },
                "overrides": {
                    "task": ["seed=7,8,9", "trainer.epochs=3", "hydra.sweep.dir=x", "model.depth=range(1,4)"]
                },
            }
        }
    )
    first, last = first_and_last_job(config)
    # the command line's seeds replace the preset's; an interval is the search's to draw
    assert first == ["activation=relu", "seed=7", "trainer.epochs=3", "model.depth=1"]
    assert last == ["activation=tanh", "seed=9", "trainer.epochs=3", "model.depth=3"]


def test_the_report_of_a_stopped_sweep_names_the_jobs_that_have_no_folder(tmp_path, tiny_data):
    """A sweep stopped in its first of four jobs, re-rendered (make report), said `1 job: 1
    unfinished`: the three jobs still to come were nowhere. They are rows of summary.csv now,
    with their swept values and status `not started`, and the exit code counts them."""
    proc, d = sweep(tmp_path, tiny_data, "-m", "activation=relu,tanh", "seed=0,1", "model.hidden=[8]",
                    "trainer.epochs=1")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for job in ("1_*", "3_*"):  # as a stop before them leaves it (or a folder deleted since)
        shutil.rmtree(next(d.glob(job)))
    import sys

    r = subprocess.run([sys.executable, "-m", "runner.report", str(d)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    df = summary(d)
    assert df["job"].tolist() == [0, 1, 2, 3]
    assert df["status"].tolist() == ["ok", "not started", "ok", "not started"]
    assert df[["activation", "seed"]].values.tolist() == [["relu", 0], ["relu", 1], ["tanh", 0], ["tanh", 1]]
    assert df["dir"].isna().tolist() == [False, True, False, True]
    assert "sweep not finished: 4 jobs (2 not started, 2 ok)" in r.stdout
    assert "  job   1  not started activation=relu, seed=1" in r.stdout
    md = (d / "report.md").read_text()
    assert "4 jobs: 2 not started, 2 ok." in md
    assert f"- job 3 (activation=tanh, seed=1): **not started**: it has no folder; run the sweep's command again " \
           f"with hydra.sweep.dir={d} to run it" in md  # fmt: skip
    from runner.sweep.state import failed

    assert failed({"ok": 2, "not started": 2}) and not failed({"ok": 4})
    # drawn while the sweep runs (make report during it): its jobs to come are not a stopped sweep's
    from runner import runfolder

    live = tmp_path / "live"
    shutil.copytree(d, live)
    (next(live.glob("2_*")) / "DONE").unlink()  # the job in training
    runfolder.lock(live, "hydra.sweep.dir")  # as the running sweep holds it
    try:
        r = subprocess.run([sys.executable, "-m", "runner.report", str(live)], capture_output=True, text=True)
    finally:
        runfolder.unlock(live)
    assert r.returncode == 0, r.stderr
    assert "sweep still running: 4 jobs (2 not started, 1 ok, 1 unfinished)" in r.stdout
    md = (live / "report.md").read_text()
    assert f"## Jobs not finished yet (the sweep is running: pid {os.getpid()} on " in md
    assert "- job 3 (activation=tanh, seed=1): **not started**: it has no folder yet; the sweep that is running will " \
           "run it" in md  # fmt: skip
    assert "**unfinished**: being trained now, or stopped by an earlier attempt and to be resumed by the running " \
           "sweep" in md  # fmt: skip
    resumed, _ = sweep(tmp_path, tiny_data, "-m", "activation=relu,tanh", "seed=0,1", "model.hidden=[8]",
                       "trainer.epochs=1", sweep_dir=d)  # fmt: skip
    assert resumed.returncode == 0 and summary(d)["status"].tolist() == ["ok"] * 4, resumed.stderr


def test_a_sweep_with_a_subdir_of_ones_own_counts_its_jobs(tmp_path, tiny_data):
    """hydra.sweep.subdir=job_${hydra.job.num}: job folders were found by their <num>_ prefix only,
    so the report had none of them (and, with the grid read from multirun.yaml, all 'not started')."""
    proc, d = sweep(tmp_path, tiny_data, "-m", "activation=relu,tanh", "model.hidden=[8]", "trainer.epochs=1",
                    "hydra.sweep.subdir=job_${hydra.job.num}")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    df = summary(d)
    assert df["status"].tolist() == ["ok", "ok"] and df["dir"].tolist() == ["job_0", "job_1"]
    assert df["activation"].tolist() == ["relu", "tanh"]


def test_a_long_job_folder_name_is_cut_after_a_whole_override_and_marked(tmp_path, tiny_data):
    """A job's overrides past 120 characters were cut mid-value: `...,trainer.epochs=1-4a27914d`
    read as epochs '1-4a27914d'; the cut now falls after the last whole key=value and says so."""
    long = ["dataset.mean=[0.1307]", "dataset.std=[0.3081]", "model.hidden=[8]", "optimizer.lr=0.001",
            "trainer.batch_size=32", "trainer.eval_batch_size=64", "trainer.epochs=1"]  # fmt: skip
    proc, d = sweep(tmp_path, tiny_data, "-m", "activation=relu,tanh", *long)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in d.iterdir() if p.is_dir() and p.name[0].isdigit())
    assert len(names) == 2 and len(set(names)) == 2 and all(len(n) <= 120 for n in names)
    for num, name in enumerate(names):
        head, marker, digest = name.partition(",...-")
        assert marker and re.fullmatch(r"[0-9a-f]{8}", digest), name
        items = head.removeprefix(f"{num}_").split(",")
        assert items[0] == ("activation=relu", "activation=tanh")[num]
        assert set(items[1:]) <= set(long), name  # each item kept is whole
    assert summary(d)["status"].tolist() == ["ok", "ok"]


def test_a_search_preset_names_no_job_folder_as_sweep_and_experiment_do():
    from runner.config.compose import compose as compose_config

    hydra = compose_config(["hparams_search=mnist_optuna"], hydra_config=True).hydra
    assert {"sweep", "experiment", "hparams_search"} <= set(hydra.job.config.override_dirname.exclude_keys)


def test_the_planned_jobs_are_the_grid_hydras_basic_sweeper_expands(tmp_path):
    from omegaconf import OmegaConf

    from runner.sweep.grid import planned_jobs

    config = {
        "sweep": {"depths": [1, 4]},
        "hydra": {
            "sweeper": {
                "_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
                "params": {"activation": "relu,tanh", "seed": "1,2", "model.depth": "${dlrun.join:${sweep.depths}}"},
            },
            "overrides": {"task": ["seed=7", "+tags=[a]", "hydra.sweep.dir=x", "trainer.epochs=3"]},
        },
    }
    OmegaConf.save(OmegaConf.create(config), tmp_path / "multirun.yaml")
    jobs = planned_jobs(tmp_path)
    # the command line's seed replaces the preset's; Hydra's own overrides name no job
    assert [(j["activation"], j["model.depth"], j["seed"]) for j in jobs] == [
        ("relu", "1", "7"), ("relu", "4", "7"), ("tanh", "1", "7"), ("tanh", "4", "7")
    ]  # fmt: skip
    assert jobs[0] == {"activation": "relu", "seed": "7", "model.depth": "1", "tags": "[a]", "trainer.epochs": "3"}
    config["hydra"]["sweeper"].update(_target_="hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper",
                                      n_trials=3)  # fmt: skip
    OmegaConf.save(OmegaConf.create(config), tmp_path / "multirun.yaml")
    assert planned_jobs(tmp_path) == [{}, {}, {}], "a search's trials: their values are drawn as it goes"
    config["hydra"]["sweeper"]["_target_"] = "hydra_plugins.hydra_ax_sweeper.ax_sweeper.AxSweeper"
    OmegaConf.save(OmegaConf.create(config), tmp_path / "multirun.yaml")
    assert planned_jobs(tmp_path) is None and planned_jobs(tmp_path / "nowhere") is None


def test_a_sweep_whose_job_does_not_compose_leaves_no_folder_and_the_corrected_command_runs(tmp_path):
    d = tmp_path / "s"
    args = ("-m", "dataset=function", "trainer.epochs=1", "dataset.n_train=64", f"hydra.sweep.dir={d}")
    proc = run_dlrun(*args, "activation=relu,swish", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("dlrun: error: activation=swish: no such option"), (
        proc.stderr
    )
    assert not d.exists(), "its records alone would refuse the corrected command as another command"
    fixed = run_dlrun(*args, "activation=relu,tanh", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert summary(d)["status"].tolist() == ["ok", "ok"]


def test_a_sweep_refused_at_its_first_job_leaves_no_empty_folders_in_the_default_place(tmp_path):
    """outputs/sweeps/<name>/ was left empty; a folder that was there before the command stays."""
    args = ("-m", "dataset=function", "activation=relu,swish", "hydra.run.dir=unused")
    proc = run_dlrun(*args, cwd=tmp_path)
    assert proc.returncode == 2 and "activation=swish" in proc.stderr, proc.stderr
    assert not (tmp_path / "outputs").exists()
    (tmp_path / "outputs" / "sweeps" / "function-mlp").mkdir(parents=True)
    assert run_dlrun(*args, cwd=tmp_path).returncode == 2
    assert [p.name for p in (tmp_path / "outputs").rglob("*")] == ["sweeps", "function-mlp"]


def test_a_report_axis_or_extra_column_it_cannot_plot_is_said_not_skipped(tmp_path):
    d = tmp_path / "s"
    proc = run_dlrun("-m", "dataset=function", "trainer.epochs=1", "dataset.n_train=64", "model.hidden=[4],[8]",
                     "sweep.x=nope", "sweep.extra=[sensitivity,params]", f"hydra.sweep.dir={d}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    notes = [ln for ln in proc.stdout.splitlines() if ln.startswith("note: ")]
    assert notes == [
        "note: sweep.x=nope: summary.csv has no such column, so the plots use the last swept key",
        "note: sweep.extra: the summary.csv column sensitivity is missing or empty, so it is not plotted",
    ]
    md = (d / "report.md").read_text()
    assert "Note: sweep.x=nope" in md and "column sensitivity is missing" in md
    assert (d / "plots" / "params_by_hidden.png").is_file(), "the column it can plot is plotted"


def test_a_sweeps_job_table_shows_the_validation_split_beside_the_test_split(tmp_path, tiny_data):
    """With dataset.val_size set, the split a user selects on was missing from the table."""
    proc, d = sweep(tmp_path, tiny_data, "-m", "activation=relu,tanh", "dataset.val_size=0.25", "model.width=8",
                    "trainer.epochs=2", "trainer.batch_size=32")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    md = (d / "report.md").read_text().split("## All jobs")[1]
    head, _, *rows = [ln for ln in md.splitlines() if ln.startswith("|")][: 2 + 2]
    cols = [c.strip() for c in head.strip("|").split("|")]
    assert cols[3:8] == ["train acc", "val acc", "best val acc", "test acc", "best test acc"]
    df = summary(d)
    for i, row in enumerate(rows):
        cells = [c.strip() for c in row.strip("|").split("|")]
        got = [float(cells[cols.index(c)]) for c in ("val acc", "best val acc", "test acc")]
        want = [100 * df.loc[i, c] for c in ("final_val_acc", "best_val_acc", "final_test_acc")]
        assert got == pytest.approx(want, abs=0.006), (got, want)


def test_diverged_job_is_recorded_with_its_own_exit_code(tmp_path):
    proc = run_dlrun(
        "-m",
        "dataset=function",
        "optimizer=sgd",
        "optimizer.lr=0.001,1000",
        "trainer.epochs=2",
        "dataset.n_train=128",
        "trainer.batch_size=16",
        f"hydra.sweep.dir={tmp_path / 's'}",
        cwd=tmp_path,
    )
    assert proc.returncode == 3, proc.stderr
    assert summary(tmp_path / "s")["status"].tolist() == ["ok", "diverged"]


def test_the_closing_lines_put_each_jobs_metric_in_one_column(capsys):
    from runner.sweep.callback import print_outcome

    rows = [
        {"job": 0, "status": "ok", "activation": "leaky_relu", "final_test_loss": 0.75},
        {"job": 1, "status": "ok", "activation": "relu", "final_test_loss": 0.82},
        {"job": 2, "status": "failed", "activation": "tanh", "final_test_loss": None},
    ]
    print_outcome({"rows": rows, "swept": ["activation"], "counts": {"ok": 2, "failed": 1},
                   "summary": "s.csv", "report": "r.html"})  # fmt: skip
    jobs = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  job")]
    assert [line.index("test_loss") for line in jobs[:2]] == [jobs[0].index("test_loss")] * 2
    assert jobs[1].startswith("  job   1  ok         activation=relu    ") and jobs[2].endswith("activation=tanh")
    print_outcome({"rows": rows[:1], "swept": [], "counts": {"ok": 1}, "summary": "s.csv", "report": "r.html"})
    assert "sweep finished: 1 job (1 ok)" in capsys.readouterr().out  # not "1 jobs"
    # gradient checks train nothing: their line showed no figure, now their largest error
    checks = [{"job": 0, "status": "ok", "activation": "relu", "gradcheck_max_rel_error": 6.446e-08},
              {"job": 1, "status": "failed", "activation": "tanh", "gradcheck_max_rel_error": ""}]  # fmt: skip
    print_outcome({"rows": checks, "swept": ["activation"], "counts": {"ok": 1, "failed": 1}, "summary": "s.csv",
                   "report": "r.html"})  # fmt: skip
    jobs = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  job")]
    assert jobs[0].endswith("activation=relu  max rel. error 6.45e-08") and jobs[1].endswith("activation=tanh")
    # with trainer.replicas, the spread over a job's copies stands beside its mean, as in the report
    copies = [{"job": 0, "status": "ok", "activation": "relu", "final_test_acc": 0.9551, "final_test_acc_std": 0.0097},
              {"job": 1, "status": "ok", "activation": "tanh", "final_test_acc": 0.9494, "final_test_acc_std": ""}]  # fmt: skip
    print_outcome({"rows": copies, "swept": ["activation"], "counts": {"ok": 2}, "summary": "s.csv",
                   "report": "r.html"})  # fmt: skip
    jobs = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  job")]
    assert jobs[0].endswith("test_acc 95.51 ± 0.97%") and jobs[1].endswith("test_acc 94.94%"), jobs
    losses = [{"job": 0, "status": "ok", "final_test_loss": 0.1234, "final_test_loss_std": 0.01}]
    print_outcome({"rows": losses, "swept": [], "counts": {"ok": 1}, "summary": "s.csv", "report": "r.html"})
    assert "test_loss 0.1234 ± 0.01" in capsys.readouterr().out


def test_pivot_of_a_two_way_sweep():
    df = pd.DataFrame(
        {
            "job": range(6),
            "activation": ["relu", "relu", "relu", "tanh", "tanh", "tanh"],
            "model.depth": [1, 2, 3, 1, 2, 3],
            "status": ["ok"] * 5 + ["failed"],
            "final_test_acc": [0.9, 0.8, 0.7, 0.85, 0.75, None],
            "final_train_acc": [0.95, 0.9, 0.8, 0.9, 0.8, None],
        }
    )
    t = pivot(df, "activation", "model.depth", "final_test_acc")
    assert t.shape == (2, 3)
    assert list(t.index) == ["relu", "tanh"] and list(t.columns) == [1, 2, 3]
    assert t.loc["relu", 3] == pytest.approx(0.7) and t.loc["tanh", 2] == pytest.approx(0.75)
    assert pd.isna(t.loc["tanh", 3]), "a failed job leaves its cell empty"
    lines = paper_table(df, "activation", "model.depth", "acc", "test")
    assert lines[0] == (
        "| activation | depth=1 test | depth=1 train | depth=2 test | depth=2 train | depth=3 test | depth=3 train |"
    )
    assert lines[2] == "| relu | 90.00 | 95.00 | 80.00 | 90.00 | 70.00 | 80.00 |"
    assert lines[3].endswith("| - | - |")
    # with replicas, each cell's spread over its job's copies (the jobs table showed it, this did not)
    copies = df.assign(final_test_acc_std=[0.01, 0.02, 0.03, 0.004, 0.005, None])
    lines = paper_table(copies, "activation", "model.depth", "acc", "test")
    assert lines[2] == "| relu | 90.00 ± 1.00 | 95.00 | 80.00 ± 2.00 | 90.00 | 70.00 ± 3.00 | 80.00 |", lines[2]
    assert lines[3].startswith("| tanh | 85.00 ± 0.40 | 90.00 | 75.00 ± 0.50 |") and lines[3].endswith("| - | - |")
    # cells that average seeds leave the spread to the seeds section
    seeds = pd.concat([copies.assign(seed=0), copies.assign(seed=1)])
    assert "±" not in "\n".join(paper_table(seeds, "activation", "model.depth", "acc", "test"))


PRESETS = [
    "activations",
    "activation_x_depth",
    "depth",
    "regularizers",
    "train_fraction",
    "optimizer_x_dropout",
    "batch_size",
    "width",
    "seeds",
    "depth_search",
    "remedies",
]


def sweep_params(*overrides) -> dict:
    """The sweeper params a preset hands Hydra, resolved; asserts the preset is a multirun."""
    from omegaconf import OmegaConf

    from runner.config.compose import compose

    c = compose(overrides, hydra_config=True)
    assert str(c.hydra.mode) == "RunMode.MULTIRUN"
    return OmegaConf.to_container(c.hydra.sweeper.params, resolve=True)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_sweep_preset_is_a_multirun_over_valid_values(preset):
    from runner.config.validate import validate

    params = sweep_params(f"sweep={preset}")
    assert params and all("," in v for v in params.values()), params
    assert compose(f"sweep={preset}").sweep.name.startswith(preset)
    for key, values in params.items():  # every job of the preset passes validation
        for value in values.split(","):
            validate(compose(f"sweep={preset}", f"{key}={value}"))


def test_preset_values_follow_their_knobs():
    assert sweep_params("sweep=depth") == {"model.depth": "1,2,3,4,5,6"}
    assert sweep_params("sweep=depth", "sweep.max_depth=3") == {"model.depth": "1,2,3"}
    assert sweep_params("sweep=seeds", "sweep.seeds=3") == {"seed": "0,1,2"}
    # with replicas the seeds are that far apart: no two jobs train a copy from the same seed
    assert sweep_params("sweep=seeds", "sweep.seeds=3", "trainer.replicas=4") == {"seed": "0,4,8"}
    assert sweep_params("sweep=activation_x_depth") == {"activation": "relu,sigmoid,tanh", "model.depth": "1,2,3"}
    assert len(sweep_params("sweep=width")["model.width"].split(",")) == 10
    assert sweep_params("sweep=depth_search")["model.depth"] == "1,2,4,6,8,12,16,24,32"
    assert sweep_params("sweep=depth_search", "sweep.depths=[3,5]")["model.depth"] == "3,5"
    assert len(sweep_params("sweep=batch_size")["trainer.batch_size"].split(",")) == 5


def test_depth_and_width_shortcuts_set_hidden():
    from runner.config.validate import prepare

    cfg = compose("model.depth=3", "model.width=64")
    prepare(cfg)
    assert list(cfg.model.hidden) == [64, 64, 64]
    cfg = compose("model.hidden=[32,16]", "model.depth=3")
    prepare(cfg)
    assert list(cfg.model.hidden) == [32, 32, 32]


def test_command_line_narrows_a_preset_and_joblib_runs_it(tmp_path, tiny_data):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    proc, d = sweep(
        tmp_path,
        tiny_data,
        "sweep=activations",
        "activation=relu,tanh",
        "model.hidden=[8]",
        "trainer.epochs=1",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
    )
    assert proc.returncode == 0, proc.stderr
    df = summary(d)
    assert df["activation"].tolist() == ["relu", "tanh"] and df["status"].eq("ok").all()
    assert (d / "report.html").is_file()


@pytest.mark.parametrize("swept,preset,n_jobs,started", [
    (["seed=0,1,2"], [], -1, 3),  # -1: one per core, 16 here
    (["seed=0,1,2"], [], -15, -15),  # joblib's count for -15 on 16 cores: 2, fewer than the jobs: as it was
    (["seed=0,1,2"], [], 2, 2),
    (["seed=0,1,2", "activation=relu,tanh"], [], 8, 6),
    (["seed=0,1,2,3"], ["hydra.sweeper.max_batch_size=2"], 4, 2),  # the basic sweeper's batches
    ([], ["hparams_search=mnist_optuna", "hydra.sweeper.n_jobs=2"], 8, 2),  # trials proposed at once
])  # fmt: skip
def test_joblib_starts_no_more_workers_than_jobs_run_at_once(monkeypatch, swept, preset, n_jobs, started):
    """joblib starts n_jobs workers whatever the sweep; one that never got a job cannot take a stop
    (tests/test_faults.py), and each imports torch for nothing."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    from omegaconf import open_dict, read_write

    from runner.config.compose import compose as compose_config
    from runner.sweep import workers

    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    c = compose_config([*preset, "hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}"], hydra_config=True)
    with read_write(c.hydra), open_dict(c.hydra):
        c.hydra.overrides.task = swept  # as the command line gives them to a multirun
    workers.fit_pool(c)
    assert c.hydra.launcher.n_jobs == started


@pytest.mark.slow
def test_submitit_local_launcher(tmp_path, tiny_data):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    proc, d = sweep(
        tmp_path,
        tiny_data,
        "-m",
        "seed=0,1",
        "model.hidden=[8]",
        "trainer.epochs=1",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
    )
    assert proc.returncode == 0, proc.stderr
    df = summary(d)
    assert df["seed"].tolist() == [0, 1] and df["status"].eq("ok").all()


def test_runs_and_sweeps_started_together_never_share_a_folder(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    single = ["dataset=function", "trainer.epochs=1", "dataset.n_train=64", "trainer.progress=quiet"]
    procs = [
        subprocess.Popen(dlrun_cmd() + single, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    procs += [
        subprocess.Popen(
            dlrun_cmd() + ["-m", "seed=0"] + single,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for p in procs:
        p.wait(timeout=300)
        assert p.returncode == 0, p.stderr.read().decode()
    runs = list((tmp_path / "outputs" / "runs").glob("*/*"))
    sweeps = list((tmp_path / "outputs" / "sweeps").glob("*/*"))
    assert len(runs) == 2 and len(sweeps) == 2
    assert all((r / "DONE").is_file() for r in runs)


def test_make_report_rerenders_and_rejects_other_folders(tmp_path, tiny_data):
    proc, d = sweep(tmp_path, tiny_data, "-m", "seed=0,1", "model.hidden=[8]", "trainer.epochs=1")
    assert proc.returncode == 0
    for f in ("summary.csv", "report.md", "report.html"):
        (d / f).unlink()
    import sys

    r = subprocess.run([sys.executable, "-m", "runner.report", str(d)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(summary(d)) == 2 and (d / "report.html").is_file()
    assert "over seeds" in (d / "report.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "runner.report", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1

    job = sorted(d.glob("1_*"))[0]
    (job / ".hydra" / "overrides.yaml").write_text("- seed=1\n- [model.hidden\n")  # a damaged job folder
    bad = subprocess.run([sys.executable, "-m", "runner.report", str(d)], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr == (
        f"report: error: {job / '.hydra' / 'overrides.yaml'}: not a readable list of Hydra overrides "
        "(line 3, column 1: expected ',' or ']', but got '<stream end>')\n"
    )


def test_remedies_apply_their_fix():
    from runner.config.validate import prepare

    base = ("activation=sigmoid", "model.depth=8", "model.width=64")
    cfgs = {r: compose(*base, f"remedy={r}") for r in ("none", "relu", "leaky_relu", "batchnorm", "xavier", "kaiming")}
    for cfg in cfgs.values():
        prepare(cfg)
    assert cfgs["none"].activation.name == "sigmoid" and not cfgs["none"].regularizer.batchnorm
    assert cfgs["relu"].activation.name == "relu" and cfgs["leaky_relu"].activation.name == "leaky_relu"
    assert cfgs["batchnorm"].regularizer.batchnorm and cfgs["batchnorm"].activation.name == "sigmoid"
    assert cfgs["xavier"].init.name == "xavier" and cfgs["kaiming"].init.name == "kaiming"
    assert all(list(c.model.hidden) == [64] * 8 for c in cfgs.values())


def test_vanishing_by_depth_table():
    from runner.report.sweep_tables import vanishing_by_depth

    df = pd.DataFrame(
        {
            "activation": ["sigmoid"] * 3 + ["relu"] * 3,
            "model.depth": [2, 4, 6] * 2,
            "vanishing_gradients": [False, True, True, False, False, False],
            "grad_ratio": [0.3, 1e-4, 1e-6, 0.5, 0.5, 0.4],
        }
    )
    lines = vanishing_by_depth(df, ["activation", "model.depth"])
    assert lines[0] == "| activation | depth=2 | depth=4 | depth=6 | first vanishing depth |"
    assert lines[2] == "| sigmoid | no (3.0e-01) | **yes** (1.0e-04) | **yes** (1.0e-06) | 4 |"
    assert lines[3].endswith("| none up to 6 |")
    assert vanishing_by_depth(df, ["activation"]) == []
    # a dead job (no gradient at all) is told apart from both verdicts, and is not the first vanishing depth
    df["dead_from_epoch"] = [None, None, None, None, None, 2]
    df["vanishing_gradients"] = df["vanishing_gradients"].astype(object)
    df.loc[5, ["vanishing_gradients", "grad_ratio"]] = None
    lines = vanishing_by_depth(df, ["activation", "model.depth"])
    assert lines[3] == "| relu | no (5.0e-01) | no (5.0e-01) | **dead** (epoch 2 on) | none up to 6 |"
    only_dead = pd.DataFrame({"model.depth": [2, 4], "dead_from_epoch": [None, 1]})
    assert vanishing_by_depth(only_dead, ["model.depth"])[2] == "| all | - | **dead** (epoch 1 on) | none up to 4 |"


def test_the_job_table_shows_a_dead_job_beside_the_vanishing_verdicts():
    from runner.report.sweep_report import _summary_table

    df = pd.DataFrame({"job": [0, 1, 2], "model.depth": [2, 4, 8], "status": ["ok"] * 3,
                       "final_train_loss": [0.1, 0.2, 3.9], "final_test_loss": [0.1, 0.2, 3.9],
                       "vanishing_gradients": [False, True, None], "grad_ratio": [0.3, 1e-5, None],
                       "dead_from_epoch": [None, None, 3.0]})  # fmt: skip
    lines = _summary_table(df, ["model.depth"], "test", "loss")
    cells = [line.strip("| ").split(" | ") for line in lines]
    vanishing = cells[0].index("vanishing")
    assert [c[vanishing] for c in cells[2:]] == ["no", "**yes**", "**dead** (epoch 3 on)"]


def _job_dir(d, num: int):
    return next(p for p in d.iterdir() if p.name.startswith(f"{num}_"))


@pytest.mark.parametrize("workers", [0, 2])
def test_plots_render_in_workers_while_the_next_job_trains(tmp_path, tiny_data, workers):
    proc, d = sweep(tmp_path, tiny_data, *SWEEP_ARGS, f"sweep.render_workers={workers}")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    df = summary(d)
    assert df["status"].eq("ok").all() and len(df) == 4
    for num in range(4):
        job = _job_dir(d, num)
        assert (job / "DONE").read_text().startswith("ok")
        for name in ("curves", "confusion_test", "confusion_train"):
            assert (job / "plots" / f"{name}.png").stat().st_size > 5000, (num, name)
        assert "curves.png" in (job / "report.md").read_text()
    # Inline, job 0 is complete before job 1 starts; with workers, job 1 starts while the
    # worker (a fresh process that first imports matplotlib) is still drawing job 0's plots.
    done0 = (_job_dir(d, 0) / "DONE").stat().st_mtime_ns
    started1 = (_job_dir(d, 1) / "config.yaml").stat().st_mtime_ns
    assert (done0 > started1) == (workers > 0)


def _unfinished_copy(tmp_path, tiny_data):
    """A trained run with its plots, report and DONE taken away, as a job hands it to the pool."""
    import shutil

    from conftest import train

    _, run_dir = train(tmp_path, f"data_dir={tiny_data}", "model.hidden=[8]", "trainer.epochs=2")
    for name in ("DONE", "report.md", "report.html"):
        (run_dir / name).unlink()
    shutil.rmtree(run_dir / "plots")
    return run_dir


def test_background_finish_writes_done_last_and_records_failures(tmp_path, tiny_data):
    import json

    from runner.report import finish

    good = _unfinished_copy(tmp_path / "a", tiny_data)
    bad = _unfinished_copy(tmp_path / "b", tiny_data)
    (bad / "plots").write_text("a file where the plots folder goes")
    ended = []  # then(): the loggers' end, in this process, once each run's files are final
    then = lambda run: lambda: ended.append((run, json.loads((run / "summary.json").read_text())["status"]))  # noqa: E731
    finish.submit(good, "ok", workers=1, label="job 0: ", then=then(good))
    finish._pending[0][2].result(timeout=120)  # the first worker is done ...
    finish.submit(bad, "ok", workers=1, label="job 1: ", then=then(bad))
    assert ended == [(good, "ok")], "... so the next submit ends its run, not the sweep's end"
    assert finish.wait_all() == 1 and finish.pending() == 0
    assert ended == [(good, "ok"), (bad, "failed")]
    assert (good / "DONE").read_text().startswith("ok")
    assert (good / "plots" / "curves.png").stat().st_size > 5000 and (good / "report.html").is_file()
    assert not (bad / "DONE").exists(), "a run whose plots failed must not look finished"
    s = json.loads((bad / "summary.json").read_text())
    assert s["status"] == "failed" and s["error"].startswith("rendering the plots and report: ")
    assert "Traceback" in (bad / "error.txt").read_text()


@pytest.mark.skipif(os.name != "posix", reason="a timer signal stands in for the second Ctrl-C")
def test_a_second_ctrl_c_abandons_pending_plots_and_ends_their_runs_interrupted(tmp_path, tiny_data):
    import json
    import signal

    from runner.report import finish

    run = _unfinished_copy(tmp_path, tiny_data)
    ended = []
    finish.submit(run, "ok", workers=1, label="job 0: ",
                  then=lambda: ended.append(json.loads((run / "summary.json").read_text())["status"]))  # fmt: skip

    def second_ctrl_c(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, second_ctrl_c)
    signal.setitimer(signal.ITIMER_REAL, 0.2)  # the worker is still starting (it imports matplotlib)
    try:
        finish.after_interrupt()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert finish.pending() == 0 and finish._pool is None
    assert not (run / "DONE").exists() and not (run / "report.md").exists(), "left for the next run to draw"
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert ended == ["interrupted"], "the job's loggers end (MLflow: KILLED) instead of staying open"


def test_the_line_on_plots_left_to_finish_says_ctrl_c_again_only_after_a_ctrl_c(monkeypatch, capsys):
    """A full disk (or SIGTERM) stopping a sweep with render workers busy said 'Ctrl-C again':
    nobody had pressed it."""
    from runner import cli
    from runner.report import finish

    monkeypatch.setattr(finish, "_pending", ["job"])
    monkeypatch.setattr(finish, "wait_all", lambda: None)
    cli._finish_pending_plots(ctrl_c=False)
    line = capsys.readouterr().err
    assert "finishing the plots of 1 job(s)" in line and "(Ctrl-C to leave them for the next run)" in line, line
    cli._finish_pending_plots(ctrl_c=True)
    assert "(Ctrl-C again to leave them" in capsys.readouterr().err


def test_a_signal_while_the_sweep_report_is_drawn_ends_the_loggers_sweep_run(tmp_path, monkeypatch):
    import signal

    from omegaconf import OmegaConf

    from runner import signals
    from runner.loggers import Loggers
    from runner.report import sweep_report
    from runner.sweep import callback, state

    cfg = compose()
    OmegaConf.set_struct(cfg, False)
    cfg.hydra = {"sweep": {"dir": str(tmp_path)}}
    stopped = []
    monkeypatch.setattr(Loggers, "sweep_stopped", lambda self, d: stopped.append(d))

    def sigterm_now(sweep_dir):
        raise signals.Interrupted(signal.SIGTERM)

    monkeypatch.setattr(sweep_report, "render_sweep", sigterm_now)
    monkeypatch.setattr(state, "running", tmp_path)  # as on_multirun_start leaves them
    monkeypatch.setattr(state, "running_config", cfg)
    with pytest.raises(signals.Interrupted):
        callback.SweepReport().on_multirun_end(cfg)
    assert state.running == tmp_path, "kept for dlrun's line (how to resume) and for the loggers"
    callback.sweep_stopped()  # what dlrun does with any stop of a multirun
    assert stopped == [tmp_path], "the loggers' sweep run ends as stopped (MLflow: KILLED)"


@pytest.mark.skipif(os.name != "posix", reason="a stop signal's path")
def test_a_stop_before_the_sweeps_end_callback_still_ends_its_mlflow_sweep_run_killed(tmp_path):
    """A signal that lands after the last job and before the callback that ends the sweep (a few
    milliseconds): simulated by a callback that raises as it starts."""
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    import sys

    from mlflow.tracking import MlflowClient

    db, d = tmp_path / "mlflow.db", tmp_path / "s"
    args = ["-m", "dataset=function", "trainer.epochs=1", "dataset.n_train=64", "seed=0,1", "logger=mlflow",
            f"logger.mlflow.tracking_uri=sqlite:///{db}", "logger.mlflow.artifacts=false", f"hydra.sweep.dir={d}"]  # fmt: skip
    script = (
        "import signal, sys\n"
        "from runner import signals\n"
        "from runner.sweep.callback import SweepReport\n"
        "def stop(self, config, **kwargs):\n"
        "    raise signals.Interrupted(signal.SIGTERM)\n"
        "SweepReport.on_multirun_end = stop\n"
        "from runner.cli import main\n"
        "sys.argv = ['dlrun', *sys.argv[1:]]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, *args], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 143, proc.stderr
    assert f"run the same command with hydra.sweep.dir={d} to resume" in proc.stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    runs = client.search_runs([client.get_experiment_by_name("dlrun").experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.info.status == "KILLED", "it stayed RUNNING until the sweep was run again"
    assert sorted(r.info.status for r in runs if r is not parent) == ["FINISHED", "FINISHED"]


@pytest.mark.skipif(os.name != "posix", reason="sends SIGTERM")
def test_a_sweep_stopped_after_its_last_job_says_how_to_resume_and_the_rerun_writes_the_report(tmp_path):
    import signal

    d = tmp_path / "s"
    args = ["-m", "dataset=function", "trainer.epochs=1", "trainer.progress=plain", f"hydra.sweep.dir={d}",
            "sweep.render_workers=0"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(dlrun_cmd() + args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    for line in proc.stdout:
        if line.startswith("[job 0] files:"):  # the job is done; the sweep's end (its report) is next
            proc.send_signal(signal.SIGTERM)
            break
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, out
    assert f"dlrun: stopped by SIGTERM; run the same command with hydra.sweep.dir={d} to resume" in out
    assert "Traceback" not in out and not (d / "summary.csv").exists()
    again = run_dlrun(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "finished earlier (ok), skipped" in again.stdout and (d / "summary.csv").is_file()


def test_render_workers_is_validated(tmp_path):
    proc = run_dlrun("sweep.render_workers=-2", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "dlrun: error: sweep.render_workers: expected an integer >= 0, or -1 for automatic, got -2"
    )


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a process group")
def test_ctrl_c_stops_the_sweep_and_finishes_what_had_trained(tmp_path):
    import signal

    d = tmp_path / "sweep"
    cmd = dlrun_cmd() + [
        "-m",
        "dataset=function",
        "activation=relu,tanh,sigmoid",
        "trainer.epochs=2",
        "trainer.progress=plain",
        f"hydra.sweep.dir={d}",
        "sweep.render_workers=1",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )  # its own group: the terminal's Ctrl-C reaches every process
    for line in proc.stdout:
        if line.startswith("[job 1] run dir"):
            os.killpg(proc.pid, signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "finishing the plots of 1 job(s)" in err
    assert (_job_dir(d, 0) / "DONE").read_text().startswith("ok"), "job 0 had trained: its plots were finished"
    assert (_job_dir(d, 0) / "plots" / "curves.png").is_file()
    assert not (_job_dir(d, 1) / "DONE").exists(), "the interrupted job is left to rerun"
    assert not list(tmp_path.glob("sweep/2_*")), "nothing after the interrupt started"


def _covered(ax, legend) -> int:
    """How many of the axes' drawn line pixels (points every pixel along each segment, as drawn)
    fall inside its legend's box."""
    if legend is None:
        return 0
    box, hidden = legend.get_window_extent(), 0
    for line in ax.get_lines():
        px = ax.transData.transform(line.get_xydata())
        for a, b in zip(px[:-1], px[1:]):
            p = a + (b - a) * np.linspace(0, 1, max(2, int(np.hypot(*(b - a)))))[:, None]
            hidden += int(((p[:, 0] > box.x0) & (p[:, 0] < box.x1) & (p[:, 1] > box.y0) & (p[:, 1] < box.y1)).sum())
    return hidden


def _sweep_figures(tmp_path, monkeypatch, values, losses=0.5, metrics_of=None) -> dict:
    """plot_final's and plot_curves's figures for a sweep of optimizer.lr over `values`, each
    read before it is closed: its x tick labels, x scale, width, legend entries, axes, and how
    many curve pixels its legend covers. `metrics_of(i)`: job i's metrics.csv columns."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import sweep_plots

    figures = {}

    def keep(fig, path):
        ax = fig.axes[0]
        legend = ax.get_legend()
        figures[path.stem] = {
            "ticks": [t.get_text() for t in ax.get_xticklabels()],
            "scale": ax.get_xscale(),
            "yscale": ax.get_yscale(),
            "ylabel": ax.get_ylabel(),
            "width": fig.get_size_inches()[0],
            "legend": [t.get_text() for t in legend.get_texts()] if legend else [],
            "axes": len(fig.axes),  # a colour bar is an axes of its own
            "covered": _covered(ax, legend),
        }
        plt.close(fig)
        return path

    monkeypatch.setattr(sweep_plots, "save", keep)
    for i in range(len(values)):
        (tmp_path / f"j{i}").mkdir(exist_ok=True)
        metrics = metrics_of(i) if metrics_of else {"epoch": [1, 2], "train_loss": [1.0, 0.5], "test_loss": [0.9, 0.6]}
        pd.DataFrame(metrics).to_csv(tmp_path / f"j{i}" / "metrics.csv", index=False)
    df = pd.DataFrame({"optimizer.lr": values, "status": "ok", "final_test_loss": losses, "final_train_loss": 0.4})
    df["dir"], df["job"] = [f"j{i}" for i in range(len(values))], range(len(values))
    sweep_plots.plot_final(df, ["optimizer.lr"], tmp_path, "test", "loss", "t")
    sweep_plots.plot_curves(df, ["optimizer.lr"], tmp_path, "loss", "t")
    if metrics_of and "train_acc" in metrics_of(0):
        sweep_plots.plot_curves(df, ["optimizer.lr"], tmp_path, "acc", "t")
    return figures


def test_sweep_curves_average_seeds_swept_beside_another_key_with_their_spread_shaded(tmp_path, monkeypatch):
    """activation x 3 seeds drew six curves a panel named 'seed=0, activation=relu', ...: seeds are
    repeats, so the curves are each activation's mean over its seeds, ±1 std shaded."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import sweep_plots

    figures = {}

    def keep(fig, path):
        ax = fig.axes[0]
        figures[path.stem] = {"legend": [t.get_text() for t in ax.get_legend().get_texts()], "title": fig._suptitle.get_text(),
                              "lines": {(ln.get_label(), ln.get_linestyle()): list(ln.get_ydata()) for ln in ax.lines},
                              "bands": [c.get_paths()[0].vertices[:, 1] for c in ax.collections]}  # fmt: skip
        plt.close(fig)
        return path

    monkeypatch.setattr(sweep_plots, "save", keep)
    test = {("relu", 0): [0.5, 0.7], ("relu", 1): [0.6, 0.8], ("relu", 2): [0.7, 0.9], ("tanh", 0): [0.4, 0.5],
            ("tanh", 1): [0.4, 0.5], ("tanh", 2): [0.4, 0.5]}  # fmt: skip
    rows = []
    for i, ((act, seed), acc) in enumerate(test.items()):
        (tmp_path / f"j{i}").mkdir()
        pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "train_acc": [0.3, 0.6], "test_loss": [0.9, 0.6],
                      "test_acc": acc}).to_csv(tmp_path / f"j{i}" / "metrics.csv", index=False)  # fmt: skip
        rows.append({"job": i, "seed": seed, "activation": act, "status": "ok", "dir": f"j{i}"})
    df = pd.DataFrame(rows)
    sweep_plots.plot_curves(df, ["seed", "activation"], tmp_path, "acc", "t")
    fig = figures["curves_acc"]
    assert fig["legend"] == ["activation=relu", "activation=tanh"]
    assert fig["lines"][("activation=relu", "-")] == pytest.approx([60.0, 80.0])  # the seeds' mean
    assert "mean of 3 seeds, band: ±1 std over them" in fig["title"]
    relu_test = [b for b in fig["bands"] if b.max() > 85]  # mean 80 + std 10 at epoch 2
    assert len(relu_test) == 1 and relu_test[0].min() == pytest.approx(50.0)  # 60 - 10 at epoch 1
    sweep_plots.plot_curves(df[df["seed"] == 0], ["activation"], tmp_path, "acc", "t")  # no seeds: no band, as before
    assert figures["curves_acc"]["bands"] == [] and "mean of" not in figures["curves_acc"]["title"]
    # replicated jobs: every copy is a run of its own seed, pooled as in the seeds table (not the jobs' means)
    for i, accs in enumerate(([0.5, 0.9], [0.6, 0.6])):
        pd.DataFrame({"epoch": [1, 1], "replica": [0, 1], "train_loss": [1.0, 1.0], "train_acc": [0.3, 0.3],
                      "test_loss": [0.9, 0.9], "test_acc": accs}).to_csv(tmp_path / f"j{i}" / "metrics.csv", index=False)  # fmt: skip
    sweep_plots.plot_curves(df.iloc[:2], ["seed", "activation"], tmp_path, "acc", "t")
    assert "mean of 4 seeds" in figures["curves_acc"]["title"]
    assert figures["curves_acc"]["lines"][("activation=relu", "-")] == pytest.approx([65.0])


def test_seed_averaged_curves_end_their_mean_of_every_seed_where_one_stopped_early(tmp_path, monkeypatch):
    """Three seeds, two stopped early at epochs 2 and 3: the mean went on over the seeds still
    training (it jumped where one left, its band vanished with the second), drawn as if of all
    three. The mean of all three ends at epoch 2; after it a faint line says fewer seeds."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import sweep_plots

    figures = {}

    def keep(fig, path):
        ax = fig.axes[0]
        figures[path.stem] = {"title": fig._suptitle.get_text(),
                              "lines": [(ln.get_label(), ln.get_linestyle(), ln.get_alpha(), list(ln.get_xdata()),
                                         list(ln.get_ydata())) for ln in ax.lines],
                              "bands": [c.get_paths()[0].vertices[:, 0] for c in ax.collections]}  # fmt: skip
        plt.close(fig)
        return path

    monkeypatch.setattr(sweep_plots, "save", keep)
    losses = [[1.0, 0.5], [1.2, 0.7, 0.6], [1.4, 0.9, 0.8, 0.7]]  # seed 0 stopped after 2 epochs, seed 1 after 3
    rows = []
    for i, test in enumerate(losses):
        (tmp_path / f"j{i}").mkdir()
        epochs = list(range(1, len(test) + 1))
        pd.DataFrame({"epoch": epochs, "train_loss": test, "test_loss": test}).to_csv(tmp_path / f"j{i}" / "metrics.csv",
                                                                                      index=False)  # fmt: skip
        rows.append({"job": i, "seed": i, "activation": "relu", "status": "ok", "dir": f"j{i}"})
    sweep_plots.plot_curves(pd.DataFrame(rows), ["seed", "activation"], tmp_path, "loss", "t")
    fig = figures["curves_loss"]
    (solid,) = [ln for ln in fig["lines"] if ln[1] == "-" and ln[2] is None]
    assert solid[0] == "activation=relu" and solid[3] == [1, 2] and solid[4] == pytest.approx([1.2, 0.7])
    (faint,) = [ln for ln in fig["lines"] if ln[1] == "-" and ln[2] is not None]
    assert faint[3] == [2, 3, 4] and faint[4] == pytest.approx([0.7, 0.7, 0.7])  # from the last mean of all three
    assert all(band.max() <= 2 for band in fig["bands"])  # the ±1 std band only where all three ran
    assert "mean of 3 seeds" in fig["title"] and "faint: fewer seeds, some stopped early" in fig["title"]
    sweep_plots.plot_curves(pd.DataFrame(rows[1:2]), ["seed", "activation"], tmp_path, "loss", "t")
    assert "faint" not in figures["curves_loss"]["title"]  # one seed: nothing thins out


def test_final_losses_get_a_log_axis_only_where_they_span_decades(tmp_path, monkeypatch):
    """Losses of 0.4 to 4.6 on a log axis made a 1.6x gap look 5x: bars lose their zero baseline."""
    close = _sweep_figures(tmp_path, monkeypatch, ["a", "b", "c"], losses=[2.9, 3.9, 4.6])["final_test_loss"]
    assert close["yscale"] == "linear" and close["ylabel"] == "final loss"
    apart = _sweep_figures(tmp_path, monkeypatch, ["a", "b", "c"], losses=[0.01, 0.3, 2.0])["final_test_loss"]
    assert apart["yscale"] == "log" and apart["ylabel"] == "final loss (log scale)"


def test_a_grid_gets_a_tick_per_value_and_a_search_gets_readable_ticks(tmp_path, monkeypatch):
    grid = _sweep_figures(tmp_path, monkeypatch, [32, 128, 512, 1024, 2048])
    assert grid["final_test_loss"]["ticks"] == ["32", "128", "512", "1024", "2048"]
    assert grid["final_test_loss"]["scale"] == "log"
    assert grid["curves_loss"]["legend"] == ["lr=32", "lr=128", "lr=512", "lr=1024", "lr=2048"]
    drawn = [float(v) for v in np.random.default_rng(0).uniform(1e-3, 9e-3, 40)]  # an Optuna search
    search = _sweep_figures(tmp_path, monkeypatch, drawn)
    final, curves = search["final_test_loss"], search["curves_loss"]
    assert not set(final["ticks"]) & {str(v) for v in drawn}, "no drawn value as a tick label"
    assert final["width"] <= 7, "a line plot does not widen with the number of trials"
    assert curves["legend"] == [] and curves["axes"] == 2, "40 trials: a colour bar, not a 40-entry legend"
    few = _sweep_figures(tmp_path, monkeypatch, drawn[:3])["curves_loss"]["legend"]
    assert few == [f"lr={v:.4g}" for v in drawn[:3]], "a drawn value is labelled to 4 digits"


def test_the_legend_of_a_sweeps_curves_covers_none_of_them(tmp_path, monkeypatch):
    """Eleven jobs (params_vs_generalization) put an eleven-entry legend over the middle of the
    curves, and four jobs of two epochs (reproduce/r3's scratch part) one over their first points."""
    falling = _sweep_figures(tmp_path, monkeypatch, [f"v{i}" for i in range(11)],
                             metrics_of=lambda i: {"epoch": [1, 2], "train_loss": [2.4 - 0.01 * i, 2.3 - 0.04 * i],
                                                   "test_loss": [2.35 - 0.02 * i, 2.33 - 0.04 * i]})  # fmt: skip
    assert len(falling["curves_loss"]["legend"]) == 11 and falling["curves_loss"]["covered"] == 0
    r3 = [(0.3305, 0.5125, 0.456, 0.57), (0.282, 0.5075, 0.462, 0.59), (0.229, 0.3605, 0.402, 0.516),
          (0.203, 0.243, 0.368, 0.384)]  # train and test accuracy after epochs 1 and 2  # fmt: skip
    scratch = _sweep_figures(tmp_path, monkeypatch, ["numpy_sgd", "torch_sgd", "torch_sgd_dropout", "torch_adam"],
                             metrics_of=lambda i: {"epoch": [1, 2], "train_loss": [2.2, 2.0], "test_loss": [2.1, 1.9],
                                                   "train_acc": r3[i][:2], "test_acc": r3[i][2:]})  # fmt: skip
    assert len(scratch["curves_acc"]["legend"]) == 4 and scratch["curves_acc"]["covered"] == 0


def test_seeds_beside_another_key_are_averaged_with_their_spread_as_error_bars(tmp_path, monkeypatch):
    """A sweep of activation x seed drew accuracy against seed 0, 1, 2 as joined lines, and a
    heatmap and a two-way table of activation by seed: seeds are repeats, not an axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import sweep_plots

    figures = {}

    def keep(fig, path):
        ax = fig.axes[0]
        bars = [p for p in ax.patches if p.get_hatch() is None]  # the held-out split's bars
        lines = [c for c in ax.collections if c.get_segments()]  # error bars
        fig.canvas.draw()  # places on the page, in pixels: a bar's figure must clear its error bar
        label_y = {round(getattr(t, "xy", t.get_position())[0], 6): t.get_window_extent().y0 for t in ax.texts}
        box = ax.get_legend().get_window_extent() if ax.get_legend() else None
        figures[path.stem] = {"xlabel": ax.get_xlabel(), "ticks": [t.get_text() for t in ax.get_xticklabels()],
                              "heights": [round(b.get_height(), 6) for b in bars], "title": ax.get_title(),
                              "errors": [round(abs(s[1][1] - s[0][1]) / 2, 6) for c in lines for s in c.get_segments()],
                              "gaps": [label_y[round(s[0][0], 6)] - ax.transData.transform((s[0][0], s[:, 1].max()))[1]
                                       for c in lines for s in c.get_segments()],
                              "covered": sum(box is not None and box.overlaps(p.get_window_extent()) for p in ax.patches)}  # fmt: skip
        plt.close(fig)
        return path

    monkeypatch.setattr(sweep_plots, "save", keep)
    acc = {"relu": [0.60, 0.61, 0.62], "tanh": [0.70, 0.73, 0.76]}
    train = {"relu": [0.80, 0.82, 0.84], "tanh": [0.9, 0.9, 0.9]}
    df = pd.DataFrame([{"activation": a, "seed": s, "status": "ok", "final_test_acc": v,
                        "final_train_acc": train[a][s]} for a, vs in acc.items() for s, v in enumerate(vs)])  # fmt: skip
    sweep_plots.plot_final(df, ["activation", "seed"], tmp_path, "test", "acc", "t")
    final = figures["final_test_acc"]
    assert final["xlabel"] == "activation" and final["ticks"] == ["relu", "tanh"]
    assert final["heights"] == [61.0, 73.0]
    # std over seeds, test's bars then train's: the train bars are means of the seeds too (they had none)
    assert final["errors"] == pytest.approx([1.0, 3.0, 2.0, 0.0])
    assert "mean of 3 seeds, error bars: ±1 std over them" in final["title"]
    assert len(final["gaps"]) == 4 and min(final["gaps"]) > 1  # each bar's figure stands above its error bar
    tall = pd.DataFrame([{"activation": a, "model.depth": d, "seed": s, "status": "ok", "final_test_acc": 0.9 + s / 100,
                          "final_train_acc": 0.95} for a in ("relu", "tanh") for d in (1, 2) for s in (0, 1)])  # fmt: skip
    sweep_plots.plot_final(tall, ["activation", "model.depth", "seed"], tmp_path, "test", "acc", "t")
    assert figures["final_test_acc"]["covered"] == 0  # bars up to 91% fill the axes: the legend hides none
    assert sweep_plots.plot_heatmap(df, ["activation", "seed"], tmp_path, "test", "acc", "t") is None
    df3 = pd.concat([df.assign(**{"model.depth": d}) for d in (1, 2)], ignore_index=True)
    assert sweep_plots.plot_heatmap(df3, ["activation", "model.depth", "seed"], tmp_path, "test", "acc", "t")
    assert "(mean of 3 seeds)" in figures["heatmap_test_acc"]["title"]
    # a cell of a replicated sweep is the mean of its job's copies: the title says so
    two_way = df3[df3["seed"] == 0]
    sweep_plots.plot_heatmap(two_way.assign(replicas=3), ["activation", "model.depth"], tmp_path, "test", "acc", "t")
    assert figures["heatmap_test_acc"]["title"].endswith("final test accuracy (%) (mean of each job's 3 replicas)")
    sweep_plots.plot_heatmap(two_way, ["activation", "model.depth"], tmp_path, "test", "acc", "t")
    assert figures["heatmap_test_acc"]["title"].endswith("final test accuracy (%)")
    sweep_plots.plot_final(df.assign(seed=0), ["seed"], tmp_path, "test", "acc", "t")  # seeds alone: their own axis
    assert figures["final_test_acc"]["xlabel"] == "seed"
    sweep_plots.plot_final(df, ["activation", "seed"], tmp_path, "test", "acc", "t", x="seed")  # asked for
    asked = figures["final_test_acc"]
    assert asked["xlabel"] == "seed" and asked["ticks"] == ["0", "1", "2"] and "std" not in asked["title"]
    copies = df[df["seed"] == 0].assign(final_test_acc_std=[0.01, 0.02], final_train_acc_std=[0.03, 0.04])
    sweep_plots.plot_final(copies, ["activation"], tmp_path, "test", "acc", "t")  # replicas: both splits' spread
    assert figures["final_test_acc"]["errors"] == pytest.approx([1.0, 2.0, 3.0, 4.0])


def test_a_sweep_report_of_seeds_and_another_key_tables_and_draws_that_key_only(tmp_path, tiny_data):
    proc, d = sweep(
        tmp_path, tiny_data, "-m", "activation=relu,tanh", "seed=0,1", "model.hidden=[8]", "trainer.epochs=1"
    )
    assert proc.returncode == 0, proc.stderr
    md = (d / "report.md").read_text()
    assert "activation by seed" not in md and "over seeds (mean ± std)" in md
    assert (d / "plots" / "final_test_acc.png").is_file() and not (d / "plots" / "heatmap_test_acc.png").exists()
    stale = d / "plots" / "heatmap_test_acc.png"  # an earlier render's plot of other axes
    stale.write_bytes(b"")
    import sys

    r = subprocess.run([sys.executable, "-m", "runner.report", str(d)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and (d / "plots" / "final_test_acc.png").is_file()


def test_the_seeds_table_spells_an_integer_key_as_an_integer(tmp_path):
    """Each row of the table went through one float Series: `| 16.0 | ...` for model.width=16."""
    from runner.report.sweep_report import _seed_section

    df = pd.DataFrame({"model.width": [16, 16, 64, 64], "seed": [0, 1, 0, 1], "status": "ok",
                       "final_test_acc": [0.30, 0.36, 0.50, 0.56]})  # fmt: skip
    lines = _seed_section(df, ["model.width", "seed"], "test", "acc", tmp_path)
    assert lines[2:6] == ["| width | mean | std | runs |", "|---|---|---|---|", "| 16 | 33.000 | 4.243 | 2 |",
                          "| 64 | 53.000 | 4.243 | 2 |"]  # fmt: skip
    # a regression's losses keep their significant digits (a fit's MSE read 0.000 ± 0.000)
    fits = pd.DataFrame({"model.width": [16, 16, 64], "seed": [0, 1, 0], "status": "ok",
                         "final_test_loss": [1.2e-5, 1.6e-5, 0.25]})  # fmt: skip
    lines = _seed_section(fits, ["model.width", "seed"], "test", "loss", tmp_path)
    assert lines[4:6] == ["| 16 | 1.4e-05 | 2.828e-06 | 2 |", "| 64 | 0.25 | - | 1 |"]
    lone = _seed_section(df.iloc[:3], ["model.width", "seed"], "test", "acc", tmp_path)
    assert lone[5] == "| 64 | 50.000 | - | 1 |", lone


@pytest.mark.parametrize("engine", ["engine=torch", "engine=numpy optimizer=sgd"])
def test_a_runs_clock_starts_after_torchs_one_off_imports(tmp_path, engine):
    """A sweep's first job was charged 1.1 s more than the others (seconds 1.17 vs 0.07 for
    identical jobs): the first optimizer built imports torch._dynamo; the NumPy engine imported
    the torch engine's module inside its clock (1.5 s vs 0.2 s). What a run imports once its
    clock runs must be nothing heavy, so jobs' seconds compare."""
    code = """
import sys, time
from runner.config.compose import compose
from runner.config.validate import prepare
from runner.train import run
cfg = compose(["dataset=function", "trainer.epochs=1", "trainer.progress=quiet", "trainer.checkpoint_every=0",
               *sys.argv[2].split()])
prepare(cfg)
seen = []
clock = time.perf_counter
def spy():
    seen.append(set(sys.modules))
    return clock()
run.time.perf_counter = spy
run.run_training(cfg, __import__("pathlib").Path(sys.argv[1]), finish=lambda *a: None)
late = sorted(m for m in set(sys.modules) - seen[0] if m.startswith("torch"))
print("LATE", len(late), late[:5])
"""
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run"), engine], capture_output=True, text=True,
                         timeout=300, env=dlrun_env())  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    late = next(line for line in out.stdout.splitlines() if line.startswith("LATE"))
    assert int(late.split()[1]) < 20, late


def test_long_names_under_bars_and_confusion_matrices_slant_and_short_ones_stay_level(tmp_path, monkeypatch):
    """experiment=scratch_mnist's bar chart overprinted torch_sgd_dropout and torch_adam_dropout."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import sweep_plots

    seen, close = {}, plt.close

    def spy(fig=None):  # style.save closes each figure once it is written: read its ticks there
        if fig is not None and fig.axes:
            seen[fig.axes[0].get_title()] = [(t.get_text(), t.get_rotation()) for t in fig.axes[0].get_xticklabels()]
        close(fig)

    monkeypatch.setattr(plt, "close", spy)
    for names in (["numpy_sgd", "torch_sgd", "torch_sgd_dropout", "torch_adam_dropout"], ["relu", "tanh"]):
        df = pd.DataFrame({"variant": names, "status": "ok", "final_test_acc": 0.6, "final_train_acc": 0.5})
        sweep_plots.plot_final(df, ["variant"], tmp_path, "test", "acc", ",".join(names))
    (long,) = [v for k, v in seen.items() if "numpy_sgd" in k]
    (short,) = [v for k, v in seen.items() if "relu" in k]
    assert [r for _, r in long] == [30.0] * 4 and [n for n, _ in long][-1] == "torch_adam_dropout", long
    assert short == [("relu", 0.0), ("tanh", 0.0)], short
    assert (tmp_path / "plots" / "final_test_acc.png").is_file()
    # a confusion matrix by the same rule: CIFAR-10's ten names slant, three short ones stay level
    # (it slanted every name longer than two letters, and left longer ones to collide at 20 classes)
    from runner.report.confusion import plot_confusion

    for names in (["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
                  ["circle", "square", "stripe"]):  # fmt: skip
        table = pd.DataFrame(np.eye(len(names), dtype=int) * 5, index=names, columns=names)
        plot_confusion(table, names[0], tmp_path / f"confusion_{names[0]}.png")
    assert {r for _, r in seen["airplane\naccuracy 100.00% on 50 samples"]} == {30.0}
    assert {r for _, r in seen["circle\naccuracy 100.00% on 15 samples"]} == {0.0}


def test_panels_that_name_the_same_jobs_share_one_legend_and_wrap_past_three(tmp_path, monkeypatch):
    """activation x depth drew the same depth=1..3 legend beside each of its three panels (a
    third of the width), and four activations made a strip of four panels 33 inches wide."""
    from matplotlib import pyplot as plt

    from runner.report import sweep_plots

    seen = {}

    def keep(fig, path):
        fig.canvas.draw()
        shown = [ax for ax in fig.axes if ax.get_visible()]
        legends = [ax.get_legend() for ax in shown if ax.get_legend() is not None]
        seen[len(shown)] = {"legends": [[t.get_text() for t in lg.get_texts()] for lg in legends],
                            "size": tuple(fig.get_size_inches()),
                            "covered": sum(_covered(ax, ax.get_legend()) for ax in shown)}  # fmt: skip
        plt.close(fig)
        return path

    monkeypatch.setattr(sweep_plots, "save", keep)
    for activations in (["relu", "tanh", "sigmoid"], ["relu", "tanh", "sigmoid", "elu"]):
        rows = []
        for a in activations:
            for depth in (1, 2, 3):
                job = len(rows)
                (tmp_path / f"j{job}").mkdir(exist_ok=True)
                pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [2.0, 1.0 / depth, 0.5 / depth],
                              "test_loss": [1.9, 1.1 / depth, 0.6 / depth]}).to_csv(tmp_path / f"j{job}" / "metrics.csv")  # fmt: skip
                rows.append({"job": job, "activation": a, "model.depth": depth, "status": "ok", "dir": f"j{job}"})
        sweep_plots.plot_curves(pd.DataFrame(rows), ["activation", "model.depth"], tmp_path, "loss", "t")
    assert seen[3]["legends"] == [["depth=1", "depth=2", "depth=3"]] and seen[3]["covered"] == 0
    # three to a row fit a report page (1200 px): at 20.6 inches wide their text read at half size
    assert seen[3]["size"][0] <= 17 and seen[3]["size"][1] == pytest.approx(4.6)
    assert seen[4]["legends"] == [["depth=1", "depth=2", "depth=3"]]  # four panels: 3 + 1 on two rows
    assert seen[4]["size"][0] == seen[3]["size"][0] and seen[4]["size"][1] == pytest.approx(9.2)


def test_a_replicated_regression_sweeps_jobs_table_shows_the_loss_spread():
    """The jobs table gave an accuracy its ± over the replicas and a loss none: a sweep of
    function fits with trainer.replicas showed bare means."""
    from runner.report.sweep_report import _summary_table

    df = pd.DataFrame({"job": [0, 1], "seed": [0, 2], "status": "ok", "final_train_loss": [0.41, 0.35],
                       "final_test_loss": [0.336, 0.2092], "final_test_loss_std": [0.07667, None],
                       "best_test_loss": [0.336, 0.2092], "params": 10, "epochs_run": 3, "seconds": 0.1})  # fmt: skip
    lines = _summary_table(df, ["seed"], "test", "loss")
    assert lines[2] == "| 0 | 0 | ok | 0.41 | 0.336 ± 0.07667 | 0.336 | 10 | 3 | 0.1 |", lines[2]
    assert lines[3] == "| 1 | 2 | ok | 0.35 | 0.2092 | 0.2092 | 10 | 3 | 0.1 |", lines[3]


def test_a_sweep_of_seeds_alone_draws_points_and_their_mean_not_a_line(tmp_path, monkeypatch):
    """sweep=seeds joined seed 0, 2, 4 by a line, as if the loss moved with the seed."""
    from matplotlib import pyplot as plt

    from runner.report import sweep_plots

    seen = {}

    def keep(fig, path):
        ax = fig.axes[0]
        seen["styles"] = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
        seen["legend"] = [t.get_text() for t in ax.get_legend().get_texts()]
        seen["outside"] = ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1
        plt.close(fig)
        return path

    monkeypatch.setattr(sweep_plots, "save", keep)
    df = pd.DataFrame({"seed": [0, 2, 4], "status": "ok", "final_test_loss": [0.3, 0.2, 0.4], "final_train_loss": 0.1})
    sweep_plots.plot_final(df, ["seed"], tmp_path, "test", "loss", "t")
    assert "-" not in seen["styles"].values() and "--" not in seen["styles"].values(), seen["styles"]
    assert "test mean over seeds: 0.3" in seen["legend"] and seen["outside"], seen
    df = pd.DataFrame({"optimizer.lr": [0.1, 0.2, 0.4], "status": "ok", "final_test_loss": [0.3, 0.2, 0.4],
                       "final_train_loss": 0.1})  # fmt: skip
    sweep_plots.plot_final(df, ["optimizer.lr"], tmp_path, "test", "loss", "t")  # a quantity keeps its line
    assert "--" in seen["styles"].values() and not any("mean" in t for t in seen["legend"])


def test_a_failed_jobs_closing_line_ends_with_why_cut_to_a_readable_length():
    from runner.sweep.callback import ERROR_SHOWN, _figure

    row = {"status": "failed", "error": "x" * 600, "final_test_acc": None}
    shown = _figure(row, "test", "acc", None).strip()
    assert len(shown) == ERROR_SHOWN and shown.endswith(" ...")
    trial = {"status": "failed", "error": "CUDA out of memory", "objective": float("inf")}
    assert _figure(trial, "val", "acc", {"metric": "best_val_acc"}).endswith("(worst)  CUDA out of memory")
    assert _figure({"status": "ok", "error": "", "final_test_acc": 0.5}, "test", "acc", None) == "  test_acc 50.00%"
    # a stopped job's metric is the epoch it stopped at, not a finished run's
    stopped = {"status": "unfinished", "error": "", "final_test_acc": 0.9382, "epochs_run": 10}
    assert _figure(stopped, "test", "acc", None) == "  test_acc 93.82% (stopped after epoch 10)"


def test_hydra_interpolations_in_a_sweeps_overrides_keep_its_guard(tmp_path):
    """`hydra.sweep.subdir=${hydra.job.num}` and `seed=${hydra:job.num}` are Hydra habits; reading the
    overrides resolved them before any job had a number, and the raise (which Hydra only warns about)
    skipped the sweep's record, its guard against another command and its signal handlers."""
    d = tmp_path / "s"
    args = ("-m", "dataset=function", "activation=relu,tanh", "model.hidden=[4]", "trainer.epochs=1",
            "hydra.sweep.subdir=${hydra.job.num}", "seed=${hydra:job.num}", "trainer.progress=quiet")  # fmt: skip
    proc = run_dlrun(*args, f"hydra.sweep.dir={d}", cwd=tmp_path)
    assert proc.returncode == 0 and "Callback" not in proc.stderr, proc.stderr
    assert sorted(p.name for p in d.iterdir() if p.is_dir() and p.name != "plots") == ["0", "1"]
    assert [json.loads((d / n / "summary.json").read_text())["seed"] for n in "01"] == [0, 1]
    assert (d / ".dlrun-sweep.json").is_file() and (d / "multirun.yaml").is_file()
    md = (d / "report.md").read_text()
    assert "Final = last epoch" in md and "Accuracies" not in md, "a regression's tables hold no accuracy"
    other = run_dlrun(*args[:2], "activation=relu,sigmoid", *args[3:], f"hydra.sweep.dir={d}", cwd=tmp_path)
    assert other.returncode == 2 and "holds a sweep of another command" in other.stderr, other.stderr


def test_a_third_swept_key_gets_a_panel_per_value_not_a_silent_mean(tmp_path, monkeypatch):
    """activation x depth x lr drew bars by lr and activation whose heights were the mean over
    depth, and nothing said so (relu at lr 0.001: 93.8, from 93.26 and 94.38)."""
    from runner.report import sweep_plots

    seen = {}

    def keep(fig, path):
        shown = [ax for ax in fig.axes if ax.get_visible()]
        seen[path.stem] = {
            "panels": [ax.get_title() for ax in shown],
            "heights": [[round(p.get_height(), 6) for p in ax.patches] for ax in shown],
            "suptitle": fig._suptitle.get_text() if fig._suptitle else "",
        }
        plt.close(fig)
        return path

    import matplotlib.pyplot as plt

    monkeypatch.setattr(sweep_plots, "save", keep)
    rows = [{"activation": a, "model.depth": d, "optimizer.lr": lr, "status": "ok",
             "final_test_acc": (10 * ai + 2 * d + li) / 100, "final_train_acc": 0.5}
            for ai, a in enumerate(("relu", "tanh")) for d in (1, 2) for li, lr in enumerate((0.001, 0.01))]  # fmt: skip
    df = pd.DataFrame(rows)
    sweep_plots.plot_final(df, ["activation", "model.depth", "optimizer.lr"], tmp_path, "test", "acc", "t")
    fig = seen["final_test_acc"]
    assert fig["panels"] == ["depth=1", "depth=2"] and fig["suptitle"].startswith("t: final test accuracy (%) by lr")
    # each panel's bars: relu at both rates, then tanh at both: every job's own value
    assert fig["heights"] == [[2.0, 3.0, 12.0, 13.0], [4.0, 5.0, 14.0, 15.0]]
    sweep_plots.plot_final(df[df["model.depth"] == 1], ["activation", "optimizer.lr"], tmp_path, "test", "acc", "t")
    assert seen["final_test_acc"]["panels"][0].startswith("t: final test accuracy"), "two keys: one panel, as before"
    # x a column of its own (params_vs_generalization's sweep.x=params): the swept widths are what it
    # measures, a point each on one line, not a panel each
    widths = pd.DataFrame([{"model.hidden": f"[{w},{w // 2}]", "params": 800 * w, "status": "ok",
                            "final_test_acc": w / 100, "final_train_acc": w / 90} for w in (2, 4, 6, 8)])  # fmt: skip
    sweep_plots.plot_final(widths, ["model.hidden"], tmp_path, "test", "acc", "t", x="params")
    assert seen["final_test_acc"]["panels"] == ["t: final test accuracy (%) by params"]
    # lines: each group's held-out line, then its train line (matplotlib put every train line first)
    lines = pd.DataFrame([{**r, "optimizer.lr": lr} for r in (rows[0], rows[4]) for lr in (0.001, 0.01, 0.1)])
    seen.clear()
    monkeypatch.setattr(sweep_plots, "save", lambda fig, path: seen.setdefault("labels", [
        t.get_text() for t in fig.axes[0].get_legend().get_texts()]) and plt.close(fig))  # fmt: skip
    sweep_plots.plot_final(lines, ["activation", "optimizer.lr"], tmp_path, "test", "acc", "t")
    assert seen["labels"] == ["activation=relu (test)", "activation=relu (train)", "activation=tanh (test)",
                              "activation=tanh (train)"]  # fmt: skip


def test_a_full_disk_stops_the_sweep_and_any_other_failure_of_a_job_lets_the_next_one_run(tmp_path):
    """In-process twin of test_faults' tmpfs test (CI may not mount one): a job whose write met
    ENOSPC, or a quota (EDQUOT), behind dlrun's one-line OutputError, stops the sweep with a
    line saying how to resume it; a permission error stays that job's own failure."""
    import errno

    from omegaconf import OmegaConf

    from runner.errors import OutputError, Refused, disk_full
    from runner.sweep.job import run_isolated

    cfg = compose("dataset=function")
    hydra_root = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}})

    def failing(code):
        def start():
            try:
                raise OSError(code, os.strerror(code))
            except OSError as ex:
                raise OutputError(tmp_path / "0_x" / "checkpoint.pt", ex) from ex

        return start

    for code in (errno.ENOSPC, errno.EDQUOT):
        with pytest.raises(Refused) as e:
            run_isolated(cfg, tmp_path / "0_x", 0, hydra_root, ["x=1"], failing(code))
        assert str(e.value) == (f"job 0 failed: cannot write {tmp_path}/0_x/checkpoint.pt: {os.strerror(code)}; the "
                                "disk is full, so no later job runs: free space, then run the same command with "
                                f"hydra.sweep.dir={tmp_path} to resume")  # fmt: skip
        assert json.loads((tmp_path / "0_x" / "summary.json").read_text())["status"] == "failed"
    with pytest.raises(Refused, match="no later job runs: free space, then run the same command again to resume$"):
        run_isolated(cfg, tmp_path / "1_x", 1, None, ["x=1"], failing(errno.ENOSPC))  # a reproduction's part
    result = run_isolated(cfg, tmp_path / "2_x", 2, hydra_root, ["x=1"], failing(errno.EACCES))
    assert result == {"status": "failed", "error": f"cannot write {tmp_path}/0_x/checkpoint.pt: Permission denied"}
    # submitit's jobs run apart: one cannot stop the others, and a BaseException there came back
    # to the sweep as submitit's UncompletedJobError, a traceback
    result = run_isolated(cfg, tmp_path / "3_x", 3, hydra_root, ["x=1"], failing(errno.ENOSPC), False)
    assert result["status"] == "failed" and result["error"].endswith("checkpoint.pt: No space left on device")
    try:  # torch's zip writer: its own error while closing, raised over the ENOSPC
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        finally:
            raise RuntimeError("unexpected pos 75840 vs 75728")
    except RuntimeError as ex:
        assert disk_full(ex) and not disk_full(ValueError("no space left")) and not disk_full(None)
    from runner.messages import describe_error

    # a library's own write names no file (submitit's job pickles): still one line, not a traceback
    assert describe_error(OSError(errno.ENOSPC, "No space left on device")) == "a write failed: No space left on device"


def test_the_closing_table_shows_a_drawn_value_to_four_digits_as_the_report_does(capsys):
    """An Optuna trial's override is the sampler's float as text (optimizer.lr=0.0054943435116692795):
    the closing lines printed all of it, two columns wider than the report's table, which
    shows 0.005494. The best line keeps every digit, to be pasted."""
    from runner.report.sweep_tables import value_label
    from runner.sweep.callback import print_outcome

    assert [value_label(v) for v in ("0.0054943435116692795", "1e-3", "0.10", "64", "relu", "[16,16]", "nan")] == \
        ["0.005494", "1e-3", "0.1", "64", "relu", "[16,16]", "nan"]  # fmt: skip
    rows = [{"job": 0, "status": "ok", "optimizer.lr": "0.0054943435116692795", "model.hidden": "[16,16]",
             "final_test_loss": 1.612}]  # fmt: skip
    print_outcome({"rows": rows, "swept": ["optimizer.lr", "model.hidden"], "counts": {"ok": 1},
                   "summary": "s.csv", "report": "r.html"})  # fmt: skip
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  job")]
    assert line == "  job   0  ok         optimizer.lr=0.005494, model.hidden=[16,16]  test_loss 1.612"


def test_curves_name_the_split_drawn_solid_and_a_search_s_colour_bar_ticks_whole_trials(tmp_path, monkeypatch):
    """The title said 'held-out solid' whichever split it was, a one-epoch sweep's train and test
    points looked alike (a point has no dash), and the colour bar of a search's four trials ticked
    0.5, 1.5, 2.5: trials no search had."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import search, sweep_plots

    seen = []

    def keep(fig, path):
        fig.canvas.draw()
        bar = fig.axes[-1]
        low, high = bar.get_ylim()
        faces = {line.get_linestyle(): str(line.get_markerfacecolor()) for line in fig.axes[0].get_lines()}
        seen.append((fig._suptitle.get_text(), [t for t in bar.get_yticks() if low <= t <= high], faces))
        plt.close(fig)
        return path

    monkeypatch.setattr(sweep_plots, "save", keep)
    monkeypatch.setattr(search, "save", keep)
    rows = []
    for job in range(4):
        (tmp_path / f"{job}_lr").mkdir()
        metrics = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [0.9, 0.6 + job / 100]})
        metrics.to_csv(tmp_path / f"{job}_lr" / "metrics.csv", index=False)
        rows.append({"job": job, "lr": 0.001 * (job + 1), "status": "ok", "dir": f"{job}_lr", "objective": 0.5 + job})
    df = pd.DataFrame(rows)
    sweep_plots.plot_curves(df, ["lr"], tmp_path, "loss", "t")
    search.plot_slices(df, ["lr"], "final_val_loss", tmp_path, "t")
    (title, _, faces), (_, trial_ticks, _) = seen
    assert title == "t: loss per epoch (train dashed, hollow points, val solid)"
    assert faces["--"] == "none" and faces["-"] != "none", faces  # one epoch has no dash: train's points are hollow
    assert trial_ticks == [0.0, 1.0, 2.0, 3.0], trial_ticks


def test_a_gradcheck_sweep_s_table_keeps_the_sweep_order_and_shows_failed_checks():
    """engine=torch,numpy came out as numpy above torch: the pivot sorted the names."""
    from runner.report.sweep_report import _gradcheck_section

    df = pd.DataFrame({"job": [0, 1, 2, 3], "engine": ["torch", "torch", "numpy", "numpy"],
                       "activation": ["tanh", "relu", "tanh", "relu"], "status": ["ok", "ok", "ok", "failed"],
                       "gradcheck_max_rel_error": [1e-7, 2e-7, 3e-7, 0.5]})  # fmt: skip
    lines = _gradcheck_section(df, ["engine", "activation"])
    table = lines[lines.index("| engine | activation=tanh | activation=relu |") :]
    assert table[2:4] == ["| torch | 1.00e-07 | 2.00e-07 |", "| numpy | 3.00e-07 | 5.00e-01 |"], table


def test_a_search_s_choice_panel_keeps_its_options_off_the_frame(tmp_path, monkeypatch):
    """activation=choice(relu,tanh) put its two options at 0 and 1 with a 5% margin: every trial
    was drawn on the panel's frame."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import search

    views = []

    def keep(fig, path):
        views.append(fig.axes[0].get_xlim())
        plt.close(fig)
        return path

    monkeypatch.setattr(search, "save", keep)
    df = pd.DataFrame({"job": [0, 1, 2], "activation": ["tanh", "relu", "tanh"], "status": "ok",
                       "objective": [0.3, 0.2, 0.4]})  # fmt: skip
    search.plot_slices(df, ["activation"], "final_test_loss", tmp_path, "t")
    assert views == [(-0.5, 1.5)]


def test_an_extra_column_by_a_named_value_puts_each_name_in_one_place_for_every_group(tmp_path, monkeypatch):
    """Positions were counted per group: a group without relu drew its tanh at relu's place,
    under relu's tick, and the two end names sat on the frame."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import sweep_plots

    seen = {}

    def keep(fig, path):
        ax = fig.axes[0]
        seen["ticks"] = [t.get_text() for t in ax.get_xticklabels()]
        seen["lines"] = {line.get_label(): list(line.get_xdata()) for line in ax.get_lines()}
        seen["view"] = ax.get_xlim()
        plt.close(fig)
        return path

    monkeypatch.setattr(sweep_plots, "save", keep)
    df = pd.DataFrame({"activation": ["relu", "tanh", "tanh"], "trainer.batch_size": [32, 32, 512], "status": "ok",
                       "sensitivity": [1.0, 2.0, 3.0]})  # fmt: skip
    sweep_plots.plot_extra(df, ["trainer.batch_size", "activation"], tmp_path, "sensitivity", "t")
    assert seen["ticks"] == ["relu", "tanh"] and seen["view"] == (-0.5, 1.5)
    assert seen["lines"] == {"batch_size=32": [0, 1], "batch_size=512": [1]}, seen["lines"]


def test_a_deep_networks_hidden_list_is_labelled_short_and_its_ticks_do_not_run_together(tmp_path, monkeypatch):
    """model.hidden=[64,64,...] of a depth sweep was spelled out in every legend and tick: 60 layers
    made a legend wider than three plots, and the bars' tick labels ran into each other."""
    from runner.report.sweep_tables import pair_label, tick_label, value_label

    deep = "[" + ",".join(["64"] * 60) + "]"
    assert [value_label(v) for v in (deep, "[64,64,64,10]", "[128,64,64]", "[]", [8, 8, 8], "[crop,flip]")] == \
        ["[64×60]", "[64×3,10]", "[128,64,64]", "[]", "[8×3]", "[crop,flip]"]  # fmt: skip
    assert [value_label(v) for v in ("True", False, "true")] == ["true", "false", "true"], "as typed, not Hydra's True"
    assert pair_label("model.hidden", deep) == "hidden=[64×60]"
    assert tick_label("[256,128,64,32,16,8]") == "[256,128,64,\n32,16,8]", "broken after a comma"
    assert tick_label("relu") == "relu" and tick_label("a_very_long_option_name") == "a_very_long_option_name"
    rows = [{"job": i, "status": "ok", "model.hidden": h, "final_test_loss": 1.0 + i, "final_train_loss": 1.0,
             "dir": f"{i}_x"} for i, h in enumerate([deep, "[256,128,64,32,16,8]", "[16]"])]  # fmt: skip
    df = pd.DataFrame(rows)
    import matplotlib

    matplotlib.use("Agg")
    from runner.report import sweep_plots

    shown, real_save = {}, sweep_plots.save

    def save(fig, path):  # the ticks as drawn
        shown[path.name] = [t.get_text() for t in fig.axes[0].get_xticklabels()]
        return real_save(fig, path)

    monkeypatch.setattr(sweep_plots, "save", save)
    sweep_plots.plot_final(df, ["model.hidden"], tmp_path, "test", "loss", "s")
    assert shown["final_test_loss.png"] == ["[64×60]", "[256,128,64,\n32,16,8]", "[16]"]


def test_a_sweep_over_function_data_draws_every_jobs_fit_against_the_ground_truth(tmp_path, monkeypatch):
    """`make demo` (deep vs shallow on sin(x)+x^2) is a sweep: its report showed losses only, and
    the fits, the picture the study is about, lay one per job folder. Now plots/fits.png overlays
    them: a panel per swept function (each its own ground truth), a line per model with its MSE,
    the seeds averaged."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import predictions

    d = tmp_path / "s"
    proc = run_dlrun("-m", "dataset=function", "dataset.fn=sin_plus_square,sign_sin", "model.hidden=[8],[4,4]",
                     "seed=0,1", "trainer.epochs=1", f"hydra.sweep.dir={d}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "![fits](plots/fits.png)" in (d / "report.md").read_text() and (d / "plots" / "fits.png").is_file()
    figures = {}

    def keep(fig, path):
        figures[path.name] = {"title": fig._suptitle.get_text(),
                              "panels": [(ax.get_title(), [(ln.get_label(), np.asarray(ln.get_ydata()))
                                                            for ln in ax.lines]) for ax in fig.axes if ax.get_visible()]}  # fmt: skip
        plt.close(fig)
        return path

    monkeypatch.setattr(predictions, "save", keep)
    df = summary(d)
    df["dir"] = df["dir"].astype(str)
    predictions.plot_sweep_fits(df, ["dataset.fn", "model.hidden", "seed"], d, "s")
    fig = figures["fits.png"]
    assert fig["title"].startswith("s: predictions against the ground truth (mean of 2 seeds)")
    assert [title for title, _ in fig["panels"]] == ["fn=sin_plus_square", "fn=sign_sin"]
    for title, lines in fig["panels"]:
        fn = title.split("=")[1]
        jobs = df[df["dataset.fn"] == fn]
        read = {h: [pd.read_csv(d / j / "predictions.csv") for j in jobs.loc[jobs["model.hidden"] == h, "dir"]]
                for h in ("[8]", "[4,4]")}  # fmt: skip
        truth = read["[8]"][0]
        assert lines[0][0] == "ground truth" and lines[0][1] == pytest.approx(truth["y_true"].to_numpy())
        for (label, y), hidden in zip(lines[1:], ("[8]", "[4,4]")):
            mean = np.mean([p["y_pred"] for p in read[hidden]], axis=0)
            assert y == pytest.approx(mean, rel=1e-6)
            assert label == f"hidden={hidden} (MSE {float(((mean - truth['y_true']) ** 2).mean()):.3g})"
    gradchecks = summary(d).assign(status="failed")  # no finished job: no figure
    assert predictions.plot_sweep_fits(gradchecks.assign(dir=gradchecks["dir"].astype(str)), ["seed"], d, "s") is None


@pytest.mark.parametrize(
    "swept,line",
    [
        ("experiment=cnn_activations_cifar10,regularization_gurmukhi",
         "experiment=cnn_activations_cifar10,regularization_gurmukhi: experiment=cnn_activations_cifar10 is a sweep "
         "of its own (over activation: relu,sigmoid,tanh), as is 1 more of those swept; Hydra does not nest sweeps"),
        ("experiment=glob(*)", "experiment=glob(*): experiment=cnn_activations_cifar10 is a sweep of its own"),
        ("sweep=activations,depth", "sweep=activations,depth: sweep=activations is a sweep of its own"),
        ("hparams_search=glob(*)", "hparams_search=glob(*): hparams_search=mnist_optuna is a sweep of its own (over "
         "optimizer.lr:"),
    ],
)  # fmt: skip
def test_a_sweep_over_presets_that_are_sweeps_themselves_is_refused_in_one_line(tmp_path, swept, line):
    """Hydra's way to run several experiments, -m experiment=a,b, read each preset's own sweep
    (hydra.sweeper.params) nowhere: each job trained one config of its preset (relu alone) and
    the sweep ended ok."""
    proc = run_dlrun("-m", swept, "study.reduced=true", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dlrun: error: {line}"), proc.stderr
    assert "[job" not in proc.stdout and not (tmp_path / "s").exists()


@pytest.mark.slow
def test_a_sweep_over_presets_that_are_single_runs_names_each_jobs_folder_by_its_preset(tmp_path):
    """Presets name no job folder (every job of `dlrun experiment=X` has it); swept, they are
    what tells the jobs apart, which their folders said by number alone."""
    proc = run_dlrun("-m", "experiment=function_fit,grad_norm", "study.reduced=true", "trainer.epochs=2",
                     "trainer.progress=quiet", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    folders = sorted(p.name for p in (tmp_path / "s").iterdir() if p.is_dir() and p.name != "plots")
    assert folders == ["0_experiment=function_fit,study.reduced=True,trainer.epochs=2",
                       "1_experiment=grad_norm,study.reduced=True,trainer.epochs=2"]  # fmt: skip
    assert (tmp_path / "s" / folders[1] / "DONE").is_file()
    summary = pd.read_csv(tmp_path / "s" / "summary.csv")
    assert list(summary["status"]) == ["ok", "ok"]
