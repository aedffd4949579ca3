"""The `dlrun` command as a user meets it: one clear line and a non-zero exit on bad input,
no traceback, no run directory left behind; --help without importing torch."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import dlrun_env, run_dlrun


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr + proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("dlrun: error: ")
    assert "Traceback" not in proc.stderr + proc.stdout
    for frag in fragments:
        assert frag in lines[0], lines[0]


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["activation=swish"], ["activation=swish", "expected one of", "leaky_relu"]),
        (["dataset=imagenet"], ["dataset=imagenet", "cifar10", "gurmukhi"]),
        (["experiment=reproduce/r9"], ["experiment=reproduce/r9: no such option", "reproduce/r2", "scratch_mnist"]),
        (
            ["experiment=reproduce"],
            [
                "experiment=reproduce: a folder of options; expected one of reproduce/all, "
                "reproduce/r1, reproduce/r2, reproduce/r3, reproduce/r4, reproduce/r5"
            ],
        ),
        (["regularizer=[l1,foo]"], ["regularizer=foo", "dropout"]),
        (["trainer.epochs=abc"], ["trainer.epochs", "expected an integer", "'abc'"]),
        (["trainer.log_steps=maybe"], ["trainer.log_steps: expected true or false, got 'maybe'"]),
        # OmegaConf's "field 'trainer.epochs' is not Optional", said as the other type errors are
        (["trainer.epochs=null"], ["trainer.epochs: expected an integer, got null (this key has no unset value)"]),
        (["model.hidden=null"], ["model.hidden: expected a list in brackets, e.g. model.hidden=[...], got null"]),
        (["trainer.precision=null"], ["trainer.precision: expected one of fp32, tf32, bf16, got null"]),
        # were OmegaConf's words: 'Cannot merge DictConfig with ListConfig', "Cannot convert 'list' to string"
        (["model.hidden={a:1}"], ["model.hidden: expected a list in brackets, e.g. model.hidden=[...], got '{a:1}'"]),
        (["name=[a,b]"], ["name: expected a string, got '[a,b]'"]),
        (["seed=true"], ["seed: expected an integer, got true"]),  # as typed, not 'True'
        (["trainer.log_steps=10"], ["trainer.log_steps: expected true or false, got 10"]),  # not 'every 10 steps'
        (["-m", "diagnostics.probes=0,1,2"], ["diagnostics.probes: expected true or false, got 2"]),
        (["optimizer.lr=-1"], ["optimizer.lr", "> 0", "-1"]),
        (["trainer.batch_size=0"], ["trainer.batch_size", ">= 1", "0"]),
        (["dataset.colour=1"], ["dataset.colour", "unknown key", "val_size"]),
        (["+trainer.epoch=3"], ["trainer.epoch: unknown key (did you mean trainer.epochs?)", "epochs"]),
        # Hydra's answer named a defaults list's `override` keyword, of no use on a command line
        (
            ["+experiment=grad_norm"],
            [
                "+experiment=grad_norm: experiment is a group of the root config's defaults "
                "already; choose an option without the plus sign: experiment=grad_norm"
            ],
        ),
        (["++dataset=cifar10"], ["++dataset=cifar10: dataset is a group", "sign: dataset=cifar10"]),
        # Hydra wrote meta/ into the folder, which dlrun then refused as holding files it did not write
        (
            ["hydra.output_subdir=meta"],
            [
                "hydra.output_subdir=meta: dlrun writes Hydra's record of each run itself, to .hydra/",
                "(leave hydra.output_subdir unset)",
            ],
        ),
        (["dataset=mnsit"], ["dataset=mnsit: no such option (did you mean dataset=mnist?); expected one of"]),
        (["activation=ReLU"], ["activation=ReLU: no such option (did you mean activation=relu?)"]),
        (["regularizer=dropout", "regularizer.dropout.p=0.5"], ["regularizer.dropout.p: unknown key", "is a number"]),
        (["model.hidden=abc"], ["model.hidden: expected a list", "'abc'"]),
        (["trainer=5"], ["trainer: expected its keys set one by one", "trainer.epochs=", "'5'"]),
        (["model.hidden=[64,", "64]"], ["model.hidden=[64,: its list is not closed", "'model.hidden=[64, 64]'"]),
        # each of these was a traceback (a ValueError or TypeError from Hydra's defaults list)
        (["=3"], ["=3: no key before the '='; dlrun takes KEY=VALUE"]),
        # Hydra's grammar takes letters outside ASCII in quoted values only; the hint was about spaces
        (
            ["name=üñí"],
            ["name=üñí: a value with letters outside ASCII must be quoted for Hydra's grammar: \"name='üñí'\""],
        ),
        (["dataset=null"], ["dataset=null: a group takes the name of one of its options; expected one of cifar10, "]),
        (["hydra/launcher=null"], ["hydra/launcher=null: a group takes the name of one of its options"]),
        (["model=[1,2]"], ["model=[1,2]: a group takes the name of one of its options; expected one of cnn, mlp"]),
        (["-m", "--cfg", "job"], ["--multirun (-m) and --cfg: one at a time"]),
        # and these a riddle
        (["mnist"], ["mnist: not an override; dlrun takes KEY=VALUE", "(did you mean dataset=mnist?)"]),
        (["relu,tanh"], ["(did you mean -m activation=relu,tanh?)"]),  # a remedy has relu, not tanh
        (["relu"], ["(did you mean activation=relu or remedy=relu?)"]),
        (["epochs"], ["(did you mean trainer.epochs=<value>?)"]),
        (["~dataset"], ["~dataset: the dataset group cannot be removed (dataset.name has no default)", "mnist"]),
        (["dataset=[mnist,cifar10]"], ["dataset takes one option", "sweep them: dlrun -m dataset=mnist,cifar10"]),
        (["dataset=[]"], ["dataset=[]: dataset takes one option (dataset.name names it); expected one of"]),
        (["~seed"], ["~seed: a key of dlrun's schema cannot be removed; set it instead (seed=<value>)"]),
        (["~trainer"], ["~trainer: a key of dlrun's schema cannot be removed", "(trainer.epochs=<value>)"]),
        (["dataset=mnist,cifar10"], ["dataset=mnist,cifar10: commas make a sweep, which runs with -m (dlrun -m "]),
        (["trainer.epochs=${oops}"], ["trainer.epochs: ${oops} names no key of the config"]),
        # a value an interpolation gave: OmegaConf's 'While dereferencing interpolation ...: Value ... could not be'
        (["trainer.epochs=${name}"], ["trainer.epochs: expected an integer, got 'mnist-mlp-relu' (from ${name})"]),
        (
            ["trainer.epochs=${ckpt}"],
            ["trainer.epochs: expected an integer, got null (this key has no unset value) (from ${ckpt})"],
        ),
        # Hydra's job number is a sweep's: a single run read `got null` with no word on why
        (
            ["seed=${hydra:job.num}"],
            [
                "seed: expected an integer, got null",
                "(from ${hydra:job.num}: a single run has no job number; a sweep's jobs do, with -m)",
            ],
        ),
        # Hydra's 'Key 'X' is not in struct', and a typo of one of Hydra's own keys named no key to use
        (
            ["hydra.job.env_set.MY_VAR=1"],
            [
                "hydra.job.env_set.MY_VAR: a new key of hydra.job.env_set, which Hydra adds with a plus sign: "
                "+hydra.job.env_set.MY_VAR=1"
            ],
        ),
        (
            ["hydra.job.chdri=true"],
            ["hydra.job.chdri: unknown key (did you mean hydra.job.chdir?); keys under hydra.job: "],
        ),
        (
            ["trainer.epochs=${oc.env:DLRUN_TEST_UNSET}"],
            [
                "trainer.epochs: the environment variable DLRUN_TEST_UNSET is not set",
                "${oc.env:DLRUN_TEST_UNSET,<value>}",
            ],
        ),
        (["dataset=${oops}"], ["dataset=${oops}: ${oops} names no key of the config"]),
        (["--cfg", "jobs"], ["argument --cfg/-c: invalid choice: 'jobs'", "dlrun --help lists the options"]),
        (["sweep=grid"], ["sweep=grid", "activation_x_depth"]),
        (["sweep=depth", "sweep.max_depth=0"], ["sweep.max_depth", "an integer >= 1", "0"]),
        (["model.depth=0"], ["model.depth", "integer >= 1"]),
        # split sizes the config alone shows too large: refused before the data is read (there is none here)
        (
            ["dataset.subsample=3000", "dataset.val_size=5000"],
            [
                "dataset.val_size: expected 1 to 2999 of the 3000 samples (a count, or a fraction of them), leaving at least one to train on, got 5000"
            ],
        ),
        (
            ["dataset=function", "dataset.n_train=100", "dataset.holdout=0.5", "dataset.val_size=50"],
            [
                "dataset.val_size: expected 1 to 49 of the 50 samples (a count, or a fraction of them), leaving at least one to train on, got 50"
            ],
        ),
        (
            ["dataset=function", "dataset.n_test=10", "dataset.test_subsample=20"],
            ["dataset.test_subsample: expected 1 to 10 of the 10 samples (a count, or a fraction of them), got 20"],
        ),
        (["sweep=depth_search", "sweep.depths=[2,0]"], ["sweep.depths", "integers >= 1"]),
        (  # the same job twice
            ["sweep=depth_search", "sweep.depths=[2,4,2]"],
            ["sweep.depths: expected a non-empty list of different integers >= 1, e.g. [1,2,4,8], got [2, 4, 2]"],
        ),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, args, fragments):
    proc = run_dlrun(*args, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert_one_line_error(proc, *fragments)
    assert not (tmp_path / "run").exists(), "a rejected config must leave no run directory"


@pytest.mark.parametrize(
    "text,line",
    [
        ("# @package _global_\ntrainer:\n  epochs: [1\n",
         "{file}: not valid YAML (line 4, column 1: expected ',' or ']', but got '<stream end>')"),
        ("# @package _global_\ntrainer:\n  epochs: 2\n    batch_size: 3\n",
         "{file}: not valid YAML (line 4, column 15: mapping values are not allowed here)"),
        ("# @package _global_\nseed: 1\nseed: 2\n", "{file}: not valid YAML (line 3, column 1: found duplicate key seed)"),
        ("trainer:\n  epochs: 2\n",  # no package line: its keys land under `experiment:`
         "{file}: experiment: unknown key; an option of the experiment group sets keys across the whole config, so its file "
         "must open with the line `# @package _global_` (as those in conf/experiment/ do)"),
    ],
)  # fmt: skip
def test_a_config_file_of_ones_own_that_is_broken_is_one_line_naming_it(tmp_path, text, line):
    """An experiment written next to dlrun's (--config-dir): a YAML slip is one line naming the file
    and where, not the YAML parser's traceback."""
    file = tmp_path / "myconf" / "experiment" / "mine.yaml"
    file.parent.mkdir(parents=True)
    file.write_text(text)
    proc = run_dlrun("--config-dir", str(tmp_path / "myconf"), "experiment=mine", f"hydra.run.dir={tmp_path / 'run'}",
                     cwd=tmp_path)  # fmt: skip
    assert (proc.returncode, proc.stderr) == (2, f"dlrun: error: {line.format(file=file.relative_to(tmp_path))}\n")
    assert not (tmp_path / "run").exists()


