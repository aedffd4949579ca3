"""Where dlrun's configs are, and the config a `dlrun <overrides>` command would run with,
composed without running it (for studies' tests, benchmarks and tools).

conf/ sits at the top of the repository for readers; a build copies it into the package as
runner/conf (setup.py), so a wheel, `pip install --user` and `pip install --target` all carry it.
"""

from __future__ import annotations

from pathlib import Path

from runner.errors import UserError

PACKAGE = Path(__file__).resolve().parent.parent  # runner/


def conf_dir() -> Path:
    """runner/conf in an installed package; the repository's conf/ in a checkout or an editable
    install. A UserError names both places when neither holds config.yaml."""
    for candidate in (PACKAGE / "conf", PACKAGE.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise UserError(
        f"dlrun's configs are missing: no config.yaml in {PACKAGE / 'conf'} (an installed package) "
        f"or {PACKAGE.parent / 'conf'} (a checkout); reinstall dlrun"
    )


def is_preset_group(name: str) -> bool:
    """A config group whose options open with `# @package _global_` (experiment, sweep, remedy, ...):
    an option sets keys across the whole config, and the group's name is no key of the schema."""
    folder = conf_dir() / name
    return folder.is_dir() and any(
        "@package _global_" in p.read_text().split("\n", 1)[0] for p in folder.glob("*.yaml")
    )


def options_in(group: str) -> bool:
    """The group's folder holds options of its own (experiment/), not only other groups (hydra/)."""
    return any((conf_dir() / group).glob("*.yaml"))


def group_options(group: str) -> list:
    """The options of conf/<group>/, those in its subfolders as <sub>/<name> (experiment=reproduce/r2)."""
    folder = conf_dir() / group
    return sorted(p.relative_to(folder).with_suffix("").as_posix() for p in folder.rglob("*.yaml"))


def config_groups() -> list:
    """dlrun's config groups: each folder of conf/ that holds options, nested ones as experiment/reproduce
    and hydra/launcher."""
    root = conf_dir()
    return sorted({p.parent.relative_to(root).as_posix() for p in root.rglob("*.yaml") if p.parent != root})


def share_config_store() -> None:
    """Make a copy of Hydra's ConfigStore the store itself.

    Hydra 1.3 deep-copies its config repository each time it lists a group's options or loads a
    sweep job's config, and the repository holds the ConfigStore with every structured config
    that Hydra, its plugins and dlrun registered. `dlrun --help` lists options 128 times: 4.0 s,
    of which 3 s went to those copies (benchmarks/job_overhead.py). The store is a process-wide
    singleton that composing only reads (its load() hands out a copy of the node), so sharing
    it changes no config; Hydra's main branch shares it too (facebookresearch/hydra pull 2928).
    """
    from hydra.core.config_store import ConfigStore

    if "__deepcopy__" not in vars(ConfigStore):
        ConfigStore.__deepcopy__ = lambda self, memo: self


def offer_nested_options() -> None:
    """Hydra's tab completion and `--help` take a group's subfolder (experiment/reproduce) for a
    group of its own, a spelling dlrun refuses (`experiment/reproduce=r2`): have both offer its
    options under the group, as `experiment=reproduce/r2` picks them."""
    _complete_nested_options()
    _list_nested_options()


def _list_nested_options() -> None:
    """--help's list of config groups: `experiment: ..., reproduce/all, reproduce/r1, ...` where it
    printed a line `experiment/reproduce: all, r1, ...`."""
    from hydra._internal.hydra import Hydra

    listed = Hydra.format_config_groups
    if getattr(listed, "nested", False):
        return

    def folded(self, predicate, compact: bool = True) -> str:
        groups = sorted(g for g in self.list_all_config_groups() if predicate(g))
        own = {g: sorted(self.config_loader.get_group_options(g)) for g in groups}
        nested = {g for g in groups if "/" in g and own.get(g.rpartition("/")[0])}  # options of the group above
        if not compact or not nested:
            return listed(self, predicate, compact)
        lines = []
        for g in groups:
            if g in nested:
                continue
            under = [f"{sub.removeprefix(g + '/')}/{o}" for sub in sorted(nested) if sub.startswith(f"{g}/")
                     for o in own[sub]]  # fmt: skip
            lines.append(f"{g}: {', '.join(own[g] + under)}\n")
        return "".join(lines)

    folded.nested = True
    Hydra.format_config_groups = folded


def _complete_nested_options() -> None:
    """Tab completion: Hydra lists a group's own files only, so `dlrun experiment=<TAB>` never
    offered experiment=reproduce/r2, which dlrun takes (group_options)."""
    from hydra.plugins.completion_plugin import CompletionPlugin

    listed = CompletionPlugin._query_config_groups
    if getattr(listed, "nested", False):
        return

    def with_nested(self, word, config_name, words):
        matched, exact = listed(self, word, config_name, words)
        bare = word.lstrip("+~")
        sign, groups = word[: len(word) - len(bare)], config_groups()
        group, sep, typed = bare.partition("=") if "=" in bare else bare.partition("/")
        if sep and group in groups and options_in(group):  # experiment=rep, experiment/: its options, nested too
            options = [f"{sign}{group}={o}" for o in group_options(group) if o.startswith(typed)]
            return sorted({*(m for m in matched if "/" not in m.partition("=")[0]), *options}), exact
        # a group's name: Hydra leaves off the `=` of one with subfolders (`experiment`)
        return [f"{m}=" if m.lstrip("+~") in groups and options_in(m.lstrip("+~")) else m for m in matched], exact

    with_nested.nested = True
    CompletionPlugin._query_config_groups = with_nested


def compose(overrides, hydra_config: bool = False):
    """The composed config for these command-line overrides, not yet validated or expanded
    (runner.config.validate.prepare does both)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from runner.config.schema import register

    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base=None):
        return hydra_compose("config", overrides=list(overrides), return_hydra_config=hydra_config)
