"""Every option of every group composes and validates; types and ranges are enforced."""

from __future__ import annotations

import re

import pytest
import torch
from conftest import compose
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from runner.config.compose import conf_dir
from runner.config.validate import notes, prepare, validate
from runner.errors import ConfigError, UserError

GROUPS = ["dataset", "model", "activation", "regularizer", "optimizer", "init"]
EXPERIMENTS = sorted(p.stem for p in (conf_dir() / "experiment").glob("*.yaml"))


def options(group: str) -> list:
    return sorted(p.stem for p in (conf_dir() / group).glob("*.yaml"))


def test_every_group_has_the_public_options():
    # at least these: a new option is its YAML plus a registry entry (tests/test_registry.py)
    assert set(options("dataset")) >= {"cifar10", "fashion_mnist", "function", "gurmukhi", "mnist"}
    assert set(options("model")) >= {"cnn", "mlp"}
    assert set(options("activation")) >= {"elu", "gelu", "leaky_relu", "relu", "sigmoid", "tanh"}
    assert set(options("regularizer")) >= {"batchnorm", "dropout", "l1", "l2", "none"}
    assert set(options("optimizer")) >= {"adam", "sgd"}
    assert set(options("init")) >= {"default", "kaiming", "xavier"}


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_each_option_composes_and_validates(group, option):
    extra = ["model=cnn"] if group == "model" and option == "cnn" else []
    extra += ["dataset=cifar10"] if (group, option) == ("regularizer", "augment") else []  # flips: not digits
    cfg = compose(f"{group}={option}", *extra)
    validate(cfg)
    assert notes(cfg) == []  # no option sets a key that the config's own choices ignore
    if group in ("dataset", "model", "activation", "optimizer", "init"):
        assert cfg[group].name == option


def test_each_dataset_composes_with_the_cnn_except_function():
    for ds in options("dataset"):
        cfg = compose(f"dataset={ds}", "model=cnn")
        if ds == "function":
            with pytest.raises(ConfigError, match="model"):
                validate(cfg)
        else:
            validate(cfg)


def test_regularizers_combine_as_a_list():
    cfg = compose("regularizer=[l1,dropout]", "regularizer.dropout=0.5")
    assert cfg.regularizer.l1 == pytest.approx(1e-4)
    assert cfg.regularizer.dropout == 0.5
    assert cfg.regularizer.l2 == 0 and cfg.regularizer.batchnorm is False
    cfg = compose("regularizer=[l2,batchnorm,dropout]")
    assert cfg.regularizer.l2 > 0 and cfg.regularizer.batchnorm and cfg.regularizer.dropout == 0.2


def test_defaults_match_the_issue():
    cfg = compose("model=cnn")
    assert list(cfg.model.conv) == [32, 64, 128] and list(cfg.model.hidden) == [512, 256, 128]
    assert compose("optimizer=sgd").optimizer.momentum > 0
    assert compose("dataset=cifar10", "dataset.val_size=5000").dataset.val_size == 5000


def test_data_dir_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("DLRUN_DATA", "/somewhere/data")
    assert compose().data_dir == "/somewhere/data"
    monkeypatch.delenv("DLRUN_DATA")
    assert compose().data_dir == "./data"


def test_wrong_types_and_keys_fail_at_composition():
    with pytest.raises(Exception) as e:
        compose("trainer.epochs=abc")
    assert any(isinstance(c, ValidationError) for c in _chain(e.value))
    with pytest.raises(Exception) as e:
        compose("dataset.nonsense=1")
    assert any(
        isinstance(c, (ConfigKeyError, ConfigAttributeError)) and "'nonsense' not in" in str(c) for c in _chain(e.value)
    )


@pytest.mark.parametrize(
    "override,where,hint",
    [
        ("+foo=1", "foo", ""),
        ("+trainer.epoch=3", "trainer.epoch", " (did you mean trainer.epochs?)"),
        ("++trainer.early_stopping.patiense=2", "trainer.early_stopping.patiense",
         " (did you mean trainer.early_stopping.patience?)"),
        ("+trainer.lr=0.1", "trainer.lr", " (did you mean optimizer.lr?)"),  # the section that has it
    ],
)  # fmt: skip
def test_a_key_added_with_plus_that_no_schema_reads_is_refused(override, where, hint):
    cfg = compose(override)  # Hydra adds it even to a typed node
    with pytest.raises(UserError, match=rf"^{re.escape(where + ': unknown key' + hint)}; (keys under|top-level keys)"):
        validate(cfg)


