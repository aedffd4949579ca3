"""Turn Hydra's and OmegaConf's multi-line reports into one line that names the key, what was
expected and what was given. Returns None for errors that are not about the user's input, so
the CLI lets those show their traceback."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from runner.errors import error_chain

# OmegaConf's words for ${oc.env:NAME} with NAME unset and no default
_UNSET_VARIABLE = re.compile(
    r"KeyError raised while resolving interpolation: \"Environment variable '(.+)' not found\""
)
_TYPE_WORDS = {"Integer": "an integer", "Float": "a number", "Boolean": "true or false", "String": "a string"}


def _schema_keys(type_name: str) -> list | None:
    """The keys of dlrun's schema class `type_name`, or of Hydra's own (JobConf: hydra.job)."""
    import hydra.conf

    from runner.config import schema

    cls = getattr(schema, type_name, None) or getattr(hydra.conf, type_name, None)
    if cls is None or not dataclasses.is_dataclass(cls):
        return None
    return [f.name for f in dataclasses.fields(cls)]


def _closest(given: str, choices: list) -> str | None:
    """The one choice a typo most likely meant (case aside), else None."""
    import difflib

    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(given.lower(), list(lower), n=1, cutoff=0.75)
    return lower[close[0]] if close else None


def unknown_key_line(key: str, schema_name: str) -> str:
    """'<key>: unknown key; keys under <parent>: ...' with the keys the schema `schema_name` has,
    led by the key a typo meant, or the section that has a key of that name (trainer.lr)."""
    keys = _schema_keys(schema_name)
    parent, _, name = key.rpartition(".")
    where = f"keys under {parent}" if parent else "top-level keys"
    near = _closest(name, keys or [])
    if near:
        meant = f"{parent}.{near}" if parent else near
    else:
        from runner.config.schema import leaf_types

        meant = next((p for p in leaf_types() if p.rpartition(".")[2] == name), None)
    hint = f" (did you mean {meant}?)" if meant else ""
    return f"{key}: unknown key{hint}" + (f"; {where}: {', '.join(keys)}" if keys else "")


def _kind_of(key: str) -> str:
    """What the schema's key holds, in words: 'an integer', 'a list', 'a value'."""
    import typing

    from runner.config.schema import leaf_types
    from runner.registry import all_registries

    hint, names = leaf_types().get(key), all_registries().get(key)
    if names is not None:  # a closed set of names
        return f"one of {', '.join(names)}"
    if typing.get_origin(hint) is list:  # List[int] too
        return f"a list in brackets, e.g. {key}=[...]"
    name = {int: "Integer", float: "Float", bool: "Boolean", str: "String"}.get(hint)
    return _TYPE_WORDS.get(name, "a value")


def _omegaconf_line(ex, override: str = "", args=()) -> str:
    """One line for OmegaConf's error `ex`; `override` is the `key=value` Hydra was merging, if any;
    `args`, the command's overrides. A value an interpolation gave is refused as its own, then the
    line says where it came from: `trainer.epochs: expected an integer, got 'abc' (from ${oc.env:EP})`."""
    key = getattr(ex, "full_key", None) or ""
    msg = str(getattr(ex, "msg", None) or ex).splitlines()[0]
    via = re.match(r"While dereferencing interpolation '(.+?)': (.*)", msg)
    if via is None:
        return _omegaconf_text_line(key, msg, override, args)
    line, source = _omegaconf_text_line(key, via.group(2), override, args), via.group(1)
    if "hydra:job.num" in source and "got null" in line:  # Hydra's job number, in a run that has none
        return f"{line} (from {source}: a single run has no job number; a sweep's jobs do, with -m)"
    return f"{line} (from {source})"


