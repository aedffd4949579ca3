"""Which config file a refused value came from. `trainer.epochs: expected an integer >= 1, got 0`
sends a user to the command line; when no override set the key, the value came from a file
and the line opens with it: a preset of one's own by its path, as a YAML error in it does
(`myconf/experiment/mine.yaml: trainer.epochs: expected ...`), one of dlrun's options by the
choice that read it (`scheduler=plateau: scheduler.metric: expected ...`)."""

from __future__ import annotations

import contextlib
from pathlib import Path


def _loader():
    """The config loader of the Hydra that composed this process's config, or None."""
    from hydra.core.global_hydra import GlobalHydra

    hydra = GlobalHydra.instance()
    return hydra.config_loader() if hydra.is_initialized() else None


def config_file(config_path: str, args=()) -> Path | None:
    """The file Hydra reads for `config_path` (experiment/mine): through its loader while it is
    there, else in the command's --config-dir (`args`) or dlrun's conf/, which Hydra searches."""
    from runner.config.compose import conf_dir
    from runner.config.overrides import hydra_flags

    loader = _loader()
    if loader is not None:
        return _file_of(loader.repository.load_config(config_path), config_path)
    flags = hydra_flags(args)
    folders = [Path(d) for d in (getattr(flags, "config_dir", None), conf_dir()) if d]
    return next((shown(f / f"{config_path}.yaml") for f in folders if (f / f"{config_path}.yaml").is_file()), None)


def _file_of(loaded, config_path: str) -> Path | None:
    """The file on disk a ConfigResult of the repository came from; None for a structured config
    or one inside a package."""
    if loaded is None or not str(loaded.path).startswith("file://"):
        return None
    return shown(Path(str(loaded.path).removeprefix("file://")) / f"{config_path}.yaml")


def shown(file: Path) -> Path:
    """A file under the folder dlrun runs in as a path from there (as --config-dir was typed, likely)."""
    file = file.absolute()
    return file.relative_to(Path.cwd()) if file.is_relative_to(Path.cwd()) else file


def _set_on_command_line(key: str, overrides, repository) -> bool:
    """An override sets the key or a section above it (a group's choice, optimizer=sgd, sets none)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides([str(o) for o in overrides])
    except Exception:  # noqa: BLE001 - composed already, so parseable; never let a hint raise
        return True
    return any(f"{key}.".startswith(f"{o.key_or_group}.") and not repository.group_exists(o.key_or_group)
               for o in parsed)  # fmt: skip


_UNSET = object()


def set_in(key: str, overrides) -> tuple[str, object] | None:
    """The file that set `key` last in the composition of `overrides` (a path; one of dlrun's own
    options as group=option), with the value it wrote; None when an override sets the key, no
    file does (the schema's default), or Hydra is not there."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    config_name = HydraConfig.get().job.config_name if HydraConfig.initialized() else "config"
    loader = _loader()
    if loader is None or _set_on_command_line(key, overrides, loader.repository):
        return None
    try:
        defaults = loader.compute_defaults_list(config_name, [str(o) for o in overrides], RunMode.RUN).defaults
    except Exception:  # noqa: BLE001 - a hint only
        return None
    for entry in reversed(defaults):  # the last to set it wins
        package = entry.package or ""
        under = not package or f"{key}.".startswith(f"{package}.")
        if entry.config_path is None or package.startswith("hydra") or not under:
            continue
        found = loader.repository.load_config(entry.config_path)
        file = _file_of(found, entry.config_path)
        if file is None:
            continue
        value = OmegaConf.to_container(found.config, resolve=False)  # interpolations as written
        for part in key.removeprefix(package).lstrip(".").split("."):
            value = value.get(part, _UNSET) if isinstance(value, dict) else _UNSET
        if value is not _UNSET:
            return _named(file, entry), value
    return None


def _named(file: Path, entry) -> str:
    """A file of one's own by its path; one of dlrun's options by the choice that read it
    (scheduler=plateau), which is what the command line changes."""
    from runner.config.compose import conf_dir

    group = entry.override_key
    if group and file.resolve().is_relative_to(conf_dir().resolve()):
        return f"{group}={entry.config_path.removeprefix(f'{group}/')}"
    return str(file)


@contextlib.contextmanager
def naming_files(overrides):
    """Open with `<file>: ` a refusal of a key (a ConfigError, or an unknown key) whose value
    came from a config file, not the command line. An interpolation no run can resolve
    (${oc.env:UNSET}) becomes such a refusal of its key, so a sweep's preflight refuses it too."""
    from runner.errors import UserError, error_chain
    from runner.messages import unresolvable_line, unset_variable

    try:
        yield
    except UserError as ex:
        _name_file(ex, overrides)
        raise
    except Exception as ex:  # noqa: BLE001 - only an unresolvable interpolation is turned into a refusal
        line = unresolvable_line(ex, overrides)
        if line is None:
            raise
        refusal = UserError(line)
        refusal.key = next((e.full_key for e in error_chain(ex) if getattr(e, "full_key", None)), None)
        refusal.variable = unset_variable(ex)  # another machine's jobs may have it (a sweep's preflight)
        _name_file(refusal, overrides)
        raise refusal from ex


def _name_file(ex, overrides) -> None:
    key = getattr(ex, "key", None)
    where = set_in(key, overrides) if key else None
    if where is not None and (not hasattr(ex, "got") or _same(where[1], ex.got)):
        ex.args = (f"{where[0]}: {ex}", *ex.args[1:])


def _same(written, got) -> bool:
    """The file's value is the one refused (a shortcut such as model.depth may have replaced it),
    or an interpolation that gave it (`${dlrun.scale:200,10}`)."""
    from omegaconf import OmegaConf

    if OmegaConf.is_config(got):
        got = OmegaConf.to_container(got, resolve=False)
    return written == got or str(written) == str(got) or isinstance(written, str) and "${" in written