@pytest.mark.parametrize(
    "override,key",
    [
        ("optimizer.lr=-1", "optimizer.lr"),
        ("trainer.batch_size=0", "trainer.batch_size"),
        ("trainer.epochs=0", "trainer.epochs"),
        ("regularizer.dropout=1.0", "regularizer.dropout"),
        ("regularizer.l2=-0.1", "regularizer.l2"),
        ("dataset.val_size=2.5", "dataset.val_size"),
        ("dataset.train_fraction=0", "dataset.train_fraction"),
        ("dataset.holdout=1", "dataset.holdout"),
        ("activation.name=swish", "activation.name"),
        ("device=gpu", "device"),
        ("trainer.progress=loud", "trainer.progress"),
        ("model.conv=[4]", "model.conv"),  # the MLP has no conv layers
        # torch took them: a negative threshold counts a worse epoch as better, a floor at the rate
        # lets it never fall; the plateau schedule then never lowered the rate, without a word
        (["scheduler=plateau", "scheduler.threshold=-1"], "scheduler.threshold"),
        (["scheduler=plateau", "scheduler.min_lr=-1"], "scheduler.min_lr"),
        (["scheduler=plateau", "scheduler.min_lr=0.001"], "scheduler.min_lr"),  # optimizer.lr is 1e-3
    ],
)
def test_out_of_range_values_name_their_key(override, key):
    with pytest.raises(ConfigError) as e:
        validate(compose(*([override] if isinstance(override, str) else override)))
    assert e.value.key == key
    assert str(e.value).startswith(f"{key}: expected ")


@pytest.mark.parametrize(
    "overrides,line",
    [
        # a NumPy traceback (high - low range exceeds valid bounds)
        (["dataset=function", "dataset.high=inf"], "dataset.high: expected a finite number, got inf"),
        (["dataset=function", "dataset.low=nan"], "dataset.low: expected a finite number, got nan"),
        # each trained to a NaN loss and called it diverged
        (["regularizer.l2=inf"], "regularizer.l2: expected a finite number, got inf"),
        (["activation=leaky_relu", "activation.negative_slope=inf"],
         "activation.negative_slope: expected a finite number, got inf"),
        (["scheduler=onecycle", "scheduler.max_lr=inf"], "scheduler.max_lr: expected a finite number, got inf"),
        (["dataset.mean=[-inf]"], "dataset.mean: expected finite numbers, got [-inf]"),
        (["reproduce.tolerance.loss_factor=nan"], "reproduce.tolerance.loss_factor: expected a finite number, got nan"),
        (["trainer.checkpoint_seconds=-inf"],  # its own check speaks first
         "trainer.checkpoint_seconds: expected a number of seconds >= 0, got -inf"),
    ],
)  # fmt: skip
def test_nan_and_inf_are_refused_where_no_check_of_the_key_caught_them(overrides, line):
    with pytest.raises(ConfigError) as e:
        validate(compose(*overrides))
    assert str(e.value) == line


@pytest.mark.parametrize(
    "overrides,line",
    [
        # each a TypeError from the model check ('int' object is not iterable), the shortcut's too
        (["model.hidden=${seed}"], "model.hidden: expected a list of whole numbers in brackets, e.g. model.hidden=[...], got 0"),
        (["model.hidden=${seed}", "model.depth=3"], "model.hidden: expected a list of whole numbers in brackets"),
        # text from an environment variable: a str reached the model check, and betas became its characters
        (["model.hidden=${oc.env:DLRUN_TEST_H}"],
         "model.hidden: expected a list of whole numbers in brackets, e.g. model.hidden=[...], or "
         "\"model.hidden='${oc.decode:${oc.env:DLRUN_TEST_H}}'\" to read the text ${oc.env:DLRUN_TEST_H} gives as one, "
         "got '[64,64]'"),
        (["optimizer.betas=${oc.env:DLRUN_TEST_H}"], "optimizer.betas: expected a list of numbers in brackets"),
        (["model.hidden=${oc.decode:'[64,true]'}"], "model.hidden: expected a list of whole numbers in brackets, e.g. "
         "model.hidden=[...], got [64, True]"),
    ],
)  # fmt: skip
def test_a_list_key_whose_interpolation_gives_no_list_is_one_line(overrides, line, monkeypatch):
    monkeypatch.setenv("DLRUN_TEST_H", "[64,64]")
    with pytest.raises(ConfigError) as e:
        prepare(compose("dataset=function", *overrides))
    assert str(e.value).startswith(line)


