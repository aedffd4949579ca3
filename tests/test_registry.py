"""One place per concept: every YAML option has a registry entry and every entry a YAML; the
registries feed validation and `--help`; a new activation is its YAML plus one entry (probes
included), and a new per-epoch metric is one entry that lands in metrics.csv."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import compose

from runner.config.compose import conf_dir
from runner.registry import all_registries, help_text
from runner.registry.activations import ACTIVATIONS, Activation
from runner.registry.data import DATASETS
from runner.registry.loggers import LOGGERS
from runner.registry.models import INITS, MODELS
from runner.registry.studies import STUDIES
from runner.registry.training import OPTIMIZERS, SCHEDULERS
from runner.train.rows import EPOCH_METRICS, EpochMetric, EpochRow

GROUPS = {"activation": ACTIVATIONS, "dataset": DATASETS, "model": MODELS, "optimizer": OPTIMIZERS, "init": INITS,
          "scheduler": SCHEDULERS}  # fmt: skip


@pytest.mark.parametrize("group", GROUPS)
def test_every_yaml_option_has_an_entry_and_every_entry_a_yaml(group):
    yamls = {p.stem: yaml.safe_load(p.read_text()) for p in (conf_dir() / group).glob("*.yaml")}
    assert set(yamls) == set(GROUPS[group].names())
    for option, body in yamls.items():  # the YAML selects the entry of its own name
        assert body["name"] == option, f"conf/{group}/{option}.yaml names {body['name']}"


def test_every_logger_option_enables_its_own_entry_and_none_enables_nothing():
    from runner.registry.loggers import enabled

    options = {p.stem for p in (conf_dir() / "logger").glob("*.yaml")}
    assert options == {"none", *LOGGERS.names()}
    assert enabled(compose("logger=none")) == []
    for name in LOGGERS:
        assert enabled(compose(f"logger={name}")) == [name]
    assert enabled(compose(f"logger=[{','.join(LOGGERS)}]")) == list(LOGGERS)


def test_every_study_has_a_preset_and_every_preset_a_study():
    studies = {}
    for path in (conf_dir() / "experiment").glob("*.yaml"):
        body = yaml.safe_load(path.read_text()) or {}
        if body.get("task") == "study":
            studies.setdefault(body["study"]["name"], []).append(path.stem)
    assert set(studies) == set(STUDIES.names())


def test_numpy_twins_and_torch_builders_resolve():
    import torch

    from runner.registry import load

    for name, entry in ACTIVATIONS.items():
        module = entry.module(compose(f"activation={name}").activation)
        assert isinstance(module, torch.nn.Module) and isinstance(module, entry.torch_class())
        if entry.numpy is not None:
            twin = load(entry.numpy)()
            assert hasattr(twin, "forward") and hasattr(twin, "backward")
    for entry in INITS.values():
        assert callable(load(entry.numpy)) and (entry.torch is None or callable(load(entry.torch)))


def test_validation_and_help_read_the_registries():
    from runner.config.validate import validate
    from runner.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        validate(compose("activation.name=swish"))
    assert str(e.value) == f"activation.name: expected one of {', '.join(ACTIVATIONS.names())}, got 'swish'"
    for typed in ("true", "false"):  # a str key holds it as OmegaConf's 'True': the line said got 'True'
        with pytest.raises(ConfigError) as e:
            validate(compose(f"trainer.cuda_graph={typed}"))
        assert str(e.value) == f"trainer.cuda_graph: expected one of auto, off, got {typed}"
        with pytest.raises(ConfigError) as e:  # and a key checked by hand, not by a registry
            validate(compose("scheduler=plateau", f"scheduler.mode={typed}"))
        assert str(e.value) == f"scheduler.mode: expected min, max or auto, got {typed}"
    text = help_text()
    for key, registry in all_registries().items():
        assert f"{key}:" in text
        for name, entry in registry.items():
            assert f"  {name}" in text and entry.help in text


@pytest.fixture
def softsign():
    """A new activation, the README's softsign under a name of the test's own (one who follows the
    README adds `softsign` itself, and the test then ran into it: registered twice): one registry
    entry, removed after the test."""
    ACTIVATIONS.add(
        "test_softsign",
        Activation(
            "x / (1 + |x|); saturates near -1 and 1",
            "torch.nn:Softsign",
            gain=lambda act: 1.0,
            saturated=lambda y, s: abs(y) > s,
        ),
    )
    yield
    ACTIVATIONS.remove("test_softsign")


def test_a_new_activation_is_its_yaml_plus_one_entry(tmp_path, tiny_data, softsign, monkeypatch):
    conf = tmp_path / "conf"
    shutil.copytree(conf_dir(), conf)
    (conf / "activation" / "test_softsign.yaml").write_text("name: test_softsign\n")
    monkeypatch.setattr("runner.config.compose.conf_dir", lambda: conf)
    from runner.config.validate import prepare
    from runner.train.run import run_training

    cfg = compose(
        "activation=test_softsign",
        "init=kaiming",
        "dataset=mnist",
        f"data_dir={tiny_data}",
        "model.hidden=[16,16]",
        "trainer.epochs=2",
        "trainer.progress=quiet",
        "diagnostics.saturation=0.6",
    )
    summary = run_training(prepare(cfg), tmp_path / "run")
    assert summary["status"] == "ok" and summary["activation"] == "test_softsign"
    layers = pd.read_csv(tmp_path / "run" / "layers.csv")
    hidden = layers[layers["layer"].isin(["fc1", "fc2"])]
    assert len(hidden) == 4 and hidden["saturation"].notna().all()  # the probes found and measured it
    assert layers[layers["layer"] == "out"]["saturation"].isna().all()  # no activation after the output


def readme_example(heading: str) -> str:
    """The first python block of the README's paragraph that opens with `heading`."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    after = readme[readme.index(f"**{heading}**") :]
    return after[after.index("```python\n") + len("```python\n") : after.index("\n```\n")]


