"""Each loader reads tiny files written here in the real on-disk formats."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
from conftest import class_images, compose, write_cifar_pickles, write_class_folders, write_idx, write_mnist

from runner.data import folders
from runner.data.idx import read_idx
from runner.data.sources import load_raw
from runner.errors import ConfigError, DataError


def dataset_cfg(*overrides):
    return compose(*overrides).dataset


@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip(tmp_path, gz):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(write_idx(tmp_path / "x-idx3-ubyte", a, gz)), a)


def test_idx_rejects_a_wrong_file(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x01\x02\x03\x04hello")
    with pytest.raises(DataError, match="magic"):
        read_idx(p)


@pytest.mark.parametrize("name,folder,gz", [("mnist", "MNIST", False), ("fashion_mnist", "FashionMNIST", True)])
def test_torchvision_idx_layout(tmp_path, name, folder, gz):
    write_mnist(tmp_path, folder, n_per_class=3, gz=gz)
    raw = load_raw(dataset_cfg(f"dataset={name}", "dataset.download=false"), tmp_path, 0)
    x, y = raw.splits["train"]
    assert x.shape == (30, 1, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [3] * 10
    assert raw.splits["test"][0].shape[0] == 20
    assert len(raw.classes) == 10 and raw.origin.endswith(f"{folder}/raw")


def test_cifar_pickles(tmp_path):
    write_cifar_pickles(tmp_path, n_per_class=2)
    raw = load_raw(dataset_cfg("dataset=cifar10", "dataset.download=false"), tmp_path, 0)
    x, y = raw.splits["train"]
    assert x.shape == (5 * 20, 3, 32, 32)  # five batches of 20
    assert raw.splits["test"][0].shape == (20, 3, 32, 32)
    assert raw.classes[0] == "airplane" and raw.classes[-1] == "truck"
    # the pixel layout survives: class k lit the k-th band of rows in every channel
    k = int(y[0])
    assert (x[0][:, 3 * k : 3 * k + 3, :] == 255).all()


def test_cifar_class_folders_when_no_pickles(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        x, y = class_images(2, 10, 32, rng, channels=3)
        for i, (img, label) in enumerate(zip(x, y)):
            d = (
                tmp_path
                / "cifar10"
                / split
                / ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"][label]
            )
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.transpose(1, 2, 0)).save(d / f"{i:04d}.png")
    raw = load_raw(dataset_cfg("dataset=cifar10", "dataset.download=false"), tmp_path, 0)
    assert raw.splits["train"][0].shape == (20, 3, 32, 32)
    assert raw.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def test_gurmukhi_folders_bmp_and_tiff(tmp_path):
    root = write_class_folders(tmp_path / "gurmukhi", n_per_class=4)
    raw = load_raw(dataset_cfg("dataset=gurmukhi"), tmp_path, 0)
    x, y = raw.splits["train"]
    assert x.shape == (40, 1, 32, 32)
    assert set(np.unique(x)) <= {0, 255}, "1-bit images decode to 0/255"
    assert raw.classes == [str(i) for i in range(10)]
    assert "val" not in raw.splits and raw.splits["test"][0].shape[0] == 40  # val/ is the test split
    # BMP and TIFF decode alike: class k has its band lit in both formats
    for i in range(len(y)):
        band = int(y[i]) * 3
        assert (x[i, 0, band : band + 3] == 255).all()
    assert {p.suffix for p in (root / "train" / "0").iterdir()} == {".bmp", ".tiff"}


def test_folder_cache_is_reused_and_refreshed(tmp_path, monkeypatch):
    write_class_folders(tmp_path / "gurmukhi", n_per_class=2)
    cfg = dataset_cfg("dataset=gurmukhi")
    first = load_raw(cfg, tmp_path, 0)
    caches = sorted((tmp_path / ".dlrun-cache").glob("gurmukhi-train-*.npz"))
    assert len(caches) == 1

    def no_decode(*a, **k):
        raise AssertionError("decoded again although the cache is fresh")

    monkeypatch.setattr(folders, "decode", no_decode)
    folders._MEMO.clear()  # as a new process: only the on-disk cache
    second = load_raw(cfg, tmp_path, 0)
    assert np.array_equal(first.splits["train"][0], second.splits["train"][0])

    monkeypatch.undo()
    changed = next((tmp_path / "gurmukhi" / "train" / "3").iterdir())
    os.utime(changed, (time.time() + 10, time.time() + 10))
    folders._MEMO.clear()
    load_raw(cfg, tmp_path, 0)
    fresh = sorted((tmp_path / ".dlrun-cache").glob("gurmukhi-train-*.npz"))
    assert len(fresh) == 1 and fresh != caches, "a changed folder is decoded again and the stale cache dropped"


def test_a_data_dir_that_cannot_be_written_caches_its_decoded_splits_in_the_users_cache(tmp_path, monkeypatch, capsys):
    """A read-only shared dataset decoded its images again in every run and every sweep job
    (CIFAR-10's 60,000: ~18 s on 2 cores), without a word: the cache write failed silently."""
    write_class_folders(tmp_path / "gurmukhi", n_per_class=2)
    (tmp_path / ".dlrun-cache").write_text("a file where the cache folder goes: no write can land there")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cfg = dataset_cfg("dataset=gurmukhi")
    folders._MEMO.clear()
    first = load_raw(cfg, tmp_path, 0)
    moved = folders.user_cache_dir(tmp_path / ".dlrun-cache")
    assert moved.parent == tmp_path / "xdg" / "dlrun" and len(list(moved.glob("gurmukhi-train-*.npz"))) == 1
    notes = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1 and str(tmp_path / ".dlrun-cache") in notes[0] and str(moved) in notes[0], notes

    def no_decode(*a, **k):
        raise AssertionError("decoded again although the user's cache holds the split")

    monkeypatch.setattr(folders, "decode", no_decode)
    folders._MEMO.clear()  # as a new process
    second = load_raw(cfg, tmp_path, 0)
    assert np.array_equal(first.splits["train"][0], second.splits["train"][0])
    assert "note:" not in capsys.readouterr().out  # nothing to write: nothing to say
    assert folders.user_cache_dir(tmp_path / "other" / ".dlrun-cache") != moved  # one folder per data_dir


def test_a_process_reuses_a_split_until_its_folders_change(tmp_path, monkeypatch):
    """Sweeps run their jobs in one process: the second job must not stat every file again."""
    import shutil

    write_class_folders(tmp_path / "gurmukhi", n_per_class=2)
    cfg = dataset_cfg("dataset=gurmukhi")
    first = load_raw(cfg, tmp_path, 0)

    def no_listing(*a, **k):
        raise AssertionError("listed the files again although the folders did not change")

    monkeypatch.setattr(folders, "list_files", no_listing)
    again = load_raw(cfg, tmp_path, 0)
    assert again.splits["train"][0] is first.splits["train"][0]
    monkeypatch.undo()
    n = len(first.splits["train"][1])
    src = next((tmp_path / "gurmukhi" / "train" / "3").iterdir())
    time.sleep(0.01)
    shutil.copy(src, src.with_name("extra" + src.suffix))  # a new file: the class folder's time changes
    grown = load_raw(cfg, tmp_path, 0)
    assert len(grown.splits["train"][1]) == n + 1


def test_folder_with_unknown_class_in_test_split(tmp_path):
    write_class_folders(tmp_path / "gurmukhi", n_per_class=1)
    (tmp_path / "gurmukhi" / "val" / "eleven").mkdir()
    with pytest.raises(DataError, match="eleven"):
        load_raw(dataset_cfg("dataset=gurmukhi"), tmp_path, 0)


def test_folder_class_count_must_match_and_the_folders_are_named(tmp_path):
    write_class_folders(tmp_path / "gurmukhi", n_per_class=1, classes=4)
    with pytest.raises(
        ConfigError, match=r"dataset.num_classes: expected 4 \(the class folders in .*train: 0, 1, 2, 3\)"
    ):
        load_raw(dataset_cfg("dataset=gurmukhi"), tmp_path, 0)
    # a stray folder of images beside the classes: the line names it among them
    write_class_folders(tmp_path / "gurmukhi", n_per_class=1, classes=10)
    stray = tmp_path / "gurmukhi" / "train" / "extra"
    stray.mkdir()
    shutil.copy(next((tmp_path / "gurmukhi" / "train" / "0").iterdir()), stray / "1.bmp")
    with pytest.raises(ConfigError, match=r"expected 11 .*: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, extra\), got 10"):
        load_raw(dataset_cfg("dataset=gurmukhi"), tmp_path, 0)
    # an unzip of a Mac archive adds __MACOSX, holding only ._ files: an empty class, named
    shutil.rmtree(stray)
    mac = tmp_path / "gurmukhi" / "train" / "__MACOSX"
    mac.mkdir()
    (mac / "._1.bmp").write_bytes(b"\0" * 100)
    with pytest.raises(DataError, match=r"train/__MACOSX: no image files"):
        load_raw(dataset_cfg("dataset=gurmukhi"), tmp_path, 0)


def test_a_class_folders_subfolders_hold_its_images_and_hidden_files_are_skipped(tmp_path, monkeypatch):
    """As torchvision's ImageFolder: `cat/2019/*.jpg` are cats (they were left out without a word);
    a Mac's `._1.bmp` and Jupyter's `.ipynb_checkpoints/` copies are no images (the first stopped
    the run as unreadable)."""
    write_class_folders(tmp_path / "gurmukhi", n_per_class=4)
    cfg = dataset_cfg("dataset=gurmukhi")
    folders._MEMO.clear()
    flat = load_raw(cfg, tmp_path, 0)
    n = len(flat.splits["train"][1])
    three = tmp_path / "gurmukhi" / "train" / "3"
    images = sorted(three.iterdir())
    (three / "2019").mkdir()
    for p in images[:2]:
        p.rename(three / "2019" / p.name)
    (three / "._a.bmp").write_bytes(b"\0" * 100)
    (three / ".ipynb_checkpoints").mkdir()
    shutil.copy(images[2], three / ".ipynb_checkpoints" / "a-checkpoint.bmp")
    (three / "odd.png").mkdir()  # a folder, whatever its name: a subfolder (empty), not an unreadable image
    nested = load_raw(cfg, tmp_path, 0)
    x, y = nested.splits["train"]
    assert len(y) == n and (np.bincount(y) == np.bincount(flat.splits["train"][1])).all()
    assert sorted(map(bytes, x)) == sorted(map(bytes, flat.splits["train"][0]))  # the same images
    # a process that read the split sees a file added to a subfolder (its folder's time changes)
    time.sleep(0.01)
    shutil.copy(images[2], three / "2019" / "extra.bmp")
    assert len(load_raw(cfg, tmp_path, 0).splits["train"][1]) == n + 1


def test_any_folder_dataset_with_resize(tmp_path):
    write_class_folders(tmp_path / "shapes", splits=("train", "test"), n_per_class=2, classes=3, size=20)
    cfg = dataset_cfg(
        "dataset=gurmukhi",
        "dataset.name=shapes",
        "dataset.folder=shapes",
        "dataset.test_folder=test",
        "dataset.num_classes=3",
        "dataset.image_size=[16,16]",
        "dataset.channels=3",
    )
    raw = load_raw(cfg, tmp_path, 0)
    assert raw.splits["train"][0].shape == (6, 3, 16, 16)
    assert raw.splits["test"][0].shape == (6, 3, 16, 16)


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_sixteen_bit_grey_images_are_scaled_not_clipped(tmp_path, suffix):
    """Pillow's convert() clips 16-bit pixels at 255: a full-range ramp became a white image."""
    from PIL import Image

    root = write_class_folders(tmp_path / "gurmukhi", n_per_class=1)
    ramp = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    for c in range(10):
        for old in (root / "train" / str(c)).iterdir():
            old.unlink()
        Image.fromarray(ramp).save(root / "train" / str(c) / f"scan{suffix}")  # mode I;16
    x, _ = load_raw(dataset_cfg("dataset=gurmukhi"), tmp_path, 0).splits["train"]
    expected = np.rint(ramp / 257).astype(np.uint8)
    assert (x[:, 0] == expected).all(), (x.mean(), expected.mean())
    assert x.min() == 0 and x.max() == 255 and abs(x.mean() - 127.5) < 0.5


def test_thirty_two_bit_integer_images_holding_eight_bit_values_are_taken_as_they_are(tmp_path):
    """An int32 array saved as TIFF opens in Pillow's "I" mode; scaled as 16-bit, its 0..255
    pixels came out as 0..1: a black image the network could not learn from."""
    from PIL import Image

    root = write_class_folders(tmp_path / "gurmukhi", n_per_class=1)
    ramp = np.linspace(0, 255, 32 * 32).round().reshape(32, 32).astype(np.int32)
    for c in range(10):
        for old in (root / "train" / str(c)).iterdir():
            old.unlink()
        Image.fromarray(ramp).save(root / "train" / str(c) / "scan.tiff")
        assert Image.open(root / "train" / str(c) / "scan.tiff").mode == "I"
    x, _ = load_raw(dataset_cfg("dataset=gurmukhi"), tmp_path, 0).splits["train"]
    assert (x[:, 0] == ramp).all(), (x.mean(), ramp.mean())
    assert x.min() == 0 and x.max() == 255


def test_a_sixteen_bit_png_that_an_older_pillow_opens_as_32_bit_is_scaled():
    from PIL import Image

    from runner.data.folders import _eight_bit

    ramp = np.linspace(0, 65535, 64).reshape(8, 8).astype(np.int32)
    im = Image.fromarray(ramp)
    assert im.mode == "I"
    im.format = "PNG"  # how an older Pillow reported a 16-bit grey PNG
    assert (np.asarray(_eight_bit(im)) == np.rint(ramp / 257)).all()


def test_missing_torchvision_files_without_download(tmp_path):
    with pytest.raises(DataError) as e:
        load_raw(dataset_cfg("dataset=fashion_mnist", "dataset.download=false"), tmp_path, 0)
    msg = str(e.value)
    assert "fashion_mnist" in msg and str(tmp_path / "FashionMNIST" / "raw") in msg and "\n" not in msg


def test_a_torchvision_folder_holding_only_some_of_its_files_names_those_it_lacks(tmp_path):
    """A copy or a download cut short: the line said `no data found at <the folder>`, which holds data."""
    write_cifar_pickles(tmp_path, n_per_class=1)
    (tmp_path / "cifar-10-batches-py" / "data_batch_5").unlink()
    write_mnist(tmp_path, "MNIST", n_per_class=1)  # plain IDX files in MNIST/raw
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    for name, line in (
        ("cifar10", f"dataset cifar10: {tmp_path / 'cifar-10-batches-py'} lacks data_batch_5; download is off"),
        ("mnist", f"dataset mnist: {tmp_path / 'MNIST' / 'raw'} lacks t10k-labels-idx1-ubyte; download is off"),
    ):
        for read in (True, False):  # a run's read, and a sweep's look before its first job
            with pytest.raises(DataError) as e:
                load_raw(dataset_cfg(f"dataset={name}", "dataset.download=false"), tmp_path, 0, read=read)
            assert str(e.value).startswith(line), str(e.value)


@pytest.mark.parametrize("args,write", [
    (("dataset=mnist",), lambda d: write_mnist(d, "MNIST", n_per_class=1)),
    (("dataset=cifar10",), lambda d: write_cifar_pickles(d, n_per_class=1)),
    (("dataset=gurmukhi",), lambda d: write_class_folders(d / "gurmukhi")),
    (("dataset=cifar10", "dataset.source=auto"), lambda d: write_class_folders(d / "cifar10", ("train", "test"))),
])  # fmt: skip
def test_a_look_for_the_files_reads_none_and_fails_as_a_read_would(tmp_path, args, write, monkeypatch):
    """read=False (a sweep's preflight): the same DataError as a run's for files that are not
    there, None for files that are, and nothing decoded."""
    cfg = dataset_cfg(*args, "dataset.download=false")
    with pytest.raises(DataError) as read:
        load_raw(cfg, tmp_path, 0)
    with pytest.raises(DataError) as looked:
        load_raw(cfg, tmp_path, 0, read=False)
    assert str(looked.value) == str(read.value)
    write(tmp_path)
    from runner.data import cifar_pickle, sources

    def no_reading(*a, **k):
        raise AssertionError("a look decodes nothing")

    for module, name in ((sources, "read_idx"), (cifar_pickle, "read_split"), (folders, "load_split")):
        monkeypatch.setattr(module, name, no_reading)
    assert load_raw(cfg, tmp_path, 0, read=False) is None
    assert load_raw(dataset_cfg("dataset=function"), tmp_path, 0, read=False) is None  # no files to look for


def test_function_dataset(tmp_path):
    raw = load_raw(
        dataset_cfg("dataset=function", "dataset.fn=sign_sin", "dataset.n_train=64", "dataset.n_test=16"), tmp_path, 3
    )
    x, y = raw.splits["train"]
    assert x.shape == (64, 1) and y.shape == (64, 1)
    assert x.min() >= -1 and x.max() <= 1
    assert np.allclose(y, np.sign(np.sin(5 * np.pi * x)))
    assert raw.classes is None and raw.extra == {"fn": "sign_sin", "low": -1.0, "high": 1.0}