def test_a_list_read_from_text_with_oc_decode_is_a_list(monkeypatch):
    monkeypatch.setenv("DLRUN_TEST_H", "[64,32]")
    monkeypatch.setenv("DLRUN_TEST_B", "[0,0.5]")  # a whole number is a number too
    decoded = ("model.hidden='${oc.decode:${oc.env:DLRUN_TEST_H}}'",  # quoted, as the line says
               "optimizer.betas='${oc.decode:${oc.env:DLRUN_TEST_B}}'")  # fmt: skip
    cfg = prepare(compose("dataset=function", *decoded))
    assert list(cfg.model.hidden) == [64, 32] and list(cfg.optimizer.betas) == [0, 0.5]


@pytest.mark.parametrize(
    "overrides,line",
    [
        (["dataset.low=1e9"], "dataset.low: expected a number below dataset.high (2, sin_plus_square's default), got 1000000000"),
        (["dataset.high=-5"], "dataset.high: expected a number above dataset.low (-2, sin_plus_square's default), got -5"),
        (["dataset.fn=sign_sin", "dataset.high=-1"],
         "dataset.high: expected a number above dataset.low (-1, sign_sin's default), got -1"),
        (["dataset.low=3", "dataset.high=1"], "dataset.low: expected a number below dataset.high (1), got 3"),
    ],
)  # fmt: skip
def test_one_bound_of_a_functions_interval_is_checked_against_the_others_default(overrides, line):
    """dataset.low=1e9 alone was checked against nothing and failed in NumPy (high - low < 0)."""
    with pytest.raises(ConfigError) as e:
        validate(compose("dataset=function", *overrides))
    assert str(e.value) == line


@pytest.mark.parametrize("engine", ["torch", "numpy"])
def test_nesterov_without_momentum_is_refused_rather_than_a_traceback_or_plain_sgd(engine):
    """torch's SGD raised a ValueError at the first step (a traceback); the NumPy engine ran plain SGD."""
    with pytest.raises(ConfigError) as e:
        validate(compose(f"engine={engine}", "optimizer=sgd", "optimizer.nesterov=true", "optimizer.momentum=0"))
    assert str(e.value) == ("optimizer.momentum: expected a number in (0, 1) with optimizer.nesterov=true (Nesterov's "
                            "look-ahead is along the momentum), got 0")  # fmt: skip
    validate(compose(f"engine={engine}", "optimizer=sgd", "optimizer.nesterov=true", "optimizer.momentum=0.9"))


@pytest.mark.parametrize(
    "overrides,line",
    [
        # ran no model and wrote an empty study that said "done"
        (["experiment=function_fit", "study.function_fit.functions=[]"], "study.function_fit.functions: expected "
         "one or more of sin_plus_square, sign_sin, sin_plus_x, cos_over_x, got []"),
        (["experiment=function_fit", "study.function_fit.depths=[]"],
         "study.function_fit.depths: expected two or more different depths >= 1, e.g. [1,3,6] (the study compares "
         "deep with shallow), got []"),
        # one depth: "deepest over shallowest" 1; a repeated one: the same model's folder, "finished earlier, kept"
        (["experiment=function_fit", "study.function_fit.depths=[3]"],
         "study.function_fit.depths: expected two or more different depths >= 1, e.g. [1,3,6] (the study compares "
         "deep with shallow), got [3]"),
        (["experiment=function_fit", "study.function_fit.depths=[1,3,3]"],
         "study.function_fit.depths: expected two or more different depths >= 1, e.g. [1,3,6] (the study compares "
         "deep with shallow), got [1, 3, 3]"),
        # one seed, one batch size: the same model twice, every point of the line the same
        (["experiment=flatness_interpolation", "study.interpolation.batch_small=1024"],
         "study.interpolation.batch_small: expected a batch size >= 1 below batch_large (1024), got 1024"),
        (["experiment=trajectory_pca", "study.trajectory.runs=1"],
         "study.trajectory.runs: expected an integer >= 2 (PCA compares runs), got 1"),
        (["experiment=minimal_ratio", "study.minimal_ratio.repeats=0"],
         "study.minimal_ratio.repeats: expected an integer >= 1, got 0"),
        (["experiment=flatness_interpolation", "study.interpolation.alpha_min=3"],
         "study.interpolation.alpha_min: expected a number below alpha_max (2.0), got 3"),
    ],
)  # fmt: skip
def test_a_studys_settings_that_would_study_nothing_are_refused(overrides, line):
    with pytest.raises(ConfigError) as e:
        validate(compose(*overrides))
    assert str(e.value) == line


