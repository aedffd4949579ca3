"""One command reproduces the five reports: the presets are well formed, our values sit beside
the published ones with the right difference and flag, and `make reproduce QUICK=1` runs the
whole pipeline and writes every published row."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, compose

from runner.config.schema import ToleranceConfig
from runner.errors import ConfigError
from runner.reproduce.compare import canon, compare, measure
from runner.reproduce.render import table_lines, tally
from runner.reproduce.spec import Table, jobs, read_parts, sweep_values

REPORTS = ["r1", "r2", "r3", "r4", "r5"]


def table(**kw) -> Table:
    base = {"caption": "t", "metric": "final_test_acc", "kind": "acc", "rows": "activation", "columns": None,
            "values": {"relu": 50.0}}  # fmt: skip
    return Table(**{**base, **kw})


@pytest.mark.parametrize("report", REPORTS)
def test_every_preset_composes_and_its_parts_read(report):
    from runner.config.validate import prepare

    cfg = prepare(compose(f"experiment=reproduce/{report}"))
    parts = read_parts(cfg.reproduce)
    assert cfg.task == "reproduce" and cfg.reproduce.report == report and parts
    assert sum(len(p.tables) for p in parts) >= 1
    for p in parts:  # every part's own grid or preset sweep resolves to jobs
        from runner.reproduce.execute import part_jobs, plan

        grid, _ = plan(p, cfg)
        assert part_jobs(grid)


def test_the_published_values_of_the_issue_are_in_the_presets():
    r5 = read_parts(compose("experiment=reproduce/r5").reproduce)
    grid = next(p for p in r5 if p.name == "cifar_mlp_grid").tables[0]
    assert grid.rows == "activation" and grid.columns == "model.depth"
    assert grid.values["tanh"] == {1: 44.0, 2: 40.1, 3: 36.5}
    r2 = read_parts(compose("experiment=reproduce/r2").reproduce)
    assert r2[0].tables[0].values == {"sigmoid": 49.4, "tanh": 46.2, "relu": 51.9}
    r4 = {p.name: p for p in read_parts(compose("experiment=reproduce/r4").reproduce)}
    assert len(r4) == 9 and list(r4["function_fit"].tables[0].values.values()) == [0.0012, 0.0018, 0.0043]


def test_the_help_catalog_reads_the_presets_once_and_again_after_an_edit(tmp_path, monkeypatch):
    """Hydra resolves the help template (${dlrun.reports:}) at every compose, and a reproduction
    composes each of its jobs: the presets are parsed again only when one changed."""
    import runner.reproduce as reproduce

    preset = tmp_path / "r9.yaml"
    preset.write_text("reproduce:\n  title: first title\n")
    monkeypatch.setattr(reproduce, "_presets", lambda: [preset])
    monkeypatch.setattr(reproduce, "_CATALOG", {})
    parsed = []
    monkeypatch.setattr(yaml, "safe_load", lambda text: parsed.append(text) or yaml.load(text, yaml.SafeLoader))
    assert "reproduce/r9   first title" in reproduce.catalog() and len(parsed) == 1
    assert "first title" in reproduce.catalog() and len(parsed) == 1  # kept
    preset.write_text("reproduce:\n  title: second title\n")
    stat = preset.stat()
    os.utime(preset, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a coarse clock may not move
    assert "second title" in reproduce.catalog() and len(parsed) == 2


def test_composing_a_job_does_not_parse_the_reproduction_presets(monkeypatch):
    import runner.reproduce as reproduce

    compose("experiment=reproduce/r2")  # the first compose reads them once
    parsed = []
    monkeypatch.setattr(reproduce, "_catalog_text", lambda presets: parsed.append(presets) or "")
    for activation in ("relu", "tanh"):
        compose(f"activation={activation}")
    assert parsed == []


@pytest.mark.parametrize("override,key", [
    ("reproduce.parts.mlp_activations.tables.0.kind=points", "reproduce.parts.mlp_activations.tables.0.kind"),
    ("reproduce.parts.mlp_activations.tables.0.values.relu=high", "reproduce.parts.mlp_activations.tables.0.values.relu"),
    ("+reproduce.parts.mlp_activations.grid=3", "reproduce.parts.mlp_activations.grid"),
    ("+reproduce.parts.mlp_activations.quick_grid={activation:[]}", "reproduce.parts.mlp_activations.quick_grid"),
])  # fmt: skip
def test_a_bad_part_names_its_key(override, key):
    with pytest.raises(ConfigError) as e:
        read_parts(compose("experiment=reproduce/r2", override).reproduce)
    assert e.value.key == key


def test_an_unknown_report_in_reproduce_reports_is_refused_before_anything_runs(tmp_path):
    from conftest import run_dlrun

    from runner.config.validate import validate

    with pytest.raises(ConfigError) as e:
        validate(compose("experiment=reproduce/all", "reproduce.reports=[r2,r9]"))
    assert e.value.key == "reproduce.reports" and e.value.got == ["r9"] and "r1, r2, r3, r4, r5" in e.value.expected
    validate(compose("experiment=reproduce/all", "reproduce.reports=[r2,r5]"))
    proc = run_dlrun(
        "experiment=reproduce/all", "reproduce.reports=[r9]", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path
    )
    assert proc.returncode == 2 and proc.stderr.startswith("dlrun: error: reproduce.reports: expected report names")
    assert not (tmp_path / "r").exists(), "a refused command leaves no folder that passes for a reproduction"


@pytest.mark.parametrize(
    "overrides,line",
    [
        # each named `experiment` and said got 'reproduce', whatever was wrong
        (["experiment=reproduce/all", "reproduce.reports=[]"],
         "reproduce.reports: expected one or more of r1, r2, r3, r4, r5, got []"),
        (["task=reproduce"], "task: expected one of train, gradcheck, study, eval, or reproduce with a reproduction "
                             "preset (experiment=reproduce/r2; conf/experiment/reproduce/), got 'reproduce'"),
    ],
)  # fmt: skip
def test_a_reproduction_with_nothing_to_reproduce_names_what_is_missing(overrides, line):
    from runner.config.validate import validate

    with pytest.raises(ConfigError) as e:
        validate(compose(*overrides))
    assert str(e.value) == line


def test_quick_runs_the_quick_grid_and_full_size_the_whole_sweep():
    from runner.reproduce.execute import part_jobs, plan

    for quick, depths in ((False, ["4", "5", "6", "7", "8"]), (True, ["4", "8"])):
        cfg = compose("experiment=reproduce/r1", f"reproduce.quick={str(quick).lower()}")
        part = next(p for p in read_parts(cfg.reproduce) if p.name == "cnn_depth")
        grid, _ = plan(part, cfg)
        assert grid["model.depth"] == depths and len(part_jobs(grid)) == 2 * len(depths)


def test_every_job_of_a_reproduction_takes_the_commands_loggers_tags_and_run_settings():
    from runner.reproduce.execute import base_overrides, compose_in_app

    cfg = compose("experiment=reproduce/r3", "logger=mlflow", "tags=[repro,v2]", "trainer.checkpoint_every=3",
                  "device=cpu")  # fmt: skip
    part = read_parts(cfg.reproduce)[0]
    job = compose_in_app(base_overrides(part, cfg))
    assert job.logger.mlflow.enabled and not job.logger.tensorboard.enabled  # was: the loggers were dropped
    assert list(job.tags) == ["repro", "v2"] and job.trainer.checkpoint_every == 3 and job.device == "cpu"


def test_grids_run_in_hydras_order_and_sweep_strings_parse_as_hydra_does():
    assert jobs({"a": ["1", "2"], "b": ["x", "y"]}) == [["a=1", "b=x"], ["a=1", "b=y"], ["a=2", "b=x"], ["a=2", "b=y"]]
    assert jobs({}) == [[]]
    assert sweep_values("relu,tanh") == ["relu", "tanh"]
    assert sweep_values("[8],[16,16]") == ["[8]", "[16,16]"]
    assert sweep_values("range(1,4)") == ["1", "2", "3"]


def test_canon_spells_a_value_one_way():
    assert canon(4) == canon("4") == canon(4.0) == canon("4.0") == "4"
    assert canon(0.2) == canon("0.2") and canon("[21, 21]") == canon("[21,21]") == "[21,21]"
    assert canon(True) == canon("True") == "true"


def test_compare_judges_each_kind():
    tol = ToleranceConfig(acc_points=3.0, loss_factor=2.0)
    acc = compare(table(values={"relu": 50.0, "tanh": 40.0, "sigmoid": 45.0}),
                  {("relu", None): 52.5, ("tanh", None): 44.0}, tol)  # fmt: skip
    assert [(c.row, round(c.difference, 6) if c.difference is not None else None, c.within) for c in acc] == [
        ("relu", 2.5, True), ("tanh", 4.0, False), ("sigmoid", None, None)
    ]  # fmt: skip
    loss = compare(table(kind="loss", values={"a": 0.001, "b": 0.001}), {("a", None): 0.0019, ("b", None): 0.0021}, tol)
    assert [c.within for c in loss] == [True, False] and loss[0].difference == pytest.approx(1.9)
    check = compare(table(kind="check", values={"a": True, "b": False}), {("a", None): True, ("b", None): True}, tol)
    assert [c.within for c in check] == [True, False]
    below = compare(table(kind="below", rows=None, values={"max": 1e-4}), {("max", None): 3e-7}, tol)
    assert below[0].within is True


def _part(tmp_path: Path) -> Path:
    """A part folder as run_part leaves it: summary.csv and the jobs' metrics.csv."""
    rows = []
    for i, (act, depth, acc, ok) in enumerate([("relu", 1, 0.50, "ok"), ("relu", 2, 0.52, "ok"),
                                               ("tanh", 1, 0.44, "ok"), ("tanh", 2, 0.90, "failed")]):  # fmt: skip
        job = f"{i}_activation={act},model.depth={depth}"
        (tmp_path / job).mkdir(parents=True)
        pd.DataFrame({"epoch": [1, 2], "test_acc": [acc - 0.1, acc]}).to_csv(
            tmp_path / job / "metrics.csv", index=False
        )
        rows.append({"job": i, "activation": act, "model.depth": depth, "status": ok, "final_test_acc": acc,
                     "vanishing_gradients": act == "tanh", "dir": job})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "summary.csv", index=False)
    return tmp_path


