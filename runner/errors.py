"""Errors that mean "the user asked for something we cannot do": the CLI prints them as one
line and exits with code 2, without a traceback."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """A problem with the input (config, data, paths), explained in one line."""


class ConfigError(UserError):
    def __init__(self, key: str, expected: str, got: Any):
        self.key, self.expected, self.got = key, expected, got
        super().__init__(f"{key}: expected {expected}, got {got!r}")


class DataError(UserError):
    """Data that is missing or unreadable; the message says where we looked and how to fix it."""


class CheckFailed(Exception):
    """A check the user asked for ran and did not pass (gradcheck): one line, exit code 1."""


def one_line(ex: BaseException, limit: int = 500) -> str:
    """`Type: message` on one line, cut at `limit` characters: for summary.json and the console."""
    return " ".join(f"{type(ex).__name__}: {ex}".split())[:limit]