@pytest.mark.parametrize(
    "overrides,line",
    [
        # every seed a run takes must be one: the last replica's and a study's last run's were NumPy's
        # ValueError (minimal_ratio's after its first repeats trained), trajectory_pca's second run was
        # refused with `got 4294967296`, a number nobody typed; label_seed was default_rng's traceback
        (["seed=4294967295", "trainer.replicas=2"],
         "seed: expected an integer in [0, 2^32 - 2] (NumPy's seed range; the 2 replicas (trainer.replicas) take "
         "seeds seed..seed+1), got 4294967295"),
        (["experiment=minimal_ratio", "study.reduced=true", "seed=4294967295"],
         "seed: expected an integer in [0, 2^32 - 3] (NumPy's seed range; the study's 3 runs "
         "(study.minimal_ratio.repeats) take seeds seed..seed+2), got 4294967295"),
        (["experiment=trajectory_pca", "study.reduced=true", "seed=4294967294"],
         "seed: expected an integer in [0, 2^32 - 3] (NumPy's seed range; the study's 3 runs "
         "(study.trajectory.runs) take seeds seed..seed+2), got 4294967294"),
        (["trainer.replicas=5000000000"],
         "trainer.replicas: expected at most 2^32 (one NumPy seed each, from seed on), got 5000000000"),
        (["dataset.label_seed=-5", "dataset.shuffle_labels=true"],
         "dataset.label_seed: expected an integer in [0, 2^32 - 1] (NumPy's seed range), got -5"),
    ],
)  # fmt: skip
def test_every_seed_a_run_takes_is_in_numpys_range(overrides, line):
    with pytest.raises(ConfigError) as e:
        validate(compose(*overrides))
    assert str(e.value) == line


def test_the_highest_seeds_that_fit_are_taken():
    validate(compose("seed=4294967295"))
    validate(compose("seed=4294967294", "trainer.replicas=2"))
    validate(compose("experiment=minimal_ratio", "study.reduced=true", "seed=4294967293"))


def test_inf_is_taken_where_the_schema_gives_it_a_meaning():
    from runner.config.schema import UNBOUNDED

    assert list(UNBOUNDED) == ["trainer.checkpoint_seconds"]
    validate(compose("trainer.checkpoint_seconds=inf"))  # no periodic checkpoints


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["dataset=mnist", "dataset.n_train=100"], "dataset.n_train=100 does nothing for mnist: it applies to "
         "generated function data (dataset=function) only; its training images are sized by dataset.subsample"),
        (["dataset=cifar10", "dataset.n_test=50"], "dataset.n_test=50 does nothing for cifar10: it applies to "
         "generated function data (dataset=function) only; its test images are sized by dataset.test_subsample"),
        (["dataset=gurmukhi", "dataset.noise=0.1"], "dataset.noise=0.1 does nothing for gurmukhi"),
        (["dataset=fashion_mnist", "dataset.fn=sign_sin"], "dataset.fn='sign_sin' does nothing for fashion_mnist"),
        (["dataset=mnist", "dataset.low=0"], "dataset.low=0 does nothing for mnist"),
        (["dataset=function", "dataset.image_size=[8,8]"], "dataset.image_size=[8, 8] does nothing for function "
         "data (dataset.source=function): it applies to image classification data"),
        (["dataset=function", "dataset.num_classes=3"], "dataset.num_classes=3 does nothing for function data"),
        (["dataset=function", "dataset.channels=3"], "dataset.channels=3 does nothing for function data"),
        (["dataset=function", "dataset.mean=[0.5]"], "dataset.mean=[0.5] does nothing for function data"),
        (["dataset=function", "dataset.folder=points"], "dataset.folder='points' does nothing for function data"),
    ],
)  # fmt: skip
def test_a_dataset_key_the_chosen_kind_of_data_ignores_is_refused(overrides, message):
    """`dataset=mnist dataset.n_train=100` trained on all 60,000 images without a word."""
    with pytest.raises(UserError) as e:
        validate(compose(*overrides))
    assert str(e.value).startswith(message), str(e.value)
    # the same keys at their defaults, and the keys of the data's own kind, pass
    validate(compose("dataset=mnist", "dataset.n_train=1000", "dataset.subsample=100"))
    validate(compose("dataset=function", "dataset.n_train=100", "dataset.image_size=[28,28]", "dataset.noise=0.1"))


