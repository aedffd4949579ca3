"""Errors that mean "the user asked for something we cannot do": the CLI prints them as one
line and exits with code 2, without a traceback.

Every read of user data goes through `reading` and every write of a result through `writing`,
so whatever goes wrong there (a corrupt file, a full disk) ends as one line naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import re
from pathlib import Path
from typing import Any


class UserError(Exception):
    """A problem with the input (config, data, paths), explained in one line."""


class ConfigError(UserError):
    def __init__(self, key: str, expected: str, got: Any):
        if got in ("True", "False"):  # a str key holds a typed `true` as OmegaConf's "True": shown as typed
            got = got == "True"
        self.key, self.expected, self.got = key, expected, got
        super().__init__(f"{key}: expected {expected}, got {as_typed(got)}")


def as_typed(value: Any) -> str:
    """A config value as it is written on the command line: true, null, 70000 (not True, None,
    70000.0, which a float-typed key holds); text and lists as Python shows them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class DataError(UserError):
    """Data that is missing or unreadable; the message says where we looked and how to fix it."""


class OutputError(UserError):
    """A result that could not be written (a full disk, no permission, a path under a file)."""

    def __init__(self, path, ex: OSError):
        self.path = Path(path)
        super().__init__(f"cannot write {self.path}: {ex.strerror or one_line(ex)}")


def error_chain(ex: BaseException | None):
    """ex, then what caused it, and so on (each once)."""
    seen = set()
    while ex is not None and id(ex) not in seen:
        seen.add(id(ex))
        yield ex
        ex = ex.__cause__ or ex.__context__


_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}  # a full disk, or a quota's


def disk_full(ex: BaseException | None) -> bool:
    """A write in ex's chain (an OutputError's cause, say) failed for want of space."""
    return any(isinstance(e, OSError) and e.errno in _NO_SPACE for e in error_chain(ex))


_OOM = re.compile(r"out of memory|can't allocate memory|ALLOC_FAILED", re.IGNORECASE)


def out_of_memory(ex: BaseException | None) -> str | None:
    """One line for an allocation that failed in ex's chain (torch's CPU allocator, CUDA, MPS, NumPy),
    else None: a config that needs more memory than the device has is the user's to change, and
    torch's own report is a traceback and, on CUDA, a paragraph about its allocator."""
    failed = next((e for e in error_chain(ex) if isinstance(e, MemoryError)
                   or (isinstance(e, RuntimeError) and _OOM.search(str(e)))), None)  # fmt: skip
    if failed is None:
        return None
    text = " ".join(str(failed).split())
    gpu = re.search(r"GPU (\d+)", text)
    device = f"cuda:{gpu.group(1)}" if gpu else "mps" if "MPS" in text else "cuda" if "CUDA" in text else "the CPU"
    size = re.search(r"(?:tried to|unable to) allocate ([\d.]+ ?[KMGTP]i?B|\d+ bytes)", text, re.IGNORECASE)
    tried = size.group(1) if size else None
    if tried and tried.endswith(" bytes"):  # the CPU allocator's count, in the units CUDA's report uses
        tried = f"{int(tried.split()[0]) / 2**30:.2f} GiB"
    total = re.search(r"total capacity of ([\d.]+ \w+)", text)
    has = f"; the device has {total.group(1)} in all" if total else ""
    return (
        f"out of memory on {device}"
        + (f" (it tried to allocate {tried} more{has})" if tried else "")
        + ": this config needs more memory than the device has; a smaller trainer.batch_size, "
        "trainer.eval_batch_size, trainer.replicas or model (model.hidden, model.conv) needs less"
    )


def reason(ex: BaseException) -> str:
    """What went wrong, in a few words, for a one-line message."""
    if isinstance(ex, KeyError):
        return f"it has no {ex.args[0]!r} entry" if ex.args else "an entry is missing"
    if isinstance(ex, OSError) and ex.strerror:
        return ex.strerror
    mark = getattr(ex, "problem_mark", None) or getattr(ex, "context_mark", None)
    if mark is not None:  # PyYAML's: where in the file, and what the parser met there
        problem = " ".join(str(getattr(ex, "problem", None) or ex).split())
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    text = " ".join(str(ex).split())
    return text[:300] if text else type(ex).__name__


@contextlib.contextmanager
def reading(path, what: str):
    """Turn any failure while reading `path` into a DataError: '<path>: not a readable <what> (why)'."""
    try:
        yield
    except UserError:
        raise
    except MemoryError as ex:
        raise DataError(f"{path}: too large to read as {what}") from ex
    except Exception as ex:  # noqa: BLE001 - a file we cannot read is the user's to fix, whatever the cause
        raise DataError(f"{path}: not a readable {what} ({reason(ex)})") from ex


@contextlib.contextmanager
def writing(path):
    """Turn an OSError while writing `path` into an OutputError naming it."""
    try:
        yield
    except OSError as ex:
        raise OutputError(path, ex) from ex


class Refused(BaseException):
    """A UserError raised where Hydra would only warn about an Exception (its callbacks): a
    BaseException, so it stops the command; the CLI prints it as one line, exit code 2."""

    def __init__(self, error: UserError):
        self.error = error
        super().__init__(str(error))


class CheckFailed(Exception):
    """A check the user asked for ran and did not pass (gradcheck): one line, exit code 1."""


def one_line(ex: BaseException, limit: int = 500) -> str:
    """`Type: message` on one line, cut at `limit` characters: for summary.json and the console.
    An allocation that failed says so in dlrun's words (out_of_memory)."""
    return (out_of_memory(ex) or " ".join(f"{type(ex).__name__}: {ex}".split()))[:limit]
