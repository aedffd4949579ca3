"""flock, where a file system that offers no locks is told apart from a lock another process
holds. Lustre mounted without `flock` and some NFS setups answer flock with ENOSYS, ENOLCK or
EOPNOTSUPP: read as "held", every run folder was "in use by another dlrun", a rerun of every
sweep was refused, and a joblib worker failed each job it took. There, as on Windows (no
fcntl), folders go unguarded."""

from __future__ import annotations

import errno

HELD = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES}  # what flock says of a lock another process holds


def flock(handle, exclusive: bool = True, wait: bool = False) -> bool:
    """Lock the open file `handle` (until it closes); False when another process holds it (without
    `wait`), else True, also where no lock can be taken at all."""
    try:
        import fcntl
    except ImportError:  # Windows
        return True
    try:
        fcntl.flock(handle, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB))
    except OSError as ex:
        return ex.errno not in HELD  # else the file system offers no locks (EINTR Python retries itself)
    return True


def held_elsewhere(path) -> bool:
    """Whether another process holds a lock on the file at `path` (False when there is no file)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return not flock(handle, exclusive=False)  # a shared lock, released as the file closes
    except OSError:
        return False
