"""The file contract: atomic writes, flushed rows, JSON without NaN, plots rendered from files."""

from __future__ import annotations

import json

import pandas as pd

from runner.files import CsvAppender, atomic_write_text, write_csv, write_json
from runner.report.run_plots import render_run


def test_atomic_write_leaves_no_temporary(tmp_path):
    atomic_write_text(tmp_path / "a" / "x.txt", "hello")
    assert (tmp_path / "a" / "x.txt").read_text() == "hello"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.txt"]


def test_csv_rows_are_readable_while_the_file_is_open(tmp_path):
    w = CsvAppender(tmp_path / "m.csv", ["epoch", "loss", "acc"])
    w.append({"epoch": 1, "loss": 0.5})
    df = pd.read_csv(tmp_path / "m.csv")  # not closed yet
    assert df["epoch"].tolist() == [1] and df["acc"].isna().all()
    w.append({"epoch": 2, "loss": float("nan"), "acc": 0.25})
    w.close()
    df = pd.read_csv(tmp_path / "m.csv")
    assert df["loss"].isna().tolist() == [False, True] and df["acc"].tolist()[1] == 0.25


def test_json_turns_non_finite_numbers_into_null(tmp_path):
    write_json(tmp_path / "s.json", {"loss": float("inf"), "x": [1.0, float("nan")]})
    assert json.loads((tmp_path / "s.json").read_text()) == {"loss": None, "x": [1.0, None]}


def test_render_run_from_files_alone(tmp_path):
    write_csv(
        tmp_path / "metrics.csv",
        ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"],
        [[e, 1 / e, 0.5 + e / 20, 1.2 / e, 0.45 + e / 20, 0.1] for e in range(1, 6)],
    )
    classes = ["T-shirt/top", "Trouser", "Bag"]
    write_csv(
        tmp_path / "confusion_test.csv",
        ["true\\pred"] + classes,
        [["T-shirt/top", 8, 1, 1], ["Trouser", 0, 10, 0], ["Bag", 2, 0, 8]],
    )
    made = render_run(tmp_path)
    assert sorted(p.name for p in made) == ["confusion_test.png", "curves.png"]
    for p in made:
        assert p.stat().st_size > 5000
    assert not list((tmp_path / "plots").glob(".*"))  # no temporary files left


def test_csv_cells_from_numpy_values_are_plain_numbers(tmp_path):
    import numpy as np

    write_csv(tmp_path / "n.csv", ["a", "b", "c"], [[np.float64(0.25), np.int64(3), np.float32(0.5)]])
    assert (tmp_path / "n.csv").read_text().splitlines()[1] == "0.25,3,0.5"


def test_report_html_is_real_markdown_with_embedded_images(tmp_path):
    from runner.report.html import markdown_to_html

    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "curves.png").write_bytes(b"\x89PNG fake")
    md = "\n".join([
        "# Run <x>", "", "### Third level", "", "1. first", "2. second", "",
        "- see [the docs](https://example.org/a_(b)) and `code`", "",
        "| split | a<b |", "|---|---|", "| test | x & y |", "",
        "![curves](plots/curves.png)", "![gone](plots/gone.png)",
    ])  # fmt: skip
    page = markdown_to_html(md, tmp_path, title="t")
    assert "<h1>Run &lt;x&gt;</h1>" in page and "<h3>Third level</h3>" in page
    assert "<ol>\n<li>first</li>\n<li>second</li>\n</ol>" in page
    assert '<a href="https://example.org/a_(b)">the docs</a>' in page and "<code>code</code>" in page
    assert "<th>a&lt;b</th>" in page and "<td>x &amp; y</td>" in page
    assert 'src="data:image/png;base64,iVBORyBmYWtl"' in page  # embedded from the file beside it
    assert 'src="plots/gone.png"' in page  # a missing image keeps its path