def test_a_null_in_a_preset_of_ones_own_says_what_the_key_takes(tmp_path):
    """`epochs: null` in a YAML file read 'trainer.epochs: Incompatible value 'None' for field of type 'int''."""
    (tmp_path / "myconf" / "experiment").mkdir(parents=True)
    (tmp_path / "myconf" / "experiment" / "mine.yaml").write_text("# @package _global_\ntrainer:\n  epochs: null\n")
    proc = run_dlrun("--config-dir", "myconf", "experiment=mine", "dataset=function", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == ("dlrun: error: myconf/experiment/mine.yaml: trainer.epochs: expected an integer, got null "
                           "(this key has no unset value)\n")  # fmt: skip


@pytest.mark.parametrize(
    "text,line",
    [
        ("trainer:\n  epochs: abc\n", "trainer.epochs: expected an integer, got 'abc'"),  # Hydra's type check
        ("trainer:\n  epoch: 3\n", "trainer.epoch: unknown key (did you mean trainer.epochs?); keys under trainer: "),
        ("optimizer:\n  lr: -1\n", "optimizer.lr: expected a learning rate > 0, got -1"),  # dlrun's range check
        # an unset variable: a sweep's jobs each failed with OmegaConf's 'KeyError raised while resolving ...'
        (
            "optimizer:\n  lr: ${oc.env:DLRUN_TEST_UNSET}\n",
            "optimizer.lr: the environment variable DLRUN_TEST_UNSET is not set (set it, or give the interpolation a "
            "default: ${oc.env:DLRUN_TEST_UNSET,<value>})",
        ),
    ],
)
def test_a_value_refused_in_a_preset_of_ones_own_is_one_line_naming_the_file(tmp_path, text, line):
    """A value the command line did not set came from a file: the line opens with the file, where it
    named only the key, which sent the user looking through the command line."""
    file = tmp_path / "myconf" / "experiment" / "mine.yaml"
    file.parent.mkdir(parents=True)
    file.write_text(f"# @package _global_\n{text}")
    common = ("--config-dir", str(file.parents[1]), "experiment=mine", "dataset=function", "trainer.epochs=1")
    for args in [(), ("-m", "seed=0,1", f"hydra.sweep.dir={tmp_path / 's'}")]:
        proc = run_dlrun(*common[:-1] if "epochs: abc" in text else common, *args, f"hydra.run.dir={tmp_path / 'r'}",
                         cwd=tmp_path)  # fmt: skip
        assert_one_line_error(proc, f"dlrun: error: {file.relative_to(tmp_path)}: {line}")
        assert not (tmp_path / "r").exists() and not (tmp_path / "s").exists()
    if "lr: -1" in text:  # set on the command line, the value is the command's, and the line names no file
        proc = run_dlrun(*common, "optimizer.lr=-2", cwd=tmp_path)
        assert_one_line_error(proc, "dlrun: error: optimizer.lr: expected a learning rate > 0, got -2")
        proc = run_dlrun(*common, "-m", "optimizer.lr=0.01,-2", f"hydra.sweep.dir={tmp_path / 's2'}", cwd=tmp_path)
        assert (
            proc.returncode == 1 and "job 1 failed: optimizer.lr: expected a learning rate > 0, got -2" in proc.stderr
        )


def test_the_file_named_for_a_refused_value_is_the_last_to_set_it(tmp_path):
    from hydra import initialize_config_dir

    from runner.config.compose import conf_dir
    from runner.config.provenance import set_in
    from runner.config.schema import register

    register()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):  # dlrun's options: by the choice
        assert set_in("optimizer.lr", ["optimizer=sgd"]) == ("optimizer=sgd", 0.01)
        assert set_in("optimizer.lr", ["optimizer=sgd", "optimizer.lr=1"]) is None, "the command line set it"
        assert set_in("trainer.epochs", ["experiment=grad_norm"]) == ("experiment=grad_norm", "${dlrun.scale:200,10}")
        assert set_in("task", ["experiment=reproduce/r2"]) == ("experiment=reproduce/r2", "reproduce"), "nested"
        assert set_in("trainer.epochs", []) is None, "the schema's default: no file"
    conf = tmp_path / "myconf"
    for group, lr in (("experiment", -1), ("variant", -2)):  # variant comes after experiment in the defaults
        (conf / group).mkdir(parents=True)
        (conf / group / "mine.yaml").write_text(f"# @package _global_\noptimizer:\n  lr: {lr}\n")
    proc = run_dlrun("--config-dir", "myconf", "experiment=mine", "variant=mine", "dataset=function", cwd=tmp_path)
    assert_one_line_error(proc, "dlrun: error: myconf/variant/mine.yaml: optimizer.lr: expected a learning rate > 0, "
                          "got -2")  # fmt: skip