def test_measure_reads_by_column_name_and_skips_failed_jobs(tmp_path):
    part = _part(tmp_path)
    two_way = table(columns="model.depth", values={"relu": {1: 49.0, 2: 50.0}, "tanh": {1: 45.0, 2: 40.0}})
    ours = measure(part, two_way)
    assert ours[("relu", "1")] == pytest.approx(50.0) and ours[("relu", "2")] == pytest.approx(52.0)
    assert ours[("tanh", "2")] is None  # its only job failed: not measured, never a number from a failed run
    epoch1 = measure(part, table(metric="test_acc@1", values={"relu": 40.0}))
    assert epoch1[("relu", None)] == pytest.approx(100 * (0.40 + 0.42) / 2)  # the mean over the row's jobs
    verdict = measure(part, table(kind="check", metric="vanishing_gradients", values={"tanh": True}))
    assert verdict[("tanh", None)] is True
    lines = table_lines(two_way, compare(two_way, ours, ToleranceConfig()))
    assert lines[0] == "| activation | model.depth=1 | model.depth=2 |"
    assert lines[2] == "| relu | 50.00 / 49.00 (+1.00) | 52.00 / 50.00 (+2.00) |"
    assert "not measured" in lines[3]


def test_a_quick_reproduction_shows_the_differences_and_judges_none():
    """Quick mode's 2 epochs on 2,000 images flagged every value OUTSIDE: "0 within tolerance,
    3 outside" for a run whose numbers say nothing about the report."""
    t = table(values={"relu": 50.0, "tanh": 40.0})
    cells = compare(t, {("relu", None): 52.0, ("tanh", None): 20.0}, ToleranceConfig())
    rows = [["r2", "p", t.caption, c.row, c.column, c.ours, c.published, c.difference, c.tolerance, c.within]
            for c in cells]  # fmt: skip
    assert table_lines(t, cells)[3] == "| tanh | 20.00 | 40.00 | -20.00 | **OUTSIDE** |"
    assert tally(rows) == "2 published values: 1 within tolerance, 1 outside (p tanh)."
    quick = table_lines(t, cells, judged=False)
    assert quick[2:4] == ["| relu | 52.00 | 50.00 | +2.00 | not judged (quick) |",
                          "| tanh | 20.00 | 40.00 | -20.00 | not judged (quick) |"]  # fmt: skip
    said = tally(rows, judged=False)
    assert said.startswith("2 published values, not judged (quick): ") and "outside" not in said
    grid = table(columns="model.depth", values={"tanh": {1: 40.0}})
    cell = compare(grid, {("tanh", "1"): 20.0}, ToleranceConfig())
    assert "OUTSIDE" in "".join(table_lines(grid, cell)) and "OUTSIDE" not in "".join(table_lines(grid, cell, False))


