"""Read the IDX files that MNIST and Fashion-MNIST ship in (plain or .gz).

Format: 2 zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then one
big-endian uint32 per dimension, then the data in C order.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from runner.errors import DataError, reading


def read_idx(path: Path) -> np.ndarray:
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with reading(path, "gzip file" if path.suffix == ".gz" else "IDX file"), opener(path, "rb") as f:
        raw = bytearray(f.read())  # writable, so torch can wrap the array without a warning
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, {header} expected)")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: holds {data.size} bytes of data, its header says {dims}")
    return data.reshape(dims)


def find_idx(raw_dir: Path, stem: str) -> Path | None:
    """The file `stem` in raw_dir, uncompressed or gzipped; None when neither is there."""
    for name in (stem, stem + ".gz"):
        if (raw_dir / name).is_file():
            return raw_dir / name
    return None