def test_a_regression_runs_report_shows_the_best_loss_where_a_classifier_shows_accuracy(tmp_path):
    from conftest import run_dlrun

    run = tmp_path / "run"
    proc = run_dlrun("dataset=function", "trainer.epochs=2", "trainer.progress=quiet", f"hydra.run.dir={run}",
                     cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((run / "summary.json").read_text())
    md = (run / "report.md").read_text()
    assert "| split | samples | final loss | best loss (epoch) |" in md and "accuracy" not in md.split("##")[0]
    test_best = f"{summary['best']['test_loss']:.4g} ({summary['best']['test_loss_epoch']})"
    assert f"| test | 500 | {summary['final']['test_loss']:.4g} | {test_best} |" in md
    assert f"| train | 1,000 | {summary['final']['train_loss']:.4g} |" in md  # counts with thousands separators


def test_gradient_norms_of_zero_are_drawn_at_the_bottom_of_the_log_axis_not_dropped(tmp_path):
    """A dead layer's gradient norm is 0: on a plain log axis its line vanished (matplotlib warned
    "Data has no positive values"), hiding the very thing the plot is for."""
    import warnings

    from runner.report.layer_plots import plot_grad_norms, plot_steps
    from runner.report.style import log_y, pyplot

    plt = pyplot()
    for values, scale, words in (([1e-4, 0.5, 2.0], "log", "log scale"),
                                 ([1e-4, 0.0, 0.5], "symlog", "log scale; zeros at the bottom"),
                                 ([0.0, 0.0, float("nan")], "linear", "")):  # fmt: skip
        fig, ax = plt.subplots()
        assert (log_y(ax, values), ax.get_yscale()) == (words, scale)
        if scale == "symlog":
            assert ax.yaxis.get_transform().linthresh == 1e-4  # linear only below the smallest positive value
        plt.close(fig)
    dead = pd.DataFrame({"epoch": [1, 1, 2, 2], "layer": ["fc1", "out"] * 2, "grad_norm": [0.0] * 4})
    steps = pd.DataFrame({"step": [1, 2, 3, 4], "epoch": [1, 1, 2, 2], "loss": [2.0, 1.5, 1.5, 1.5],
                          "grad_norm": [0.3, 0.0, 0.0, 0.0]})  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_grad_norms(dead, "dead", tmp_path / "grad_norms.png")
        plot_steps(steps, "dying", tmp_path / "steps.png")
    assert (tmp_path / "grad_norms.png").stat().st_size > 0 and (tmp_path / "steps.png").stat().st_size > 0


def test_log_axes_label_their_ticks_as_plain_numbers_near_one(tmp_path):
    """A loss axis from 0.3 to 1.4 was labelled 3x10^-1, 4x10^-1, 6x10^-1; a search's loss
    between 0.08 and 0.092 read 8.2x10^-2 ... 9.2x10^-2."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import FuncFormatter

    from runner.report.style import save

    fig, axes = plt.subplots(1, 5)
    spans = [(0.3, 1.4), (1e-6, 50.0), (0.2, 2.0), (32, 2048), (0.045, 5.0)]
    for ax, (lo, hi), base in zip(axes, spans, (10, 10, 10, 2, 10)):
        ax.plot([0, 1], [lo, hi])
        ax.set_yscale("log", base=base)
    axes[2].yaxis.set_major_formatter(FuncFormatter(lambda v, _: "mine"))  # a plot's own labels stay
    save(fig, tmp_path / "log.png")

    def labels(ax):
        return [t.get_text() for which in (False, True) for t in ax.get_yticklabels(minor=which) if t.get_text()]

    near_one, wide, own, powers_of_two, two_decades = (labels(ax) for ax in axes)
    assert {"0.4", "1"} <= set(near_one) and not any("10^" in t for t in near_one), near_one
    assert wide and all("10^{" in t for t in wide), wide  # reaching far from 1: powers of ten throughout, not mixed
    assert "mine" in own
    assert any("2^{6}" in t for t in powers_of_two), powers_of_two  # a base-2 axis keeps its own labels
    # two decades (sweep=width's losses): 0.1 and 1 alone were labelled; 2x and 5x between them now
    lo, hi = axes[4].get_ylim()
    assert [t for t in two_decades if lo <= float(t) <= hi] == ["0.1", "1", "0.05", "0.2", "0.5", "2", "5"], two_decades


def test_a_fitted_square_wave_is_not_hidden_by_its_legend(tmp_path, monkeypatch):
    """sign_sin's ground truth reaches every corner of the axes, and the legend ("best" place)
    sat over it, in a run's predictions.png and in function_fit's predictions_<fn>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    import pandas as pd
    from matplotlib import pyplot as plt

    from runner.report import predictions, style
    from runner.studies import function_fit

    hidden = {}

    def keep(fig, path):
        fig.canvas.draw()
        ax = fig.axes[0]
        box = ax.get_legend().get_window_extent()
        points = np.concatenate([ax.transData.transform(line.get_xydata()) for line in ax.get_lines()])
        hidden[path.stem] = int(sum(box.contains(x, y) for x, y in points))
        plt.close(fig)
        return path

    x = np.linspace(-1, 1, 400)
    pred = pd.DataFrame({"x": x, "y_true": np.sign(np.sin(5 * np.pi * x)), "y_pred": 0.3 * x})
    monkeypatch.setattr(predictions, "save", keep)
    monkeypatch.setattr(function_fit, "save", keep)
    monkeypatch.setattr(style, "save", keep)
    predictions.plot_predictions(pred, "t", tmp_path / "predictions.png")
    runs = []
    for depth in (1, 3):
        run = tmp_path / f"depth{depth}"
        run.mkdir()
        pred.to_csv(run / "predictions.csv", index=False)
        pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.9], "test_loss": [1.1, 1.0]}).to_csv(
            run / "metrics.csv", index=False
        )
        runs.append((f"depth {depth}", run))
    function_fit._plot("sign_sin", runs, "t", tmp_path)
    assert hidden["predictions"] == 0 and hidden["predictions_sign_sin"] == 0, hidden


