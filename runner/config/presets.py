"""What each preset runs, in its own words, for `dlrun --help`: a preset (an option of a group
whose YAML files open with `# @package _global_`: experiment, sweep, remedy, variant,
hparams_search) says what it does in the comment under that line, before its example command;
the first sentence of that comment is its help line. The reproductions have a section of their own."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

WIDTH = 110  # the help's lines, wrapped under the description's column
_SENTENCE_END = re.compile(r"\.(\s|$)")


def description(path: Path) -> str:
    """The first sentence of the comment that opens a preset, after its package line."""
    words = []
    for line in path.read_text().splitlines()[1:]:
        text = line[1:].strip() if line.startswith("#") else None
        if not text or text.startswith("dlrun "):  # the comment's end, or its example command
            break
        words.append(text)
    text = " ".join(words)
    end = _SENTENCE_END.search(text)
    return text[: end.start() + 1] if end else text.rstrip(":")


def _preset_groups() -> list:
    from runner.config.compose import config_groups, is_preset_group

    return [g for g in config_groups() if "/" not in g and is_preset_group(g)]


def catalog() -> str:
    """Each preset group's options with their help lines. Hydra resolves the help template at every
    compose, and a sweep composes each job: the text is kept while the files are unchanged."""
    from runner.config.compose import conf_dir

    files = sorted(p for g in _preset_groups() for p in (conf_dir() / g).glob("*.yaml"))
    key = tuple((str(p), p.stat().st_mtime_ns) for p in files)
    if _CATALOG.get("key") != key:
        lines = []
        for group in _preset_groups():
            paths = sorted((conf_dir() / group).glob("*.yaml"))
            width = max(len(p.stem) for p in paths)
            lines.append(f"{group}:")
            for p in paths:
                lines += textwrap.wrap(description(p), WIDTH, initial_indent=f"  {p.stem:{width}s}  ",
                                       subsequent_indent=" " * (width + 4), break_on_hyphens=False) or [f"  {p.stem}"]  # fmt: skip
        _CATALOG.update(key=key, text="\n".join(lines))
    return _CATALOG["text"]


_CATALOG: dict = {}
