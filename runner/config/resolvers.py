"""OmegaConf resolvers the sweep presets use to build their value lists from config keys, so
`dlrun sweep=depth sweep.max_depth=8` sweeps 1..8 without editing the preset."""

from __future__ import annotations

from omegaconf import OmegaConf


def _count(n, key: str) -> int:
    from runner.errors import ConfigError

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(key, "an integer >= 1", n)
    return n


def _upto(n, key: str = "count") -> str:
    """1,2,...,n as a Hydra sweep string; `key` names the setting in errors."""
    return ",".join(str(i) for i in range(1, _count(n, key) + 1))


def _seeds(n, replicas) -> str:
    """n seeds as a Hydra sweep string, trainer.replicas apart (0,1,2,... without replicas):
    a job with seed s and R replicas trains copies s..s+R-1, so closer seeds would train some
    copies from the same seed twice."""
    stride = _count(replicas, "trainer.replicas")
    return ",".join(str(i * stride) for i in range(_count(n, "sweep.seeds")))


def _join(values, key: str = "values") -> str:
    """A list of numbers as a Hydra sweep string: [1, 2, 4] -> "1,2,4"."""
    from runner.errors import ConfigError

    items = list(values) if not isinstance(values, (str, int, float)) else [values]
    # a repeated value is the same job twice (its report's mean of the two is one run)
    if (
        not items
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in items)
        or len(set(items)) < len(items)
    ):
        raise ConfigError(key, "a non-empty list of different integers >= 1, e.g. [1,2,4,8]", items)
    return ",".join(str(v) for v in items)


def _scale(full, reduced, *, _root_):
    """`full` normally, `reduced` under study.reduced=true: experiments write both sizes of a
    value where it is set, e.g. trainer.epochs: ${dlrun.scale:200,40}."""
    return reduced if _root_.study.reduced else full


def _quick(full, quick, *, _root_):
    """`full` normally, `quick` under reproduce.quick=true (the reproduction presets' folders)."""
    return quick if _root_.reproduce.quick else full


def _folder(text) -> str:
    """One folder name from free text (`name`, `sweep.name`, a job's overrides): '/' and '\\' become '_',
    a name of dots only ('..') is spelt with '_', so a name never climbs out of outputs/ or nests; and at
    most 120 characters: the file system's limit is 255, and a run folder's name adds its time stamp.
    A longer one is cut, after its last whole `key=value` where it has commas (a value cut in two, as
    `model.width=-4a27914d`, reads as another value), marked `...` and made unique with a hash of the whole."""
    import hashlib

    name = str(text).replace("/", "_").replace("\\", "_")
    name = "_" * max(len(name), 1) if name.strip(".") == "" else name
    if len(name) > 120:
        head = name[:108]
        head = head[: head.rfind(",") + 1] if "," in head else head
        name = head + "...-" + hashlib.sha1(str(text).encode()).hexdigest()[:8]
    return name


def _dirname(overrides: str) -> str:
    """A sweep job's folder name from its overrides (see _folder)."""
    return _folder(overrides) if overrides else "defaults"


def _run_name(task, ckpt, study, default: str) -> str:
    """`name`, so that a folder under outputs/runs/ says what ran: `default`
    (<dataset>-<model>-<activation>) for training, after the study's name for a study
    (function_fit-function-mlp-relu) and after `gradcheck-` for a gradient check; for task=eval
    `eval-` and the folder of the weights (`ckpt` is a run folder or a file in one)."""
    if task == "study" and study:
        return f"{study}-{default}"
    if task == "gradcheck":
        return f"gradcheck-{default}"
    if task != "eval" or not ckpt:
        return default
    from pathlib import PurePath

    path = PurePath(str(ckpt).rstrip("/\\"))
    # by its suffix, not any dot: a run folder's stamp has one (13-53-47.666917_mnist-mlp-relu)
    return f"eval-{path.parent.name if path.suffix in ('.pt', '.pth') else path.name}"


def _unnamed(keys) -> list:
    """hydra.job.config.override_dirname.exclude_keys: `keys`, and the presentation keys, which a
    resumed sweep may change (runner.runfolder.PRESENTATION), so that its job folders keep their names."""
    from runner.runfolder import presentation_keys

    return [*keys, *(k for k in presentation_keys() if k not in keys)]


def _reports() -> str:
    """The reproduction presets with their titles and times (conf/hydra/help/dlrun.yaml)."""
    from runner.reproduce import catalog

    return catalog()


def _presets() -> str:
    """Each preset with what it runs (conf/hydra/help/dlrun.yaml)."""
    from runner.config.presets import catalog

    return catalog()


def _choices() -> str:
    """The names every choice key takes, with their help (conf/hydra/help/dlrun.yaml)."""
    from runner.registry import help_text

    return help_text()


def _direction(metric) -> str:
    """${dlrun.direction:${optimized_metric}}: maximize or minimize, for a sweeper's `direction`."""
    from runner.sweep.objective import direction

    return direction(str(metric))


def register_resolvers() -> None:
    for name, fn in (
        ("dlrun.upto", _upto),
        ("dlrun.seeds", _seeds),
        ("dlrun.join", _join),
        ("dlrun.scale", _scale),
        ("dlrun.quick", _quick),
        ("dlrun.dirname", _dirname),
        ("dlrun.folder", _folder),
        ("dlrun.run_name", _run_name),
        ("dlrun.unnamed", _unnamed),
        ("dlrun.choices", _choices),
        ("dlrun.reports", _reports),
        ("dlrun.presets", _presets),
        ("dlrun.direction", _direction),
    ):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)
