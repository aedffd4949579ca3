"""task=eval: saved weights evaluated on the data they were trained on, or on what the command names.

    dlrun task=eval ckpt=outputs/runs/<date>/<time>_<name>/model.pt dataset.test_subsample=2000

`ckpt` is a model.pt or checkpoint.pt (or a run folder holding one); only its weights are
loaded. The network (model, activation, regularizer, init, engine, replicas) and the optimizer
it was trained with (never stepped here, but engine=numpy builds one) come from the config
saved with the weights. The data and its splits (dataset, seed) are the trained run's unless the command
sets them: `dataset=fashion_mnist` picks other data, a `dataset.*` key or `seed` changes that
key alone. The device and the evaluation batch come from this command.
Writes eval.csv (split, replica, samples, loss, acc), confusion_<split>.csv for classification
(predictions.csv for a function), summary.json, plots/, report.md/.html and DONE.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path

from omegaconf import OmegaConf

from runner import __version__
from runner.errors import DataError, reading
from runner.files import write_csv, write_json
from runner.formatting import spread, spread_number
from runner.registry.data import SPLITS
from runner.say import say
from runner.train import checkpoint
from runner.train.results import write_results

# what the saved weights fix; everything else comes from the command
NETWORK_KEYS = ("model", "activation", "regularizer", "init", "engine", "trainer.replicas", "optimizer")
# the trained run's data, split the same way, unless the command sets them (dataset=..., dataset.val_size=...)
DATA_KEYS = ("dataset", "seed")
EVAL_COLUMNS = ["split", "replica", "samples", "loss", "acc"]


def _weights_file(ckpt: str) -> Path:
    from runner.config.overrides import as_override

    path = Path(ckpt).expanduser()
    if path.is_dir():
        for name in (checkpoint.MODEL, checkpoint.CHECKPOINT):
            if (path / name).is_file():
                return path / name
        runs = sorted({p.parent for p in (*path.glob(f"*/{checkpoint.MODEL}"), *path.glob(f"*/*/{checkpoint.MODEL}"))})
        hint = (f"; it holds {len(runs)} run{'s' * (len(runs) != 1)} (a sweep's or study's folder): give one, "
                f"e.g. {as_override('ckpt', runs[0])}"
                if runs else _no_weights_why(path))  # fmt: skip
        raise DataError(f"{path}: holds neither {checkpoint.MODEL} nor {checkpoint.CHECKPOINT} (ckpt=){hint}")
    if not path.is_file():
        raise DataError(f"{path}: no such file (ckpt= takes a model.pt, a checkpoint.pt or a run folder)")
    return path


def _no_weights_why(run_dir: Path) -> str:
    """Why a run folder holds no weights: its config.yaml names a task that saves none, or its
    summary.json says it ended before its first checkpoint."""
    from runner.files import read_json
    from runner.runfolder import task_of

    task = task_of(run_dir)
    if task and task != "train":
        return f"; it is the folder of a task={task} run, which saves no weights"
    status = (read_json(run_dir / "summary.json") or {}).get("status")
    return f"; its run ended {status} before saving any" if status and status != "ok" else ""


def eval_config(cfg, saved: dict, path: Path):
    """This command's config with the network of the saved run."""
    from runner.config.validate import prepare
    from runner.registry.data import check_keys_of_the_other_kind

    with reading(path, "dlrun checkpoint's config"):
        trained = OmegaConf.create(saved["config"])
    merged = OmegaConf.merge(cfg, OmegaConf.from_dotlist([]))
    for key in NETWORK_KEYS:
        OmegaConf.update(merged, key, OmegaConf.select(trained, key), merge=True)
    given = _command_keys()
    _refuse_network_keys(given, cfg, trained, path)
    for key in DATA_KEYS:
        value = OmegaConf.select(trained, key)
        if key in given or value is None:  # the command picked its own (dataset=mnist), or an old checkpoint
            continue
        OmegaConf.update(merged, key, value, merge=True)  # every key of the saved node
        for sub in (k for k in given if k.startswith(f"{key}.")):  # dataset.test_subsample=2000 on top
            OmegaConf.update(merged, sub, OmegaConf.select(cfg, sub), merge=False)
    prepare(merged, derived=True)
    check_keys_of_the_other_kind(merged.dataset)
    _check_same_shape(path, trained, merged)
    return merged


def _refuse_network_keys(given: dict, cfg, trained, path: Path) -> None:
    """A network key the command sets to something other than the saved run's would be dropped
    without a word (`task=eval ckpt=... model.hidden=[64]` evaluated the saved widths): refuse it.
    A group choice (model=mlp) counts by its option's name where it has one; the depth shortcut
    by the widths it stands for."""
    from runner.config import shortcuts
    from runner.errors import UserError, as_typed

    def plain(node, key):
        value = OmegaConf.select(node, key)
        return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value

    def shown(key, value):
        return f"{key}={value if isinstance(value, str) else as_typed(value)}"

    for key, typed in sorted(given.items()):
        if not any(key == n or key.startswith(f"{n}.") for n in NETWORK_KEYS):
            continue
        compared = "model.hidden" if key in shortcuts.KEYS else key
        ours, theirs = plain(cfg, compared), plain(trained, compared)
        if isinstance(ours, dict) and "name" in ours:
            compared, ours, theirs = f"{compared}.name", ours["name"], (theirs or {}).get("name")
        if ours == theirs:
            continue
        if isinstance(ours, dict) and isinstance(theirs, dict):  # regularizer=dropout: the keys it changes
            saved = ", ".join(shown(f"{compared}.{k}", theirs.get(k)) for k in ours if ours[k] != theirs.get(k))
        else:
            saved = shown(compared, theirs)
        raise UserError(f"{typed} does nothing for task=eval: the network ({', '.join(NETWORK_KEYS)}) is the one "
                        f"saved with {path} ({saved}); train a run to change it")  # fmt: skip


