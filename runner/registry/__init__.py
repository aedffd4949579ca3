"""One registry per closed set of names (activations, datasets, sources, functions, optimizers,
inits, models, studies, tasks, engines, precisions, ...), each beside the checks of the config
section it belongs to.

An entry holds everything its consumers need: the help text `dlrun --help` prints, the builder
(a dotted path or a small function that imports torch only when called), and facts such as an
activation's kaiming gain, its saturation rule for the probes and its NumPy twin. Model
builders, probes, the NumPy engine, validation, `--help` and the tests all read the registry;
none keeps a list of names of its own. Importing this package never imports torch, so `--help`
and validation stay fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from runner.errors import ConfigError

T = TypeVar("T")


def load(path: str):
    """The object a dotted path `package.module:name` names, imported on first use."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class Registry(Generic[T]):
    """Names in the order they were added, each with its entry; `key` is the config key that
    selects one, used in error messages."""

    def __init__(self, key: str, what: str):
        self.key, self.what = key, what
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> None:
        del self._entries[name]

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str, default=None):
        return self._entries.get(name, default)

    def items(self):
        return self._entries.items()

    def values(self):
        return self._entries.values()

    def names(self, where: Callable[[T], bool] | None = None) -> tuple:
        return tuple(n for n, e in self._entries.items() if where is None or where(e))

    def check(self, value, key: str | None = None, where: Callable[[T], bool] | None = None) -> T:
        """The entry named `value`, or a ConfigError naming the key and the allowed names."""
        allowed = self.names(where)
        if value not in allowed:
            raise ConfigError(key or self.key, f"one of {', '.join(allowed)}", value)
        return self._entries[value]


def all_registries() -> dict:
    """Every registry, by the config key that selects from it (for --help and the tests)."""
    from runner.config import shortcuts
    from runner.registry import activations, data, loggers, models, runs, studies, training

    found = {}
    for module in (data, models, shortcuts, activations, training, studies, runs, loggers):
        for value in vars(module).values():
            if isinstance(value, Registry):
                found[value.key] = value
    return found


def help_text() -> str:
    """The `== Choices ==` section of `dlrun --help`: every registry's names with their help."""
    lines = []
    for key, registry in all_registries().items():
        lines.append(f"{key}:")
        width = max(map(len, registry.names()), default=0)
        lines += [f"  {name.ljust(width)}  {entry.help}" for name, entry in registry.items()]
    return "\n".join(lines)