@pytest.mark.parametrize("overrides,lines", [
    (["optimizer.momentum=0.5"], ["optimizer.momentum=0.5 does nothing for optimizer=adam: only sgd reads it"]),
    (["optimizer=sgd", "optimizer.betas=[0.8,0.9]", "scheduler=step", "scheduler.max_lr=0.1"],
     ["optimizer.betas=[0.8, 0.9] does nothing for optimizer=sgd: only adam reads it",
      "scheduler.max_lr=0.1 does nothing for scheduler=step: only onecycle reads it"]),
    (["activation=gelu", "activation.alpha=2", "activation.negative_slope=0.2"],
     ["activation.negative_slope=0.2 does nothing for activation=gelu: only leaky_relu reads it",
      "activation.alpha=2 does nothing for activation=gelu: only elu reads it"]),
    (["scheduler.gamma=0.5"], ["scheduler.gamma=0.5 does nothing for scheduler=none: only step reads it"]),
    (["scheduler=cosine", "scheduler.patience=3", "scheduler.t_max=4"],
     ["scheduler.patience=3 does nothing for scheduler=cosine: only plateau reads it"]),
    # read by the chosen option, or left at the default: nothing to say
    (["optimizer=sgd", "optimizer.momentum=0.5", "activation=elu", "activation.alpha=2", "scheduler=step",
      "scheduler.gamma=0.5"], []),
    (["optimizer=adam", "optimizer.momentum=0.9", "scheduler.metric=val_loss"], []),
    # early stopping is off while its metric is null: patience=3 alone stopped nothing, unsaid
    (["trainer.early_stopping.patience=3", "trainer.early_stopping.min_delta=0.01"],
     ["trainer.early_stopping.patience=3, trainer.early_stopping.min_delta=0.01 do nothing while "
      "trainer.early_stopping.metric is null (early stopping off); set it to the column to watch, e.g. "
      "trainer.early_stopping.metric=val_loss"]),
    (["trainer.early_stopping.metric=test_loss", "trainer.early_stopping.patience=3"], []),
    # a linear model has no hidden layer for dropout or BatchNorm to follow
    (["model.hidden=[]", "regularizer=[dropout,batchnorm]"],
     ["regularizer.dropout=0.2 does nothing: dropout follows hidden FC layers and model.hidden=[] has none "
      "(model.head_activation=true puts it after the output)",
      "regularizer.batchnorm=true does nothing: BatchNorm follows hidden FC and conv layers and model=mlp with "
      "model.hidden=[] has neither"]),
    (["model=cnn", "model.hidden=[]", "regularizer=batchnorm"], []),  # after each conv layer
    (["model.hidden=[]", "regularizer=dropout", "model.head_activation=true"], []),
    (["model.hidden=[8]", "regularizer=[dropout,batchnorm]"], []),
])  # fmt: skip
def test_a_key_the_chosen_option_ignores_gets_a_note(overrides, lines):
    assert notes(prepare(compose(*overrides))) == lines


