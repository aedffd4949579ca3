"""Checks on the command line's overrides themselves, before Hydra composes them: what Hydra
would report as a traceback or a riddle (`dlrun mnist`, `dataset=null`, `~dataset`), and what the
composed config can no longer tell (OmegaConf has already turned the value into another)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from runner.config.paths import HYDRA_FOLDERS, PATH_KEYS
from runner.errors import UserError

GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"


def command_overrides(argv: list) -> list | None:
    """The overrides among `argv`, read by Hydra's own argument parser; None for a command Hydra
    reads otherwise (--shell-completion's install=bash, --experimental-rerun). A command line that
    parser refuses is a UserError: argparse printed its usage and a line; Hydra, a traceback for
    `-m --cfg job`."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def refuse(message):
        raise UserError(f"{message}; dlrun --help lists the options")

    parser.error = refuse  # argparse prints its usage and exits
    args = parser.parse_args(argv)
    modes = [flag for flag, on in (("--run", args.run), ("--multirun (-m)", args.multirun), ("--cfg", args.cfg),
             ("--info", args.info), ("--shell-completion", args.shell_completion)) if on]  # fmt: skip
    if len(modes) > 1:
        raise UserError(f"{' and '.join(modes)}: one at a time; to see the config of a sweep's job, run --cfg job "
                        "with that job's values and no -m")  # fmt: skip
    if args.experimental_rerun is not None:
        raise UserError(rerun_line(args.experimental_rerun))
    if args.shell_completion:
        return None
    return list(args.overrides)


def _shell_word(text: str) -> str:
    """`text` as one word of a shell's command line, in double quotes where it holds Hydra's own
    single quotes ("name='my run'"), as dlrun writes a value it suggests."""
    import shlex

    if shlex.quote(text) == text or any(c in text for c in '"$`\\!'):
        return shlex.quote(text)
    return f'"{text}"'


def rerun_line(path: str) -> str:
    """Hydra's --experimental-rerun loads a config.pickle that only its pickling callback writes:
    dlrun writes none (its runs' folders record their command), and Hydra raised a ValueError's
    traceback. The line gives the command the folder records, where `path` is in a run's folder."""
    from pathlib import Path

    import yaml

    given = Path(path)
    folder = given if given.is_dir() else given.parent
    folder = folder.parent if folder.name == ".hydra" else folder
    try:
        overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
        command = " ".join(["dlrun", *(_shell_word(str(o)) for o in overrides)])
    except (OSError, yaml.YAMLError, TypeError):
        return (f"--experimental-rerun {path}: dlrun writes no config.pickle for Hydra to load; a run's folder "
                "records its command in .hydra/overrides.yaml")  # fmt: skip
    return (f"--experimental-rerun {path}: dlrun writes no config.pickle for Hydra to load; {folder} records its "
            f"command: {command} (with {as_override('hydra.run.dir', folder)} it resumes there, if unfinished)")  # fmt: skip


def typed_overrides(overrides) -> list[str]:
    """Hydra's record of the overrides (hydra.overrides.task or .hydra) as the command typed them.
    Iterating the ListConfig resolves an interpolation inside one, which before any job has a
    number raises: `hydra.sweep.subdir=${hydra.job.num}` left a sweep without its guard, its record
    and its signal handlers (Hydra only warns about a callback's error)."""
    from omegaconf import ListConfig, OmegaConf

    if isinstance(overrides, ListConfig):
        return [str(o) for o in OmegaConf.to_container(overrides, resolve=False)]
    return [str(o) for o in overrides]


def quoted(text: str) -> str:
    """`text` as a quoted value of Hydra's grammar, read back as it is whatever it holds: a quote is
    escaped, and so are the backslashes before a quote or the closing one (elsewhere they are literal)."""
    import re

    escaped = re.sub(r"(\\*)'", lambda m: 2 * m.group(1) + "\\'", text)
    return "'" + re.sub(r"(\\+)$", lambda m: 2 * m.group(1), escaped) + "'"


def as_override(key: str, value) -> str:
    """`key=value` as one types it on a shell: quoted ("key='value'") where Hydra's grammar would
    not read the bare value back as it is, such as a sweep job's folder (0_seed=1,lr=0.1: its `=`
    and `,` are the grammar's), so that a path dlrun suggests can be pasted as it stands."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    text = f"{key}={value}"
    if any(c.isspace() or c in "$`\\\"'!*?;&|<>()#~" for c in str(value)):  # a shell's own characters
        return f"\"{key}='{value}'\""
    try:
        o = OverridesParser.create().parse_override(text)
        if not o.is_sweep_override() and o.value() == str(value):
            return text
    except Exception:  # noqa: BLE001 - the grammar refuses it bare: quoted it reads
        pass
    return f"\"{key}='{value}'\""


def flags_first(argv: list) -> list:
    """argv with Hydra's flags (and their values) before the overrides, each in its own order:
    argparse takes no override after a flag that follows one (`dlrun dataset=mnist -m
    activation=relu,tanh` was `unrecognized arguments: activation=relu,tanh`), and Hydra reads
    sys.argv itself. A command line the parser refuses anyway is left as it was, to be told so."""
    from hydra._internal.utils import get_args_parser

    class Unparsed(Exception):
        pass

    def refuse(message):
        raise Unparsed(message)

    parser = get_args_parser()
    parser.error = refuse
    try:
        overrides = list(parser.parse_intermixed_args(argv).overrides)
    except (Unparsed, TypeError):
        return list(argv)
    flags, pending = [], list(overrides)
    for token in argv:
        if pending and token == pending[0]:
            pending.pop(0)
        else:
            flags.append(token)
    return flags + overrides


def config_path_from_here(argv: list) -> list:
    """argv with a relative --config-path (-cp) made absolute against the working folder, where a
    user means it, and a leading ~ (quoted, so the shell left it) the home folder. Hydra reads it
    against the folder of the Python file that declares its app, dlrun's `runner/`: `dlrun -cp
    mine -cn exp` was `Primary config module 'runner.mine' not found`."""

    def absolute(value: str) -> str:
        if "://" in value:  # pkg://, file://: Hydra's own
            return value
        return str(Path.cwd() / Path(value).expanduser())  # joined to an absolute path, cwd drops out

    out, args = [], iter(argv)
    for token in args:
        flag, eq, value = token.partition("=")
        if flag in ("-cp", "--config-path"):
            if eq:
                token = f"{flag}={absolute(value)}"
            else:
                out.append(token)
                token = next(args, None)
                if token is None:
                    break
                token = absolute(token)
        out.append(token)
    return out


def hydra_flags(argv: list):
    """Hydra's own flags on the command line (config_path, config_name, config_dir, ...), parsed by
    Hydra's parser; None where it refuses them."""
    from hydra._internal.utils import get_args_parser

    try:
        return get_args_parser().parse_known_args(list(argv))[0]
    except SystemExit:  # argparse's way of refusing
        return None


def check_command_line(argv: list) -> list:
    """Refuse, in one line naming the argument, an override Hydra cannot parse or would trip on;
    return `argv` with an integer key's whole numbers written as integers (`_whole_numbers`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from runner.config.compose import config_groups
    from runner.config.schema import leaf_types

    overrides = command_overrides(argv)
    if not overrides:
        return list(argv)
    groups = config_groups()
    types = leaf_types()
    flags = {k for k, t in types.items() if t is bool}
    parser = OverridesParser.create()
    written, multirun = {}, hydra_flags(argv).multirun
    for arg in overrides:
        try:
            o = parser.parse_override(arg)
        except HydraException as ex:
            raise UserError(unparsed_line(arg, str(ex).splitlines()[0], groups)) from None
        key = o.key_or_group
        if not key:
            raise UserError(f"{arg}: no key before the '='; dlrun takes KEY=VALUE (trainer.epochs=5) or GROUP=OPTION "
                            "(dataset=mnist)")  # fmt: skip
        if key == "hydra.output_subdir" and o.value() is not None:
            # Hydra would write its record there before dlrun looks at the folder, which dlrun then
            # refused as holding files it did not write; a sweep's report finds its jobs by .hydra/
            raise UserError(f"{arg}: dlrun writes Hydra's record of each run itself, to .hydra/ in the run's "
                            "folder, where a sweep's report finds its jobs; it cannot be moved (leave "
                            "hydra.output_subdir unset)")  # fmt: skip
        if key == "hydra.searchpath":
            _check_searchpath(arg, o)
        if key in groups or "/" in key:
            _check_group(o, groups)
        elif o.is_delete():
            _check_key_deletion(o)
        _check_flag(o, flags)
        written[arg] = _whole_numbers(arg, o, types.get(key), multirun)
    return [written.get(a, a) for a in argv]


def _whole_numbers(arg: str, o, hint, multirun: bool) -> str:
    """`arg` with the whole floats of an integer key (int, Optional[int], List[int]) written as
    integers: Hydra's grammar reads `trainer.epochs=1e3` and `model.hidden=[1e3]` as floats, which
    OmegaConf refused for an integer key (`expected an integer, got '1000.0'`). A sweep's values
    (a,b; choice(), shuffle(), tag()) are rewritten all or none, and only with -m: without, it is
    refused as typed. Anything else is left as typed."""
    import typing

    from hydra.core.override_parser.types import ChoiceSweep

    if not (hint is int or int in typing.get_args(hint)) or o.is_delete() or o.is_sweep_override() and not multirun:
        return arg
    value = o.value()
    if o.is_sweep_override() and not isinstance(value, ChoiceSweep):
        return arg  # range() and interval() take their numbers as they are
    floats = []

    def whole(v):
        if isinstance(v, list):
            parts = [whole(x) for x in v]
            return None if None in parts else f"[{','.join(parts)}]"
        if type(v) is float and v.is_integer():
            floats.append(v)
            return str(int(v))
        return str(v) if type(v) is int else None

    texts = [whole(v) for v in (value.list if o.is_sweep_override() else [value])]
    if not floats or None in texts:
        return arg
    text = ",".join(texts)
    if o.is_sweep_override():  # the sweep's shape as typed
        text = f"shuffle({text})" if value.shuffle else text if value.simple_form else f"choice({text})"
        text = f"tag({','.join(sorted(value.tags))},{text})" if value.tags else text
    return f"{arg.partition('=')[0]}={text}"


def unparsed_line(arg: str, reason: str, groups: list) -> str:
    """One line for a command-line override Hydra's grammar refuses."""
    if "=" not in arg and not arg.startswith("~"):
        return f"{arg}: not an override; dlrun takes KEY=VALUE (trainer.epochs=5) or GROUP=OPTION (dataset=mnist)" + (
            _meant(arg, groups)
        )
    if arg.count("[") != arg.count("]") or arg.count("{") != arg.count("}"):
        return (f"{arg}: its list is not closed: a space on the command line cuts an argument in two; write the "
                "list without spaces or quote the whole argument: 'model.hidden=[64, 64]'")  # fmt: skip
    if not arg.isascii() and "token recognition error" in reason:  # the grammar's unquoted words are ASCII
        key, _, value = arg.partition("=")
        quoted = ",".join(f"'{v}'" for v in value.split(","))  # each value of a sweep on its own
        return f'{arg}: a value with letters outside ASCII must be quoted for Hydra\'s grammar: "{key}={quoted}" on a shell'
    key, _, value = arg.partition("=")
    # a sweep job's folder (or a file in it), pasted as it stands
    if ("=" in value or "," in value) and (os.path.exists(value) or os.path.isdir(os.path.dirname(value))):
        return (f"{arg}: a path with '=' or ',' (a sweep job's folder) must be quoted for Hydra's grammar: "
                f"{as_override(key, value)} on a shell")  # fmt: skip
    if value.startswith("~") and "token recognition error at: '~'" in reason:
        line = (
            f"{arg}: Hydra's grammar reads a value that starts with ~ only quoted: {as_override(key, value)} on a shell"
        )
        if key.lstrip("+") in (*HYDRA_FOLDERS, *PATH_KEYS):
            line += " (its leading ~ is then the home folder, as in a shell)"
            line += f", or write $HOME{value[1:]}" if value == "~" or value.startswith("~/") else ""
        return line
    if reason.startswith("ValueError while evaluating"):  # choice(), a sweep function given the wrong values
        return f"{arg}: {reason}; the grammar: {GRAMMAR}"
    return (f"{arg}: cannot parse it ({reason}); quote a value that holds spaces, quotes, brackets, '=' or ',' "
            f"(key='a b'); the grammar: {GRAMMAR}")  # fmt: skip


def _check_searchpath(arg: str, o) -> None:
    """hydra.searchpath=[...] adds folders of configs of one's own (as --config-dir does). Hydra
    warned of one it could not find (a UserWarning with its source line), then the option it
    was to hold was `no such option`; with a plus sign the path was not read at all."""
    from hydra._internal.config_repository import ConfigRepository
    from hydra._internal.sources_registry import SourcesRegistry
    from hydra.core.plugins import Plugins

    example = "'hydra.searchpath=[file://myconf]'"
    if o.get_key_element() != "hydra.searchpath":  # Hydra looks for the bare key only
        raise UserError(f"{arg}: Hydra reads its search path without a plus sign: {arg.lstrip('+')}")
    value = o.value()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{arg}: expected a list of config folders in brackets, e.g. {example}")
    Plugins.instance()  # registers the config sources (file://, pkg://)
    for entry in value:
        scheme = ConfigRepository._get_scheme(entry)
        try:
            source = SourcesRegistry.instance().resolve(scheme)(
                "command line", entry if "://" in entry else f"file://{entry}"
            )
        except ValueError as ex:  # a scheme no source plugin reads
            raise UserError(f"hydra.searchpath: {entry}: {ex}") from None
        if source.available():
            continue
        if scheme == "file":
            where = Path(source.path)
            raise UserError(f"hydra.searchpath: {entry}: {'not a folder' if where.exists() else 'no such folder'}"
                            + ("" if where.is_absolute() else f" (relative to {Path.cwd()})"))  # fmt: skip
        raise UserError(f"hydra.searchpath: {entry}: no such package, or it holds no configs")


def _meant(word: str, groups: list) -> str:
    """' (did you mean dataset=mnist?)' for a bare option name, or a bare key, else ''."""
    from runner.config.compose import group_options
    from runner.config.schema import leaf_types

    words, sweep = word.split(","), "-m " if "," in word else ""
    meant = [f"{sweep}{group}={word}" for group in groups if set(words) <= set(group_options(group))]
    if meant:  # relu is an activation and a remedy; none, an option of four groups
        return f" (did you mean {' or '.join(meant)}?)"
    keys = [k for k in leaf_types() if k == word or k.rpartition(".")[2] == word]
    return f" (did you mean {keys[0]}=<value>?)" if len(keys) == 1 else ""


def _section(group: str):
    """The schema section a group fills (dataset -> DatasetConfig), or None (experiment, hydra/...)."""
    from runner.config.schema import Config

    field = {f.name: f for f in dataclasses.fields(Config)}.get(group)
    return field.default_factory if field is not None and dataclasses.is_dataclass(field.default_factory) else None


def _check_group(o, groups: list) -> None:
    """A group takes the name of an option; one only where its section names the choice (dataset.name),
    a list where options combine (regularizer=[l1,dropout]). Hydra raised a ValueError's traceback
    for `dataset=null` or `dataset=3`, merged `dataset=[mnist,cifar10]` into one, and `~dataset` left
    dataset.name unset, which it reported as `hydra.run.dir: a value is required`."""
    from hydra.core.override_parser.types import ChoiceSweep
    from omegaconf import MISSING

    from runner.config.compose import group_options, options_in

    group = o.key_or_group
    parent, _, sub = group.partition("/")
    if sub and parent in groups and options_in(parent):  # Hydra's way to a nested group, none in dlrun's defaults
        value = o.value()
        meant = f"{parent}={sub}/{value}" if isinstance(value, str) else f"{parent}={sub}/<option>"
        listed = ", ".join(o for o in group_options(parent) if o.startswith(f"{sub}/"))
        raise UserError(f"{o.input_line}: conf/{group}/ holds options of the {parent} group, picked with their folder: "
                        f"{meant}; expected one of {listed}")  # fmt: skip
    # hydra/launcher's options are mostly plugins' (joblib, submitit_local), not in conf/: unlisted
    options = group_options(group) if group in groups and not group.startswith("hydra/") else []
    expected = f"; expected one of {', '.join(options)}" if options else ""
    section = _section(group)
    names_one = section is not None and "name" in {f.name for f in dataclasses.fields(section)}
    if o.is_delete():
        required = [f"{group}.{f.name}" for f in dataclasses.fields(section) if f.default == MISSING] if section else []
        if required:
            raise UserError(f"~{group}: the {group} group cannot be removed ({required[0]} has no default); pick an "
                            f"option instead ({group}=<option>){expected}")  # fmt: skip
        return
    value = o.value()
    if o.is_sweep_override():
        if not isinstance(value, ChoiceSweep):
            return  # glob(), range(): Hydra expands and reports them itself
        values = list(value.list)
    else:
        values = [value]
    shown = o.input_line
    for v in values:
        picks = v if isinstance(v, list) else [v]
        if not all(isinstance(p, str) and p for p in picks):
            raise UserError(f"{shown}: a group takes the name of one of its options{expected}")
        if isinstance(v, list) and names_one and len(v) != 1:
            how = f"; to run each, sweep them: dlrun -m {group}={','.join(v)}" if v else ""
            raise UserError(f"{shown}: {group} takes one option ({group}.name names it){expected}{how}")


def _check_key_deletion(o) -> None:
    """`~trainer.epochs` or `~seed`: a key of dlrun's schema is always there; OmegaConf reported it as
    an unknown key (`seed: unknown key (did you mean seed?)`)."""
    from runner.config.schema import leaf_types

    key = o.key_or_group
    under = [k for k in leaf_types() if k == key or k.startswith(f"{key}.")]
    if under:
        raise UserError(f"~{key}: a key of dlrun's schema cannot be removed; set it instead ({under[0]}=<value>), or "
                        "leave it out of the command to keep its default")  # fmt: skip


def _check_flag(o, flags: set) -> None:
    """Refuse a number other than 0 or 1 for a true/false key (one of `flags`). OmegaConf reads any
    integer as a bool, so `trainer.log_steps=10` (meant as 'every 10 steps') silently meant true."""
    if o.key_or_group not in flags or o.is_delete():
        return
    for v in o.sweep_iterator() if o.is_sweep_override() else [o.value()]:
        if type(v) is int and v not in (0, 1):
            raise UserError(f"{o.key_or_group}: expected true or false, got {v}")