def test_a_one_epoch_run_draws_its_points_on_a_tick_of_its_epoch(tmp_path, monkeypatch):
    """weight_stats.png of a one-epoch run was empty (lines without markers: a line needs two
    points), and every per-epoch plot spread its one epoch over 0.96 ... 1.04."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from matplotlib import pyplot as plt

    from runner.report import curves, layer_plots
    from runner.train.rows import LAYER_COLUMNS

    seen = {}

    def keep(fig, path):
        fig.canvas.draw()
        axes = [ax for ax in fig.axes if ax.get_lines()]
        seen[path.stem] = {"ticks": [[t.get_text() for t in ax.get_xticklabels()] for ax in axes],
                           "markers": {line.get_marker() for ax in axes for line in ax.get_lines()}}  # fmt: skip
        plt.close(fig)
        return path

    monkeypatch.setattr(layer_plots, "save", keep)
    monkeypatch.setattr(curves, "save", keep)
    layers = pd.DataFrame([[1, name, "fc", 10, 0.1, 0.01, 0.05, 0.2, None] for name in ("fc1", "out")],
                          columns=LAYER_COLUMNS)  # fmt: skip
    layer_plots.plot_weight_stats(layers, "t", tmp_path / "weight_stats.png")
    layer_plots.plot_grad_norms(layers, "t", tmp_path / "grad_norms.png")
    metrics = pd.DataFrame(
        {"epoch": [1], "train_loss": [1.0], "train_acc": [0.5], "test_loss": [0.9], "test_acc": [0.6]}
    )
    curves.plot_curves(metrics, "t", tmp_path / "curves.png")
    for name, plot in seen.items():
        assert plot["ticks"] and all(ticks == ["1"] for ticks in plot["ticks"]), (name, plot["ticks"])
        assert "None" not in plot["markers"] and "" not in plot["markers"], (name, plot["markers"])


def test_a_one_epoch_replicated_run_shows_its_spread_as_error_bars(tmp_path, monkeypatch):
    """The ±1 std band over the copies is a fill between epochs: over one epoch it had no width
    and the plot promised a band it did not draw."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from matplotlib import pyplot as plt

    from runner.report import curves

    seen = {}

    def keep(fig, path):
        seen["title"] = fig._suptitle.get_text()
        seen["bars"] = [
            (ax.get_title(), sorted(round(float(y), 3) for bar in ax.containers for seg in bar.lines[2]
                                    for y in seg.get_segments()[0][:, 1]))
            for ax in fig.axes
        ]  # fmt: skip
        plt.close(fig)
        return path

    monkeypatch.setattr(curves, "save", keep)
    metrics = pd.DataFrame({"epoch": [1], "train_loss": [1.0], "train_loss_std": [0.1], "train_acc": [0.5],
                            "train_acc_std": [0.02], "test_loss": [0.9], "test_loss_std": [0.2],
                            "test_acc": [0.6], "test_acc_std": [0.05]})  # fmt: skip
    curves.plot_curves(metrics, "t", tmp_path / "curves.png")
    assert seen["bars"] == [("Loss", [0.7, 0.9, 1.1, 1.1]), ("Accuracy", [48.0, 52.0, 55.0, 65.0])], seen["bars"]
    assert "error bars = ±1 std" in seen["title"]