@pytest.mark.parametrize("overrides,lines", [
    (["task=gradcheck", "trainer.precision=bf16"],
     ["trainer.precision=bf16 does nothing for task=gradcheck: it differentiates the untrained network's loss in "
      "float64 on the CPU, without training"]),
    # the option notes of a section the task ignores give way to the task's one line
    (["task=gradcheck", "optimizer.momentum=0.5", "scheduler=step", "device=cpu", "~logger"],
     ["optimizer.momentum=0.5, scheduler=step, device=cpu do nothing for task=gradcheck: it differentiates the "
      "untrained network's loss in float64 on the CPU, without training"]),
    # what gradcheck reads, presets (whose keys it may read), Hydra's own keys: nothing to say
    (["task=gradcheck", "model=cnn", "model.conv=[4]", "regularizer=[l1,dropout]", "activation=elu", "seed=3",
      "gradcheck.batch=4", "trainer.progress=plain", "tags=[a]", "remedy=batchnorm", "hydra.run.dir=x"], []),
    (["trainer.precision=bf16", "optimizer.lr=0.1"], []),  # training reads them
])  # fmt: skip
def test_an_override_the_task_ignores_gets_a_note(overrides, lines):
    cfg = prepare(compose(*(o for o in overrides if not o.startswith(("hydra.", "~")))))
    assert notes(cfg, overrides) == lines


@pytest.mark.parametrize("every,said", [(3, False), (4, False), (5, True)])
def test_a_trajectory_recorded_less_often_than_it_trains_gets_a_note(every, said):
    """every > epochs kept only the initial and the final weights of each run, without a word."""
    cfg = prepare(compose("experiment=trajectory_pca", "trainer.epochs=4", f"study.trajectory.every={every}"))
    lines = [line for line in notes(cfg) if line.startswith("study.trajectory.every")]
    assert lines == ([f"study.trajectory.every={every} is more than trainer.epochs=4: each trajectory is only its "
                      "initial and final weights; set it to at most 4 to see the path between"] if said else [])  # fmt: skip


def other_options() -> list:
    """The options of conf/'s groups that the tests of GROUPS and EXPERIMENTS leave out, those in
    subfolders as <sub>/<name> (experiment=reproduce/r2)."""
    return [(g.name, o) for g in sorted(conf_dir().iterdir()) if g.is_dir() and g.name not in (*GROUPS, "hydra")
            for o in sorted(p.relative_to(g).with_suffix("").as_posix() for p in g.rglob("*.yaml"))
            if (g.name, o) not in (("experiment", e) for e in EXPERIMENTS)]  # fmt: skip


@pytest.mark.parametrize("group,option", other_options())
def test_no_option_in_conf_sets_a_key_that_its_own_choices_ignore(group, option):
    assert notes(compose(f"{group}={option}")) == []


def test_too_many_conv_layers_for_the_image_is_refused():
    with pytest.raises(ConfigError, match="at most 4 conv layers"):
        validate(compose("model=cnn", "model.conv=[8,8,8,8,8]"))  # 28 -> 14 -> 7 -> 3 -> 1 -> 0
    validate(compose("model=cnn", "model.conv=[8,8,8,8]"))


def test_an_mlp_over_a_cnn_preset_is_told_how_to_drop_the_preset_s_conv_layers():
    """experiment=flatness_interpolation model=mlp met the preset's model.conv=[16,32] and was
    told to use model=cnn, the opposite of what was asked; model.conv=[] is the way."""
    with pytest.raises(ConfigError) as e:
        validate(compose("experiment=flatness_interpolation", "model=mlp"))
    assert str(e.value) == ("model.conv: expected [] for model=mlp (model=cnn trains conv layers; model.conv=[] "
                            "drops those an experiment preset set), got [16, 32]")  # fmt: skip
    validate(compose("experiment=flatness_interpolation", "model=mlp", "model.conv=[]"))


def _chain(ex):
    while ex is not None:
        yield ex
        ex = ex.__cause__ or ex.__context__


def test_reference_experiments_exist():
    assert set(EXPERIMENTS) >= {
        "cnn_activations_cifar10",
        "cnn_depth_cifar10",
        "mlp_activations_cifar10",
        "gradcheck_gurmukhi_cnn",
        "gradcheck_models",
        "scratch_mnist",
        "regularization_gurmukhi",
    }


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_validates(name):
    cfg = compose(f"experiment={name}")
    validate(cfg)
    assert notes(cfg) == []


# every preset that trains has both sizes; the gradient checks are tiny already
SIZED = [name for name in EXPERIMENTS if not name.startswith("gradcheck")]


