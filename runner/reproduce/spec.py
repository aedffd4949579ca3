"""A reproduction preset's `reproduce.parts`, read and checked.

Each part is one study of the report, run as a small sweep inside the reproduction folder:

    parts:
      <name>:
        title: "CIFAR-10 MLP, activations"     # what the report calls it
        setup: "45k / 5k / 10k split, 40 epochs" # the report's own words on how it ran
        experiment: mlp_activations_cifar10      # the dlrun preset it starts from (optional)
        overrides: [dataset.val_size=5000]       # the report's setup on top of the preset
        quick: [dataset.subsample=2000, trainer.epochs=2]   # added under reproduce.quick=true
        grid: {activation: [sigmoid, tanh, relu]}          # the jobs; default: the preset's own sweep
        quick_grid: {activation: [sigmoid, relu]}          # fewer jobs under reproduce.quick (optional)
        minutes: [60, 1]                         # the time, full and quick, where it cannot be estimated
        figures: ["plots/curves_acc.png", "*/plots/weight_stats.png"]  # files to show, by glob
        verdicts: false                          # show the vanishing-gradient verdict by depth
        tables:                                  # what was published, laid out as the report did
          - caption: "Test accuracy (%) after 40 epochs"
            metric: final_test_acc               # a summary.csv column, or <column>@<epoch> of metrics.csv
            kind: acc                            # acc (points), loss (factor), check (equal), below (a bound)
            rows: activation                     # the swept key naming the rows ...
            columns: model.depth                 # ... and the columns, for a two-way table
            labels: {relu: ReLU}                 # how the report names a row or column
            values: {sigmoid: 49.4, tanh: 46.2, relu: 51.9}   # or {row: {column: value}}
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from omegaconf import DictConfig, ListConfig, OmegaConf

from runner.errors import ConfigError

KINDS = ("acc", "loss", "check", "below")


@dataclass
class Table:
    caption: str
    metric: str
    kind: str
    rows: str | None
    columns: str | None
    values: dict  # row -> value, or row -> {column -> value}
    labels: dict = field(default_factory=dict)

    def cells(self) -> list:
        """(row, column or None, published value) in the order the report gave them."""
        out = []
        for row, value in self.values.items():
            if isinstance(value, dict):
                out += [(row, col, v) for col, v in value.items()]
            else:
                out.append((row, None, value))
        return out


@dataclass
class Part:
    name: str
    title: str
    experiment: str | None  # the dlrun preset it starts from (None: the defaults)
    setup: str = ""
    overrides: list = field(default_factory=list)
    quick: list = field(default_factory=list)
    grid: dict | None = None  # key -> list of values; None: the preset's own sweep
    quick_grid: dict | None = None  # the jobs under reproduce.quick; None: the same as full size
    minutes: list = field(default_factory=list)
    figures: list = field(default_factory=list)
    tables: list = field(default_factory=list)
    verdicts: bool = False


def _plain(value):
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value


def _strings(key: str, value) -> list:
    value = _plain(value) if value is not None else []
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ConfigError(key, "a list of overrides, e.g. [trainer.epochs=2]", value)
    return [str(v) for v in value]


def read_parts(section) -> list:
    """The parts of a `reproduce` section, checked; a ConfigError names the first bad key."""
    parts = []
    for name, raw in (_plain(section.parts) or {}).items():
        key = f"reproduce.parts.{name}"
        if not isinstance(raw, dict):
            raise ConfigError(key, "a part: title, experiment or overrides, tables", raw)
        grid, quick_grid = _grid(f"{key}.grid", raw.get("grid")), _grid(f"{key}.quick_grid", raw.get("quick_grid"))
        minutes = raw.get("minutes") or []
        if minutes and (len(minutes) != 2 or not all(isinstance(m, (int, float)) and m >= 0 for m in minutes)):
            raise ConfigError(f"{key}.minutes", "[full, quick] minutes on 2 CPU cores", minutes)
        parts.append(Part(
            name=name, title=str(raw.get("title") or name), experiment=raw.get("experiment"),
            setup=str(raw.get("setup") or ""), overrides=_strings(f"{key}.overrides", raw.get("overrides")),
            quick=_strings(f"{key}.quick", raw.get("quick")), grid=grid, quick_grid=quick_grid, minutes=list(minutes),
            figures=_strings(f"{key}.figures", raw.get("figures")), verdicts=bool(raw.get("verdicts", False)),
            tables=[_table(f"{key}.tables.{i}", t) for i, t in enumerate(raw.get("tables") or [])],
        ))  # fmt: skip
    return parts


def _grid(key: str, grid) -> dict | None:
    if grid is not None and (not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values())):
        raise ConfigError(key, "a mapping of keys to non-empty lists of values", grid)
    return grid


def _table(key: str, raw) -> Table:
    if not isinstance(raw, dict):
        raise ConfigError(key, "a table: caption, metric, kind, rows, values", raw)
    kind = raw.get("kind", "acc")
    if kind not in KINDS:
        raise ConfigError(f"{key}.kind", f"one of {', '.join(KINDS)}", kind)
    if not raw.get("metric"):
        raise ConfigError(f"{key}.metric", "a summary.csv column or <metrics.csv column>@<epoch>", raw.get("metric"))
    values = raw.get("values")
    if not isinstance(values, dict) or not values:
        raise ConfigError(f"{key}.values", "the published values by row (and column)", values)
    for row, v in values.items():
        inner = v.values() if isinstance(v, dict) else [v]
        for x in inner:
            ok = isinstance(x, bool) if kind == "check" else isinstance(x, (int, float)) and not isinstance(x, bool)
            if not ok:
                want = "true or false" if kind == "check" else "a number"
                raise ConfigError(f"{key}.values.{row}", want, x)
    return Table(caption=str(raw.get("caption") or raw["metric"]), metric=str(raw["metric"]), kind=kind,
                 rows=raw.get("rows"), columns=raw.get("columns"), values=values,
                 labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()})  # fmt: skip


def override_value(value) -> str:
    """A grid value as Hydra override text: lists in brackets, everything else as written."""
    if isinstance(value, list):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def sweep_values(text: str) -> list:
    """The values of a Hydra sweep string ('relu,tanh', 'range(1,4)', '[8],[16,16]'), parsed by
    Hydra's own override parser."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    override = OverridesParser.create().parse_override(f"key={text}")
    if not override.is_sweep_override():
        return [override.value()]
    return list(override.sweep_string_iterator())


def jobs(grid: dict) -> list:
    """Every combination of the grid, in the order Hydra's basic sweeper runs them: a list of
    override lists, e.g. [["activation=relu", "model.depth=1"], ...]."""
    keys = list(grid)
    columns = [[f"{k}={v}" for v in grid[k]] for k in keys]
    return [list(combo) for combo in itertools.product(*columns)] if keys else [[]]
