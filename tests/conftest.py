"""Shared helpers: composing configs, writing tiny datasets in the real on-disk formats,
running the `dlrun` entry point, and finding the offline dataset copies."""

from __future__ import annotations

import os


def _share_the_cores() -> None:
    """Under pytest-xdist each worker, and every dlrun it starts, takes its share of the cores:
    torch's default (a thread per core in every process) oversubscribes them, and its spinning
    threads wait on each other (tests/test_studies.py, 2 workers on 2 cores: 163-181 s with the
    default, 130-137 s with a thread each). Set before torch is imported; a user's setting wins."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers > 1:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, threads)


_share_the_cores()

# the imports below come after the thread setting: numpy's BLAS and torch read it when loaded
import gzip
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

SHARED_DATASETS = Path(os.environ.get("DLRUN_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))


# ---------------------------------------------------------------- configs


def compose(*overrides: str):
    """The config `dlrun <overrides>` would run with (Hydra's compose API, no run dir)."""
    from runner.config.compose import compose as compose_config

    return compose_config(overrides)


def train(tmp_path: Path, *overrides: str, name: str = "run", hooks=None) -> tuple[dict, Path]:
    """Validate and run a config in this process; return its summary and run dir. hooks: a
    RunHooks that watches it."""
    from runner.config.validate import prepare
    from runner.train.run import run_training

    cfg = compose("trainer.progress=quiet", *overrides)
    prepare(cfg)
    run_dir = tmp_path / name
    return run_training(cfg, run_dir, hooks=hooks), run_dir


# ---------------------------------------------------------------- the CLI


def dlrun_cmd() -> list:
    script = Path(sys.executable).with_name("dlrun")
    return [str(script)] if script.exists() else [sys.executable, "-m", "runner.cli"]


def dlrun_env(env: dict | None = None) -> dict:
    """The environment a user's dlrun runs in: unbuffered, without the debug switches (tracebacks)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    full_env.pop("DLRUN_DEBUG", None)
    return full_env


def run_dlrun(*args: str, cwd: Path, env: dict | None = None, timeout: int = 600):
    return subprocess.run(
        dlrun_cmd() + list(args), cwd=cwd, env=dlrun_env(env), capture_output=True, text=True, timeout=timeout
    )


# ---------------------------------------------------------------- tiny datasets in real formats


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def class_images(n_per_class: int, classes: int, size: int, rng: np.random.Generator, channels: int = 1):
    """Learnable images: class k lights up the k-th horizontal band, plus noise."""
    xs, ys = [], []
    band = max(1, size // classes)
    for k in range(classes):
        for _ in range(n_per_class):
            img = rng.integers(0, 60, size=(channels, size, size)).astype(np.uint8)
            img[:, (k * band) % size : (k * band) % size + band, :] = 255
            xs.append(img)
            ys.append(k)
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def write_mnist(root: Path, name: str = "MNIST", n_per_class: int = 20, gz: bool = False, seed: int = 0):
    rng = np.random.default_rng(seed)
    raw = root / name / "raw"
    for prefix, n in (("train", n_per_class), ("t10k", max(2, n_per_class // 4))):
        x, y = class_images(n, 10, 28, rng)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", x[:, 0], gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", y, gz)
    return root


def write_cifar_pickles(root: Path, n_per_class: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for batch in [f"data_batch_{j}" for j in range(1, 6)] + ["test_batch"]:
        x, y = class_images(n_per_class, 10, 32, rng, channels=3)
        with open(folder / batch, "wb") as f:
            pickle.dump({"data": x.reshape(len(x), -1), "labels": y.tolist(), "batch_label": batch}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_vis": 3072}, f)
    return root


def write_class_folders(
    root: Path, splits=("train", "val"), n_per_class: int = 12, classes: int = 10, size: int = 32, seed: int = 0
) -> Path:
    """1-bit images, alternating BMP and TIFF like the Gurmukhi digits."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split in splits:
        x, y = class_images(n_per_class, classes, size, rng)
        for i, (img, label) in enumerate(zip(x, y)):
            folder = root / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            im = Image.fromarray(np.where(img[0] > 127, 255, 0).astype(np.uint8)).convert("1")
            ext = "bmp" if i % 2 == 0 else "tiff"
            im.save(folder / f"{i}.{ext}")
    return root


@pytest.fixture(autouse=True, scope="session")
def _user_cache_apart(tmp_path_factory):
    """A data_dir that cannot be written caches its decoded splits in the user's cache folder
    (runner.data.folders.user_cache_dir): the tests' go to a temporary one, not the home's."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A data_dir with tiny MNIST, Fashion-MNIST, CIFAR-10 (pickles) and Gurmukhi-style folders."""
    d = tmp_path / "data"
    write_mnist(d, "MNIST")
    write_mnist(d, "FashionMNIST", gz=True, seed=1)
    write_cifar_pickles(d)
    write_class_folders(d / "gurmukhi")
    return d


# ---------------------------------------------------------------- the offline copies


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The offline dataset copies laid out as downloads (prepare.py), or a skip saying why."""
    ready = os.environ.get("DLRUN_TEST_DATA")
    if ready and (Path(ready) / "MNIST" / "raw").is_dir():
        return Path(ready)
    prepare = SHARED_DATASETS / "prepare.py"
    if not prepare.is_file():
        pytest.skip(f"offline datasets not found at {SHARED_DATASETS} (set DLRUN_SHARED_DATASETS)")
    dest = Path(ready) if ready else REPO / "data"
    dest.mkdir(parents=True, exist_ok=True)
    import fcntl

    with open(dest / ".prepare.lock", "w") as lock:  # pytest-xdist workers prepare one at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(
            [sys.executable, str(prepare), str(dest), "--only", "mnist,fashion-mnist,gurmukhi"],
            check=True,
            capture_output=True,
        )
    return dest


def pytest_collection_modifyitems(config, items):
    """The longest tests (marked `first`: the whole quick reproduction) start first, so that
    under pytest-xdist the short ones run beside them instead of after them."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("first") else 1)
