"""The optimization and generalization studies, each in its reduced mode (study.reduced=true:
small data, few epochs) on the CPU, asserting on their files and one property each."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import compose, run_dlrun, train

from runner.studies.common import convergence_epoch
from runner.studies.function_fit import mlp_params, width_for
from runner.studies.trajectory_pca import pca_2d


def study(tmp_path, name: str, *extra, data=None, sweep=False, target=None, output: list | None = None):
    """Run a reduced preset into `target` (default tmp_path/name); its stdout is appended to `output`."""
    target = target or tmp_path / name
    where = f"hydra.sweep.dir={target}" if sweep else f"hydra.run.dir={target}"
    args = [f"experiment={name}", "study.reduced=true", "trainer.progress=quiet", where, *extra]
    if data is not None:
        args.append(f"data_dir={data}")
    proc = run_dlrun(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    if output is not None:
        output.append(proc.stdout)
    return target


def stopped_copy(folder, kept: list, stopped: list, unstarted: list = ()):
    """A copy of a finished study as a stop would have left it: no closing files, the runs
    `kept` finished, those `stopped` unfinished (their files, no DONE), the `unstarted` absent.
    Returns the copy and the modification time of each kept run's DONE."""
    import shutil

    again = folder.with_name(folder.name + "_again")
    shutil.copytree(folder, again)
    for name in ("DONE", "summary.json", "report.md", "report.html", "config.yaml"):
        (again / name).unlink()
    shutil.rmtree(again / "plots")
    for run in stopped:
        (again / run / "DONE").unlink()
    for run in unstarted:
        shutil.rmtree(again / run)
    return again, {run: (again / run / "DONE").stat().st_mtime_ns for run in kept}


def assert_went_on(folder, again, stamps: dict, stdout: str, table: str):
    """The study run again kept the runs it had finished (not trained: their DONE untouched,
    each named on the console), trained the rest, and came to the table of one uninterrupted."""
    for run, stamp in stamps.items():
        assert (again / run / "DONE").stat().st_mtime_ns == stamp, f"{run} was trained again"
        assert f"finished earlier, kept: {again / run}" in stdout, stdout
    assert stdout.count("finished earlier, kept") == len(stamps), stdout
    assert (again / table).read_text() == (folder / table).read_text()
    assert_report(again)


def assert_report(folder):
    md = (folder / "report.md").read_text()
    html = (folder / "report.html").read_text()
    images = [line for line in md.splitlines() if line.startswith("![")]
    assert images and html.count("data:image/png;base64,") == len(images)
    assert (folder / "DONE").is_file()


def assert_a_damaged_cell_is_named(folder, csv):
    """A word in a column of numbers, or a short line, is named with its file, line and column:
    before, the word was plotted as a category, or the report failed naming only the folder."""
    from runner.errors import DataError
    from runner.studies import rerender

    text = csv.read_text()
    lines = text.splitlines()
    column = lines[0].split(",")[-1]
    for damaged, message in ((lines[1].rsplit(",", 1)[0] + ",oops", f"line 2, column {column}: expected a number, "
                              "got 'oops'"), (lines[1].rsplit(",", 1)[0], "line 2: expected ")):  # fmt: skip
        csv.write_text("\n".join([lines[0], damaged, *lines[2:]]) + "\n")
        with pytest.raises(DataError) as e:
            rerender(folder)
        assert str(e.value).startswith(f"{csv}: {message}"), str(e.value)
    csv.write_text(text)


