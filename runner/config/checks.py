"""The two checks every config section uses; each raises a ConfigError that the CLI prints as
one line naming the key, what was expected and what was given."""

from __future__ import annotations

import math
from typing import Any

from runner.errors import ConfigError


def require(ok: bool, key: str, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError(key, expected, value)


def require_size(key: str, value: float, allow_zero: bool = True) -> None:
    """A size is 0 (off), a fraction in (0, 1), or a whole count >= 1."""
    ok = math.isfinite(value) and value >= 0 and (value < 1 or float(value).is_integer())
    if not allow_zero and value == 0:
        ok = False
    require(ok, key, "0 (off), a fraction in (0, 1) or a whole count >= 1", value)