def test_a_sweepers_param_of_ones_own_that_does_not_parse_is_one_line_naming_it(tmp_path):
    file = tmp_path / "myconf" / "experiment" / "mine.yaml"
    file.parent.mkdir(parents=True)
    file.write_text(
        '# @package _global_\nhydra:\n  mode: MULTIRUN\n  sweeper:\n    params:\n      model.hidden: "[64,"\n'
    )
    proc = run_dlrun("--config-dir", str(file.parents[1]), "experiment=mine", f"hydra.sweep.dir={tmp_path / 's'}",
                     cwd=tmp_path)  # fmt: skip
    assert_one_line_error(proc, "hydra.sweeper.params: model.hidden=[64,: cannot parse it (no viable alternative at "
                          "input '[64,')")  # fmt: skip
    assert not (tmp_path / "s").exists()


def test_a_key_under_a_group_of_presets_is_not_taken_for_a_preset_without_its_package_line(tmp_path):
    proc = run_dlrun("experiment.epochs=1", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert_one_line_error(proc, "experiment.epochs: unknown key; experiment is a group of presets, not a section of "
                          "keys: pick one with experiment=<option> (cnn_activations_cifar10, cnn_depth_cifar10, ")  # fmt: skip
    assert "reproduce/r2, " in proc.stderr and "@package" not in proc.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "arg,line",
    [
        (None, "--shell-completion: expected install=SHELL (or uninstall=, query=), SHELL one of bash, fish, zsh"),
        ("install=tcsh", "--shell-completion: no completion for 'tcsh'; expected one of bash, fish, zsh"),
        # typed by hand: Hydra's bash plugin read os.environ["COMP_LINE"] and raised a KeyError's traceback
        (
            "query=bash",
            "--shell-completion query=...: run by the completion script, which sets COMP_LINE to the "
            'line to complete; to install it: eval "$(dlrun -sc install=bash)"',
        ),
    ],
)
def test_shell_completion_misused_is_one_line(tmp_path, arg, line):
    proc = run_dlrun("--shell-completion", *([arg] if arg else []), cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (2, f"dlrun: error: {line}\n")


@pytest.mark.parametrize(
    "line,offered",
    [
        ("dlrun exp", ["experiment="]),  # Hydra offered `experiment`, a group with subfolders, without its `=`
        ("dlrun experiment=rep", [f"experiment=reproduce/{o}" for o in ("all", "r1", "r2", "r3", "r4", "r5")]),
        ("dlrun -m experiment=reproduce/r", [f"experiment=reproduce/r{n}" for n in range(1, 6)]),
        ("dlrun experiment/rep", [f"experiment=reproduce/{o}" for o in ("all", "r1", "r2", "r3", "r4", "r5")]),
        (
            "dlrun experiment=grad",
            ["experiment=grad_norm", "experiment=gradcheck_gurmukhi_cnn", "experiment=gradcheck_models"],
        ),  # fmt: skip
        ("dlrun dataset=f", ["dataset=fashion_mnist", "dataset=function"]),
        ("dlrun hydra/la", ["hydra/launcher="]),  # a group of groups as Hydra has it
    ],
)
def test_tab_completion_offers_the_options_in_a_groups_subfolders(tmp_path, line, offered):
    """Hydra's completion listed a group's own files only: experiment=reproduce/r2 was never offered,
    and experiment/<TAB> offered experiment/reproduce=, which dlrun refuses."""
    proc = run_dlrun("-sc", "query=bash", cwd=tmp_path, env={"COMP_LINE": line})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == offered


def test_a_subfolder_of_options_named_as_hydras_nested_group_says_how_to_pick_it(tmp_path):
    proc = run_dlrun("experiment/reproduce=r2", cwd=tmp_path)
    assert_one_line_error(proc, "experiment/reproduce=r2: conf/experiment/reproduce/ holds options of the experiment "
                          "group, picked with their folder: experiment=reproduce/r2; expected one of reproduce/all, ")  # fmt: skip
    proc = run_dlrun("--cfg", "job", "hydra/launcher=basic", "dataset=function", cwd=tmp_path)
    assert proc.returncode == 0, "a nested group of Hydra's own is one"


def test_hydras_experimental_rerun_is_one_line_giving_the_command_the_folder_records(tmp_path):
    """Hydra's --experimental-rerun loads a config.pickle, which dlrun never writes: a ValueError's
    traceback (`File .../config.pickle does not exist!`)."""
    run = tmp_path / "run"
    proc = run_dlrun("dataset=function", "trainer.epochs=1", "name='my run'", f"hydra.run.dir={run}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for given in (run / ".hydra" / "config.pickle", run):
        proc = run_dlrun("--experimental-rerun", str(given), cwd=tmp_path)
        assert_one_line_error(proc, f"--experimental-rerun {given}: dlrun writes no config.pickle for Hydra to load; "
                              f"{run} records its command: dlrun dataset=function trainer.epochs=1 \"name='my run'\" (with "
                              f"hydra.run.dir={run} it resumes there, if unfinished)")  # fmt: skip
    proc = run_dlrun("--experimental-rerun", str(tmp_path / "nope.pickle"), cwd=tmp_path)
    assert_one_line_error(proc, "a run's folder records its command in .hydra/overrides.yaml")


def test_missing_data_offline_names_dataset_path_and_remedy(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run_dlrun(
        "dataset=mnist",
        f"data_dir={empty}",
        "dataset.download=false",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert_one_line_error(proc, "dataset mnist", str(empty / "MNIST" / "raw"), "data_dir=")
    assert not (tmp_path / "run").exists()


def _readme_error_examples() -> list:
    """Each `$ dlrun ...` line in the README followed by the `dlrun: error: ...` line it shows."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return re.findall(r"^\$ dlrun (.+)\n(dlrun: error: .+)$", text, flags=re.M)


@pytest.mark.parametrize("args,shown", _readme_error_examples())
def test_the_readmes_error_examples_are_what_dlrun_prints(tmp_path, args, shown):
    import shlex

    proc = run_dlrun(*shlex.split(args), f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert_one_line_error(proc)
    printed = proc.stderr.strip()
    if shown.endswith(", ..."):  # the README shortens a long list
        assert printed.startswith(shown[: -len("...")]), printed
    else:
        assert printed == shown


def test_the_readme_shows_error_examples():
    assert len(_readme_error_examples()) >= 6


def test_missing_folder_dataset_names_the_folder(tmp_path):
    proc = run_dlrun("dataset=gurmukhi", f"data_dir={tmp_path}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert_one_line_error(proc, "dataset gurmukhi", str(tmp_path / "gurmukhi" / "train"))


def test_help_lists_groups_without_importing_torch(tmp_path):
    code = (
        "import sys; sys.argv = ['dlrun', '--help']\n"
        "from runner.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'torchvision', 'matplotlib', 'pandas') if m in sys.modules]\n"
        "print('HEAVY:', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY: []" in proc.stdout
    for word in ("dataset: cifar10, fashion_mnist, function, gurmukhi, mnist", "regularizer", "trainer.epochs=5"):
        assert word in proc.stdout, proc.stdout


def test_help_says_what_each_preset_runs_in_the_presets_own_words(tmp_path):
    """--help named the 16 experiments, 11 sweeps and the other presets without a word on each."""
    from runner.config.compose import conf_dir
    from runner.config.presets import description

    proc = run_dlrun("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    section = proc.stdout.split("== Presets:")[1].split("\n== ")[0]
    text = " ".join(section.split())  # the wrapped lines as one text
    groups = ("experiment", "sweep", "remedy", "variant", "hparams_search")
    for group in groups:
        assert f"{group}: " in text, group
        for path in (conf_dir() / group).glob("*.yaml"):
            said = description(path)
            assert len(said) >= 12 and not said.startswith("@package"), (path, said)  # a sentence, not nothing
            assert f" {path.stem} {said}" in text, (path, said)
    assert "reproduce/r2" not in section, "the reproductions have a section of their own"
    cifar = description(conf_dir() / "experiment" / "cnn_activations_cifar10.yaml")
    assert cifar == ("CIFAR-10 CNN (conv 32-64-128, FC 512-256-128, dropout 0.2, Adam 1e-3, batch 64, 25 epochs) "
                     "with relu, sigmoid and tanh, per-layer probes on.")  # fmt: skip
    assert description(conf_dir() / "sweep" / "remedies.yaml").endswith("kaiming init (conf/remedy/).")


def test_a_render_worker_finishes_a_run_without_importing_torch(tmp_path):
    """A sweep's render workers are spawned and draw a job's plots with finish_run, whose look at
    checkpoint.pt's name imported torch: about 1.5 s and hundreds of MB more per worker."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch,train_loss,test_loss\n1,0.5,0.6\n2,0.25,0.3\n")
    (run / "summary.json").write_text('{"name": "r", "status": "finishing"}')
    (run / "checkpoint.pt").write_bytes(b"")
    code = (
        "import sys\n"
        "from runner.report.finish import finish_run\n"
        f"finish_run({str(run)!r}, 'ok')\n"
        "print('TORCH:', 'torch' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MPLBACKEND": "Agg"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "TORCH: False" in proc.stdout
    assert (run / "DONE").read_text().startswith("ok") and (run / "plots" / "curves.png").is_file()
    assert not (run / "checkpoint.pt").exists(), "a finished run needs its checkpoint no more"


def test_help_lists_a_groups_subfolder_under_the_group_as_dlrun_takes_it(tmp_path):
    """--help printed `experiment/reproduce: all, r1, ...`, a spelling dlrun refuses; one's own
    presets (--config-dir) are listed with dlrun's."""
    (tmp_path / "myconf" / "experiment" / "mine").mkdir(parents=True)
    (tmp_path / "myconf" / "experiment" / "mine" / "a.yaml").write_text("# @package _global_\nseed: 3\n")
    proc = run_dlrun("--config-dir", "myconf", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("experiment: ")]
    assert line.startswith("experiment: cnn_activations_cifar10, ") and line.endswith(
        ", trajectory_pca, mine/a, reproduce/all, reproduce/r1, reproduce/r2, reproduce/r3, reproduce/r4, reproduce/r5"
    ), line
    assert "hydra/launcher: basic, joblib, slurm, submitit_local" in run_dlrun("--hydra-help", cwd=tmp_path).stdout
    proc = run_dlrun("--config-dir", "myconf", "experiment=mine/a", "--cfg", "job", "-p", "seed", cwd=tmp_path)
    assert proc.stdout.strip() == "3", "the option is picked as listed"


def test_hydras_copies_of_its_config_repository_share_the_config_store():
    """Hydra copies its config repository for every group it lists (128 times for --help) and
    every sweep job; copying the store of registered schemas with it made --help take 4 s."""
    import copy

    from hydra import initialize_config_dir
    from hydra._internal.config_repository import CachingConfigRepository
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra

    from runner.config.compose import conf_dir
    from runner.config.schema import register

    register()
    store = ConfigStore.instance()
    assert copy.deepcopy([store])[0] is store
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
        repository = GlobalHydra.instance().config_loader().repository
        copied = CachingConfigRepository(repository)
        assert copied.get_schema_source().store is store
        assert "dlrun_schema.yaml" in store.list("")
        assert copied.load_config("dlrun_schema") is not None


def test_the_overrides_refused_above_have_valid_neighbours(tmp_path):
    """Only the misuse is refused: a one-item list for a group of one choice, a combination where
    options combine, a group without a required key removed, a true/false key given 0."""
    proc = run_dlrun("--cfg", "job", "dataset=[gurmukhi]", "regularizer=[l2,dropout]", "~init", "~scheduler",
                     "trainer.log_steps=0", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for line in ("name: gurmukhi", "l2: 0.0001", "dropout: 0.2", "log_steps: false"):
        assert line in proc.stdout


def test_the_command_line_is_read_by_hydras_own_parser():
    """Flags and their values are no overrides; the completion's `install=bash` is not checked."""
    from runner.config.overrides import command_overrides
    from runner.errors import UserError

    argv = ["-cd", "mine", "--cfg", "job", "-p", "trainer", "dataset=mnist", "seed=1"]
    assert command_overrides(argv) == ["dataset=mnist", "seed=1"]
    with pytest.raises(UserError, match="^--cfg and --info: one at a time"):
        command_overrides([*argv, "--info", "defaults"])
    assert command_overrides(["--shell-completion", "install=bash"]) is None


def test_flags_among_the_overrides_are_read_as_if_they_came_first(tmp_path):
    """`dlrun dataset=mnist -m activation=relu,tanh` was `unrecognized arguments: activation=relu,tanh`
    (argparse takes no override after a flag that follows one); Hydra reads sys.argv itself."""
    from runner.config.overrides import flags_first

    argv = ["dataset=function", "-m", "seed=0,1", "-cd", "mine", "trainer.epochs=1", "--cfg", "job"]
    assert flags_first(argv) == [
        "-m",
        "-cd",
        "mine",
        "--cfg",
        "job",
        "dataset=function",
        "seed=0,1",
        "trainer.epochs=1",
    ]
    assert flags_first(["--bogus", "seed=1"]) == ["--bogus", "seed=1"], "a refused one is left to be told so"
    d = tmp_path / "s"
    proc = run_dlrun("dataset=function", "trainer.epochs=1", "-m", "seed=0,1", f"hydra.sweep.dir={d}", cwd=tmp_path)
    assert proc.returncode == 0 and "sweep finished: 2 jobs (2 ok)" in proc.stdout, proc.stderr
    proc = run_dlrun("dataset=function", "--cfg", "job", "trainer.epochs=3", cwd=tmp_path)
    assert proc.returncode == 0 and "epochs: 3" in proc.stdout, proc.stderr


def test_an_integer_keys_whole_number_may_be_written_as_a_float(tmp_path):
    """Hydra's grammar reads 1e3 as the float 1000.0, which OmegaConf refused for an integer key
    (`trainer.epochs: expected an integer, got '1000.0'`): it is the integer it names."""
    from runner.config.overrides import check_command_line

    argv = ["-m", "trainer.epochs=1e3", "model.hidden=[1e2,64]", "seed=0,2e0", "model.depth=3.0", "optimizer.lr=1e3"]
    assert check_command_line(argv) == [
        "-m", "trainer.epochs=1000", "model.hidden=[100,64]", "seed=0,2", "model.depth=3", "optimizer.lr=1e3",
    ]  # fmt: skip
    assert check_command_line(["trainer.epochs=5", "name=1e3"]) == ["trainer.epochs=5", "name=1e3"], "as typed"
    assert check_command_line(["seed=0,2e0"]) == ["seed=0,2e0"], "without -m a sweep is refused as typed"
    shaped = ["-m", "seed=choice(0,2e0)", "seed=shuffle(0,2e0)", "seed=tag(b,a,choice(0,2e0))", "seed=range(0,2e0)"]
    assert check_command_line(shaped) == [
        "-m", "seed=choice(0,2)", "seed=shuffle(0,2)", "seed=tag(a,b,choice(0,2))", "seed=range(0,2e0)"
    ], "each sweep keeps its shape"  # fmt: skip
    proc = run_dlrun("--cfg", "job", "dataset=function", "trainer.epochs=2e1", cwd=tmp_path)
    assert proc.returncode == 0 and "  epochs: 20\n" in proc.stdout, proc.stderr
    proc = run_dlrun("--cfg", "job", "dataset=function", "trainer.epochs=2.5", cwd=tmp_path)
    assert (proc.returncode, proc.stderr) == (2, "dlrun: error: trainer.epochs: expected an integer, got '2.5'\n")


def test_a_value_dlrun_suggests_is_quoted_where_a_shell_or_hydras_grammar_needs_it():
    from runner.config.overrides import as_override

    assert as_override("hydra.run.dir", "outputs/runs/2026-12-02/20-05-00.1_mnist-mlp-relu") == (
        "hydra.run.dir=outputs/runs/2026-12-02/20-05-00.1_mnist-mlp-relu"
    )
    assert as_override("ckpt", "s/0_seed=1,lr=0.1") == "\"ckpt='s/0_seed=1,lr=0.1'\""  # the grammar's = and ,
    assert as_override("ckpt", "my runs/a") == "\"ckpt='my runs/a'\""  # a space splits a shell's argument
    assert as_override("name", "1") == "\"name='1'\"", "bare, it would be read as a number"


def test_a_sweep_jobs_folder_pasted_bare_is_told_how_to_quote_it(tmp_path):
    """A job folder's `=` and `,` are Hydra's grammar: the parser's 'mismatched input' said to quote
    something; the line now gives the argument to type."""
    job = tmp_path / "sweep" / "0_activation=relu,seed=1"
    job.mkdir(parents=True)
    for value in (job, job / "model.pt", "sweep/0_activation=relu,seed=1"):
        proc = run_dlrun("task=eval", f"ckpt={value}", cwd=tmp_path)
        assert_one_line_error(
            proc, f"ckpt={value}: a path with '=' or ',' (a sweep job's folder) must be quoted", f"\"ckpt='{value}'\""
        )
    proc = run_dlrun("task=eval", "ckpt=nowhere/0_seed=1", cwd=tmp_path)  # no such path: the grammar's own words
    assert_one_line_error(proc, "ckpt=nowhere/0_seed=1: cannot parse it")


def test_cfg_job_prints_the_composed_config(tmp_path):
    proc = run_dlrun("--cfg", "job", "regularizer=[l1,dropout]", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "l1: 0.0001" in proc.stdout and "dropout: 0.2" in proc.stdout


def test_a_refused_value_is_shown_as_it_is_typed_on_the_command_line():
    from runner.errors import ConfigError

    shown = [str(ConfigError("k", "x", v)).rpartition("got ")[2] for v in (True, None, 70000.0, 0.5, "relu", [0])]
    assert shown == ["true", "null", "70000", "0.5", "'relu'", "[0]"]  # was True, None, 70000.0


def test_relative_paths_keep_their_meaning_when_hydra_changes_into_the_run_folder(tmp_path, tiny_data):
    """hydra.job.chdir=true runs the job inside its output folder; data_dir=data, ckpt=... and
    the default SQLite MLflow store still mean places under the folder dlrun started in."""
    pytest.importorskip("mlflow", reason="needs the [mlflow] extra")
    common = ("hydra.job.chdir=true", "trainer.progress=quiet", "trainer.epochs=1", "model.hidden=[8]")
    first = run_dlrun("dataset=mnist", "data_dir=data", "logger=mlflow", *common, "hydra.run.dir=runs/a",
                      cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "outputs" / "mlflow.db").is_file() and not (tmp_path / "runs" / "a" / "outputs").exists()
    evaluated = run_dlrun("task=eval", "ckpt=runs/a", "data_dir=data", *common, "hydra.run.dir=runs/e", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert (tmp_path / "runs" / "e" / "eval.csv").is_file()


@pytest.mark.slow
def test_a_paths_leading_tilde_is_the_home_folder_as_in_a_shell(tmp_path, tiny_data):
    """DLRUN_DATA='~/data', a quoted "hydra.run.dir='~/runs/a'", ckpt, hydra.sweep.dir, and the
    folders in a config file: a shell leaves ~ alone in these, and dlrun looked for data under
    ./~/data and Hydra made a folder named `~` in the working folder. Unquoted, Hydra's grammar
    refuses ~: one line says how to write it."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    home.mkdir()
    tiny_data.rename(home / "data")
    env = {"HOME": str(home), "DLRUN_DATA": "~/data"}
    common = ("dataset=mnist", "trainer.progress=quiet", "trainer.epochs=1", "model.hidden=[8]")
    trained = run_dlrun(*common, "hydra.run.dir='~/runs/a'", cwd=work, env=env)
    assert trained.returncode == 0, trained.stderr
    assert (home / "runs" / "a" / "DONE").is_file()
    assert "data_dir: " + str(home / "data") in (home / "runs" / "a" / "config.yaml").read_text()
    evaluated = run_dlrun("task=eval", "ckpt='~/runs/a'", "hydra.run.dir=e", cwd=work, env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    assert (work / "e" / "eval.csv").is_file()
    swept = run_dlrun("-m", *common, "seed=0,1", "hydra.sweep.dir='~/sweep'", cwd=work, env=env)
    assert swept.returncode == 0, swept.stderr
    assert len(list((home / "sweep").glob("*/DONE"))) == 2 and (home / "sweep" / "summary.csv").is_file()
    assert not (work / "~").exists()
    assert sorted(p.name for p in work.iterdir()) == ["e"]
    assert_one_line_error(
        run_dlrun(*common, "hydra.run.dir=~/runs/b", cwd=work, env=env),
        "hydra.run.dir=~/runs/b: Hydra's grammar reads a value that starts with ~ only quoted: "
        "\"hydra.run.dir='~/runs/b'\" on a shell (its leading ~ is then the home folder, as in a shell), "
        "or write $HOME/runs/b",
    )
    assert not (home / "runs" / "b").exists() and not (work / "~").exists()
    # a config file of one's own that sets the folders: past the command line, the same
    (work / "mine" / "experiment").mkdir(parents=True)
    (work / "mine" / "experiment" / "home.yaml").write_text(
        "# @package _global_\nhydra:\n  run:\n    dir: ~/mine/run\n  sweep:\n    dir: ~/mine/sweep\n"
    )
    fn = ("--config-dir", str(work / "mine"), "experiment=home", "dataset=function", "trainer.epochs=1")
    assert run_dlrun(*fn, cwd=work, env=env).returncode == 0
    assert run_dlrun(*fn, "-m", "seed=0,1", cwd=work, env=env).returncode == 0
    assert (home / "mine" / "run" / "DONE").is_file() and len(list((home / "mine" / "sweep").glob("*/DONE"))) == 2
    assert not (work / "~").exists()


def test_a_console_that_cannot_show_a_character_gets_it_escaped_and_the_command_ends_well(tmp_path):
    """An ASCII console (PYTHONIOENCODING=ascii, an old terminal): the ± of a replicated run's
    closing lines and an accented folder name ended the run with a UnicodeEncodeError's
    traceback and exit 1 after its files were written. They are escaped now, as Python's
    backslashreplace writes them, in a run, its re-render and a sweep's closing table."""
    env = {"PYTHONIOENCODING": "ascii"}
    common = ("dataset=function", "trainer.epochs=2", "trainer.replicas=2", "trainer.progress=plain")
    trained = run_dlrun(*common, "hydra.run.dir='r\u00e9sum\u00e9'", cwd=tmp_path, env=env)
    assert trained.returncode == 0, trained.stderr
    assert "Traceback" not in trained.stderr
    assert re.search(r"test  loss [0-9.]+ \\xb1 [0-9.]+", trained.stdout), trained.stdout
    assert "files: " + str(tmp_path / "r\\xe9sum\\xe9") in trained.stdout
    rendered = subprocess.run([sys.executable, "-m", "runner.report", "r\u00e9sum\u00e9"], cwd=tmp_path,
                              env=dlrun_env(env), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert rendered.returncode == 0 and "r\\xe9sum\\xe9/report.html" in rendered.stdout, rendered.stderr
    swept = run_dlrun("-m", *common, "seed=0,1", "hydra.sweep.dir=s", cwd=tmp_path, env=env)
    assert swept.returncode == 0 and "Traceback" not in swept.stderr, swept.stderr
    assert re.search(r"job +1 +ok +seed=1 +test_loss [0-9.]+ \\xb1 [0-9.]+", swept.stdout), swept.stdout


def test_the_bar_modes_closing_table_has_accuracy_columns_only_when_accuracy_was_measured():
    import io

    from rich.console import Console

    from runner.console import Reporter

    def table(final: dict, best: dict, width: int = 120) -> str:
        reporter = Reporter("bar", 2)
        reporter.console = Console(file=io.StringIO(), width=width, highlight=False, markup=False)
        summary = {"name": "n", "status": "ok", "params": 10, "device": "cpu", "wall_seconds": 1.0,
                   "final": final, "best": best}  # fmt: skip
        reporter.finish(summary, "run")
        return reporter.console.file.getvalue()

    regression = table({"train_loss": 0.5, "train_acc": None, "test_loss": 0.4, "test_acc": None}, {})
    assert "final loss" in regression and "accuracy" not in regression and "0.4" in regression
    classes = table({"train_loss": 0.5, "train_acc": 0.9, "test_loss": 0.4, "test_acc": 0.8},
                    {"test_acc": 0.85, "test_acc_epoch": 1, "train_acc": 0.9, "train_acc_epoch": 2})  # fmt: skip
    assert "final accuracy" in classes and "85.00% (epoch 1)" in classes
    narrow = table({"train_loss": 0.3335, "train_acc": 0.9311, "test_loss": 0.3111, "test_acc": 0.9382},
                   {"test_acc": 0.9382, "test_acc_epoch": 2}, width=30)  # fmt: skip
    body = [line.split("│")[1:-1] for line in narrow.splitlines() if line.startswith("│")]
    columns = ["".join(cells[i].strip() for cells in body) for i in range(4)]  # a value folded over lines reads whole
    assert "…" not in narrow and columns[1:3] == ["0.33350.3111", "93.11%93.82%"], narrow


def test_with_hydras_default_job_logging_the_runs_lines_go_to_its_log_file(tmp_path):
    """hydra/job_logging=default: Hydra opens <run>/<job>.log before the task; the run's lines go
    through the `dlrun` logger into it (and, timestamped, to the console). The fresh start used
    to delete the open file, so the log went nowhere; dlrun's default writes no log."""
    run = tmp_path / "run"
    proc = run_dlrun("dataset=function", "trainer.epochs=2", f"hydra.run.dir={run}", "hydra/job_logging=default",
                     cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    log = (run / "cli.log").read_text().splitlines()
    messages = [line.split("[dlrun][INFO] - ", 1)[1] for line in log]  # each line a record of the dlrun logger
    assert messages[0].startswith("dlrun function-mlp-relu:") and messages[1] == f"run dir: {run}"
    assert [m.split("  ")[0] for m in messages if m.startswith("epoch")] == ["epoch 1/2", "epoch 2/2"]
    assert messages[-1] == f"files: {run}" and any(m.startswith("done: function-mlp-relu: status ok") for m in messages)
    assert [line for line in proc.stdout.splitlines() if "[dlrun][INFO]" in line] == log
    plain = tmp_path / "plain"
    proc = run_dlrun("dataset=function", "trainer.epochs=1", f"hydra.run.dir={plain}", cwd=tmp_path)
    assert proc.returncode == 0 and "[dlrun]" not in proc.stdout and "epoch 1/1" in proc.stdout
    assert not list(plain.glob("*.log"))


def test_hydra_verbose_with_hydras_logging_off_says_it_prints_nothing(tmp_path):
    """hydra.verbose lowers the loggers' level; with dlrun's logging off nothing wrote its lines."""
    small = ("dataset=function", "dataset.n_train=64", "dataset.n_test=32", "trainer.epochs=1")
    line = ("note: hydra.verbose=[dlrun] prints nothing while Hydra's logging is off (dlrun's default); add "
            "hydra/job_logging=default for the debug lines of the run, hydra/hydra_logging=default for Hydra's own")  # fmt: skip
    run = run_dlrun(*small, "hydra.verbose=[dlrun]", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    sweep = run_dlrun(
        "-m", *small, "hydra.verbose=[dlrun]", "seed=0,1", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path
    )
    for proc in (run, sweep):
        assert proc.returncode == 0 and proc.stdout.count(line) == 1, proc.stdout
    logged = run_dlrun(*small, "hydra.verbose=true", "hydra/job_logging=default", f"hydra.run.dir={tmp_path / 'l'}",
                       cwd=tmp_path)  # fmt: skip
    assert logged.returncode == 0 and "prints nothing" not in logged.stdout and "[DEBUG]" in logged.stdout


def test_job_logging_that_python_refuses_or_that_is_off_is_one_line_and_leaves_no_folder(tmp_path):
    """Hydra sets up job logging between making a run's folder and running its task: a level
    Python's logging does not know was a traceback, and left the folder with its log file; a key
    of the job logging dlrun turns off read "Key 'level' is not in struct"."""
    bad = ("dataset=function", "trainer.epochs=1", "hydra/job_logging=default", "hydra.job_logging.root.level=LOUD")
    for mode, folder in (([], "hydra.run.dir"), (["-m", "activation=relu,tanh"], "hydra.sweep.dir")):
        target = tmp_path / "made" / ("sweep" if mode else "run")  # and its parent: both made by the command
        proc = run_dlrun(*mode, *bad, f"{folder}={target}", cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr == (
            "dlrun: error: hydra.job_logging.root.level=LOUD: Python's logging cannot use it (Unable to configure "
            "root logger: ValueError: Unknown level: 'LOUD'); the keys: "
            "https://docs.python.org/3/library/logging.config.html#dictionary-schema-details\n"
        ), proc.stderr
        assert not (tmp_path / "made").exists(), list((tmp_path / "made").rglob("*"))
    off = run_dlrun("dataset=function", "hydra.job_logging.root.level=DEBUG", f"hydra.run.dir={tmp_path / 'r'}",
                    cwd=tmp_path)  # fmt: skip
    assert off.returncode == 2 and off.stderr == (
        "dlrun: error: hydra.job_logging.root.level: Hydra's job logging is off in dlrun (hydra/job_logging=none: "
        "dlrun prints its own lines); choose hydra/job_logging=default, and its keys can be set\n"
    )


def test_a_fresh_start_keeps_the_log_file_that_logging_is_writing(tmp_path):
    import logging

    from runner.cli import _nothing_ran
    from runner.runfolder import clear

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    handler = logging.FileHandler(run / "job.log")
    logging.getLogger().addHandler(handler)
    try:
        assert _nothing_ran(run)  # Hydra's record and the open log: nothing ran yet
        (run / "metrics.csv").write_text("epoch\n1\n")  # an earlier attempt's file
        (run / "plots").mkdir()
        assert not _nothing_ran(run)
        logging.getLogger().warning("before the fresh start")
        clear(run)
        logging.getLogger().warning("after it")
        handler.flush()
        assert sorted(p.name for p in run.iterdir()) == [".hydra", "job.log"]
        assert (run / "job.log").read_text() == "before the fresh start\nafter it\n"
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def test_a_key_the_run_ignores_is_noted_before_it_runs_in_a_run_and_in_each_sweep_job_it_concerns(tmp_path):
    small = [
        "dataset=function",
        "dataset.n_train=64",
        "dataset.n_test=32",
        "trainer.epochs=1",
        "trainer.batch_size=32",
        "diagnostics.probes=false",
    ]
    note = "note: optimizer.momentum=0.5 does nothing for optimizer=adam: only sgd reads it"
    run = run_dlrun(*small, "optimizer.momentum=0.5", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == note and (tmp_path / "run" / "DONE").is_file()  # a note, not a refusal
    sweep = run_dlrun("-m", *small, "optimizer=sgd,adam", "optimizer.momentum=0.5", f"hydra.sweep.dir={tmp_path / 's'}",
                      cwd=tmp_path)  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr
    assert [ln for ln in sweep.stdout.splitlines() if "note:" in ln] == [f"[job 1] {note}"]  # adam's job only


SMALL_FN = (
    "dataset=function",
    "dataset.n_train=64",
    "dataset.n_test=32",
    "trainer.epochs=1",
    "trainer.batch_size=32",
    "diagnostics.probes=false",
)


def test_a_sweep_preset_run_as_a_single_run_says_its_params_are_not_swept(tmp_path):
    proc = run_dlrun("sweep=activations", "hydra.mode=RUN", *SMALL_FN, f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == ("note: hydra.sweeper.params (from sweep=activations) are not swept in a "
                                           "single run: it uses the config's own activation; add -m to sweep them")  # fmt: skip
    assert (tmp_path / "r" / "DONE").is_file()
    plain = run_dlrun(*SMALL_FN, f"hydra.run.dir={tmp_path / 'p'}", cwd=tmp_path)
    assert plain.returncode == 0 and "hydra.sweeper.params" not in plain.stdout


def test_the_folder_of_the_other_mode_is_said_to_do_nothing(tmp_path):
    """Hydra ignores hydra.sweep.dir in a single run (an experiment that is one run wrote under
    outputs/runs/, not where asked) and hydra.run.dir in a sweep, without a word."""
    run = run_dlrun(*SMALL_FN, f"hydra.sweep.dir={tmp_path / 's'}", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == (f"note: hydra.sweep.dir={tmp_path / 's'} does nothing in a single run: its "
                                          f"folder is hydra.run.dir ({tmp_path / 'r'}); add -m to sweep")  # fmt: skip
    assert (tmp_path / "r" / "DONE").is_file() and not (tmp_path / "s").exists()
    sweep = run_dlrun("-m", *SMALL_FN, "seed=1,2", f"hydra.run.dir={tmp_path / 'r2'}", f"hydra.sweep.dir={tmp_path / 's'}",
                      cwd=tmp_path)  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr
    notes = [ln for ln in sweep.stdout.splitlines() if ln.startswith("note:")]
    assert notes == [f"note: hydra.run.dir={tmp_path / 'r2'} does nothing in a sweep: its folder is hydra.sweep.dir "
                     f"({tmp_path / 's'})"]  # fmt: skip
    assert (tmp_path / "s" / "summary.csv").is_file() and not (tmp_path / "r2").exists()
    plain = run_dlrun(*SMALL_FN, f"hydra.run.dir={tmp_path / 'p'}", cwd=tmp_path)
    assert plain.returncode == 0 and "note:" not in plain.stdout


def test_a_launcher_or_sweeper_chosen_for_a_single_run_is_said_to_do_nothing(tmp_path):
    """Hydra ignores them without -m; the user meant a sweep, or thought the run went faster."""
    run = run_dlrun(*SMALL_FN, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra/sweeper=optuna",
                    f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    notes = [ln for ln in run.stdout.splitlines() if ln.startswith("note:")]
    assert notes == [
        "note: hydra/launcher=joblib hydra.launcher.n_jobs=2 do nothing in a single run: the launcher runs a sweep's "
        "jobs; add -m to sweep",
        "note: hydra/sweeper=optuna does nothing in a single run: the sweeper runs a sweep's jobs; add -m to sweep",
    ], run.stdout
    sweep = run_dlrun("-m", *SMALL_FN, "seed=1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=1",
                      f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)  # fmt: skip
    assert sweep.returncode == 0 and "note:" not in sweep.stdout, sweep.stdout + sweep.stderr


def test_the_sweepers_params_set_on_the_command_line_sweep_or_say_how_in_one_line(tmp_path):
    # Hydra's own null params made each of these a traceback from inside OmegaConf
    for i, arg in enumerate(
        ['hydra.sweeper.params.activation="relu,tanh"', 'hydra.sweeper.params={activation:"relu,tanh"}']
    ):
        proc = run_dlrun("-m", *SMALL_FN, arg, f"hydra.sweep.dir={tmp_path / str(i)}", cwd=tmp_path)
        assert proc.stderr == ("dlrun: error: hydra.sweeper.params.activation: the sweeper's params have no such key; "
                               "sweep it on the command line: dlrun -m activation=<a>,<b> (or add it with "
                               "+hydra.sweeper.params.activation=...)\n"), arg  # fmt: skip
        assert proc.returncode == 2 and not (tmp_path / str(i)).exists()
    added = run_dlrun("-m", *SMALL_FN, '+hydra.sweeper.params.activation="relu,tanh"', f"hydra.sweep.dir={tmp_path / 's'}",
                      cwd=tmp_path)  # fmt: skip
    assert added.returncode == 0, added.stderr
    jobs = sorted(p.name.split(",")[0] for p in (tmp_path / "s").iterdir() if p.is_dir() and p.name[0].isdigit())
    assert jobs == ["0_activation=relu", "1_activation=tanh"]


def test_a_config_folder_or_name_hydra_cannot_find_is_named_with_its_flag(tmp_path):
    from runner.config.compose import conf_dir

    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("")
    root = f"dlrun's root config is config.yaml in {conf_dir()} (a preset of your own goes in a group of a --config-dir folder: experiment=<name>)"  # fmt: skip
    expected = {
        ("-cn", "nope"): f"--config-name nope: no nope.yaml in {conf_dir()}; {root}",
        (
            "--config-path",
            str(tmp_path / "empty"),
        ): f"--config-path {tmp_path / 'empty'}: no config.yaml in {tmp_path / 'empty'}; {root}",  # fmt: skip
        (
            "-cp",
            str(tmp_path / "nope"),
        ): f"--config-path {tmp_path / 'nope'}: no such folder (dlrun's own configs are in {conf_dir()})",  # fmt: skip
        ("-cd", str(tmp_path / "nope")): f"--config-dir {tmp_path / 'nope'}: no such folder",
        ("--config-dir", str(tmp_path / "afile")): f"--config-dir {tmp_path / 'afile'}: not a folder",
        # relative: the working folder's, as a user means it (Hydra read it against runner/: "Primary
        # config module 'runner.mine' not found"); a root config of one's own built on dlrun's `config`,
        # which --config-path takes away ("In 'exp': Could not load 'config'.")
        ("-cp", "mine", "-cn", "exp"): f"--config-path {tmp_path / 'mine'} replaces dlrun's config folder, "
        f"{conf_dir()}, which holds config.yaml; give a folder of your own with --config-dir {tmp_path / 'mine'} "
        "instead: it adds to dlrun's",
        ("--config-path=mine", "-cn", "fn"): f"--config-path {tmp_path / 'mine'} replaces dlrun's config folder, "
        f"{conf_dir()}, which holds dataset/function.yaml; give a folder of your own with --config-dir "
        f"{tmp_path / 'mine'} instead: it adds to dlrun's",
        ("-cp", "empty"): f"--config-path {tmp_path / 'empty'}: no config.yaml in {tmp_path / 'empty'}; {root}",
    }
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "exp.yaml").write_text("defaults:\n  - config\n  - _self_\ntrainer:\n  epochs: 1\n")
    (tmp_path / "mine" / "fn.yaml").write_text("defaults:\n  - dataset: function\n  - _self_\n")
    for args, line in expected.items():
        proc = run_dlrun(*args, f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
        assert (proc.returncode, proc.stderr) == (2, f"dlrun: error: {line}\n"), args
    assert not (tmp_path / "r").exists()
    # what the line says to do works
    proc = run_dlrun("--config-dir", "mine", "-cn", "exp", "dataset=function", "trainer.progress=quiet",
                     f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0 and (tmp_path / "r" / "DONE").is_file(), proc.stderr


def test_a_relative_config_path_is_made_absolute_against_the_working_folder(tmp_path, monkeypatch):
    from runner.config.overrides import config_path_from_here

    monkeypatch.chdir(tmp_path)
    here = str(tmp_path / "mine")
    assert config_path_from_here(["-cp", "mine", "x=1"]) == ["-cp", here, "x=1"]
    assert config_path_from_here(["--config-path=mine", "-m"]) == [f"--config-path={here}", "-m"]
    assert config_path_from_here(["--config-path", "./mine"]) == ["--config-path", str(tmp_path / "./mine")]
    kept = ["-cp", "/abs/conf", "--config-path=pkg://runner.conf", "-cd", "mine", "mine=1"]
    assert config_path_from_here(kept) == kept
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_path_from_here(["-cp", "~/conf"]) == ["-cp", str(tmp_path / "home" / "conf")]
    assert config_path_from_here(["-cp"]) == ["-cp"]  # Hydra's parser says what is missing


def test_hydras_search_path_adds_ones_own_configs_and_one_it_cannot_read_is_one_line(tmp_path):
    """Hydra warned (a UserWarning and its source line) of a search path it could not find, then
    called the preset it held `no such option`; with a plus sign it did not read the path at all."""
    (tmp_path / "myconf" / "experiment").mkdir(parents=True)
    (tmp_path / "myconf" / "experiment" / "mine.yaml").write_text("# @package _global_\ntrainer:\n  epochs: 7\n")
    for path in ("file://myconf", "myconf", f"file://{tmp_path / 'myconf'}"):
        proc = run_dlrun(f"hydra.searchpath=[{path}]", "experiment=mine", "--cfg", "job", "-p", "trainer.epochs",
                         cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0 and proc.stdout.strip() == "7", (path, proc.stderr)
    refused = {
        "hydra.searchpath=[file://nowhere]": f"hydra.searchpath: file://nowhere: no such folder (relative to {tmp_path})",
        "hydra.searchpath=[myconf/experiment/mine.yaml]": "hydra.searchpath: myconf/experiment/mine.yaml: not a folder",
        "hydra.searchpath=[pkg://no_such_package]": "hydra.searchpath: pkg://no_such_package: no such package",
        "hydra.searchpath=[s3://bucket]": "hydra.searchpath: s3://bucket: No config source registered for schema s3",
        "+hydra.searchpath=[file://myconf]": "+hydra.searchpath=[file://myconf]: Hydra reads its search path without "
        "a plus sign: hydra.searchpath=[file://myconf]",
        "hydra.searchpath=myconf": "hydra.searchpath=myconf: expected a list of config folders in brackets",
    }
    for arg, line in refused.items():
        proc = run_dlrun(arg, "experiment=mine", f"hydra.run.dir={tmp_path / 'r'}", cwd=tmp_path)
        assert_one_line_error(proc, line)
    assert not (tmp_path / "r").exists()


def test_an_interpolation_of_hydras_node_is_pointed_at_hydras_resolver():
    from omegaconf import OmegaConf

    from runner.messages import describe_error

    cfg = OmegaConf.create({"seed": "${hydra.job.num}"})  # a job's config has no hydra node
    with pytest.raises(Exception) as ex:
        _ = cfg.seed
    assert describe_error(ex.value) == (
        "seed: ${hydra.job.num} names no key of the config (Hydra's own values are read with its resolver: "
        "${hydra:job.num})"
    )