def _run_folder(tmp_path, *overrides: str, summary: dict | None = None):
    """A run folder holding the config.yaml and summary.json `dlrun <overrides>` would write."""
    from conftest import compose
    from omegaconf import OmegaConf

    from runner.config.validate import prepare

    cfg = compose(*overrides)
    prepare(cfg)
    run = tmp_path / "run"
    atomic_write_text(run / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    write_json(run / "summary.json", {"name": "r", "status": "ok", "task": cfg.task, "epochs": 1, "epochs_run": 1,
                                      "final": {"test_loss": 0.5}, "best": {}, **(summary or {})})  # fmt: skip
    return run


def test_a_runs_report_says_how_it_was_trained(tmp_path):
    from runner.report.run_report import write_run_report

    run = _run_folder(tmp_path, "dataset=function", "dataset.noise=0.1", "model.depth=2", "model.width=8",
                      "activation=leaky_relu", "activation.negative_slope=0.2", "regularizer=[l2,dropout]",
                      "regularizer.dropout=0.3", "init=xavier", "optimizer=sgd", "optimizer.lr=0.05",
                      "optimizer.nesterov=true", "scheduler=step", "scheduler.step_size=3", "trainer.epochs=7",
                      "trainer.batch_size=16", "trainer.early_stopping.metric=test_loss")  # fmt: skip
    md = write_run_report(run).read_text()
    section = md.split("## Settings")[1].split("##")[0]
    rows = dict(line.strip("| ").split(" | ") for line in section.strip().splitlines()[2:])
    assert rows == {
        "data": "function, fn sin_plus_square, noise 0.1",
        "model": "mlp, hidden [8, 8]",
        "activation": "leaky_relu, negative_slope 0.2",
        "regularizer": "l2 0.0001, dropout 0.3",
        "init": "xavier",
        "optimizer": "sgd, lr 0.05, momentum 0.9, nesterov",  # sgd's keys, not Adam's betas
        "schedule": "step, step_size 3, gamma 0.1",
        "batches": "16 samples per step, 7 epochs",
        "early stopping": "test_loss, mode auto, patience 5, min_delta 0",
        "precision": "fp32",
    }


def test_an_evals_settings_are_the_saved_networks_and_a_damaged_config_costs_only_the_section(tmp_path):
    from runner.report.run_report import write_run_report

    run = _run_folder(tmp_path, "dataset=function", "optimizer=sgd", "task=eval", "ckpt=x/model.pt",
                      summary={"ckpt": "x/model.pt", "trained_epochs": 3})  # fmt: skip
    section = write_run_report(run).read_text().split("## Settings of the saved network and the data evaluated")[1]
    assert "| optimizer | sgd, lr 0.01, momentum 0.9 |" in section and "| model | mlp," in section
    assert "| batches |" not in section and "| schedule |" not in section, "the eval command's defaults trained nothing"
    run = _run_folder(tmp_path, "dataset=function", "model=mlp", "optimizer=adam")
    (run / "config.yaml").write_text("model: [unclosed\n")
    md = write_run_report(run).read_text()
    assert "## Settings" not in md and "| test |" in md, "a damaged config.yaml costs the section, not the report"


def test_a_deep_networks_layer_legend_stands_beside_the_lines_and_names_every_layer(tmp_path, monkeypatch):
    """An 8-layer sigmoid MLP's gradient norms fill the log axis from 1e-6 to 1: the legend inside
    hid the output layer's line; weight_stats' legend inside its first panel hid lines there."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import layer_plots
    from runner.train.rows import LAYER_COLUMNS

    seen = {}

    def keep(fig, path):
        fig.canvas.draw()
        for ax in fig.axes:
            if (box := ax.get_legend()) is not None:
                inside = box.get_window_extent().x0 < ax.get_window_extent().x1
                seen[path.stem] = (inside, [t.get_text() for t in box.get_texts()])
        plt.close(fig)
        return path

    monkeypatch.setattr(layer_plots, "save", keep)
    names = [f"fc{k}" for k in range(1, 9)] + ["out"]
    rows = [[e, n, "fc", 10, 10.0 ** (k - 8), 0.01, 0.05, 0.1, None if n == "out" else 0.01]
            for e in (1, 2) for k, n in enumerate(names)]  # fmt: skip
    deep = pd.DataFrame(rows, columns=LAYER_COLUMNS)
    layer_plots.plot_grad_norms(deep, "t", tmp_path / "grad_norms.png")
    layer_plots.plot_weight_stats(deep, "t", tmp_path / "weight_stats.png")
    assert seen == {"grad_norms": (False, names), "weight_stats": (False, names)}  # "out" has no saturation
    shallow = deep[deep["layer"].isin(["fc1", "fc2", "out"])]
    layer_plots.plot_grad_norms(shallow, "t", tmp_path / "grad_norms.png")
    assert seen["grad_norms"] == (True, ["fc1", "fc2", "out"]), "a few layers' legend still fits inside"


def test_a_replicated_run_s_confusion_matrix_says_it_pools_the_copies(tmp_path, monkeypatch):
    """Three replicas on a 10,000-sample test set are counted into one matrix: its title said
    'on 30,000 samples', a test set three times the size the run reported."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from runner.report import confusion

    titles = []

    def keep(fig, path):
        titles.append(fig.axes[0].get_title())
        plt.close(fig)
        return path

    monkeypatch.setattr(confusion, "save", keep)
    (tmp_path / "confusion_test.csv").write_text("true\\pred,a,b\na,290,10\nb,20,280\n")
    for replicas, seen in ((3, "on 200 samples x 3 replicas, pooled"), (1, "on 600 samples")):
        (tmp_path / "summary.json").write_text(json.dumps({"name": "r", "replicas": replicas}))
        render_run(tmp_path)
        assert titles.pop() == f"r: confusion matrix (test)\naccuracy 95.00% {seen}"
    (tmp_path / "summary.json").write_text("[1, 2]")  # not a summary: the folder's name, no count
    render_run(tmp_path)
    assert titles.pop() == f"{tmp_path.name}: confusion matrix (test)\naccuracy 95.00% on 600 samples"


def test_a_sweep_with_one_readable_job_does_not_call_its_settings_shared(tmp_path):
    """A sweep stopped after its first job (a full disk) rendered 'Settings every job shared'
    with activation relu, the value it swept: alike means something only between two or more."""
    from conftest import compose
    from omegaconf import OmegaConf

    from runner.report.settings import shared_section

    for name, act in (("0_relu", "relu"), ("1_tanh", "tanh")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text(OmegaConf.to_yaml(compose(f"activation={act}")))
    both = shared_section([tmp_path / "0_relu", tmp_path / "1_tanh", None], "job")
    assert both[0] == "## Settings every job shared" and not any(r.startswith("| activation |") for r in both)
    alone = shared_section([tmp_path / "0_relu", None, None], "job")
    assert alone[:3] == ["## Settings of the only job with a config.yaml so far", "",
                         "`0_relu`; which of them the others share is not known yet."]  # fmt: skip
    assert "| activation | relu |" in alone
    assert shared_section([tmp_path / "0_relu"], "job")[0] == "## Settings every job shared"  # a one-job sweep
    assert shared_section([None, tmp_path / "missing"], "job") == []


def test_the_settings_table_reads_left_aligned_in_the_html_report(tmp_path):
    """Its values are words ('adam, lr 0.001, betas [0.9, 0.999]'): the page right-aligns
    table cells for the numbers of the other tables, and they stood ragged at the right."""
    from runner.report.html import markdown_to_html
    from runner.report.settings import table

    html = markdown_to_html("\n".join(table({"optimizer": "adam, lr 0.001", "init": "default"})), tmp_path, "t")
    assert (
        '<td style="text-align:left">adam, lr 0.001</td>' in html and '<td style="text-align:left">default</td>' in html
    )


def test_a_sweep_reports_the_settings_its_jobs_share_within_a_line_that_differs(tmp_path):
    """A swept lr dropped the whole optimizer line (betas too), a swept batch size the epochs,
    a swept CNN depth the conv layers: what the jobs share in a line stays, the rest 'varies'."""
    from conftest import compose
    from omegaconf import OmegaConf

    from runner.report.settings import shared_section

    def section(*jobs):
        dirs = []
        for overrides in jobs:
            dirs.append(tmp_path / str(len(list(tmp_path.iterdir()))))
            dirs[-1].mkdir()
            (dirs[-1] / "config.yaml").write_text(OmegaConf.to_yaml(compose(*overrides)))
        return dict(r[2:-2].split(" | ") for r in shared_section(dirs, "job") if r.startswith("| "))

    rows = section(["optimizer.lr=0.01", "trainer.batch_size=32"], ["optimizer.lr=0.001", "trainer.batch_size=64"])
    assert rows["optimizer"] == "adam, lr varies, betas [0.9, 0.999]"
    assert rows["batches"] == "batch_size varies, 10 epochs"
    rows = section(["model=cnn", "model.hidden=[64]", "regularizer.dropout=0.2", "regularizer.l2=1e-4"],
                   ["model=cnn", "model.hidden=[64,32]", "regularizer.dropout=0.2", "regularizer.l2=1e-3"])  # fmt: skip
    assert rows["model"] == "cnn, conv [32, 64, 128], hidden varies"
    assert rows["regularizer"] == "l2 varies, dropout 0.2"
    rows = section(["optimizer=adam"], ["optimizer=sgd"])  # another option: nothing of the line is alike
    assert "optimizer" not in rows and rows["batches"] == "128 samples per step, 10 epochs"
    rows = section(["regularizer.dropout=0.3"], ["regularizer.dropout=0.4"])  # a search's drawn p: still dropout
    assert rows["regularizer"] == "dropout varies"
    assert "regularizer" not in section(["regularizer=none"], ["regularizer=l2"])


def test_a_users_matplotlibrc_neither_breaks_nor_restyles_the_plots(tmp_path):
    """A matplotlibrc in the working folder (or ~/.config/matplotlib) with `text.usetex: True`, as
    papers are drawn, on a machine without LaTeX: every plot failed, and the run ended with its
    error blamed on metrics.csv. A dark figure colour restyled the reports. dlrun draws from
    matplotlib's own defaults under its own settings."""
    from conftest import run_dlrun
    from PIL import Image

    (tmp_path / "matplotlibrc").write_text("text.usetex: True\nfigure.facecolor: black\nfigure.figsize: 2, 1\n")
    env = {"PATH": "/nonexistent:" + "/usr/bin:/bin", "MPLBACKEND": "Agg"}  # no latex on it, as on a GPU node
    proc = run_dlrun("dataset=function", "trainer.epochs=2", "trainer.progress=quiet", "hydra.run.dir=r",
                     cwd=tmp_path, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    plots = tmp_path / "r" / "plots"
    assert {"curves.png", "predictions.png", "grad_norms.png"} <= {p.name for p in plots.iterdir()}
    with Image.open(plots / "curves.png") as im:
        assert im.convert("RGB").getpixel((2, 2)) == (255, 255, 255)  # white, not the rc's black
        assert im.width > 400  # not the rc's 2-inch figure