def _omegaconf_text_line(key: str, msg: str, override: str, args) -> str:
    """_omegaconf_line for the key and OmegaConf's first line about it."""
    from runner.config.compose import group_options, is_preset_group

    given_key, _, given = override.partition("=")
    m = re.match(r"Value '(.*)' of type '(\w+)' could not be converted to (\w+)", msg)
    if m:
        expected = _TYPE_WORDS.get(m.group(3), m.group(3))
        if m.group(2) == "dict" and given_key.startswith(f"{key}."):  # `a.b.c=1` where a.b is a value
            return f"{given_key}: unknown key; {key} is {expected} with no keys under it (set {key}=<value>)"
        got = m.group(1).lower() if m.group(2) == "bool" else repr(m.group(1))  # seed=true: as it was typed
        return f"{key}: expected {expected}, got {got}"
    if re.match(r"Cannot merge \w+ with \w+|Cannot convert '\w+' to string", msg):  # a dict for a list, a list
        return f"{key}: expected {_kind_of(key)}, got {given or msg.rpartition(': ')[2]!r}"  # for a name, ...
    m = re.match(r"Value '(.*)' is not a valid bool", msg)
    if m:
        return f"{key}: expected true or false, got {m.group(1)!r}"
    if re.match(r"Invalid value assigned: \w+ is not a ListConfig", msg):
        return f"{key}: expected a list in brackets, e.g. {key}=[...], got {given!r}"
    m = re.match(r"Invalid type assigned: \w+ is not a subclass of (\w+)\. value: (.*)", msg)
    if m:
        keys = _schema_keys(m.group(1)) or ["<key>"]
        return f"{key}: expected its keys set one by one, e.g. {key}.{keys[0]}=<value>, got {m.group(2)!r}"
    m = re.match(r"Key '(.+)' not in '(\w+)'", msg)
    if m and "." not in key and is_preset_group(key):
        if override:  # `experiment.epochs=1`: a group of presets has options to pick, no keys to set
            return (f"{given_key}: unknown key; {key} is a group of presets, not a section of keys: pick one with "
                    f"{key}=<option> ({', '.join(group_options(key))})")  # fmt: skip
        # a file of that group without its package line: its keys landed under `<group>:`, not at the top
        return (f"{key}: unknown key; an option of the {key} group sets keys across the whole config, so its "
                f"file must open with the line `# @package _global_` (as those in conf/{key}/ do)")  # fmt: skip
    if m:
        return unknown_key_line(key or m.group(1), m.group(2))
    free = next((p for p in ("hydra.job.env_set.", "hydra.callbacks.") if key.startswith(p)), None)
    if free and re.match(r"Key '.+' is not in struct", msg):  # Hydra's maps of one's own keys, empty at first
        typed = next((a for a in args if a.startswith(f"{key}.") or a.startswith(f"{key}=")), f"{key}=<value>")
        return f"{key}: a new key of {free[:-1]}, which Hydra adds with a plus sign: +{typed}"
    if re.match(r"Key '.+' is not in struct", msg) and key.startswith("hydra.sweeper.params."):
        swept = key.removeprefix("hydra.sweeper.params.")  # Hydra's config admits new keys only with a `+`
        return (
            f"{key}: the sweeper's params have no such key; sweep it on the command line: "
            f"dlrun -m {swept}=<a>,<b> (or add it with +{key}=...)"
        )
    logging = next((g for g in ("job_logging", "hydra_logging") if key.startswith(f"hydra.{g}.")), None)
    if logging and re.match(r"Key '.+' is not in struct", msg):  # dlrun's config has Hydra's logging off
        return (f"{key}: Hydra's {logging.replace('_', ' ')} is off in dlrun (hydra/{logging}=none: dlrun prints its "
                f"own lines); choose hydra/{logging}=default, and its keys can be set")  # fmt: skip
    m = _UNSET_VARIABLE.match(msg)
    if m:
        name = m.group(1)
        return (f"{key}: the environment variable {name} is not set (set it, or give the interpolation a default: "
                f"${{oc.env:{name},<value>}})")  # fmt: skip
    m = re.match(r"Interpolation key '(.+)' not found", msg)
    if m:  # Hydra names no key (or its placeholder) for an interpolation in an override: name the override
        name = m.group(1)
        where = key if key and key != "_dummy_" else next((a for a in args if "${" + name in a), "an interpolation")
        line = f"{where}: ${{{name}}} names no key of the config"
        if name.startswith("hydra."):  # Hydra's own node is not in a job's config; its resolver reads it
            line += f" (Hydra's own values are read with its resolver: ${{hydra:{name.removeprefix('hydra.')}}})"
        return line
    if "Missing mandatory value" in msg:
        return f"{key}: a value is required and none was given"
    if re.match(r"field '.+' is not Optional|Incompatible value 'None' for field of type", msg):  # a null, in
        # OmegaConf's words (the second from a YAML file's `epochs: null`)
        return f"{key}: expected {_kind_of(key)}, got null (this key has no unset value)"
    return f"{key}: {msg}" if key else msg