def _takes(ds) -> str:
    """What a network trained on dataset section `ds` takes and gives."""
    if ds.get("source") == "function":
        return "1 input, 1 output"
    size = "x".join(str(v) for v in [ds.get("channels"), *(ds.get("image_size") or [])])
    return f"{size} inputs, {ds.get('num_classes')} classes"


def _check_same_shape(path: Path, trained, ev) -> None:
    """Weights evaluated on another dataset (dataset=fashion_mnist for an MNIST run) need its
    shape: say so in the datasets' terms, not as torch's size mismatch of one layer."""
    ds = OmegaConf.to_container(trained.dataset, resolve=True) if "dataset" in trained else None
    if not isinstance(ds, dict) or not ds.get("name"):
        return  # an old checkpoint: loading the weights will tell
    had, has = _takes(ds), _takes(OmegaConf.to_container(ev.dataset, resolve=True))
    if had != has:
        raise DataError(f"{path}: trained on {ds['name']} ({had}); dataset={ev.dataset.name} gives {has}: "
                        "evaluate it on a dataset of the same shape")  # fmt: skip


def _command_keys() -> dict:
    """The keys and groups this command's overrides set, each with its override as typed (none
    outside a Hydra app)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not HydraConfig.initialized():
        return {}
    overrides = OverridesParser.create().parse_overrides(list(HydraConfig.get().overrides.task))
    return {o.key_or_group: o.input_line for o in overrides}


def run_eval(cfg, run_dir: Path, label: str = "") -> dict:
    from runner.report.finish import finish_run
    from runner.train.run import make_engine

    started = time.perf_counter()
    path = _weights_file(cfg.ckpt)
    saved = checkpoint.load(path)
    ev = eval_config(cfg, saved, path)
    engine = make_engine(ev)
    with reading(path, f"set of weights for this network ({ev.model.name}, {ev.dataset.name})"):
        # a checkpoint's optimizer, schedule and generators are for going on training: not needed here
        engine.load_weights(saved["weights"] if saved.get("kind") == "model" else engine.weights_in(saved["engine"]))
    run_dir.mkdir(parents=True, exist_ok=True)
    from runner.files import atomic_write_text

    atomic_write_text(run_dir / "config.yaml", OmegaConf.to_yaml(ev, resolve=True))
    rows, final, stds = [], {}, {}
    for split in SPLITS:
        if split not in engine.data.splits:
            continue
        loss, acc = engine.evaluate(split)
        losses, accs = (loss, acc) if isinstance(loss, list) else ([loss], [acc])
        for r, (lo, ac) in enumerate(zip(losses, accs if accs is not None else [None] * len(losses))):
            rows.append([split, r if len(losses) > 1 else None, len(engine.data.splits[split]), lo, ac])
        final[f"{split}_loss"] = sum(losses) / len(losses)
        final[f"{split}_acc"] = None if accs is None or None in accs else sum(accs) / len(accs)
        if len(losses) > 1:  # replicas: their spread, as a trained run's summary gives it
            stds[f"{split}_loss"] = statistics.stdev(losses)
            if final[f"{split}_acc"] is not None:
                stds[f"{split}_acc"] = statistics.stdev(accs)
    write_csv(run_dir / "eval.csv", EVAL_COLUMNS, rows)
    write_results(engine, run_dir, 0, SPLITS)
    summary = {
        "name": ev.name, "status": "finishing", "task": "eval", "ckpt": str(path), "trained_epochs": saved.get("epoch"),
        "engine": ev.engine, "dataset": ev.dataset.name, "model": ev.model.name, "activation": ev.activation.name,
        "seed": ev.seed, "params": engine.params, "device": str(engine.device), "device_name": engine.device_name,
        "replicas": ev.trainer.replicas, "sizes": engine.data.sizes(), "final": final,
        **({"final_std": stds} if stds else {}),
        "wall_seconds": time.perf_counter() - started, "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "dlrun_version": __version__,
    }  # fmt: skip
    write_json(run_dir / "summary.json", summary)
    finish_run(run_dir, "ok")
    summary["status"] = "ok"
    shown = ", ".join(
        f"{k} {spread(v, stds.get(k)) if k.endswith('_acc') else spread_number(v, stds.get(k))}"
        for k, v in final.items()
        if v is not None
    )
    from runner.runfolder import holder

    running = saved.get("kind") != "model" and holder(Path(path).parent) is not None
    say(f"{label}eval of {path}{_which_epoch(saved, running)}: {shown}; files: {run_dir}")
    return summary


def _which_epoch(saved: dict, running: bool = False) -> str:
    """Which epoch's weights these are, where the file's name does not say: a run folder without
    model.pt gives its checkpoint.pt, a run stopped midway (or, `running`, one still training:
    it was said to have stopped), whose numbers are not its final ones."""
    epoch = saved.get("epoch")
    try:
        epochs = OmegaConf.create(saved["config"]).trainer.epochs
    except Exception:  # noqa: BLE001 - an older file's config: the epoch alone is still worth saying
        epochs = None
    if not isinstance(epoch, int) or (saved.get("kind") == "model" and epoch == epochs):
        return ""
    if not isinstance(epochs, int):
        return f" (epoch {epoch})"
    if saved.get("kind") != "model" and epoch < epochs:  # a stop mid-epoch saves there: 0 epochs said nothing
        at = saved.get("where") or f"the end of epoch {epoch}"
        if running:
            return f" (its run is still training: its last checkpoint, at {at}, of {epochs} epochs)"
        return f" (its run stopped at {at}, of {epochs} epochs)"
    return f" (epoch {epoch} of {epochs})"