# ---------------------------------------------------------------- the whole pipeline, quick


def make_reproduce_quick(shared_data: Path, out: Path):
    """`make reproduce QUICK=1` into `out` (CIFAR-10 is laid out on first use)."""
    if not (shared_data / "cifar10").is_dir():
        subprocess.run([sys.executable, str(REPO.parent / "shared" / "datasets" / "prepare.py"), str(shared_data),
                        "--only", "cifar10"], check=True, capture_output=True)  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    args = f"data_dir={shared_data} hydra.run.dir={out} trainer.progress=plain"
    proc = subprocess.run(["make", "-s", "--no-print-directory", "reproduce", "QUICK=1", f"VENV={Path(sys.executable).parent.parent}",
                           f"ARGS={args}"], cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def read_csv(path: Path) -> list:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _published() -> set:
    out = set()
    for report in REPORTS:
        for part in read_parts(compose(f"experiment=reproduce/{report}").reproduce):
            for t in part.tables:
                out |= {(report, part.name, t.caption, str(r), "" if c is None else str(c)) for r, c, _ in t.cells()}
    return out


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.first  # minutes: started first, beside the short tests
def test_make_reproduce_quick_end_to_end(shared_data, tmp_path):
    """One test, so the pipeline runs once on one worker, then three checks of its files."""
    out = tmp_path / "quick"
    proc = make_reproduce_quick(shared_data, out)
    writes_every_published_row(out, proc)
    moving_a_published_value_by_hand_moves_its_flag(out, tmp_path / "moved")
    a_stopped_part_is_re_rendered_from_the_jobs_it_finished(out, tmp_path / "stopped")
    running_it_again_resumes_and_skips_what_finished(out, shared_data)


def writes_every_published_row(out: Path, proc) -> None:
    assert "about" in proc.stdout and "min on this machine" in proc.stdout  # the estimate came first
    rows = read_csv(out / "reproduction.csv")
    assert {(r["report"], r["part"], r["table"], r["row"], r["column"]) for r in rows} == _published()
    measured = [r for r in rows if r["ours"]]
    assert len(measured) >= len(rows) - 2  # a value is missing only where a quick job could not give it
    for r in measured:
        if r["tolerance"].startswith("±"):  # accuracies: the difference in points
            assert float(r["difference"]) == pytest.approx(float(r["ours"]) - float(r["published"]))
            assert r["within"] == str(abs(float(r["difference"])) <= 3.0)
    for report in REPORTS:
        folder = out / report
        for name in ("reproduction.md", "reproduction.html", "reproduction.csv", "summary.json", "config.yaml"):
            assert (folder / name).is_file(), (report, name)
        md = (folder / "reproduction.md").read_text()
        for image in [line.split("](", 1)[1][:-1] for line in md.splitlines() if line.startswith("![")]:
            assert (folder / image).is_file(), image  # every figure the report shows was drawn
    html = (out / "reproduction.html").read_text()
    assert html.count("<table>") >= len({(r["report"], r["table"]) for r in rows})
    md = (out / "reproduction.md").read_text()  # quick: the differences, judged nowhere
    assert "not judged (quick)" in md and "OUTSIDE" not in md and "within tolerance" not in md
    # R4's three fits each titled 'function-mlp-relu: predictions vs ground truth': named by job
    r4 = (out / "r4" / "reproduction.md").read_text().split("## Deep vs shallow CNNs")[0]
    named = [line for line in r4.splitlines() if line.startswith("Job `")]
    assert [line.split("_", 1)[1] for line in named] == ["model.hidden=[21,21,21,21,21,21]`:",
                                                          "model.hidden=[26,26,26]`:", "model.hidden=[233]`:"], named  # fmt: skip


def moving_a_published_value_by_hand_moves_its_flag(out: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "r2"
    shutil.copytree(out / "r2", copy)
    rows = {r["row"]: r for r in read_csv(copy / "reproduction.csv") if r["part"] == "mlp_activations"}
    relu = float(rows["relu"]["ours"])
    config = yaml.safe_load((copy / "config.yaml").read_text())
    values = config["reproduce"]["parts"]["mlp_activations"]["tables"][0]["values"]
    values["relu"], values["tanh"] = round(relu + 2.5, 4), round(float(rows["tanh"]["ours"]) - 10, 4)
    config["reproduce"]["quick"] = False  # rendered as a full-size run is, which judges each value
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-m", "runner.report", str(copy)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    after = {r["row"]: r for r in read_csv(copy / "reproduction.csv") if r["part"] == "mlp_activations"}
    assert after["relu"]["within"] == "True" and float(after["relu"]["difference"]) == pytest.approx(-2.5, abs=1e-3)
    assert after["tanh"]["within"] == "False" and float(after["tanh"]["difference"]) == pytest.approx(10, abs=1e-3)
    assert (
        "| tanh |" in (copy / "reproduction.md").read_text() and "**OUTSIDE**" in (copy / "reproduction.md").read_text()
    )


def a_stopped_part_is_re_rendered_from_the_jobs_it_finished(out: Path, tmp_path: Path) -> None:
    """Stopped in a part's last job, a reproduction has that part's finished jobs but not its
    summary.csv (written when the part ends): re-rendered, they showed as not measured."""
    import shutil

    copy = tmp_path / "r2"
    shutil.copytree(out / "r2", copy)
    part = copy / "mlp_activations"
    (part / "summary.csv").unlink()
    shutil.rmtree(next(part.glob("2_*")))  # relu's job, the part's last
    proc = subprocess.run([sys.executable, "-m", "runner.report", str(copy)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = {r["row"]: r for r in read_csv(copy / "reproduction.csv") if r["part"] == "mlp_activations"}
    assert rows["sigmoid"]["ours"] and rows["tanh"]["ours"] and rows["relu"]["ours"] == ""
    assert (part / "summary.csv").is_file()


def running_it_again_resumes_and_skips_what_finished(out: Path, shared_data: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [str(Path(sys.executable).with_name("dlrun")), "experiment=reproduce/r3", "reproduce.quick=true",
           f"data_dir={shared_data}", f"hydra.run.dir={out / 'r3'}", "trainer.progress=plain"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("finished earlier (ok), skipped") == 4 and "0 job(s) to run" in proc.stdout


def test_the_readmes_table_of_reproductions_gives_each_presets_own_times():
    """`dlrun --help` shows each preset's `reproduce.expected`; the README's table showed other,
    older figures (r2 32 min in one, 25 min measured in the other)."""
    import re

    rows = {}
    for line in (REPO / "README.md").read_text().splitlines():
        m = re.match(r"\| `reproduce/(\w+)` \| [^|]+ \| ([^|]+) \| ([^|]+) \|$", line)
        if m:
            rows[m.group(1)] = f"full {m.group(2).strip()}; quick {m.group(3).strip()}"
    presets = sorted(p.stem for p in (REPO / "conf" / "experiment" / "reproduce").glob("*.yaml"))
    assert sorted(rows) == presets
    for name in presets:
        expected = yaml.safe_load((REPO / "conf" / "experiment" / "reproduce" / f"{name}.yaml").read_text())
        assert rows[name] == expected["reproduce"]["expected"], name


def test_a_parts_record_lists_its_jobs_as_a_grid_sweeps_does(tmp_path):
    """The part's multirun.yaml had no sweeper: the report could not tell the jobs a stop left
    unstarted, and a stopped part re-rendered (make report) read as finished."""
    from types import SimpleNamespace

    from runner.reproduce.execute import part_jobs, write_part_record
    from runner.sweep.grid import planned_jobs

    grid = {"activation": ["relu", "tanh"], "model.depth": ["1", "2", "3"]}
    write_part_record(tmp_path, grid, ["dataset=gurmukhi"], SimpleNamespace(x="model.depth", extra=[]))
    planned = planned_jobs(tmp_path)
    swept = [{"activation": a, "model.depth": d} for a in grid["activation"] for d in grid["model.depth"]]
    assert planned == [{**job, "dataset": "gurmukhi"} for job in swept]
    assert [dict(o.split("=") for o in job) for _, job, _ in part_jobs(grid)] == swept, "numbered as the jobs run"


def test_a_reproduction_whose_data_is_missing_is_refused_before_its_first_job(tmp_path):
    """r2's last part reads the Gurmukhi digits: without them it trained the CIFAR-10 parts first."""
    from conftest import run_dlrun

    for preset, part in (("experiment=reproduce/r2", "r2, part gradcheck"), ("experiment=reproduce/all", "r1, part regularization")):  # fmt: skip
        out = tmp_path / "out"
        proc = run_dlrun(preset, f"data_dir={tmp_path / 'none'}", f"hydra.run.dir={out}", cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith(f"dlrun: error: reproduce {part}: dataset gurmukhi: no class folders at")
        assert not out.exists() and "min on this machine" not in proc.stdout, "refused before the estimate and folder"


def test_a_reproduction_with_a_part_not_known_leaves_no_folder(tmp_path):
    from conftest import run_dlrun

    out = tmp_path / "out"
    proc = run_dlrun("experiment=reproduce/r4", "reproduce.only=[nope]", f"hydra.run.dir={out}", cwd=tmp_path)
    assert proc.returncode == 2 and "reproduce.only: expected parts of r4" in proc.stderr, proc.stderr
    assert not out.exists(), f"left behind: {[p.name for p in out.iterdir()]}"


@pytest.mark.parametrize(
    "counts,status,code",
    [({"ok": 3}, "ok", 0), ({"ok": 2, "failed": 1}, "failed", 1), ({"ok": 2, "diverged": 1}, "diverged", 3),
     ({"ok": 1, "not started": 2}, "failed", 1)],
)  # fmt: skip
def test_a_reproductions_status_and_exit_code_follow_its_jobs(tmp_path, monkeypatch, capsys, counts, status, code):
    """Every job of a reproduction failed (its data missing offline), and it said status ok, exit 0."""
    import json

    from runner import reproduce
    from runner.reproduce import execute
    from runner.sweep import state

    def run_part(part, cfg, folder, label):
        return {"counts": dict(counts), "seconds": 0.1, "folder": folder / part.name}

    monkeypatch.setattr(execute, "run_part", run_part)
    monkeypatch.setattr(state, "outcomes", [])
    cfg = compose("experiment=reproduce/r4", "reproduce.quick=true", "reproduce.only=[function_fit]")
    reproduce.run_report(cfg, tmp_path / "r4")
    summary = json.loads((tmp_path / "r4" / "summary.json").read_text())
    assert summary["status"] == status and state.exit_code() == code
    md = (tmp_path / "r4" / "reproduction.md").read_text()
    out = capsys.readouterr().out
    if status == "ok":
        assert "did not end ok" not in out and "**" not in md.split("Here:")[1].split("\n")[0]
    else:
        bad = {k: n for k, n in counts.items() if k != "ok"}
        said = ", ".join(f"{n} {k}" for k, n in bad.items())
        assert f"{sum(bad.values())} of {sum(counts.values())} jobs did not end ok (function_fit: {said})" in out, out
        assert "".join(f", **{n} {k}**" for k, n in bad.items()) in md