def _primary_config_line(text: str, args) -> str | None:
    """--config-path, --config-name or --config-dir naming what is not there, in Hydra's words
    (`Primary config directory not found.`) made to name the flag and the folder."""
    from runner.config.compose import conf_dir
    from runner.config.overrides import hydra_flags

    flags = hydra_flags(args)
    path = getattr(flags, "config_path", None)
    if text.startswith("Primary config directory not found"):
        return f"--config-path {path}: no such folder (dlrun's own configs are in {conf_dir()})"
    m = re.match(r"Additional config directory '(.+)' not found", text)
    if m:
        return f"--config-dir {m.group(1)}: {'not a folder' if Path(m.group(1)).exists() else 'no such folder'}"
    m = re.search(r"Could not (?:find|load) '([^']+)'", text)
    if m and path and (conf_dir() / f"{m.group(1)}.yaml").is_file() and Path(path).resolve() != conf_dir():
        return (f"--config-path {path} replaces dlrun's config folder, {conf_dir()}, which holds {m.group(1)}.yaml; "
                f"give a folder of your own with --config-dir {path} instead: it adds to dlrun's")  # fmt: skip
    m = re.match(r"Cannot find primary config '([^']+)'", text)
    if not m:
        return None
    flag = f"--config-name {m.group(1)}" if getattr(flags, "config_name", None) else f"--config-path {path}"
    return (
        f"{flag}: no {m.group(1)}.yaml in {path or conf_dir()}; dlrun's root config is config.yaml in "
        f"{conf_dir()} (a preset of your own goes in a group of a --config-dir folder: experiment=<name>)"
    )


def _missing_option_line(text: str) -> str:
    from runner.config.compose import group_options

    m = re.search(r"Could not (?:find|load) '([^']+)'", text)
    if m and m.group(1) == "hydra/sweeper/optuna":  # a plugin that ships as dlrun's extra
        return "hydra/sweeper=optuna: needs hydra-optuna-sweeper: pip install 'dlrun[search]'"
    if m and "/" in m.group(1):
        path = m.group(1)
        listed = re.search(r"Available options in '([^']+)'", text)  # the group, where Hydra says it
        group = listed.group(1) if listed and path.startswith(listed.group(1) + "/") else path.rsplit("/", 1)[0]
        option = path[len(group) + 1 :]
        # Hydra's list holds the plugins' options (hydra/launcher=joblib) but not those in subfolders
        options = sorted(set(re.findall(r"^\t(\S+)$", text, flags=re.M)) | set(group_options(group)))
        inside = [o for o in options if o.startswith(option.rstrip("/") + "/")]
        if inside:  # experiment=reproduce: a folder of options, not one
            return f"{group}={option}: a folder of options; expected one of {', '.join(inside)}"
        if options:
            near = _closest(option, options)
            hint = f" (did you mean {group}={near}?)" if near else ""
            return f"{group}={option}: no such option{hint}; expected one of {', '.join(options)}"
        return f"{group}={option}: no such option; conf/{group}/ holds none yet"
    return text.strip().splitlines()[0]


