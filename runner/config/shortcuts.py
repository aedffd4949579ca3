"""The model.depth / model.width / model.taper shortcut, expanded into model.hidden once, by
`runner.config.validate.prepare`, before the config is validated.

    dlrun -m model.depth=1,2,4 model.width=256           hidden [256], [256,256], [256]*4
    dlrun model.depth=4 model.width=512 model.taper=halve hidden [512,256,128,64]

An unset width is hidden[0], an unset depth is len(hidden). After expansion depth and width
are null, so expanding again changes nothing and config.yaml shows the real widths.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runner.config.checks import require
from runner.registry import Registry

# the shortcut's keys: model.hidden holds what they asked for once the config is prepared
KEYS = ("model.depth", "model.width", "model.taper")


@dataclass(frozen=True)
class Taper:
    help: str
    width: Callable  # (first width, layer index) -> that layer's width


TAPERS: Registry[Taper] = Registry("model.taper", "taper")
TAPERS.add("constant", Taper("every hidden layer model.width wide", lambda width, i: width))
TAPERS.add("halve", Taper("each hidden layer half as wide as the one before", lambda width, i: width >> i))


def check(m) -> None:
    """The shortcut's own keys, as written (no changes to the config)."""
    if m.depth is not None:
        require(m.depth >= 1, "model.depth", "null or an integer >= 1 (hidden layers)", m.depth)
    if m.width is not None:
        require(m.width >= 1, "model.width", "null or an integer >= 1 (units per hidden layer)", m.width)
        require(m.depth is not None or len(m.hidden) > 0, "model.depth", "a depth when model.hidden is empty", m.depth)
    elif m.depth is not None:
        require(len(m.hidden) > 0, "model.width", "a width when model.hidden is empty", m.width)
    TAPERS.check(m.taper)
    widths = widths_of(m)
    if widths is not None and min(widths, default=1) < 1:
        require(
            False,
            "model.depth",
            f"at most {widths[0].bit_length()} layers when halving from width {widths[0]}",
            m.depth,
        )


def widths_of(m) -> list | None:
    """The hidden widths the shortcut asks for, or None when it is not used."""
    if m.depth is None and m.width is None:
        return None
    width = int(m.width if m.width is not None else m.hidden[0])
    depth = int(m.depth if m.depth is not None else len(m.hidden))
    return [TAPERS[m.taper].width(width, i) for i in range(depth)]


def expand(cfg) -> None:
    """Replace the shortcut by the widths it stands for (in place); checks it first."""
    m = cfg.model
    check(m)
    widths = widths_of(m)
    if widths is not None:
        m.hidden, m.depth, m.width = widths, None, None