@pytest.mark.parametrize("name", SIZED)
def test_study_reduced_makes_every_training_preset_smaller(name):
    from omegaconf import OmegaConf

    full = compose(f"experiment={name}")
    reduced = prepare(compose(f"experiment={name}", "study.reduced=true"))
    values = OmegaConf.to_container(full, resolve=True), OmegaConf.to_container(reduced, resolve=True)
    for cfg in values:
        cfg["study"].pop("reduced")
    assert values[0] != values[1]
    if full.dataset.source != "function" and name != "regularization_gurmukhi":  # Gurmukhi: all 1,000 images
        assert 0 < reduced.dataset.subsample <= 1000 and reduced.dataset.test_subsample <= 500
    if name in ("cnn_activations_cifar10", "cnn_depth_cifar10", "mlp_activations_cifar10", "regularization_gurmukhi"):
        assert reduced.trainer.epochs <= 3 < full.trainer.epochs


@pytest.mark.parametrize(
    "overrides,instead",
    [
        (["study.reduced=true"], "dataset.subsample=1000"),
        (["experiment=gradcheck_models", "study.reduced=true"], "dataset.subsample=1000"),
        (["experiment=reproduce/r1", "study.reduced=true"], "reproduce.quick=true"),
        # every size the preset scales is set on the command line: nothing is left to reduce
        (
            ["experiment=regularization_gurmukhi", "study.reduced=true", "trainer.epochs=4"],
            "dataset.subsample=1000",
        ),
    ],
)
def test_study_reduced_where_nothing_reads_it_is_refused(overrides, instead):
    with pytest.raises(UserError, match=r"^study.reduced=true changes nothing in this config.*" + re.escape(instead)):
        prepare(compose(*overrides))
    prepare(compose(*overrides), derived=True)  # a study's sub-run or an eval's merge: the command was checked


def test_reference_setups_match_the_issue():
    cnn = compose("experiment=cnn_activations_cifar10")
    assert list(cnn.model.conv) == [32, 64, 128] and list(cnn.model.hidden) == [512, 256, 128]
    assert cnn.regularizer.dropout == 0.2 and cnn.optimizer.name == "adam" and cnn.trainer.epochs == 25
    deep = compose("experiment=cnn_depth_cifar10", "model.depth=6")
    prepare(deep)
    assert list(deep.model.hidden) == [512, 256, 128, 64, 32, 16]
    mlp = compose("experiment=mlp_activations_cifar10")
    assert mlp.dataset.val_size == 5000 and mlp.trainer.epochs == 40
    gc = compose("experiment=gradcheck_gurmukhi_cnn")
    assert gc.task == "gradcheck" and list(gc.model.hidden) == [512, 256]
    assert (gc.regularizer.l1, gc.regularizer.l2, gc.regularizer.dropout) == (1e-4, 1e-4, 0.2)
    scratch = compose("experiment=scratch_mnist", "variant=numpy_sgd")
    validate(scratch)
    assert scratch.engine == "numpy" and scratch.optimizer.lr == 0.01 and scratch.trainer.batch_size == 32
    assert scratch.dataset.subsample == 30000 and list(scratch.model.hidden) == [] and scratch.model.head_activation
    adam = compose("experiment=scratch_mnist", "variant=torch_adam_dropout")
    assert adam.optimizer.name == "adam" and adam.regularizer.dropout == 0.5 and adam.engine == "torch"
    reg = compose("experiment=regularization_gurmukhi")
    assert reg.trainer.epochs == 50 and list(reg.model.hidden) == [512, 256]


def test_halving_taper_and_its_limit():
    cfg = compose("model.depth=4", "model.width=64", "model.taper=halve")
    prepare(cfg)
    assert list(cfg.model.hidden) == [64, 32, 16, 8]
    with pytest.raises(ConfigError, match="model.depth"):
        validate(compose("model.depth=8", "model.width=16", "model.taper=halve"))


def test_head_activation_adds_activation_and_dropout_after_the_output_layer():
    from runner.models import build_model

    net = build_model(
        compose("model.hidden=[]", "model.head_activation=true", "regularizer.dropout=0.25"), (1, 28, 28), 10
    )
    assert [type(m).__name__ for m in net.head_post] == ["ReLU", "Dropout"]
    assert (net.eval()(torch.randn(4, 1, 28, 28)) >= 0).all()