def _completion_line(text: str) -> str | None:
    from hydra.core.plugins import Plugins
    from hydra.plugins.completion_plugin import CompletionPlugin

    m = re.match(r"No completion plugin for '(.*)' found", text)
    if not m and not text.startswith("Expecting one subcommand from ['install', 'uninstall', 'query']"):
        return None
    shells = ", ".join(sorted(p.provides() for p in Plugins.instance().discover(CompletionPlugin)))
    if m:
        return f"--shell-completion: no completion for {m.group(1)!r}; expected one of {shells}"
    return f"--shell-completion: expected install=SHELL (or uninstall=, query=), SHELL one of {shells}"


def _appended_group_line(text: str, args) -> str | None:
    """`+experiment=x` or `++experiment=x` for a group the root config's defaults list already
    has (as every dlrun group is, null or not): Hydra's answer speaks of a defaults list's
    `override` keyword, which a command line has no use for."""
    m = re.match(r"Multiple values for ([\w/.]+)\. To override a value use 'override [^:]+: (.+)'", text)
    m = m or re.match(r"force-add of config groups is not supported: '\+\+([\w/.]+)=(.+)'", text)
    if not m:
        return None
    group, value = m.groups()
    given = next((a for a in args if a.lstrip("+").startswith(f"{group}=")), f"+{group}={value}")
    return (f"{given}: {group} is a group of the root config's defaults already; choose an option without the "
            f"plus sign: {group}={value}")  # fmt: skip


def _composed_from(chain, args) -> str:
    """'<file>: ' for an error Hydra met merging a config file (`In 'experiment/mine': ...`)."""
    from hydra.errors import ConfigCompositionException

    from runner.config.provenance import config_file

    for e in chain:
        m = re.match(r"In '([^']+)': ", str(e)) if isinstance(e, ConfigCompositionException) else None
        file = config_file(m.group(1), args) if m else None
        if file is not None:
            return f"{file}: "
    return ""


def _yaml_line(ex) -> str:
    """'<file>: not valid YAML (line L, column C: what the parser met)' for a config file Hydra loaded."""
    from runner.config.provenance import shown
    from runner.errors import reason

    mark = getattr(ex, "problem_mark", None) or getattr(ex, "context_mark", None)
    name = shown(Path(mark.name)) if mark and not mark.name.startswith("<") else mark.name if mark else "a config file"
    return f"{name}: not valid YAML ({reason(ex)})"


def unset_variable(ex: BaseException) -> str | None:
    """The environment variable an `${oc.env:NAME}` in ex's chain found unset, or None."""
    from omegaconf.errors import InterpolationResolutionError

    for e in error_chain(ex):
        m = _UNSET_VARIABLE.match(str(e)) if isinstance(e, InterpolationResolutionError) else None
        if m:
            return m.group(1)
    return None


def unresolvable_line(ex: BaseException, args=()) -> str | None:
    """describe_error's line for an interpolation that every job would fail to resolve as well
    (${oc.env:UNSET}, ${no.such.key}, a grammar error); None for any other error, and for one that
    reads the `hydra:` resolver, which only a job's own Hydra config answers."""
    from omegaconf.errors import InterpolationResolutionError

    chain = list(error_chain(ex))
    if not any(isinstance(e, InterpolationResolutionError) for e in chain):
        return None
    if any(isinstance(e, ValueError) and "HydraConfig was not set" in str(e) for e in chain):
        return None
    return describe_error(ex, args)


