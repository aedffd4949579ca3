"""Class-folder datasets: <root>/<split>/<class>/<image>, any format PIL reads (BMP, TIFF,
PNG, JPEG, ...). Gurmukhi ships this way, and so does the offline CIFAR-10 copy.

Each split is decoded once into a uint8 array [N, C, H, W] and cached as .npz under
<data_dir>/.dlrun-cache/, keyed by the files' names, sizes and modification times, so a second
run starts in well under a second and a changed folder is decoded again. Where data_dir cannot
be written (a shared read-only copy), the cache goes under the user's cache folder instead.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
from pathlib import Path

import numpy as np

from runner.errors import DataError, UserError, reading
from runner.files import atomic_write

IMAGE_SUFFIXES = {".bmp", ".tif", ".tiff", ".png", ".jpg", ".jpeg", ".gif", ".pgm", ".ppm", ".webp"}
CACHE_VERSION = 3  # 2: 16-bit grey scaled, not clipped; 3: 32-bit integer grey within 0..255 as it is (_eight_bit)
PARALLEL_ABOVE = 4000  # decoding fewer files than this is faster in one process


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def list_classes(split_dir: Path) -> list:
    with reading(split_dir, "class folder"):
        names = [p.name for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(names, key=_natural_key)


def list_files(split_dir: Path, classes: list) -> tuple[list, np.ndarray, list]:
    """Image files of a split, their labels (indices into `classes`), and the class folders'
    subfolders (whose times say whether the split changed: load_split)."""
    present = list_classes(split_dir)
    unknown = sorted(set(present) - set(classes))
    if unknown:
        raise DataError(
            f"{split_dir}: class folder(s) {', '.join(unknown)} are not in the training "
            f"split's classes ({', '.join(classes)})"
        )
    files, labels, subfolders = [], [], []
    for label, cls in enumerate(classes):
        folder = split_dir / cls
        if not folder.is_dir():
            continue
        found, within = class_folder_images(folder)
        files += found
        labels += [label] * len(found)
        subfolders += within
    return files, np.asarray(labels, dtype=np.int64), subfolders


def class_folder_images(folder: Path) -> tuple[list, list]:
    """The image files under a class folder, in its subfolders too (as torchvision's ImageFolder
    takes them: `cat/2019/*.jpg` are cats), in natural order of their paths; and the subfolders
    walked. Hidden files and folders are skipped, as hidden class folders are: a Mac's `._1.bmp`
    beside `1.bmp` holds no image, and a `.ipynb_checkpoints/` copies of others."""
    found, subfolders = [], []  # (path under the class folder, as text), the subfolders' paths
    with reading(folder, "class folder"):
        for top, dirs, names in os.walk(folder, followlinks=True):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            subfolders += [os.path.join(top, d) for d in dirs]
            under = os.path.relpath(top, folder)
            found += [n if under == "." else f"{under}/{n}" for n in names
                      if not n.startswith(".") and os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES]  # fmt: skip
    found.sort(key=_natural_key)
    return [folder / f for f in found], [Path(d) for d in subfolders]


_SUFFIXES = ", ".join(sorted(IMAGE_SUFFIXES))


def refuse_empty_classes(split_dir: Path, classes: list, labels: np.ndarray | None = None) -> None:
    """A training class folder without images is an error naming it (labels: list_files's, when at hand)."""
    if labels is None:
        labels = list_files(split_dir, classes)[1]
    empty = [c for c, n in zip(classes, np.bincount(labels, minlength=len(classes))) if n == 0]
    if empty:
        also = f" (also empty: {', '.join(empty[1:])})" if empty[1:] else ""
        raise DataError(
            f"{split_dir / empty[0]}: no image files ({_SUFFIXES}); every class folder of the training split needs some"
            + also
        )


SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N"}  # 16-bit grey, scaled to 0..255


def _eight_bit(im):
    """`im` with 8-bit pixels. Pillow's convert() clips wider pixels at 255 rather than scaling
    them, so a 16-bit scan became a white page (mean 254.5 of 255 for a full-range ramp) and a
    float image in [0, 1] a black one. 16-bit grey is scaled to 0..255. 32-bit integer grey
    ("I": a TIFF saved from an int32 array) has no fixed range: dividing by 257 as for 16 bits
    made an 8-bit image black, so it is taken as it is when every pixel is within 0..255 and
    refused otherwise; an older Pillow opens a 16-bit PNG as "I", and PNG has no wider pixels.
    Float pixels, which have no fixed range either, are refused."""
    from PIL import Image

    if im.mode in SIXTEEN_BIT or (im.mode == "I" and im.format == "PNG"):
        wide = np.clip(np.asarray(im, dtype=np.int64), 0, 65535)
        return Image.fromarray(np.rint(wide / 257).astype(np.uint8))
    if im.mode == "I":
        wide = np.asarray(im, dtype=np.int64)
        low, high = int(wide.min()), int(wide.max())
        if low < 0 or high > 255:
            raise ValueError(
                f"32-bit integer pixels from {low} to {high} have no fixed range; "
                "save the image with 8-bit pixels (0..255) or 16-bit pixels"
            )
        return Image.fromarray(wide.astype(np.uint8))
    if im.mode == "F":
        raise ValueError("32-bit float pixels have no fixed range; save the image with 8- or 16-bit pixels")
    return im


def _decode_one(path: str, channels: int, size: tuple) -> np.ndarray:
    import warnings

    from PIL import Image

    with reading(path, "image"), warnings.catch_warnings():
        # an image far larger than it claims to be worth decoding (a decompression bomb) is refused
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            im = _eight_bit(im).convert("L" if channels == 1 else "RGB")
            if im.size != (size[1], size[0]):
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            a = np.asarray(im, dtype=np.uint8)
    return a[None] if channels == 1 else a.transpose(2, 0, 1)


def _decode_chunk(args) -> np.ndarray:
    paths, channels, size = args
    out = np.empty((len(paths), channels, *size), dtype=np.uint8)
    for i, p in enumerate(paths):
        out[i] = _decode_one(p, channels, size)
    return out


def decode(files: list, channels: int, size: tuple) -> np.ndarray:
    paths = [str(f) for f in files]
    workers = min(os.cpu_count() or 1, 8)
    if len(paths) < PARALLEL_ABOVE or workers == 1:
        return _decode_chunk((paths, channels, size))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    step = -(-len(paths) // (workers * 4))
    chunks = [(paths[i : i + step], channels, size) for i in range(0, len(paths), step)]
    from runner.signals import watch_parent

    # spawn, not fork: the parent may already hold CUDA or many threads. Each worker watches
    # this process: killed with -9 it leaves them blocked on their queue, holding their memory
    # for good (measured: all still there 30 s later), where a watched one ends within a second
    with ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        # a decoder has nothing to save: it ends at once when this process is gone
        initializer=functools.partial(watch_parent, grace=0, parent=os.getpid()),
    ) as pool:
        return np.concatenate(list(pool.map(_decode_chunk, chunks)))


def _cache_key(files: list, channels: int, size: tuple, root: Path) -> str:
    h = hashlib.sha1(f"v{CACHE_VERSION}|{channels}|{size}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


# Splits already read by this process (a sweep runs its jobs in one process): checking the
# on-disk cache's key stats every file, which costs ~1.4 s for CIFAR-10's 50,000, so here a
# split is reused while its folder, class folders and their subfolders keep their modification
# times (files added, removed or renamed change them). Bounded: the most recent few splits only.
_MEMO: dict = {}
MEMO_SPLITS = 4


def _memo_key(split_dir: Path, classes: list, channels: int, size: tuple) -> tuple | None:
    try:
        stamps = tuple(os.stat(split_dir / c).st_mtime_ns for c in classes)
        return str(split_dir.resolve()), os.stat(split_dir).st_mtime_ns, stamps, tuple(classes), channels, tuple(size)
    except OSError:
        return None


def _stamps(folders: list) -> tuple | None:
    try:
        return tuple(os.stat(f).st_mtime_ns for f in folders)
    except OSError:
        return None


def load_split(
    root: Path, split: str, classes: list, channels: int, size: tuple, cache_dir: Path | None
) -> tuple[np.ndarray, np.ndarray]:
    """Decode (or read from a cache) one split: uint8 [N, C, H, W] and int64 labels. Callers
    must not modify the arrays in place: the process reuses them."""
    split_dir = root / split
    memo = _memo_key(split_dir, classes, channels, size)
    if memo is not None and memo in _MEMO:
        x, labels, subfolders, stamps = _MEMO[memo]
        if _stamps(subfolders) == stamps:
            return x, labels
    x, labels, subfolders = _load_split(root, split_dir, split, classes, channels, size, cache_dir)
    if memo is not None:
        while len(_MEMO) >= MEMO_SPLITS:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[memo] = (x, labels, subfolders, _stamps(subfolders))
    return x, labels


def _load_split(
    root: Path, split_dir: Path, split: str, classes: list, channels: int, size: tuple, cache_dir: Path | None
) -> tuple[np.ndarray, np.ndarray, list]:
    """The split's images and labels, and the subfolders of its class folders."""
    files, labels, subfolders = list_files(split_dir, classes)
    if not files:
        raise DataError(f"{split_dir}: no image files ({_SUFFIXES}) in its class folders")
    if split == "train":  # the classes are its folders: an empty one would train a class on nothing
        refuse_empty_classes(split_dir, classes, labels)
    caches = []
    if cache_dir is not None:
        with reading(split_dir, "class folder"):
            key = _cache_key(files, channels, size, root)
        caches = [d / f"{root.name}-{split}-{key}.npz" for d in (cache_dir, user_cache_dir(cache_dir))]
        for cache in caches:
            cached = _read_cache(cache, len(files), channels, size)
            if cached is not None:
                return (*cached, subfolders)
    x = decode(files, channels, size)
    failed = caches and _write_cache(caches[0], x, labels)
    if failed and _write_cache(caches[1], x, labels) is None:
        _note_moved_cache(cache_dir, caches[1].parent, failed)
    return x, labels, subfolders


def user_cache_dir(cache_dir: Path) -> Path:
    """Where a data_dir that cannot be written caches its decoded splits: under
    $XDG_CACHE_HOME (else ~/.cache)/dlrun, one folder per data_dir, so that two copies of a
    dataset do not remove each other's cache as an outdated decode."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dlrun"
    return base / hashlib.sha1(str(cache_dir.resolve()).encode()).hexdigest()[:12]


_NOTED: set = set()


def _note_moved_cache(cache_dir: Path, where: Path, why: str) -> None:
    """Said once per data_dir: the decoded splits (185 MB for CIFAR-10) take space elsewhere."""
    if cache_dir not in _NOTED:
        from runner.say import say

        _NOTED.add(cache_dir)
        say(f"note: cannot cache the decoded images in {cache_dir} ({why}): they are cached in {where} instead")


def _read_cache(path: Path, n: int, channels: int, size: tuple) -> tuple | None:
    """The cached split, or None when there is none or it cannot be trusted (truncated,
    corrupt, or of another shape): such a cache is removed and the split decoded again."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            x, y = z["x"], z["y"]
        if x.shape == (n, channels, *size) and x.dtype == np.uint8 and y.shape == (n,):
            return x, y
    except Exception:  # noqa: BLE001 - any unreadable cache is rebuilt from the images
        pass
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def _write_cache(path: Path, x: np.ndarray, y: np.ndarray) -> str | None:
    """Best effort: None when written, else why not (a full disk only costs the next run a
    decode)."""
    try:
        atomic_write(path, lambda f: np.savez(f, x=x, y=y))
    except (UserError, OSError) as ex:
        cause = ex.__cause__ if isinstance(ex.__cause__, OSError) else ex
        return getattr(cause, "strerror", None) or str(ex)
    with contextlib.suppress(OSError):
        for old in path.parent.glob(path.name.rsplit("-", 1)[0] + "-*.npz"):
            if old != path:  # an older decode of a folder that has changed since
                old.unlink(missing_ok=True)
    return None
