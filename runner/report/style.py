"""Shared look of every plot: readable sizes, a white background, saved at 120 dpi."""

from __future__ import annotations

import math
from pathlib import Path

SPLIT_STYLE = {  # colour and line style per split, the same in every plot
    "train": {"color": "#1f77b4", "linestyle": "--"},
    "val": {"color": "#ff7f0e", "linestyle": "-."},
    "test": {"color": "#2ca02c", "linestyle": "-"},
}


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, imported on first use, with matplotlib's
    own defaults under dlrun's: a matplotlibrc of the user's (in the working folder or
    ~/.config/matplotlib) must not change the reports, and its `text.usetex: True` made every
    plot fail where no LaTeX is installed (and names such as `val_loss` are not LaTeX)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcdefaults()  # keeps the backend
    plt.rcParams.update(
        {
            "font.size": 11,
            "axes.titlesize": 13,
            "axes.labelsize": 11,
            "legend.fontsize": 10,
            "figure.dpi": 120,
            "axes.grid": True,
            "grid.alpha": 0.3,
        }
    )
    return plt


def log_y(ax, values) -> str:
    """A log y axis for values that span decades, and the words for its label. A zero (a dead
    layer's gradient) has no place on a log axis and would vanish from the plot with a warning:
    with zeros the axis is linear up to the smallest positive value, so they show at the bottom;
    with nothing positive it stays linear."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    positive = v[np.isfinite(v) & (v > 0)]
    if not positive.size:
        return ""
    if (v[np.isfinite(v)] > 0).all():
        ax.set_yscale("log")
        return "log scale"
    ax.set_yscale("symlog", linthresh=float(positive.min()))
    return "log scale; zeros at the bottom"


def legend(ax, outside: bool = False, **kw) -> None:
    """A legend when something was drawn; otherwise a note (a diverged run has no finite values).
    `outside`: to the right of the axes, for plots whose every corner holds data (bars from
    zero, a square wave's ground truth)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**({"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)} if outside else {}), **kw)
    else:
        ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)


def epoch_axis(ax, last_epoch: int) -> None:
    """An x axis of epochs: whole numbers, and for a run of one to three epochs a tick on each
    with room beside it (matplotlib spread a single epoch over 0.96 ... 1.04)."""
    ax.xaxis.get_major_locator().set_params(integer=True)
    if 0 < last_epoch <= 3:
        ax.set_xlim(0.5, last_epoch + 0.5)
        ax.set_xticks(range(1, last_epoch + 1))


def _plain_log_ticks(fig) -> None:
    """Log axes within 0.001 .. 10,000 label 0.4 and 60 as numbers rather than 4x10^-1 and
    6x10^1: a loss axis within a decade or two is read at a glance. Ticks matplotlib leaves
    unlabelled stay so; an axis reaching further keeps its powers of ten throughout, as does a
    base-2 axis or one given its own formatter."""
    from matplotlib.ticker import LogFormatterSciNotation

    class Plain(LogFormatterSciNotation):
        def __call__(self, x, pos=None):
            return f"{x:g}" if super().__call__(x, pos) else ""

    class TwoAndFive(LogFormatterSciNotation):  # minor ticks at 2x and 5x a power of ten
        def __call__(self, x, pos=None):
            return f"{x:g}" if x > 0 and round(x / 10 ** math.floor(math.log10(x) + 1e-9)) in (2, 5) else ""

    for ax in fig.axes:
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            near_one = min(lo, hi) >= 1e-3 and max(lo, hi) < 1e4
            if axis.get_scale() != "log" or getattr(axis.get_transform(), "base", None) != 10 or not near_one:
                continue
            # over one to three decades matplotlib labels the powers of ten alone: two or three
            # labels on a whole axis; 0.2 and 0.5 between them make it readable
            sparse = 1 < math.log10(max(lo, hi) / min(lo, hi)) <= 3
            for minor, (get, put) in enumerate(((axis.get_major_formatter, axis.set_major_formatter),
                                                (axis.get_minor_formatter, axis.set_minor_formatter))):  # fmt: skip
                current = get()
                if type(current) is LogFormatterSciNotation:  # matplotlib's default, not one of ours
                    kind = TwoAndFive if minor and sparse else Plain
                    put(kind(labelOnlyBase=current.labelOnlyBase, minor_thresholds=current.minor_thresholds))


def _slant_crowded_names(fig) -> None:
    """Names on an x axis (variants, activations, optimizers) slant by 30 degrees where, level,
    they would run into each other: torch_sgd_dropout beside torch_adam_dropout overprinted."""
    named = [ax for ax in fig.axes if any(any(c.isalpha() for c in t.get_text()) for t in ax.get_xticklabels())]
    if not named:
        return
    fig.canvas.draw()  # the labels' extents are known once drawn
    renderer = fig.canvas.get_renderer()
    for ax in named:
        labels = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text() and t.get_rotation() == 0]
        boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
        if any(a.x1 + 3 > b.x0 for a, b in zip(boxes, boxes[1:])):
            for t in labels:
                t.set(rotation=30, ha="right", rotation_mode="anchor")


def save(fig, path: Path) -> Path:
    """The figure as a PNG, written like every other result (atomically, one-line errors)."""
    import matplotlib.pyplot as plt

    from runner.files import atomic_write

    try:
        _plain_log_ticks(fig)
        _slant_crowded_names(fig)
        atomic_write(path, lambda f: fig.savefig(f, format="png", bbox_inches="tight", facecolor="white"))
    finally:
        plt.close(fig)
    return path