def describe_error(ex: BaseException, args=()) -> str | None:
    """One line for `ex`, or None; `args`: the command's overrides, to name the one at fault."""
    import yaml
    from hydra.errors import HydraException, MissingConfigException, OverrideParseException, SearchPathException
    from omegaconf.errors import OmegaConfBaseException

    from runner.errors import CheckFailed, UserError, one_line, out_of_memory

    chain = list(error_chain(ex))
    for e in chain:
        if isinstance(e, (UserError, CheckFailed)):
            return str(e)
    memory = out_of_memory(ex)
    if memory is not None:
        return memory
    for e in chain:  # a config file (conf/, --config-dir, an experiment of one's own) that does not parse
        if isinstance(e, yaml.YAMLError):
            return _yaml_line(e)
    for e in chain:
        if isinstance(e, (MissingConfigException, SearchPathException)):
            return _primary_config_line(str(e), args) or _missing_option_line(str(e))
    # the override Hydra was applying, if the error came from one (not from a config file)
    merging = next((m.group(1) or m.group(2) for e in chain
                    if (m := re.match(r"Error merging override (.+)|Could not override '([^']+)'", str(e)))), "")  # fmt: skip
    for e in chain:
        if isinstance(e, OmegaConfBaseException):
            return ("" if merging else _composed_from(chain, args)) + _omegaconf_line(e, merging, args)
    for e in chain:
        if isinstance(e, OverrideParseException):  # a sweeper's params in a preset: the command line's are read first
            from runner.config.overrides import GRAMMAR

            return f"hydra.sweeper.params: {e.override}: cannot parse it ({str(e).splitlines()[0]}); the grammar: {GRAMMAR}"
    for e in chain:
        m = re.match(r"Ambiguous value for argument '(([^=']+)=.*)'", str(e)) if isinstance(e, HydraException) else None
        if m:  # `dataset=mnist,cifar10` without -m: Hydra's three-point list, escaped quotes and all
            from runner.config.compose import config_groups

            arg, key = m.groups()
            other = f"; a list is written {key}=[a,b], text with a comma quoted: {key}='a,b'"
            if key in config_groups():
                other = ""
            return f"{arg}: commas make a sweep, which runs with -m (dlrun -m {arg}){other}"
    for e in chain:
        m = re.match(r"Sweeping over Hydra's configuration is not supported : '(hydra\.sweeper\.params\.([^=]+)=(.*))'",
                     str(e)) if isinstance(e, HydraException) else None  # fmt: skip
        if m:  # a search's space is changed by sweeping the key itself, which the sweeper's params merge with
            arg, key, value = m.groups()
            return f"{arg}: a sweep's values are set on the key itself: {key}={value} (they replace a preset's for that key)"
    for e in chain:
        line = _appended_group_line(str(e), args) if isinstance(e, HydraException) else None
        if line:
            return line
    for e in chain:
        if isinstance(e, HydraException):
            return " ".join(str(e).split())
    for e in chain:  # Hydra's job logging set to what Python's logging cannot configure (an unknown level)
        if isinstance(e, ValueError) and str(e).startswith("Unable to configure "):
            given = [a for a in args if re.match(r"\+*hydra\.(job|hydra)_logging\.", a)] or ["hydra.job_logging"]
            cause = f": {one_line(e.__cause__)}" if e.__cause__ is not None else ""
            return (f"{' '.join(given)}: Python's logging cannot use it ({e}{cause}); the keys: "
                    "https://docs.python.org/3/library/logging.config.html#dictionary-schema-details")  # fmt: skip
    for e in chain:  # --shell-completion without a subcommand, or for a shell Hydra has no plugin for
        line = _completion_line(str(e)) if isinstance(e, ValueError) else None
        if line:
            return line
    for e in chain:  # -sc query=bash typed by hand: the completion script sets the line it completes
        if isinstance(e, KeyError) and e.args == ("COMP_LINE",):
            return ("--shell-completion query=...: run by the completion script, which sets COMP_LINE to the line "
                    "to complete; to install it: eval \"$(dlrun -sc install=bash)\"")  # fmt: skip
    for e in chain:  # a folder or file Hydra itself could not create (a run dir under a file, a full disk)
        if isinstance(e, OSError) and e.filename is not None:
            return f"cannot write {e.filename}: {e.strerror or one_line(e)}"
    from runner.errors import disk_full

    for e in chain:  # a full disk met by a library's own write, which names no file (submitit's job pickles)
        if isinstance(e, OSError) and disk_full(e):
            return f"a write failed: {e.strerror or one_line(e)}"
    return None