@pytest.fixture
def weight_norm_metric():
    """README's per-epoch metric as written there, so the guide cannot drift from what works."""
    exec(readme_example("A per-epoch metric"), {"EPOCH_METRICS": EPOCH_METRICS, "EpochMetric": EpochMetric})
    yield "weight_norm"
    EPOCH_METRICS.remove("weight_norm")


def test_a_new_per_epoch_metric_lands_in_metrics_csv(tmp_path, weight_norm_metric):
    from conftest import train

    summary, run = train(tmp_path, "dataset=function", "model.hidden=[8]", "trainer.epochs=3")
    m = pd.read_csv(run / "metrics.csv")
    cols = list(m.columns)  # after lr, last (after any metric of one's own added before it)
    assert cols.index("penalty") < cols.index("lr") < cols.index(weight_norm_metric) == len(cols) - 1
    assert m[weight_norm_metric].notna().all() and (m[weight_norm_metric] > 0).all()
    assert m[weight_norm_metric].iloc[0] != m[weight_norm_metric].iloc[-1]  # measured each epoch, not a constant
    last = torch.load(run / "model.pt", weights_only=True)["weights"]
    norm = sum(float((w.double() ** 2).sum()) for w in last.values()) ** 0.5
    assert m[weight_norm_metric].iloc[-1] == pytest.approx(norm, rel=1e-9)  # what it says it measures


def test_the_readmes_per_epoch_metric_works_for_the_numpy_engine_and_per_copy(tmp_path, tiny_data, weight_norm_metric):
    """The guide's first example read `engine.model`, which the NumPy engine lacks (a traceback), and gave
    every copy of a replicated run the norm of all copies together."""
    from conftest import train

    _, scratch = train(tmp_path, "dataset=function", "engine=numpy", "optimizer=sgd", "model.hidden=[8]",
                       "trainer.epochs=2", name="numpy")  # fmt: skip
    m = pd.read_csv(scratch / "metrics.csv")
    weights = torch.load(scratch / "model.pt", weights_only=True)["weights"]
    assert m[weight_norm_metric].iloc[-1] == pytest.approx(
        sum(float((w.double() ** 2).sum()) for w in weights.values()) ** 0.5, rel=1e-9
    )
    cnn = (f"data_dir={tiny_data}", "dataset=cifar10", "model=cnn", "model.conv=[4]", "model.hidden=[8]",
           "regularizer=batchnorm", "trainer.epochs=2", "trainer.batch_size=12", "seed=5")  # fmt: skip
    _, single = train(tmp_path, *cnn, name="single")
    _, stacked = train(tmp_path, *cnn, "trainer.replicas=2", name="stacked")
    one, two = pd.read_csv(single / "metrics.csv"), pd.read_csv(stacked / "metrics.csv")
    copy0 = two[two["replica"] == 0][weight_norm_metric].to_numpy()
    copy1 = two[two["replica"] == 1][weight_norm_metric].to_numpy()
    # copy 0 is the single run (float32 sums in another order, as in test_replicas.py)
    assert copy0 == pytest.approx(one[weight_norm_metric].to_numpy(), rel=1e-3)
    assert not np.allclose(copy0, copy1, rtol=1e-3)  # copy 1 (seed 6) is its own


def test_an_unknown_column_is_an_error_not_a_drop(tmp_path):
    from runner.files import CsvAppender

    row = EpochRow(epoch=1)
    with pytest.raises(KeyError, match="metrics.csv has no column 'train_accuracy'"):
        row.set("train_accuracy", 0.5)
    writer = CsvAppender(tmp_path / "metrics.csv", EpochRow.columns())
    with pytest.raises(KeyError, match="no column 'bogus'"):
        writer.append({**row.as_dict(), "bogus": 1.0})
    writer.close()
    assert Path(tmp_path / "metrics.csv").read_text().splitlines() == [",".join(EpochRow.columns())]