@pytest.mark.parametrize(
    "override,run_folder,sweep_folder",
    [
        ("name=../../x", "_.._.._x", "mnist-mlp"),
        ("name=a/b", "_a_b", "mnist-mlp"),
        ("sweep.name=..", "_mnist-mlp-relu", "__"),
        ("sweep.name=runs/../../..", "_mnist-mlp-relu", "runs_.._.._.."),
        # 300 characters: `File name too long` once Hydra made the folder
        (f"name={'x' * 300}", "_" + "x" * 108 + "...-02fd6825", "mnist-mlp"),
        (f"sweep.name={'y' * 300}", "_mnist-mlp-relu", "y" * 108 + "...-8214d8f1"),
    ],
)
def test_names_with_slashes_or_dots_stay_one_folder_under_outputs(override, run_folder, sweep_folder):
    from pathlib import Path

    from runner.config.compose import compose as compose_config

    hydra = compose_config([override], hydra_config=True).hydra
    run_dir, sweep_dir = Path(hydra.run.dir), Path(hydra.sweep.dir)
    assert run_dir.parent.parent == Path("outputs/runs") and run_dir.name.endswith(run_folder)
    assert sweep_dir.parent == Path("outputs/sweeps") / sweep_folder


def test_an_evals_name_says_which_run_it_evaluated():
    assert compose("dataset=function").name == "function-mlp-relu"
    assert compose("task=eval", "ckpt=outputs/runs/d/12-00_fn-mlp/model.pt").name == "eval-12-00_fn-mlp"
    assert compose("task=eval", "ckpt=outputs/runs/d/12-00_fn-mlp/").name == "eval-12-00_fn-mlp"
    stamped = "outputs/runs/2026-11-24/13-53-47.666917_fn-mlp"  # a default run folder: a dot in its stamp
    assert compose("task=eval", f"ckpt={stamped}").name == "eval-13-53-47.666917_fn-mlp"
    assert compose("task=eval", f"ckpt={stamped}/checkpoint.pt").name == "eval-13-53-47.666917_fn-mlp"
    assert compose("task=eval", "name=mine", "ckpt=x/model.pt").name == "mine"


def test_a_studys_or_gradient_checks_name_says_what_ran():
    """Both were named as a training run: function_fit and minimal_ratio both `function-mlp-relu`."""
    assert compose("experiment=function_fit").name == "function_fit-function-mlp-relu"
    assert compose("experiment=minimal_ratio").name == "minimal_ratio-function-mlp-relu"
    assert compose("experiment=trajectory_pca").name == "trajectory_pca-mnist-mlp-relu"
    assert compose("task=gradcheck", "dataset=gurmukhi", "model=cnn").name == "gradcheck-gurmukhi-cnn-relu"
    assert compose("task=gradcheck", "name=mine").name == "mine"
    assert compose("experiment=random_labels").name == "random_labels-mnist"  # a preset's own name stays


def test_a_checkpoint_resumes_under_every_presentation_key_and_under_nothing_else():
    """checkpoint.fingerprint reads runfolder.PRESENTATION, the list the sweep guard reads: a
    resumed sweep that changed sweep.x kept failing its stopped jobs as 'another config'."""
    from runner.runfolder import PRESENTATION
    from runner.train.checkpoint import fingerprint

    changed = {
        "trainer.progress": "trainer.progress=quiet",
        "trainer.checkpoint_every": "trainer.checkpoint_every=0",
        "trainer.checkpoint_seconds": "trainer.checkpoint_seconds=1",
        "sweep.render_workers": "sweep.render_workers=0",
        "sweep.x": "sweep.x=params",
        "sweep.extra": "sweep.extra=[sensitivity]",
        "logger": "logger.mlflow.experiment=other",
        "tags": "tags=[again]",
        "name": "name=other",
    }
    assert set(changed) == set(PRESENTATION)
    base = fingerprint(compose())
    assert all(fingerprint(compose(o)) == base for o in changed.values())
    assert fingerprint(compose("optimizer.lr=0.5")) != base and fingerprint(compose("sweep.name=x")) != base