def assert_rerenders(folder):
    """`make report DIR=<study>` rebuilds the plots, report and summary from the files alone,
    exactly as the study wrote them."""
    import shutil
    import subprocess
    import sys

    md, summary = (folder / "report.md").read_text(), json.loads((folder / "summary.json").read_text())
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    paragraph = re.search(r"The four studies with their own folder(.*?)\n\n", readme, re.S).group(1)
    assert not set(summary) - set(re.findall(r"`([a-z_0-9]+)`", paragraph)), (
        "summary.json keys the README does not name"
    )
    shutil.rmtree(folder / "plots")
    for name in ("report.md", "report.html", "summary.json", "DONE"):
        (folder / name).unlink()
    r = subprocess.run([sys.executable, "-m", "runner.report", str(folder)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (folder / "report.md").read_text() == md
    again = json.loads((folder / "summary.json").read_text())
    assert {k: v for k, v in again.items() if k != "finished"} == {k: v for k, v in summary.items() if k != "finished"}
    assert_report(folder)
    (folder / "plots").rename(folder / "kept_plots")
    csv = next(folder.glob("*.csv"))
    assert_a_damaged_cell_is_named(folder, csv)
    csv.unlink()
    r = subprocess.run([sys.executable, "-m", "runner.report", str(folder)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().endswith(
        f"without {csv.name}: the study did not finish; run it again"
    )
    assert "Traceback" not in r.stderr
    (folder / "config.yaml").write_text("task: study\nstudy: {name: [cut\n")  # damaged: named, not "not a study"
    r = subprocess.run([sys.executable, "-m", "runner.report", str(folder)], capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (2, f"report: error: {folder / 'config.yaml'}: not a readable dlrun config.yaml "
                                           "(line 3, column 1: expected ',' or ']', but got '<stream end>')\n")  # fmt: skip


# ------------------------------------------------------------------ pure pieces


def test_plateau_rule():
    losses = [10, 5, 2.5, 1.2, 1.05, 1.01, 1.0, 1.0, 0.99, 1.0]
    assert convergence_epoch(losses, rel=0.1, window=3) == 5  # 1.05 is within 10% of 0.99
    assert convergence_epoch(losses, rel=0.0, window=3) == 9
    assert convergence_epoch([float("nan")], 0.1, 3) is None


def test_widths_hit_a_parameter_target():
    for depth in (1, 2, 3, 6):
        w = width_for(700, depth)
        assert abs(mlp_params(depth, w) - 700) <= abs(mlp_params(depth, w + 1) - 700)
        assert abs(mlp_params(depth, w) - 700) <= abs(mlp_params(depth, max(1, w - 1)) - 700)
    assert mlp_params(1, 233) == 700 and mlp_params(3, 17) == 664
    model = torch.nn.Sequential(
        torch.nn.Linear(1, 11), torch.nn.ReLU(), torch.nn.Linear(11, 11), torch.nn.ReLU(), torch.nn.Linear(11, 1)
    )
    assert mlp_params(2, 11) == sum(p.numel() for p in model.parameters())


def test_pca_recovers_a_plane():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(50, 2)))[0].T  # two orthonormal directions in 50-D
    coef = rng.normal(size=(30, 2)) * [5.0, 1.0]
    coords, var = pca_2d(coef @ basis + 3.0)
    assert var.sum() == pytest.approx(1.0) and var[0] > var[1]
    # the 2-D coordinates keep every pairwise distance of the original points
    d_orig = np.linalg.norm(coef[:, None] - coef[None], axis=-1)
    d_pca = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    assert np.allclose(d_orig, d_pca, atol=1e-8)


def test_jacobian_norms_match_torch_func():
    from runner.train.sensitivity import jacobian_norms

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))
    x = torch.randn(5, 3, 2, 2)
    ours = jacobian_norms(model, x, batch_size=2)
    for i in range(5):
        jac = torch.func.jacrev(lambda v: model(v[None])[0])(x[i])
        assert ours[i].item() == pytest.approx(jac.norm().item(), rel=1e-5)


def test_shuffled_labels_keep_counts_and_spare_val_and_test():
    from runner.data.splits import carve

    y = np.repeat(np.arange(10), 30)
    x = np.arange(len(y))[:, None]
    splits = {"train": (x, y), "test": (x[:20], y[:20])}
    plain = carve(splits, compose("dataset.val_size=50").dataset, 0, True)
    shuffled = carve(splits, compose("dataset.val_size=50", "dataset.shuffle_labels=true").dataset, 0, True)
    shuffled_b = carve(splits, compose("dataset.val_size=50", "dataset.shuffle_labels=true").dataset, 0, True)
    assert np.array_equal(plain["train"][0], shuffled["train"][0])
    assert np.array_equal(np.bincount(plain["train"][1]), np.bincount(shuffled["train"][1]))
    assert (plain["train"][1] != shuffled["train"][1]).mean() > 0.8
    assert np.array_equal(shuffled["train"][1], shuffled_b["train"][1]), "fixed by dataset.label_seed"
    assert np.array_equal(plain["val"][1], shuffled["val"][1]) and np.array_equal(plain["test"][1], shuffled["test"][1])


def test_log_steps_records_every_step(tmp_path):
    s, run = train(
        tmp_path,
        "dataset=function",
        "dataset.n_train=100",
        "trainer.batch_size=32",
        "trainer.epochs=3",
        "trainer.log_steps=true",
    )
    steps = pd.read_csv(run / "steps.csv")
    assert list(steps.columns) == ["step", "epoch", "loss", "grad_norm"]
    assert steps["step"].tolist() == list(range(1, 13)) and steps["epoch"].tolist() == [1] * 4 + [2] * 4 + [3] * 4
    assert (steps["grad_norm"] > 0).all()
    # the running train loss of an epoch is the batch losses weighted by batch size (32, 32, 32, 4)
    m = pd.read_csv(run / "metrics.csv")
    first = steps[steps["epoch"] == 1]["loss"].to_numpy()
    assert m["train_loss"].iloc[0] == pytest.approx(np.dot(first, [32, 32, 32, 4]) / 100, rel=1e-6)
    assert (run / "plots" / "steps.png").is_file()


# ------------------------------------------------------------------ the nine presets, reduced


def test_function_fit(tmp_path):
    d = study(tmp_path, "function_fit")
    df = pd.read_csv(d / "function_fit.csv")
    assert len(df) == 6 and set(df["fn"]) == {"sin_plus_square", "sign_sin"}
    assert df["params"].between(0.9 * 700, 1.1 * 700).all(), "every model has about the target parameter count"
    for fn, rows in df.groupby("fn"):
        deepest, shallowest = rows.loc[rows["depth"].idxmax()], rows.loc[rows["depth"].idxmin()]
        assert deepest["final_test_loss"] <= 10 * shallowest["final_test_loss"], fn  # the documented factor
    assert (d / "plots" / "predictions_sign_sin.png").is_file() and (d / "sign_sin" / "depth6" / "DONE").is_file()
    assert_report(d)
    shared = (d / "report.md").read_text().split("## Settings every run shared")[1].split("##")[0]
    # its runs' own settings, resolved (Hydra's .hydra/config.yaml keeps ${dlrun.scale:...} unresolved)
    assert "| batches | 16 samples per step, 60 epochs |" in shared and "| init | default |" in shared
    assert "| data | function, fn varies, n_train 200 |" in shared and "| model | mlp, hidden varies |" in shared, (
        "each run fits its own function and shape"
    )
    # stopped in its third model: run again, it keeps the two it finished and trains the other four
    fns = ("sin_plus_square", "sign_sin")
    again, stamps = stopped_copy(d, [f"{fns[0]}/depth1", f"{fns[0]}/depth3"], [f"{fns[0]}/depth6"],
                                 [f"{fns[1]}/depth{k}" for k in (1, 3, 6)])  # fmt: skip
    (again / "function_fit.csv").unlink()
    (again / "error.txt").write_text("an earlier attempt's traceback\n")  # litter a fresh start clears
    out = []
    study(tmp_path, "function_fit", target=again, output=out)
    assert_went_on(d, again, stamps, out[0], "function_fit.csv")
    assert not (again / "error.txt").exists()
    # another config's runs (fewer epochs) are not kept: every model is trained again
    (again / "DONE").unlink()
    study(tmp_path, "function_fit", "trainer.epochs=5", target=again, output=out)
    assert "kept" not in out[1] and len(pd.read_csv(again / fns[0] / "depth1" / "metrics.csv")) == 5
    # fewer functions and depths: the runs it names are trained (their config, study section
    # included, is another), those it does not are removed: they stayed in the folder, finished,
    # beside a report that does not show them
    (again / "DONE").unlink()
    study(tmp_path, "function_fit", "trainer.epochs=5", "study.function_fit.functions=[sign_sin]",
          "study.function_fit.depths=[1,3]", target=again, output=out)  # fmt: skip
    assert ("removed 4 finished run(s) of an earlier attempt that these settings do not name: sign_sin/depth6, "
            "sin_plus_square/depth1, sin_plus_square/depth3, sin_plus_square/depth6") in out[2]  # fmt: skip
    assert sorted(p.relative_to(again).as_posix() for p in again.rglob("DONE")) == [
        "DONE", "sign_sin/depth1/DONE", "sign_sin/depth3/DONE"]  # fmt: skip
    assert not (again / fns[0]).exists() and len(pd.read_csv(again / "function_fit.csv")) == 2
    assert_rerenders(d)


def test_a_study_job_of_a_sweep_stopped_goes_on_with_the_runs_it_finished(tmp_path):
    """A study as a sweep's job: the sweep cleared the job's folder before running it again, so
    the runs it had finished were trained again."""
    sweep = study(tmp_path, "function_fit", "-m", "seed=3", "study.function_fit.functions=[sign_sin]", sweep=True)
    (job,) = [p for p in sweep.iterdir() if p.is_dir() and (p / "DONE").is_file()]
    for name in ("DONE", "summary.json", "report.md"):
        (job / name).unlink()
    (job / "sign_sin" / "depth6" / "DONE").unlink()
    stamps = {k: (job / "sign_sin" / k / "DONE").stat().st_mtime_ns for k in ("depth1", "depth3")}
    out = []
    study(tmp_path, "function_fit", "-m", "seed=3", "study.function_fit.functions=[sign_sin]", sweep=True, output=out)
    assert out[0].count("finished earlier, kept") == 2, out[0]
    assert {k: (job / "sign_sin" / k / "DONE").stat().st_mtime_ns for k in stamps} == stamps
    assert (job / "sign_sin" / "depth6" / "DONE").is_file() and (job / "DONE").is_file()


def test_clearing_a_study_folder_keeps_the_runs_it_finished_and_what_it_names(tmp_path):
    from runner.runfolder import clear

    folder = tmp_path / "study"
    for run in ("run0", "fn/depth1", "fn/depth3", "run1"):
        (folder / run).mkdir(parents=True)
        (folder / run / "metrics.csv").write_text("epoch\n1\n")
    for run in ("run0", "fn/depth1"):
        (folder / run / "DONE").write_text("ok\n")
    (folder / "plots").mkdir()
    for name in ("trajectory_pca.csv", "repeats.json", "error.txt"):
        (folder / name).write_text("x\n")
    clear(folder, keep_runs=True, also=frozenset({"repeats.json"}))
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    assert left == ["fn", "fn/depth1", "fn/depth1/DONE", "fn/depth1/metrics.csv", "repeats.json", "run0",
                    "run0/DONE", "run0/metrics.csv"]  # fmt: skip


@pytest.mark.realdata
def test_mnist_deep_shallow(tmp_path, shared_data):
    d = study(tmp_path, "mnist_deep_shallow", data=shared_data, sweep=True)
    df = pd.read_csv(d / "summary.csv")
    assert df["variant"].tolist() == ["cnn_5_15", "cnn_16_32", "cnn_32_64"] and df["status"].eq("ok").all()
    assert df["params"].is_monotonic_increasing
    assert (df["final_test_acc"] > 0.5).all()
    assert (d / "plots" / "curves_acc.png").is_file()


@pytest.mark.realdata
def test_trajectory_pca(tmp_path, shared_data):
    # every=2 of 3 epochs: the last epoch is recorded as well, so each trajectory ends trained
    d = study(tmp_path, "trajectory_pca", "trainer.epochs=3", "study.trajectory.every=2", data=shared_data)
    df = pd.read_csv(d / "trajectory_pca.csv")
    assert sorted(df["run"].unique()) == [0, 1, 2]
    assert all(list(g) == [0, 2, 3] for _, g in df.groupby("run")["epoch"])
    assert df.loc[df["epoch"] == 0, "train_loss"].isna().all()
    s = json.loads((d / "summary.json").read_text())
    assert 0 < sum(s["explained_variance_all"]) <= 1 and s["params"] == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    starts = df[df["epoch"] == 0][["all_pc1", "all_pc2"]].to_numpy()
    assert np.linalg.norm(starts[0] - starts[1]) > 1e-3, "different seeds start at different points"
    assert_report(d)
    # stopped in its second run: run again, it keeps run 0 (its weights read from trajectory.npz)
    again, stamps = stopped_copy(d, ["run0"], ["run1"], ["run2"])
    out = []
    study(tmp_path, "trajectory_pca", "trainer.epochs=3", "study.trajectory.every=2", data=shared_data,
          target=again, output=out)  # fmt: skip
    assert_went_on(d, again, stamps, out[0], "trajectory_pca.csv")
    assert_rerenders(d)


def test_grad_norm(tmp_path):
    d = study(tmp_path, "grad_norm")
    steps = pd.read_csv(d / "steps.csv")
    per_epoch = steps.groupby("epoch")["loss"].mean()
    assert len(per_epoch) == 10 and per_epoch.iloc[-1] < per_epoch.iloc[0]
    assert (steps["grad_norm"] > 0).all() and (d / "plots" / "steps.png").is_file()
    assert_report(d)


def test_minimal_ratio(tmp_path):
    d = study(tmp_path, "minimal_ratio")
    df = pd.read_csv(d / "minimal_ratio.csv")
    assert len(df) == 3
    assert (df["eigenvalues"] == df["params"]).all() and df["params"].eq(1 * 8 + 8 + 8 * 8 + 8 + 8 + 1).all()
    assert df["minimal_ratio"].between(0, 1).all()
    assert np.allclose(df["minimal_ratio"], df["positive"] / df["eigenvalues"])
    assert_report(d)
    assert not (d / "repeats.json").exists(), "the record of the repeats so far goes once the table is written"
    assert_goes_on_after_its_repeats(tmp_path, d)
    assert_rerenders(d)


def assert_goes_on_after_its_repeats(tmp_path, d):
    """Stopped after two of its three repeats, minimal_ratio run again computes only the third:
    the two come from repeats.json (one marked there, to show it is not computed again)."""
    import shutil

    from runner.files import read_config
    from runner.studies.common import read_rows
    from runner.studies.minimal_ratio import CSV_COLUMNS
    from runner.train.checkpoint import fingerprint

    again = tmp_path / "minimal_ratio_again"
    rows = [[r[c] for c in CSV_COLUMNS] for r in read_rows(d / "minimal_ratio.csv", CSV_COLUMNS, text=("phase",))]
    rows[0][2] = 123.0  # the first repeat's loss
    shutil.copytree(d / ".hydra", again / ".hydra")  # a stopped study's folder: Hydra's record, the lock
    shutil.copy(d / ".dlrun.lock", again)
    record = {"fingerprint": fingerprint(read_config(d / "config.yaml")), "rows": rows[:2]}
    (again / "repeats.json").write_text(json.dumps(record))
    out = []
    study(tmp_path, "minimal_ratio", "trainer.progress=plain", target=again, output=out)
    assert "2 of 3 repeats finished earlier, kept" in out[0] and "repeat 1/3" not in out[0], out[0]
    got, want = pd.read_csv(again / "minimal_ratio.csv"), pd.read_csv(d / "minimal_ratio.csv")
    assert got["loss"].iloc[0] == 123.0
    pd.testing.assert_frame_equal(got.iloc[1:], want.iloc[1:])
    # another config's record (three repeats of fewer steps) is not kept
    shutil.rmtree(again)
    shutil.copytree(d / ".hydra", again / ".hydra")
    shutil.copy(d / ".dlrun.lock", again)
    (again / "repeats.json").write_text(json.dumps(record))
    out = []
    study(tmp_path, "minimal_ratio", "study.minimal_ratio.steps=100", "trainer.progress=plain", target=again,
          output=out)  # fmt: skip
    assert (
        "kept" not in out[0] and "repeat 1/3" in out[0] and pd.read_csv(again / "minimal_ratio.csv")["loss"][0] != 123
    )


@pytest.mark.realdata
def test_random_labels(tmp_path, shared_data):
    d = study(tmp_path, "random_labels", data=shared_data)
    m = pd.read_csv(d / "metrics.csv")
    assert m["train_acc"].iloc[-1] > 0.5, "the network memorises random labels"
    assert m["test_acc"].iloc[-1] < 0.2, "and learns nothing that generalizes"
    assert m["test_loss"].iloc[-1] > m["test_loss"].min() * 1.5, "test loss rises while train loss falls"
    assert m["train_loss"].iloc[-1] < 0.5 * m["train_loss"].iloc[0]
    assert_report(d)


@pytest.mark.realdata
def test_params_vs_generalization(tmp_path, shared_data):
    d = study(tmp_path, "params_vs_generalization", "model.hidden=[2,1],[8,4],[22,11]", data=shared_data, sweep=True)
    df = pd.read_csv(d / "summary.csv")
    assert df["params"].tolist() == [
        784 * 2 + 2 + 2 * 1 + 1 + 1 * 10 + 10,
        784 * 8 + 8 + 8 * 4 + 4 + 4 * 10 + 10,
        784 * 22 + 22 + 22 * 11 + 11 + 11 * 10 + 10,
    ]
    from runner.sweep.summary import report_options

    assert report_options(d) == ("params", []), "the preset plots against the parameter count"
    md = (d / "report.md").read_text()
    assert "plots/final_test_acc.png" in md and "plots/final_test_loss.png" in md


@pytest.mark.realdata
def test_flatness_interpolation(tmp_path, shared_data):
    d = study(tmp_path, "flatness_interpolation", data=shared_data)
    df = pd.read_csv(d / "interpolation.csv")
    assert len(df) == 7 and df["alpha"].iloc[0] == -1 and df["alpha"].iloc[-1] == 2
    # at a = 0 and a = 1 the interpolated model is exactly one of the two trained ones
    for alpha, run in ((0.0, "batch_64"), (1.0, "batch_1024")):
        final = json.loads((d / run / "summary.json").read_text())["final"]["test_acc"]
        assert df.loc[np.isclose(df["alpha"], alpha), "test_acc"].item() == pytest.approx(final)
    assert_report(d)
    # stopped in its large-batch run: run again, the small-batch model comes from its model.pt
    again, stamps = stopped_copy(d, ["batch_64"], ["batch_1024"])
    (again / "interpolation.csv").unlink()
    out = []
    study(tmp_path, "flatness_interpolation", data=shared_data, target=again, output=out)
    assert_went_on(d, again, stamps, out[0], "interpolation.csv")
    assert_rerenders(d)


@pytest.mark.realdata
def test_flatness_sensitivity(tmp_path, shared_data):
    d = study(tmp_path, "flatness_sensitivity", "trainer.batch_size=32,512,2048", data=shared_data, sweep=True)
    df = pd.read_csv(d / "summary.csv")
    assert df["trainer.batch_size"].tolist() == [32, 512, 2048] and (df["sensitivity"] > 0).all()
    assert (d / "plots" / "sensitivity_by_batch_size.png").is_file()
    md = (d / "report.md").read_text()
    assert "| sensitivity |" in md and "plots/sensitivity_by_batch_size.png" in md


def test_the_interpolation_report_gives_small_losses_their_significant_digits(tmp_path, monkeypatch):
    """Its table printed losses with 4 decimals: a trained end's 1.2e-4 read 0.0001."""
    from conftest import compose

    from runner.studies import flatness_interpolation as fi

    cfg = compose("experiment=flatness_interpolation", "study.reduced=true")
    fi.write_csv(tmp_path / "interpolation.csv", fi.CSV_COLUMNS,
                 [[a, tl, 0.99, vl, 0.98] for a, tl, vl in ((0.0, 1.234e-4, 0.05), (0.5, 0.8, 0.9), (1.0, 3.456e-4, 0.06))])  # fmt: skip
    monkeypatch.setattr(fi, "_plot", lambda rows, small, large, path: path)
    fi.report(cfg, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| 0.0001234 | 99.00% | 0.05 |" in md and "| 0.0003456 |" in md, md


def test_the_interpolation_reports_the_loss_barrier_between_the_two_solutions(tmp_path, monkeypatch):
    """Its headline was the highest train loss over the whole line, which is nearly always an
    extrapolated end (a = -1 or 2) and says nothing of the path between the two minima: the
    barrier is the highest loss for a in [0, 1] above the higher of the two ends."""
    import json

    from conftest import compose

    from runner.studies import flatness_interpolation as fi

    cfg = compose("experiment=flatness_interpolation", "study.reduced=true")
    monkeypatch.setattr(fi, "_plot", lambda rows, small, large, path: path)
    losses = {-1.0: 5.0, 0.0: 0.1, 0.25: 0.2, 0.5: 0.7, 0.75: 0.4, 1.0: 0.3, 2.0: 9.0}
    fi.write_csv(tmp_path / "interpolation.csv", fi.CSV_COLUMNS, [[a, tl, 0.9, tl, 0.9] for a, tl in losses.items()])
    fi.report(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["barrier_train_loss"] == pytest.approx(0.4) and summary["barrier_alpha"] == 0.5
    assert (summary["max_train_loss"], summary["max_train_loss_alpha"]) == (9.0, 2.0)
    md = (tmp_path / "report.md").read_text()
    assert "the train loss peaks at 0.7 at a = 0.50, a barrier of 0.4 above the higher end." in md, md
    # a path that never rises above its ends has none
    fi.write_csv(tmp_path / "interpolation.csv", fi.CSV_COLUMNS,
                 [[a, tl, 0.9, tl, 0.9] for a, tl in ((-1.0, 3.0), (0.0, 0.1), (0.5, 0.2), (1.0, 0.3))])  # fmt: skip
    fi.report(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["barrier_train_loss"], summary["barrier_alpha"]) == (0.0, None)
    assert "no barrier: it never rises above the higher end" in (tmp_path / "report.md").read_text()


def test_the_trajectory_plot_labels_a_small_final_loss_with_its_significant_digits(tmp_path, monkeypatch):
    """Each run's end was labelled with 3 decimals: a final train loss of 0.00123 read 0.001."""
    import matplotlib

    matplotlib.use("Agg")
    from runner.studies import trajectory_pca as tp

    labels = []

    def keep(fig, path):
        labels.extend(t.get_text() for ax in fig.axes for t in ax.texts)
        return path

    monkeypatch.setattr(tp, "save", keep)
    rows = [{"run": 0, "seed": 0, "train_loss": loss, "layer1_pc1": i, "layer1_pc2": i, "all_pc1": i, "all_pc2": i}
            for i, loss in enumerate([2.3, 0.5, 0.00123])]  # fmt: skip
    tp._plot(rows, [0.6, 0.2], [0.5, 0.3], tmp_path / "pca.png")
    assert labels == ["0.00123", "0.00123"]
    # and the report's table of final losses (4 decimals read it 0.0012)
    from conftest import compose

    table = [[r.get(c, 0.5) for c in tp.CSV_COLUMNS] for r in rows]  # test accuracy 50%
    tp.write_csv(tmp_path / "trajectory_pca.csv", tp.CSV_COLUMNS, table)
    tp.write_csv(tmp_path / "explained_variance.csv", tp.VARIANCE_COLUMNS,
                 [["first_layer", 0.6, 0.2], ["all", 0.5, 0.3]])  # fmt: skip
    (tmp_path / "run0").mkdir()
    (tmp_path / "run0" / "summary.json").write_text('{"params": 100}')
    tp.report(compose("experiment=trajectory_pca", "study.reduced=true"), tmp_path)
    assert "| 0 | 0 | 0.00123 | 50.00% |" in (tmp_path / "report.md").read_text()


def test_the_interpolation_evaluates_a_sample_of_every_class(tmp_path, monkeypatch):
    """study.interpolation.eval_samples took the first n of each split: of a source read from
    class folders (CIFAR-10's, the Gurmukhi digits') that is one or two classes."""
    from conftest import compose, write_class_folders

    from runner.config.validate import prepare
    from runner.studies import flatness_interpolation as fi

    data = write_class_folders(tmp_path / "data" / "gurmukhi", n_per_class=12, size=28).parent
    cfg = prepare(compose("experiment=flatness_interpolation", "dataset=gurmukhi",
                          f"data_dir={data}", "dataset.image_size=[28,28]", "dataset.subsample=0",
                          "dataset.test_subsample=0", "trainer.epochs=1", "study.interpolation.steps=2",
                          "study.interpolation.eval_samples=20", "trainer.progress=quiet"))  # fmt: skip
    seen = []
    real = fi.evaluate
    monkeypatch.setattr(fi, "evaluate", lambda model, split, *a: seen.append(split.y.clone()) or real(model, split, *a))
    monkeypatch.setattr(fi, "report", lambda cfg, study_dir: {})
    fi.run(cfg, tmp_path / "study")
    assert len(seen) == 4 and all(len(y) == 20 and y.unique().numel() == 10 for y in seen)
