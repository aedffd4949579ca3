"""Never lose work: training processes killed (SIGKILL and SIGTERM, and SIGINT) at several
points, then run again with the same command, end with the metrics of an uninterrupted run,
exactly on the CPU (every column but the two timing ones). Single runs, replicas, the NumPy
engine and sweep jobs; task=eval on the saved weights."""

from __future__ import annotations

import csv
import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import dlrun_cmd, run_dlrun, write_mnist

pytestmark = pytest.mark.slow

TIMING = {"seconds", "train_seconds"}
EPOCHS = 5
BASE = ["dataset=mnist", "dataset.test_subsample=200", f"trainer.epochs={EPOCHS}", "trainer.batch_size=16",
        "trainer.progress=plain", "trainer.checkpoint_seconds=0"]  # a checkpoint after every epoch  # fmt: skip
CASES = {  # each draws random numbers in training (dropout, augmentation), so any lost state would show
    "torch": ["model.hidden=[32,16]", "regularizer=[l2,dropout,batchnorm,augment]", "regularizer.l2=1e-4"],
    "numpy": [
        "engine=numpy",
        "optimizer=sgd",
        "model.hidden=[24]",
        "regularizer.dropout=0.2",
        "trainer.log_steps=true",
    ],
    "replicas": ["model.hidden=[24]", "trainer.replicas=2", "regularizer.dropout=0.2", "regularizer.augment=[crop]"],
}
# (case, signal, rows of metrics.csv to wait for before the kill): 7 kill points in all
KILLS = [
    ("torch", signal.SIGKILL, 0),
    ("torch", signal.SIGKILL, 2),
    ("torch", signal.SIGTERM, 1),
    ("torch", signal.SIGINT, 3),
    ("numpy", signal.SIGKILL, 1),
    ("numpy", signal.SIGTERM, 2),
    ("replicas", signal.SIGKILL, 1),
    ("replicas", signal.SIGTERM, 0),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """MNIST-shaped files big enough that an epoch takes a noticeable moment (5,000 samples)."""
    return write_mnist(tmp_path_factory.mktemp("resume") / "data", n_per_class=500)


def read_csv(path: Path) -> list:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def table(path: Path) -> list:
    """A CSV's rows without the timing columns: what must be equal, to the last digit."""
    return [{k: v for k, v in row.items() if k not in TIMING} for row in read_csv(path)]


def rows_in(pattern: Path) -> int:
    """Rows of the CSV matching `pattern` (a glob), -1 while there is none."""
    found = sorted(pattern.parent.parent.glob(f"{pattern.parent.name}/{pattern.name}"))
    try:
        return len(found[0].read_text().splitlines()) - 1 if found else -1
    except OSError:
        return -1


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> dict:
    """Each case run once without interruption."""
    out = {}
    for case, args in CASES.items():
        run = tmp_path_factory.mktemp(f"ref-{case}") / "run"
        proc = run_dlrun(*BASE, *args, f"data_dir={data}", f"hydra.run.dir={run}", cwd=run.parent)
        assert proc.returncode == 0, proc.stderr
        out[case] = run
    return out


def kill_at(cmd: list, watch: Path, rows: int, sig: int, cwd: Path, seed: int) -> subprocess.CompletedProcess:
    """Start cmd, wait until the CSV `watch` (a glob) has `rows` rows (and a random moment
    more, so the kill lands inside an epoch), send sig."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while rows_in(watch) < rows and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.Random(seed).uniform(0.05, 0.4))  # somewhere inside the next epoch
    assert proc.poll() is None, "the run ended before the kill point; make the epochs longer"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.mark.parametrize("case,sig,rows", KILLS, ids=[f"{c}-{signal.Signals(s).name}-{r}" for c, s, r in KILLS])
def test_a_killed_run_resumes_to_the_uninterrupted_metrics(tmp_path, data, reference, case, sig, rows):
    run = tmp_path / "run"
    args = [*BASE, *CASES[case], f"data_dir={data}", f"hydra.run.dir={run}"]
    killed = kill_at(dlrun_cmd() + args, run / "metrics.csv", rows, sig, tmp_path, seed=rows + sig)
    if sig == signal.SIGKILL:
        assert killed.returncode == -signal.SIGKILL
    else:  # a clean stop: a checkpoint at the step it reached, one line, 128 + the signal
        assert killed.returncode == 128 + sig, killed.stderr
        assert killed.stderr.count("\n") == 1 and killed.stderr.startswith(
            f"dlrun: stopped by {signal.Signals(sig).name}"
        )
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "interrupted" and (run / "checkpoint.pt").is_file()
    assert not (run / "DONE").exists()

    again = run_dlrun(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (run / "DONE").is_file() and (run / "model.pt").is_file() and not (run / "checkpoint.pt").exists()
    for name in ("metrics.csv", "layers.csv", "steps.csv"):
        if (reference[case] / name).is_file():
            assert table(run / name) == table(reference[case] / name), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["epochs_run"] == EPOCHS


def test_a_fresh_checkpoint_is_not_rewritten_each_epoch(tmp_path, data, reference):
    """trainer.checkpoint_seconds: with a long floor, the epochs before a SIGKILL saved nothing,
    so the run starts over, and still ends as the uninterrupted one."""
    run = tmp_path / "run"
    args = [*BASE, *CASES["torch"], "trainer.checkpoint_seconds=1000", f"data_dir={data}", f"hydra.run.dir={run}"]
    killed = kill_at(dlrun_cmd() + args, run / "metrics.csv", 3, signal.SIGKILL, tmp_path, seed=1)
    assert killed.returncode == -signal.SIGKILL and not (run / "checkpoint.pt").exists()
    again = run_dlrun(*args, cwd=tmp_path)
    assert again.returncode == 0 and "resumed" not in again.stdout
    assert table(run / "metrics.csv") == table(reference["torch"] / "metrics.csv")


def test_a_killed_sweep_job_resumes_and_finished_jobs_are_skipped(tmp_path, data):
    sweep = tmp_path / "sweep"
    args = ["-m", *BASE, "model.hidden=[24]", "regularizer.dropout=0.2", "seed=0,1", f"data_dir={data}"]
    whole = run_dlrun(*args, f"hydra.sweep.dir={tmp_path / 'whole'}", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    killed = kill_at(dlrun_cmd() + args + [f"hydra.sweep.dir={sweep}"], sweep / "1_*" / "metrics.csv", 2,
                     signal.SIGKILL, tmp_path, seed=7)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    job0, job1 = sorted(sweep.glob("0_*"))[0], sorted(sweep.glob("1_*"))[0]
    assert (job0 / "DONE").is_file() and not (job1 / "DONE").exists()
    again = run_dlrun(*args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "job 0: finished earlier (ok), skipped" in again.stdout and "resumed from its checkpoint" in again.stdout
    for job in (job0.name, job1.name):
        assert table(sweep / job / "metrics.csv") == table(tmp_path / "whole" / job / "metrics.csv"), job


def test_a_stopped_search_is_a_sweep_to_re_render_and_resumes_to_all_its_trials(tmp_path, data):
    """Optuna's sweeper writes no multirun.yaml (dlrun wrote one at the end), so a search stopped
    in its second of three trials left a folder `make report` refused as no sweep at all."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the [search] extra")
    sweep = tmp_path / "search"
    args = ["-m", *BASE, "model.hidden=[24]", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=3",
            "optimizer.lr=interval(0.0005,0.005)", "optimized_metric=best_test_acc", "hydra.sweeper.direction=maximize",
            f"data_dir={data}", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    killed = kill_at(dlrun_cmd() + args, sweep / "1_*" / "metrics.csv", 1, signal.SIGTERM, tmp_path, seed=3)
    assert killed.returncode == 128 + signal.SIGTERM, killed.stderr
    import sys

    r = subprocess.run([sys.executable, "-m", "runner.report", str(sweep)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "sweep not finished: 3 jobs (1 not started, 1 ok, 1 unfinished)" in r.stdout, r.stdout
    rows = read_csv(sweep / "summary.csv")
    assert [row["status"] for row in rows] == ["ok", "unfinished", "not started"]
    assert rows[2]["optimizer.lr"] == "" and rows[2]["objective"] == "", "a trial to come has no values yet"
    assert rows[1]["objective"] == "" and float(rows[0]["objective"]) > 0, "a stopped trial has returned nothing"
    assert "| 2 | - | not started | - |" in (sweep / "report.md").read_text()
    again = run_dlrun(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    rows = read_csv(sweep / "summary.csv")
    assert [row["status"] for row in rows] == ["ok"] * 3 and rows[1]["optimizer.lr"] != ""


def test_eval_of_saved_weights_gives_the_runs_final_metrics(tmp_path, reference, data):
    trained = json.loads((reference["torch"] / "summary.json").read_text())
    out = tmp_path / "eval"
    args = [*BASE, f"data_dir={data}", "task=eval", f"ckpt={reference['torch'] / 'model.pt'}", f"hydra.run.dir={out}"]
    proc = run_dlrun(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["split"]: r for r in read_csv(out / "eval.csv")}
    assert float(rows["test"]["acc"]) == trained["final"]["test_acc"]
    assert f"test_acc {100 * trained['final']['test_acc']:.2f}%" in proc.stdout, proc.stdout  # in % as elsewhere
    assert float(rows["test"]["loss"]) == pytest.approx(trained["final"]["test_loss"], rel=1e-6)
    assert (out / "confusion_test.csv").is_file() and (out / "plots" / "confusion_test.png").is_file()
    assert (out / "DONE").is_file() and json.loads((out / "summary.json").read_text())["task"] == "eval"
    # other splits of the same data: the command decides them, the weights stay
    other = run_dlrun(*[a for a in args if not a.startswith("hydra.run.dir")], "dataset.val_size=100",
                      f"hydra.run.dir={tmp_path / 'eval2'}", cwd=tmp_path)  # fmt: skip
    assert other.returncode == 0
    assert {"train", "val", "test"} <= {r["split"] for r in read_csv(tmp_path / "eval2" / "eval.csv")}
    wrong = run_dlrun("task=eval", f"ckpt={reference['torch'] / 'model.pt'}", "dataset=function",
                      f"hydra.run.dir={tmp_path / 'bad'}", cwd=tmp_path)  # fmt: skip
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "Traceback" not in wrong.stderr
    assert wrong.stderr.endswith("model.pt: trained on mnist (1x28x28 inputs, 10 classes); dataset=function gives "
                                 "1 input, 1 output: evaluate it on a dataset of the same shape\n"), wrong.stderr  # fmt: skip
    assert not (tmp_path / "bad").exists()


def test_eval_says_where_a_checkpoints_run_stopped_mid_epoch():
    """A stop saves at a step boundary: the eval line said `epoch 0 of 50` for a run stopped in its
    first epoch, as if no step had been taken."""
    from runner.train.eval import _which_epoch

    config = "trainer:\n  epochs: 50\n"
    mid = {"kind": "checkpoint", "epoch": 0, "where": "epoch 1, step 104 of 1563", "config": config}
    assert _which_epoch(mid) == " (its run stopped at epoch 1, step 104 of 1563, of 50 epochs)"
    assert _which_epoch({**mid, "epoch": 50, "where": "the end of training"}) == " (epoch 50 of 50)"
    assert _which_epoch({**mid, "kind": "model", "epoch": 50}) == "", "a finished run's model.pt needs no word"
    assert _which_epoch({**mid, "kind": "model", "epoch": 7}) == " (epoch 7 of 50)", "best.pt"
    assert _which_epoch(mid, running=True) == (" (its run is still training: its last checkpoint, at epoch 1, step "
                                               "104 of 1563, of 50 epochs)")  # fmt: skip


@pytest.mark.parametrize("case", ["torch", "numpy"])
def test_eval_of_a_checkpoint_loads_its_weights_whatever_it_was_trained_with(tmp_path, data, case):
    """A killed run's checkpoint.pt evaluated by a plain command (Adam, no schedule): only the
    weights are loaded, so the SGD + cosine state in it does not matter, and engine=numpy is
    rebuilt with its own optimizer. The metrics are those of the checkpoint's epoch."""
    import torch

    run, out = tmp_path / "run", tmp_path / "eval"
    trained = {"torch": [*CASES["torch"], "optimizer=sgd", "scheduler=cosine"], "numpy": CASES["numpy"]}[case]
    killed = kill_at(dlrun_cmd() + [*BASE, *trained, f"data_dir={data}", f"hydra.run.dir={run}"],
                     run / "metrics.csv", 2, signal.SIGKILL, tmp_path, seed=3)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    saved = torch.load(run / "checkpoint.pt", weights_only=True)
    assert saved["where"] == f"the end of epoch {saved['epoch']}"
    proc = run_dlrun(*BASE, f"data_dir={data}", "task=eval", f"ckpt={run}", f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # the folder's weights are a stopped run's: the line says which epoch's, not a final model's
    said = (
        f"eval of {run / 'checkpoint.pt'} (its run stopped at the end of epoch {saved['epoch']}, of {EPOCHS} epochs): "
    )
    assert said in proc.stdout, proc.stdout
    at_epoch = read_csv(run / "metrics.csv")[saved["epoch"] - 1]
    test = next(r for r in read_csv(out / "eval.csv") if r["split"] == "test")
    assert float(test["loss"]) == pytest.approx(float(at_epoch["test_loss"]), rel=1e-6)
    assert float(test["acc"]) == float(at_epoch["test_acc"])
    if case == "torch":  # a run a dlrun still holds is training, not stopped
        from runner import runfolder

        runfolder.hold(run)
        try:
            proc = run_dlrun(
                *BASE, f"data_dir={data}", "task=eval", f"ckpt={run}", f"hydra.run.dir={out}2", cwd=tmp_path
            )
        finally:
            runfolder.unlock(run)
        assert (
            proc.returncode == 0
            and f"(its run is still training: its last checkpoint, at the end of epoch {saved['epoch']}, "
            in proc.stdout
        )


def test_the_same_command_into_a_finished_run_is_refused(tmp_path, reference):
    run = reference["numpy"]
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.name != ".dlrun.lock"}
    proc = run_dlrun(*BASE, *CASES["numpy"], f"hydra.run.dir={run}", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "holds a finished run" in proc.stderr
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.name != ".dlrun.lock"} == before
