"""Honest files under every fault: corrupt input of every supported format, a full disk, a
second process on the same folder, another command into a sweep folder, a killed sweep's
workers, and a SLURM-style requeue. Each bad input ends in one line naming the file, exit
code 2, no traceback and no run folder left behind."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import gzip
import json
import os
import pickle
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    REPO,
    dlrun_cmd,
    dlrun_env,
    run_dlrun,
    train,
    write_cifar_pickles,
    write_class_folders,
    write_idx,
    write_mnist,
)

pytestmark = pytest.mark.slow


# ---------------------------------------------------------------- corrupt and unreadable input


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _mnist(d: Path, gz: bool = False) -> Path:
    write_mnist(d, "MNIST", gz=gz)
    return d / "MNIST" / "raw"


def _image_file(d: Path, ext: str) -> Path:
    """A class-folder dataset with one image of the given format among good BMP/TIFF ones."""
    from PIL import Image

    write_class_folders(d / "gurmukhi")
    path = d / "gurmukhi" / "train" / "3" / f"extra.{ext}"
    Image.fromarray(np.full((32, 32), 200, np.uint8)).save(path)
    return path


def corrupt(name: str, d: Path) -> tuple[list, str]:
    """Lay out data_dir `d` with one fault; return (dlrun overrides, what stderr must name)."""
    mnist = ["dataset=mnist"]
    gur = ["dataset=gurmukhi"]
    if name == "idx-truncated":
        raw = _mnist(d)
        _truncate(raw / "train-images-idx3-ubyte")
        return mnist, "train-images-idx3-ubyte"
    if name == "idx-bad-magic":
        raw = _mnist(d)
        (raw / "t10k-labels-idx1-ubyte").write_bytes(b"\x01\x02\x03\x04" + bytes(20))
        return mnist, "t10k-labels-idx1-ubyte"
    if name == "idx-short-header":
        raw = _mnist(d)
        (raw / "train-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 3, 0]))
        return mnist, "train-labels-idx1-ubyte"
    if name == "idx-count-mismatch":
        raw = _mnist(d)
        write_idx(raw / "train-labels-idx1-ubyte", np.zeros(7, np.uint8))
        return mnist, "train-images-idx3-ubyte"
    if name == "gz-truncated":
        raw = _mnist(d, gz=True)
        _truncate(raw / "train-images-idx3-ubyte.gz")
        return mnist, "train-images-idx3-ubyte.gz"
    if name == "gz-garbage":
        raw = _mnist(d, gz=True)
        (raw / "t10k-images-idx3-ubyte.gz").write_bytes(bytes(random.Random(0).randrange(256) for _ in range(500)))
        return mnist, "t10k-images-idx3-ubyte.gz"
    if name == "gz-not-idx-inside":
        raw = _mnist(d, gz=True)
        with gzip.open(raw / "train-labels-idx1-ubyte.gz", "wb") as f:
            f.write(b"hello, this is not IDX")
        return mnist, "train-labels-idx1-ubyte.gz"
    if name == "labels-out-of-range":
        raw = _mnist(d)
        write_idx(raw / "train-labels-idx1-ubyte", np.full(200, 12, np.uint8))
        return mnist, "train-labels-idx1-ubyte"
    if name == "unreadable-file":
        raw = _mnist(d)
        (raw / "t10k-images-idx3-ubyte").unlink()
        (raw / "t10k-images-idx3-ubyte").mkdir()  # is_file() fails: a "missing" dataset, named with its path
        (raw / "t10k-images-idx3-ubyte.gz").mkdir()
        return [*mnist, "dataset.download=false"], str(raw)
    cifar = ["dataset=cifar10"]
    batches = d / "cifar-10-batches-py"
    if name.startswith("cifar"):
        write_cifar_pickles(d)
    if name == "cifar-garbage":
        (batches / "data_batch_2").write_bytes(b"\x80\x04garbage, not a pickle" * 10)
        return cifar, "data_batch_2"
    if name == "cifar-truncated":
        _truncate(batches / "test_batch")
        return cifar, "test_batch"
    if name == "cifar-no-data":
        with open(batches / "data_batch_4", "wb") as f:
            pickle.dump({"labels": [0, 1]}, f)
        return cifar, "data_batch_4"
    if name == "cifar-wrong-shape":
        with open(batches / "data_batch_1", "wb") as f:
            pickle.dump({"data": np.zeros((5, 100), np.uint8), "labels": [0] * 5}, f)
        return cifar, "data_batch_1"
    if name == "cifar-not-a-dict":
        with open(batches / "data_batch_5", "wb") as f:
            pickle.dump([1, 2, 3], f)
        return cifar, "data_batch_5"
    if name == "cifar-runs-code":  # a pickle that would call os.system if it were loaded blindly
        marker = d / "pwned"
        (batches / "test_batch").write_bytes(f"cos\nsystem\n(S'touch {marker}'\ntR.".encode())
        return cifar, "test_batch: not a readable CIFAR-10 pickle (it names os.system"
    if name == "cifar-bad-meta":
        (batches / "batches.meta").write_bytes(b"\x80\x04garbage")
        return cifar, "batches.meta"
    if name in ("bmp-garbage", "png-truncated", "tiff-garbage", "jpg-truncated"):
        ext = name.split("-")[0]
        path = _image_file(d, ext)
        if name.endswith("garbage"):
            path.write_bytes(bytes(random.Random(1).randrange(256) for _ in range(200)))
        else:
            _truncate(path, 0.4)
        return gur, path.name
    if name == "image-bomb":
        from PIL import Image

        write_class_folders(d / "gurmukhi")
        path = d / "gurmukhi" / "val" / "1" / "bomb.png"
        Image.new("1", (10_000, 10_000)).save(path)  # 100 megapixels in a few kilobytes
        return gur, "bomb.png"
    if name == "tiff-float-pixels":  # no fixed range: Pillow's convert clipped [0, 1] to a black image
        from PIL import Image

        write_class_folders(d / "gurmukhi")
        path = d / "gurmukhi" / "train" / "4" / "scan.tiff"
        Image.fromarray(np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)).save(path)
        return (
            gur,
            "scan.tiff: not a readable image (32-bit float pixels have no fixed range; save the image with 8- or 16-bit pixels)",
        )
    if name == "tiff-wide-integer-pixels":  # 32-bit integers beyond 0..255: no range to scale them from
        from PIL import Image

        write_class_folders(d / "gurmukhi")
        path = d / "gurmukhi" / "train" / "4" / "scan.tiff"
        Image.fromarray(np.arange(0, 4096 * 4, 4, dtype=np.int32).reshape(64, 64)).save(path)
        return (
            gur,
            "scan.tiff: not a readable image (32-bit integer pixels from 0 to 16380 have no fixed range; "
            "save the image with 8-bit pixels (0..255) or 16-bit pixels)",
        )
    if name == "empty-class-folders":
        for split in ("train", "val"):
            for c in range(10):
                (d / "gurmukhi" / split / str(c)).mkdir(parents=True)
        return gur, "no image files"
    if name == "one-empty-training-class":  # would train 9 classes and test 10, saying nothing
        write_class_folders(d / "gurmukhi")
        for f in (d / "gurmukhi" / "train" / "3").iterdir():
            f.unlink()
        return gur, f"{d / 'gurmukhi' / 'train' / '3'}: no image files"
    if name == "stray-empty-training-folder":  # 11 folders: the count would send one to num_classes=11
        write_class_folders(d / "gurmukhi")
        (d / "gurmukhi" / "train" / "unsorted").mkdir()
        return gur, f"{d / 'gurmukhi' / 'train' / 'unsorted'}: no image files"
    if name == "test-class-not-in-train":
        write_class_folders(d / "gurmukhi")
        write_class_folders(d / "extra", splits=("val",), classes=11)
        (d / "extra" / "val" / "10").rename(d / "gurmukhi" / "val" / "10")
        return gur, "class folder(s) 10"
    raise AssertionError(name)


CORRUPT = ["idx-truncated", "idx-bad-magic", "idx-short-header", "idx-count-mismatch", "gz-truncated", "gz-garbage",
           "gz-not-idx-inside", "labels-out-of-range", "unreadable-file", "cifar-garbage", "cifar-truncated",
           "cifar-no-data", "cifar-wrong-shape", "cifar-not-a-dict", "cifar-runs-code", "cifar-bad-meta", "bmp-garbage",
           "png-truncated", "tiff-garbage", "jpg-truncated", "image-bomb", "tiff-float-pixels",
           "tiff-wide-integer-pixels", "empty-class-folders", "one-empty-training-class", "stray-empty-training-folder",
           "test-class-not-in-train"]  # fmt: skip


def assert_one_line_refusal(proc, names: str, run: Path | None) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("dlrun: error: ") and names in proc.stderr, proc.stderr
    if run is not None:
        assert not run.exists(), f"{run} was left behind: {list(run.iterdir())}"


@pytest.mark.parametrize("name", CORRUPT)
def test_corrupt_input_gives_one_line_naming_the_file(tmp_path, name):
    data = tmp_path / "data"
    args, names = corrupt(name, data)
    run = tmp_path / "run"
    proc = run_dlrun(*args, f"data_dir={data}", "trainer.epochs=1", f"hydra.run.dir={run}", cwd=tmp_path)
    assert_one_line_refusal(proc, names, run)
    assert not (data / "pwned").exists()


@pytest.mark.parametrize("args,names", [
    (["dataset=mnist", "dataset.num_classes=5"], "dataset.num_classes: expected 10"),
    (["seed=4294967296"], "seed: expected an integer in [0, 2^32 - 1]"),
    (["task=eval"], "ckpt: expected the model.pt"),
    (["task=eval", "ckpt=nowhere/model.pt"], "nowhere/model.pt: no such file"),
])  # fmt: skip
def test_bad_settings_give_one_line(tmp_path, tiny_data, args, names):
    run = tmp_path / "run"
    proc = run_dlrun(*args, f"data_dir={tiny_data}", f"hydra.run.dir={run}", cwd=tmp_path)
    assert_one_line_refusal(proc, names, run)


def test_eval_of_a_file_that_is_no_checkpoint_or_of_a_sweep_folder_says_what_to_give(tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    proc = run_dlrun("task=eval", f"ckpt={tmp_path / 'notes.csv'}", f"hydra.run.dir={tmp_path / 'e1'}", cwd=tmp_path)
    assert_one_line_refusal(proc, "notes.csv: not a readable dlrun checkpoint (not a file torch.save wrote)", None)
    job = tmp_path / "sweep" / "0_activation=relu"
    job.mkdir(parents=True)
    (job / "model.pt").write_bytes(b"")
    proc = run_dlrun("task=eval", f"ckpt={tmp_path / 'sweep'}", f"hydra.run.dir={tmp_path / 'e2'}", cwd=tmp_path)
    # quoted: a sweep job's folder holds the grammar's '=' (and ','), and pasted bare it did not parse
    assert_one_line_refusal(
        proc, f"it holds 1 run (a sweep's or study's folder): give one, e.g. \"ckpt='{job}'\"", None
    )
    pasted = proc.stderr.rsplit("e.g. ", 1)[1].strip()[1:-1]  # what the shell passes on: ckpt='<job>'
    proc = run_dlrun("task=eval", pasted, f"hydra.run.dir={tmp_path / 'e3'}", cwd=tmp_path)
    assert_one_line_refusal(proc, f"{job / 'model.pt'}: not a readable dlrun checkpoint", None)


def test_eval_of_a_run_folder_without_weights_says_why_it_has_none(tmp_path):
    gc = tmp_path / "gc"
    assert run_dlrun("task=gradcheck", "dataset=function", f"hydra.run.dir={gc}", cwd=tmp_path).returncode == 0
    proc = run_dlrun("task=eval", f"ckpt={gc}", f"hydra.run.dir={tmp_path / 'e1'}", cwd=tmp_path)
    assert_one_line_refusal(proc, f"{gc}: holds neither model.pt nor checkpoint.pt (ckpt=); "
                                  "it is the folder of a task=gradcheck run, which saves no weights", tmp_path / "e1")  # fmt: skip
    failed = tmp_path / "failed"  # a training run that ended before its first checkpoint
    failed.mkdir()
    (failed / "config.yaml").write_text("task: train\n")
    (failed / "summary.json").write_text('{"status": "failed"}')
    proc = run_dlrun("task=eval", f"ckpt={failed}", f"hydra.run.dir={tmp_path / 'e2'}", cwd=tmp_path)
    assert_one_line_refusal(proc, "(ckpt=); its run ended failed before saving any", tmp_path / "e2")


def test_a_run_folder_under_a_regular_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    proc = run_dlrun("dataset=function", f"hydra.run.dir={tmp_path / 'afile' / 'run'}", cwd=tmp_path)
    assert_one_line_refusal(proc, f"is under {tmp_path / 'afile'}, a file; expected a folder", None)


def test_a_corrupt_cache_is_rebuilt(tmp_path):
    data = tmp_path / "data"
    write_class_folders(data / "gurmukhi")
    args = ("dataset=gurmukhi", f"data_dir={data}", "trainer.epochs=1", "trainer.progress=quiet")
    assert run_dlrun(*args, f"hydra.run.dir={tmp_path / 'a'}", cwd=tmp_path).returncode == 0
    caches = sorted((data / ".dlrun-cache").glob("*.npz"))
    assert caches
    for c in caches:
        _truncate(c, 0.3)
    again = run_dlrun(*args, f"hydra.run.dir={tmp_path / 'b'}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (
        json.loads((tmp_path / "b" / "summary.json").read_text())["sizes"]
        == json.loads((tmp_path / "a" / "summary.json").read_text())["sizes"]
    )
    for c in sorted((data / ".dlrun-cache").glob("*.npz")):
        with np.load(c) as z:
            assert z["x"].ndim == 4  # rewritten whole


def test_a_corrupt_checkpoint_or_one_of_another_config_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".dlrun.lock").write_text("")  # a folder an earlier dlrun used, whose checkpoint was damaged
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    proc = run_dlrun("dataset=function", "trainer.epochs=1", f"hydra.run.dir={run}", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "checkpoint.pt" in proc.stderr
    assert "delete it to start the run over" in proc.stderr and not (run / "DONE").exists()
    # a checkpoint of another config: stop a run, then try a different command into its folder
    other = tmp_path / "other"
    long_run = ["dataset=function", "dataset.n_train=20000", "trainer.epochs=50", "trainer.checkpoint_seconds=0"]
    p = subprocess.Popen(dlrun_cmd() + long_run + [f"hydra.run.dir={other}"], cwd=tmp_path)
    _wait_for(lambda: (other / "checkpoint.pt").is_file())
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=120) == 143
    proc = run_dlrun("dataset=function", "dataset.n_train=20000", "trainer.epochs=51", f"hydra.run.dir={other}",
                     cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2 and "holds an unfinished run of another config" in proc.stderr
    assert "(checkpoint.pt: trainer.epochs 50 there, 51 here)" in proc.stderr, "what differs is named"
    # the refused command wrote its own record over the run's: the command that made it was lost
    assert "trainer.epochs=50" in (other / ".hydra" / "overrides.yaml").read_text()


def test_a_checkpoints_header_is_read_where_the_file_system_cannot_map_it(tmp_path, monkeypatch):
    """A single run looks at a checkpoint's fingerprint with torch's mmap before it writes Hydra's
    record; a file system without mmap must not make a sound checkpoint look damaged."""
    import torch

    from runner.errors import DataError
    from runner.train import checkpoint

    path = tmp_path / "checkpoint.pt"
    checkpoint.save(path, {"kind": "checkpoint", "fingerprint": "{}", "weights": torch.zeros(3)})
    load = torch.load

    def no_mmap(*args, **kw):
        if kw.get("mmap"):
            raise RuntimeError("mmap can only be used with files saved with ... (unsupported)")
        return load(*args, **kw)

    monkeypatch.setattr(torch, "load", no_mmap)
    assert checkpoint.load(path, header_only=True)["fingerprint"] == "{}"
    path.write_bytes(path.read_bytes()[:-40])  # a damaged one is still named as such
    with pytest.raises(DataError, match="checkpoint.pt"):
        checkpoint.load(path, header_only=True)


def test_a_folder_of_ones_own_is_refused_and_left_as_it_was(tmp_path):
    """`hydra.run.dir=.` in a project, or a typo that names a folder of one's own: a run cleared
    everything there but Hydra's record to start (notes.txt and code/ deleted), and a sweep wrote
    its report.md and plots/ over any of that name. Now both are refused before a file is touched."""
    mine = tmp_path / "mine"
    (mine / "code").mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    (mine / "report.md").write_text("mine too")
    before = sorted(str(p.relative_to(mine)) for p in mine.rglob("*"))
    for args, what in ((["dataset=function", "trainer.epochs=1", f"hydra.run.dir={mine}", "hydra/job_logging=default"],
                        "hydra.run.dir"),
                       (["-m", "dataset=function", "trainer.epochs=1", "seed=0,1", f"hydra.sweep.dir={mine}"],
                        "hydra.sweep.dir")):  # fmt: skip
        proc = run_dlrun(*args, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr == (f"dlrun: error: {mine} holds files dlrun did not write (code/, notes.txt, report.md); "
                               "dlrun starts in a new or empty folder and would clear or overwrite them: choose "
                               f"another {what}\n")  # fmt: skip
        assert sorted(str(p.relative_to(mine)) for p in mine.rglob("*")) == before
        assert (mine / "notes.txt").read_text() == "mine" and (mine / "report.md").read_text() == "mine too"
    empty = tmp_path / "empty"  # an empty folder of one's own is fine, and a dlrun folder resumes as before
    empty.mkdir()
    proc = run_dlrun("dataset=function", "trainer.epochs=1", f"hydra.run.dir={empty}", cwd=tmp_path)
    assert proc.returncode == 0 and (empty / "DONE").is_file(), proc.stderr
    copy = tmp_path / "copy"  # a finished run copied without its dotfiles is said to be one
    shutil.copytree(empty, copy, ignore=shutil.ignore_patterns(".*"))
    proc = run_dlrun("dataset=function", "trainer.epochs=1", f"hydra.run.dir={copy}", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr == (
        f"dlrun: error: {copy} holds a finished run (DONE, status ok); choose another hydra.run.dir, or delete the "
        "folder to run it again\n"
    )


def test_an_empty_folder_of_ones_own_outlives_an_early_error(tmp_path):
    """`mkdir results/a` for hydra.run.dir=results/a (or hydra.sweep.dir): a config error, or a job
    that does not compose, removed the folder with the records dlrun had put in it. Now only the
    records go; a folder the command made itself still goes, as before."""
    run, sweep = tmp_path / "results" / "a", tmp_path / "results" / "s"
    run.mkdir(parents=True)
    sweep.mkdir()
    runs = ((f"hydra.run.dir={run}/", "trainer.epochs=-1"),  # the slash: the same folder however written
            ("-m", f"hydra.sweep.dir={sweep}", "activation=relu,swish", "trainer.epochs=1"))  # fmt: skip
    for args in runs:
        proc = run_dlrun("dataset=function", *args, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert run.is_dir() and sweep.is_dir() and not any(run.iterdir()) and not any(sweep.iterdir())
    made = tmp_path / "results" / "b"
    proc = run_dlrun("dataset=function", f"hydra.run.dir={made}", "trainer.epochs=-1", cwd=tmp_path)
    assert proc.returncode == 2 and not made.exists()


def test_a_run_or_sweep_folder_that_is_a_file_is_refused_in_one_line(tmp_path):
    """hydra.run.dir=<a file> said `cannot write afile: File exists`, and a sweep's `cannot write
    afile/.dlrun.lock: File exists`, a lock file that was never there."""
    (tmp_path / "afile").write_text("mine\n")
    cases = [("hydra.run.dir=afile",), ("hydra.run.dir=afile/sub",), ("-m", "seed=0,1", "hydra.sweep.dir=afile")]
    lines = []
    for args in cases:
        proc = run_dlrun("dataset=function", "trainer.epochs=1", *args, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        lines.append(proc.stderr)
    assert lines == [
        "dlrun: error: hydra.run.dir=afile is a file; expected a folder, or a path where one can be made\n",
        f"dlrun: error: hydra.run.dir=afile/sub is under {tmp_path / 'afile'}, a file; expected a folder, or a path "
        "where one can be made\n",
        "dlrun: error: hydra.sweep.dir=afile is a file; expected a folder, or a path where one can be made\n",
    ]
    assert (tmp_path / "afile").read_text() == "mine\n" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_an_early_error_leaves_no_folder_it_made_and_keeps_those_it_found(tmp_path):
    """The default run folder, outputs/runs/<date>/<time>_<name>, went on an early error but left
    outputs/runs/<date>/ behind, empty; a folder of one's own named through an interpolation
    (hydra.run.dir=results/${now:%Y}) was removed, where a literal path was kept."""
    proc = run_dlrun("dataset=function", "trainer.epochs=-1", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "outputs").exists()
    (tmp_path / "outputs" / "runs").mkdir(parents=True)  # there before: it stays, empty
    proc = run_dlrun("dataset=function", "trainer.epochs=-1", cwd=tmp_path)
    assert proc.returncode == 2 and not any((tmp_path / "outputs" / "runs").iterdir())
    mine = tmp_path / "results" / str(dt.date.today().year)
    mine.mkdir(parents=True)
    for where in ("results/${now:%Y}", "results/${now:%Y}/a/b"):
        proc = run_dlrun("dataset=function", f"hydra.run.dir={where}", "trainer.epochs=-1", cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert mine.is_dir() and not any(mine.iterdir()), where
    proc = run_dlrun("dataset=function", "trainer.epochs=1", "hydra.run.dir=results/${now:%Y}", cwd=tmp_path)
    assert proc.returncode == 0 and (mine / "DONE").is_file(), proc.stderr


def test_a_command_into_a_folder_of_another_kind_is_refused_and_leaves_it_as_it_was(tmp_path):
    """`hydra.run.dir=<a sweep>` (for hydra.sweep.dir, or without -m when resuming it) cleared the
    sweep's folder to start a run: every job and its checkpoint deleted. A sweep or a study into a
    run's folder wrote its report and plots over the run's."""
    sweep, run = tmp_path / "sweep", tmp_path / "run"
    for folder, files in ((sweep, {"multirun.yaml": "hydra: {}\n", "0_seed=0/checkpoint.pt": "weights"}),
                          (run, {"config.yaml": "task: train\n", "metrics.csv": "epoch\n1\n"})):  # fmt: skip
        for name, text in {".dlrun.lock": "", **files}.items():  # as dlrun leaves them
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    snapshot = {f: sorted(map(str, f.rglob("*"))) for f in (sweep, run)}
    cases = [
        (["dataset=function", f"hydra.run.dir={sweep}"], f"{sweep} holds a sweep (multirun.yaml): task=train there "
         f"would clear or overwrite it; choose another hydra.run.dir; to resume the sweep, run its command with -m "
         f"and hydra.sweep.dir={sweep}"),
        (["-m", "dataset=function", "seed=0,1", f"hydra.sweep.dir={run}"], f"{run} holds a task=train folder "
         "(config.yaml): a sweep there would clear or overwrite it; choose another hydra.sweep.dir"),
        (["task=study", "study.name=minimal_ratio", f"hydra.run.dir={run}"], f"{run} holds a task=train folder "
         "(config.yaml): task=study there would clear or overwrite it; choose another hydra.run.dir"),
    ]  # fmt: skip
    for args, line in cases:
        proc = run_dlrun(*args, cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr == f"dlrun: error: {line}\n", proc.stderr
    assert {f: sorted(map(str, f.rglob("*"))) for f in (sweep, run)} == snapshot
    assert (sweep / "0_seed=0" / "checkpoint.pt").read_text() == "weights"


def _wait_for(condition, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


# ---------------------------------------------------------------- a full disk


@contextlib.contextmanager
def small_disk(where: Path, size_kb: int):
    """A tmpfs of `size_kb` at `where` when the machine lets us mount one; otherwise None, and the
    caller limits the size of every file the process writes instead (RLIMIT_FSIZE)."""
    where.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                             capture_output=True).returncode == 0  # fmt: skip
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _limited(size_kb: int):
    """Without a mount: no file may grow past a share of the size (EFBIG, 'File too large')."""
    import resource

    limit = (size_kb // 8 + 1) * 1024

    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("size_kb", [8, 24, 120, 400])
def test_a_full_disk_leaves_nothing_that_looks_finished(tmp_path, size_kb):
    disk = tmp_path / "disk"
    with small_disk(disk, size_kb) as mounted:
        run = disk / "run"
        cmd = dlrun_cmd() + ["dataset=function", "model.hidden=[64,64]", "trainer.epochs=3", f"hydra.run.dir={run}"]
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              preexec_fn=None if mounted else _limited(size_kb))  # fmt: skip
        assert proc.returncode == 2, proc.stderr[-3000:]
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("dlrun: error: cannot write "), proc.stderr
        assert "Traceback" not in proc.stderr
        left = list(disk.rglob("*")) if disk.exists() else []
        assert not [p for p in left if p.name.endswith(".tmp")], left
        assert not (run / "DONE").exists()
        if mounted and run.is_dir():  # ENOSPC, which a rerun into the same folder goes on from (not EFBIG)
            assert proc.stderr.endswith(f"; the disk is full: free space, then run the same command with "
                                        f"hydra.run.dir={run} to resume\n"), proc.stderr  # fmt: skip
        if (run / "summary.json").is_file():
            with contextlib.suppress(ValueError):
                assert json.loads((run / "summary.json").read_text())["status"] != "ok"
        if mounted and size_kb == 400:  # the plots met the full disk: with room, a rerun finishes the run
            assert "plots" in proc.stderr and (run / "error.txt").is_file(), proc.stderr
            subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
            again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
            assert again.returncode == 0 and "resum" in again.stdout, again.stderr[-3000:]
            assert (run / "DONE").is_file() and not (run / "error.txt").exists()  # the failed attempt's is gone
            assert json.loads((run / "summary.json").read_text())["status"] == "ok"


def test_a_full_disk_stops_the_sweep_at_the_job_that_met_it_and_a_rerun_resumes(tmp_path):
    """Each job trained until its first checkpoint met the full disk, failed, and the next one
    did the same: the whole grid ran for nothing. The first job to meet it now stops the sweep,
    in one line saying how to go on, and once there is room the same command finishes it."""
    with small_disk(tmp_path / "disk", 40) as mounted:
        if not mounted:
            pytest.skip("needs a tmpfs mount (root) to fill a disk shared by the sweep's jobs")
        sweep = tmp_path / "disk" / "sweep"
        cmd = dlrun_cmd() + ["-m", "dataset=function", "model.hidden=[64,64]", "trainer.epochs=2", "seed=0,1,2",
                             f"hydra.sweep.dir={sweep}"]  # fmt: skip
        proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith("dlrun: error: job 0 failed: cannot write "), proc.stderr
        assert proc.stderr.endswith(f"No space left on device; the disk is full, so no later job runs: free space, "
                                    f"then run the same command with hydra.sweep.dir={sweep} to resume\n")  # fmt: skip
        assert "[job 1]" not in proc.stdout and not list(sweep.glob("1_*")), proc.stdout
        subprocess.run(["mount", "-o", "remount,size=4m", str(tmp_path / "disk")], check=True)
        again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        import pandas as pd

        assert list(pd.read_csv(sweep / "summary.csv")["status"]) == ["ok"] * 3


def test_a_full_disk_under_submitit_fails_each_job_on_its_own_in_one_line(tmp_path):
    """submitit's jobs run apart: the stop a full disk makes came back to the sweep as submitit's
    UncompletedJobError, a traceback of both processes. There each job fails on its own."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="needs the [slurm] extra")
    with small_disk(tmp_path / "disk", 40) as mounted:
        if not mounted:
            pytest.skip("needs a tmpfs mount (root) to fill a disk shared by the sweep's jobs")
        sweep = tmp_path / "disk" / "sweep"
        proc = subprocess.run(dlrun_cmd() + ["-m", "hydra/launcher=submitit_local", "dataset=function",
                                             "model.hidden=[64,64]", "trainer.epochs=2", "seed=0,1",
                                             f"hydra.sweep.dir={sweep}"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
        assert proc.stderr.splitlines()[-1].startswith("dlrun: "), proc.stderr


# ---------------------------------------------------------------- folders in use and sweeps of another command


@pytest.mark.parametrize(
    "kind,text,line",
    [
        (
            "RuntimeError",
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
            "tried to allocate 4000000000000 bytes. Error code 12 (Cannot allocate memory)",
            "out of memory on the CPU (it tried to allocate 3725.29 GiB more)",
        ),
        (
            "OutOfMemoryError",
            "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 1 has a total capacity of 79.10 "
            "GiB of which 1.25 GiB is free. Including non-PyTorch memory, this process has 77.8 GiB "
            "memory in use. Of the allocated memory ... See documentation for Memory Management",
            "out of memory on cuda:1 (it tried to allocate 2.00 GiB more; the device has 79.10 GiB in all)",
        ),
        (
            "RuntimeError",
            "MPS backend out of memory (MPS allocated: 17.5 GB, other allocations: 1.2 GB, max allowed: "
            "18.1 GB). Tried to allocate 256.00 MB on private pool.",
            "out of memory on mps (it tried to allocate 256.00 MB more)",
        ),
        ("MemoryError", "", "out of memory on the CPU: "),
        ("RuntimeError", "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)", None),  # a bug: a traceback
    ],
)
def test_an_allocation_that_failed_is_one_line_in_dlruns_words(kind, text, line):
    import torch

    from runner.errors import one_line
    from runner.messages import describe_error

    kinds = {"RuntimeError": RuntimeError, "OutOfMemoryError": torch.OutOfMemoryError, "MemoryError": MemoryError}
    ex = kinds[kind](text)
    wrapped = RuntimeError("while evaluating")
    wrapped.__cause__ = ex
    if line is None:
        assert describe_error(ex) is None and one_line(ex).startswith("RuntimeError: mat1")
        return
    for e in (ex, wrapped):
        said = describe_error(e)
        assert said.startswith(line) and said == one_line(e), said
        assert said.endswith(
            "needs more memory than the device has; a smaller trainer.batch_size, "
            "trainer.eval_batch_size, trainer.replicas or model (model.hidden, model.conv) needs less"
        )


def _overcommit_refuses_the_impossible() -> bool:
    """Linux's default overcommit (0) and strict mode (2) refuse an allocation beyond all memory at
    once; mode 1 grants it and the kernel kills the process when it touches the pages."""
    try:
        return Path("/proc/sys/vm/overcommit_memory").read_text().strip() in ("0", "2")
    except OSError:
        return False


@pytest.mark.skipif(not _overcommit_refuses_the_impossible(), reason="needs an allocator that refuses 3.6 TiB")
def test_a_model_too_large_for_memory_is_one_line_and_a_sweeps_other_jobs_run(tmp_path):
    """It was a traceback from torch's allocator; in a sweep the job's error was that traceback's last line."""
    huge = "model.hidden=[1000000,1000000]"  # 4e12 bytes of float32 weights
    proc = run_dlrun("dataset=function", huge, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("dlrun: error: out of memory on the CPU (it tried to allocate 3725.29 GiB more)")
    assert len(proc.stderr.splitlines()) == 1 and not (tmp_path / "run").exists()
    proc = run_dlrun("-m", "dataset=function", f"{huge},[8]", "trainer.epochs=1", f"hydra.sweep.dir={tmp_path / 's'}",
                     cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    import pandas as pd

    rows = pd.read_csv(tmp_path / "s" / "summary.csv")
    assert rows["status"].tolist() == ["failed", "ok"]
    assert rows.loc[0, "error"].startswith("out of memory on the CPU (it tried to allocate 3725.29 GiB more)")


def test_a_second_process_is_locked_out_and_a_killed_ones_lock_is_not_stale(tmp_path):
    run = tmp_path / "run"
    args = [
        "dataset=function",
        "dataset.n_train=20000",
        "trainer.epochs=40",
        "trainer.checkpoint_seconds=0",
        f"hydra.run.dir={run}",
    ]
    first = subprocess.Popen(dlrun_cmd() + args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: (run / "checkpoint.pt").is_file())
    second = run_dlrun(*args, cwd=tmp_path)
    assert second.returncode == 2 and second.stderr.count("\n") == 1
    assert f"is in use by another dlrun (pid {first.pid} on " in second.stderr
    first.kill()
    first.wait()
    third = subprocess.Popen(dlrun_cmd() + args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    _wait_for(lambda: third.poll() is not None or "resumed_from_epoch" in _text(run / "summary.json"))
    third.kill()
    third.wait()
    assert third.returncode == -signal.SIGKILL  # it ran: the dead process's lock did not stop it


def test_a_command_refused_from_a_folder_in_use_leaves_the_holders_records(tmp_path):
    """Refused in the first seconds of another dlrun's run (its folder held only .hydra/ and the
    lock), a second command cleared the folder as one where nothing had run: the holder's lock and
    record were gone, and a third command ran in the folder beside it."""
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("task: train\n")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time\n"
         f"h = open({str(run / '.dlrun.lock')!r}, 'a+'); fcntl.flock(h, fcntl.LOCK_EX)\n"
         "h.write('pid 1 on elsewhere\\n'); h.flush(); print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        for args in (["dataset=function"], ["task=gradcheck", "dataset=function"]):
            proc = run_dlrun(*args, f"hydra.run.dir={run}", cwd=tmp_path)
            assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
            assert "is in use by another dlrun (pid 1 on elsewhere)" in proc.stderr
            assert sorted(p.name for p in run.iterdir()) == [".dlrun.lock", ".hydra"]
            assert (run / ".hydra" / "config.yaml").read_text() == "task: train\n"
    finally:
        holder.kill()
        holder.wait()


def test_make_report_on_a_folder_in_use_says_it_is_a_snapshot(tmp_path):
    from runner import runfolder

    run = tmp_path / "run"
    proc = run_dlrun("dataset=function", "trainer.epochs=2", f"hydra.run.dir={run}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert runfolder.holder(run) is None and runfolder.holder(tmp_path / "nowhere") is None  # reads, creates nothing
    assert not (tmp_path / "nowhere").exists()
    runfolder.lock(run, "hydra.run.dir")  # as a running dlrun holds it
    try:
        assert runfolder.holder(run).startswith(f"pid {os.getpid()} on ")
        again = subprocess.run([sys.executable, "-m", "runner.report", str(run)], cwd=tmp_path, capture_output=True,
                               text=True)  # fmt: skip
        assert again.returncode == 0 and f"is in use by a running dlrun (pid {os.getpid()} " in again.stderr
        assert "this is a snapshot" in again.stderr
    finally:
        runfolder.unlock(run)
    assert runfolder.holder(run) is None


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_another_command_into_a_sweep_folder_is_refused(tmp_path):
    sweep = tmp_path / "sweep"
    base = ["-m", "dataset=function", "trainer.epochs=1", "seed=0,1", f"hydra.sweep.dir={sweep}"]
    assert run_dlrun(*base, cwd=tmp_path).returncode == 0
    before = sorted(p.name for p in sweep.iterdir())
    elsewhere = tmp_path / "elsewhere"  # the default ./data is tmp_path/data here
    differs = {  # what the line names: the overrides that differ, not both lists whole
        "model.hidden=[8]": "(model.hidden=[8] added)",
        f"data_dir={elsewhere}": f"(data_dir {tmp_path / 'data'} then, {elsewhere} now)",
        "experiment=function_fit": "(experiment=function_fit added)",
        # a root config of one's own computes other jobs with the same overrides: the finished
        # jobs of dlrun's were skipped as done under it
        ("--config-dir", "mine", "-cn", "longer"): f"(root config dlrun's own then, -cn longer --config-dir "
        f"{tmp_path / 'mine'} now)",
    }
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "longer.yaml").write_text("defaults:\n  - config\n  - _self_\ntrainer:\n  epochs: 3\n")
    for change, said in differs.items():
        proc = run_dlrun(*base, *([change] if isinstance(change, str) else change), cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert f"holds a sweep of another command {said}; run that command again" in proc.stderr, proc.stderr
        assert "hydra.sweep.dir" in proc.stderr
        assert sorted(p.name for p in sweep.iterdir()) == before
    same = run_dlrun(*base, "trainer.progress=quiet", cwd=tmp_path)  # how it prints is not what it computes
    assert same.returncode == 0 and same.stdout.count("finished earlier (ok), skipped") == 2
    # nor how often it saves, how its report is drawn, or what mirrors it: the jobs keep their folders
    presentation = ["sweep.render_workers=0", "trainer.checkpoint_every=0", "sweep.x=params", "tags=[again]",
                    "logger.mlflow.experiment=other"]  # fmt: skip
    again = run_dlrun(*base, *presentation, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("finished earlier (ok), skipped") == 2, again.stdout
    assert sorted(p.name for p in sweep.iterdir() if p.name[0].isdigit()) == [n for n in before if n[0].isdigit()]
    # the same root config of one's own, run again, is the same command: its jobs are kept
    own = [*base[:-1], f"hydra.sweep.dir={tmp_path / 'own'}", "--config-dir", "mine", "-cn", "longer"]
    for _ in range(2):
        proc = run_dlrun(*own, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("finished earlier (ok), skipped") == 2, proc.stdout


# ---------------------------------------------------------------- a killed sweep's workers


def _alive_with(marker: str) -> list:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("launcher", ["joblib", "render_workers"])
def test_killing_a_sweep_stops_its_workers(tmp_path, launcher):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    extra = (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"] if launcher == "joblib"
             else ["sweep.render_workers=1"])  # fmt: skip
    cmd = dlrun_cmd() + ["-m", "dataset=function", "dataset.n_train=20000", "trainer.epochs=30", "seed=0,1,2",
                         f"hydra.sweep.dir={sweep}", *extra]  # fmt: skip
    parent = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = "multiprocessing" if launcher == "render_workers" else "loky"
    _wait_for(lambda: any(str(p) in _children_of(parent.pid) for p in _alive_with(marker))
              and any(sweep.glob("*/metrics.csv")), timeout=180)  # fmt: skip
    workers = [p for p in _alive_with(marker) if str(p) in _children_of(parent.pid)]
    parent.kill()
    parent.wait()
    _wait_for(lambda: not [p for p in workers if _exists(p)], timeout=20)


def _start_sweep(tmp_path, *args, launcher="joblib", n_jobs: int | None = 2, folder: str = "sweep", **popen):
    """A sweep of function data started in the background (joblib's n_jobs workers, or another
    launcher): its process, its folder, its command."""
    pytest.importorskip(f"hydra_plugins.hydra_{launcher.split('_')[0]}_launcher")
    sweep = tmp_path / folder
    launcher = [f"hydra/launcher={launcher}", *([f"hydra.launcher.n_jobs={n_jobs}"] if n_jobs is not None else [])]
    cmd = dlrun_cmd() + ["-m", "dataset=function", *args, *launcher, f"hydra.sweep.dir={sweep}"]
    parent = subprocess.Popen(cmd, cwd=tmp_path, env=dlrun_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, **popen)  # fmt: skip
    return parent, sweep, cmd


def test_sigterm_to_a_joblib_sweep_is_one_line_and_every_job_is_saved(tmp_path):
    """Each worker's stop came back to the sweep's process pickled, and rebuilding it there failed
    (Interrupted("SIGTERM")): three tracebacks and exit code 1 for what is one line and 143."""
    parent, sweep, _ = _start_sweep(tmp_path, "dataset.n_train=20000", "trainer.epochs=30", "seed=0,1")
    _wait_for(lambda: len([p for p in sweep.glob("*/metrics.csv") if p.read_text().count("\n") > 1]) == 2)
    parent.send_signal(signal.SIGTERM)
    err = parent.stderr.read()
    assert parent.wait(timeout=120) == 143, err
    assert err.count("\n") == 1 and err.startswith("dlrun: stopped by SIGTERM") and "Traceback" not in err, err
    for job in sorted(sweep.glob("[01]_*")):
        assert json.loads((job / "summary.json").read_text())["status"] == "interrupted", job
        assert (job / "checkpoint.pt").is_file(), job


def _job_statuses(sweep: Path) -> dict:
    return {int(job.name.split("_")[0]): json.loads((job / "summary.json").read_text())["status"]
            for job in sweep.glob("[0-9]*_*")}  # fmt: skip


def _metric_rows(job_glob) -> int:
    return max((p.read_text().count("\n") - 1 for p in job_glob), default=0)


def _stopped_saved(err: str, signame: str, jobs: list) -> bool:
    """The stop line of a sweep whose running `jobs` saved, each named with where it stopped."""
    import re

    count = f"{len(jobs)} running job" + ("s" if len(jobs) > 1 else "")
    # a stop that lands on an epoch's boundary is said `before epoch N`
    stops = (
        r"(at epoch \d+, step \d+ of \d+|before epoch \d+|at the end of training|after training \(plots not drawn\))"
    )
    where = "; ".join(rf"job {n} {stops}" for n in jobs)  # a job may have trained its epochs before the stop
    return re.match(rf"dlrun: stopped by {signame} once its {count} had saved \({where}\); run the same command", err)


def test_sigterm_to_a_joblib_sweep_with_a_worker_between_jobs_saves_the_running_job(tmp_path):
    """A worker whose job had ended took the forwarded stop as its own: raised while it waited for
    work, it broke joblib's pool, a traceback and exit code 1, and the job still training was
    killed unsaved (its summary.json said `running`)."""
    # job 0 is done in a second; job 1 takes a while to reach its step boundary and write its checkpoint
    parent, sweep, _ = _start_sweep(
        tmp_path, "dataset.n_train=10000", "trainer.epochs=3", "model.hidden=[4],[2048,2048]"
    )
    _wait_for(lambda: any(sweep.glob("0_*/DONE")) and _metric_rows(sweep.glob("1_*/metrics.csv")) >= 1, timeout=180)
    parent.send_signal(signal.SIGTERM)
    err = parent.stderr.read()
    assert parent.wait(timeout=120) == 143, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert _stopped_saved(err, "SIGTERM", [1]), err
    assert _job_statuses(sweep) == {0: "ok", 1: "interrupted"}
    assert next(sweep.glob("1_*/checkpoint.pt")).is_file()
    assert not (sweep / ".dlrun-jobs").exists()  # the workers' locks and the stop go with the sweep


def test_ctrl_c_from_the_terminal_to_a_joblib_sweep_with_spare_workers_saves_every_job(tmp_path):
    """Ctrl-C reaches every process of the terminal's group. joblib started n_jobs workers however
    few the jobs; one that never got a job died of it, and loky killed the others, the jobs'
    checkpoints unwritten (`running`). Now no more workers start than jobs run at once, and the
    training workers' own SIGINT and dlrun's SIGTERM after it make one stop, not a second Ctrl-C."""
    parent, sweep, _ = _start_sweep(tmp_path, "dataset.n_train=20000", "trainer.epochs=300", "seed=0,1", n_jobs=4,
                                     start_new_session=True)  # fmt: skip
    try:
        _wait_for(lambda: len([p for p in sweep.glob("*/metrics.csv") if p.read_text().count("\n") > 1]) == 2)
        os.killpg(parent.pid, signal.SIGINT)  # as the terminal sends it
        err = parent.stderr.read()
        assert parent.wait(timeout=120) == 130, err
    finally:
        with contextlib.suppress(OSError):
            os.killpg(parent.pid, signal.SIGKILL)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert _stopped_saved(err, "SIGINT", [0, 1]), err
    assert _job_statuses(sweep) == {0: "interrupted", 1: "interrupted"}
    assert len(list(sweep.glob("*/checkpoint.pt"))) == 2


def test_a_joblib_sweep_of_one_worker_runs_and_stops_in_dlruns_process(tmp_path):
    """joblib runs the tasks of n_jobs=1 in the calling process, where the worker's watch for its
    parent took dlrun's own parent for a dead one: the sweep stopped itself by SIGTERM at once."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    joblib = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={sweep}"]
    done = run_dlrun("-m", "dataset=function", "trainer.epochs=2", "seed=0,1", *joblib, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _job_statuses(sweep) == {0: "ok", 1: "ok"}
    # one job at once (n_jobs=-1 is lowered to it): a stop in training saves at a step boundary, as a basic sweep's
    parent, sweep, _ = _start_sweep(tmp_path, "dataset.n_train=20000", "trainer.epochs=300", n_jobs=None, folder="one")
    _wait_for(lambda: _metric_rows(sweep.glob("0_*/metrics.csv")) >= 1)
    parent.send_signal(signal.SIGTERM)
    err = parent.stderr.read()
    assert parent.wait(timeout=120) == 143, err
    assert err.startswith("dlrun: stopped by SIGTERM at epoch ") and "checkpoint saved: " in err, err
    assert _job_statuses(sweep) == {0: "interrupted"}


def test_sigterm_to_a_submitit_local_sweep_stops_its_jobs_saved_and_a_rerun_finishes_them(tmp_path):
    """submitit_local runs each job in a process of its own: dlrun stopped and said how to resume
    while its jobs trained on unseen (status `running`), writing into the folders a rerun uses."""
    from runner.sweep import workers

    parent, sweep, cmd = _start_sweep(tmp_path, "dataset.n_train=20000", "trainer.epochs=6", "seed=0,1",
                                      launcher="submitit_local", n_jobs=None)  # fmt: skip
    trained = [0, 1]  # each job has trained an epoch (one still loading its data is stopped before it has a record)
    _wait_for(lambda: len(workers.busy(sweep)) == 2 and all(_metric_rows(sweep.glob(f"{n}_*/metrics.csv")) >= 1
                                                          for n in trained), timeout=180)  # fmt: skip
    jobs = workers.busy(sweep)
    parent.send_signal(signal.SIGTERM)
    err = parent.stderr.read()
    assert parent.wait(timeout=120) == 143, err
    assert _stopped_saved(err, "SIGTERM", [0, 1]), err
    assert _job_statuses(sweep) == {0: "interrupted", 1: "interrupted"}
    assert len(list(sweep.glob("*/checkpoint.pt"))) == 2
    _wait_for(lambda: not [p for p in jobs if _exists(p)], timeout=20)  # none trains on
    again = subprocess.run(cmd, cwd=tmp_path, env=dlrun_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert _job_statuses(sweep) == {0: "ok", 1: "ok"}


def test_a_sweep_run_again_while_its_submitit_jobs_still_run_is_refused_in_one_line(tmp_path):
    """submitit's jobs outlive a dlrun killed with -9 (SLURM's outlive any stop of dlrun): running
    the command again at once launched a second copy of each into the same folders."""
    from runner.sweep import workers

    parent, sweep, cmd = _start_sweep(tmp_path, "dataset.n_train=20000", "trainer.epochs=12", "seed=0,1",
                                      launcher="submitit_local", n_jobs=None)  # fmt: skip
    _wait_for(lambda: len(workers.busy(sweep)) == 2 and _metric_rows(sweep.glob("*/metrics.csv")) >= 2, timeout=180)
    jobs = workers.busy(sweep)
    parent.kill()
    parent.wait(timeout=30)
    again = subprocess.run(cmd, cwd=tmp_path, env=dlrun_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 2, again.stderr
    assert again.stderr.startswith(f"dlrun: error: {sweep}: jobs launched earlier still run in 2 of its job folders "
                                   "(0_"), again.stderr  # fmt: skip
    assert "run the command again once they have ended" in again.stderr and again.stderr.count("\n") == 1
    _wait_for(lambda: not [p for p in jobs if _exists(p)], timeout=180)  # they train to the end on their own
    assert _job_statuses(sweep) == {0: "ok", 1: "ok"}
    ended = {p: p.stat().st_mtime_ns for p in sweep.glob("*/summary.json")}
    again = subprocess.run(cmd, cwd=tmp_path, env=dlrun_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "sweep finished: 2 jobs (2 ok)" in again.stdout, again.stderr
    assert {p: p.stat().st_mtime_ns for p in sweep.glob("*/summary.json")} == ended, "finished: skipped"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock")
@pytest.mark.parametrize("code", [errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP])
def test_a_file_system_without_locks_leaves_folders_unguarded_not_all_in_use(tmp_path, monkeypatch, code):
    """Lustre without its flock option, or an NFS without a lock manager, answers flock with an
    error of its own: read as a lock held elsewhere, every run folder was `in use by another
    dlrun`, and every job of a joblib sweep failed."""
    import fcntl

    from runner import locks, runfolder
    from runner.errors import UserError
    from runner.sweep import workers

    run = tmp_path / "run"
    runfolder.hold(run)  # a real lock first: another open of the file sees it held
    assert runfolder.holder(run) is not None and locks.held_elsewhere(run / runfolder.LOCK)
    held = runfolder._held.pop(str(run))  # as another process would hold it
    with pytest.raises(UserError, match="is in use by another dlrun"):
        runfolder.hold(run)
    runfolder._held[str(run)] = held

    def no_locks(handle, flags):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    other = tmp_path / "other"
    runfolder.hold(other)  # taken, unguarded
    assert runfolder.holder(other) is None and runfolder.holder(run) is None
    with workers.running_job(tmp_path, 0):  # a worker's job begins
        assert workers.busy(tmp_path) == set()
    runfolder.unlock(other)
    runfolder.unlock(run)


def test_a_submitit_job_folder_without_a_lock_file_resumes(tmp_path):
    """A job folder an older dlrun left (no .dlrun.lock) is the sweep's own: holding it must not
    refuse it as files dlrun did not write."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    cmd = dlrun_cmd() + ["-m", "dataset=function", "trainer.epochs=1", "seed=0", "hydra/launcher=submitit_local",
                         f"hydra.sweep.dir={sweep}"]  # fmt: skip
    first = subprocess.run(cmd, cwd=tmp_path, env=dlrun_env(), capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    (job,) = sweep.glob("0_*")
    (job / "DONE").unlink()  # unfinished, and from before job folders were held
    (job / ".dlrun.lock").unlink()
    again = subprocess.run(cmd, cwd=tmp_path, env=dlrun_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr + again.stdout
    assert _job_statuses(sweep) == {0: "ok"} and (job / "DONE").is_file()


def test_a_stopped_slurm_sweep_says_its_jobs_go_on_and_names_them(tmp_path, monkeypatch):
    """SLURM's jobs go on when dlrun stops: the line said `run the same command ... to resume`,
    and a rerun then would have launched them twice."""
    from omegaconf import OmegaConf

    from runner.sweep import state

    target = "hydra_plugins.hydra_submitit_launcher.submitit_launcher."
    config = OmegaConf.create({"hydra": {"launcher": {"_target_": target + "SlurmLauncher",
                                                      "submitit_folder": f"{tmp_path}/.submitit/%j"}}})  # fmt: skip
    monkeypatch.setattr(state, "running", tmp_path)
    monkeypatch.setattr(state, "running_config", config)
    assert state.resume_hint(tmp_path) == f"run the same command with hydra.sweep.dir={tmp_path} to resume", (
        "nothing submitted yet"
    )
    for task in ("4242_0", "4242_1", "4250_0"):
        (tmp_path / ".submitit" / task).mkdir(parents=True)
    assert state.resume_hint(tmp_path) == (
        "its jobs go on under SLURM, which a stop of dlrun does not reach (scancel 4242 4250 stops them); once they "
        f"have ended, run the same command with hydra.sweep.dir={tmp_path} to run what is left and write the report"
    )
    config.hydra.launcher._target_ = target + "LocalLauncher"
    assert state.resume_hint(tmp_path).endswith(" to resume"), "submitit_local's jobs stop with dlrun"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock")
def test_a_joblib_worker_killed_mid_job_ends_the_sweep_in_one_line_and_a_rerun_finishes_it(tmp_path):
    """The kernel's out-of-memory killer took one worker: loky killed the rest and joblib's
    TerminatedWorkerError came out as a traceback, exit code 1, with no word on going on."""
    from runner.sweep import workers

    parent, sweep, cmd = _start_sweep(tmp_path, "dataset.n_train=20000", "trainer.epochs=4", "seed=0,1")
    _wait_for(lambda: len(workers.busy(sweep)) == 2 and _metric_rows(sweep.glob("*/metrics.csv")) >= 1)
    os.kill(min(workers.busy(sweep)), signal.SIGKILL)  # as the out-of-memory killer does
    err = parent.stderr.read()
    assert parent.wait(timeout=120) == 1, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("dlrun: error: a joblib worker process died (SIGKILL(-9): out of memory?), and joblib "
                          f"ended the jobs running beside it; run the same command with hydra.sweep.dir={sweep} "
                          "to resume"), err  # fmt: skip
    assert not (sweep / workers.FOLDER).exists()
    again = subprocess.run(cmd, cwd=tmp_path, env=dlrun_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert _job_statuses(sweep) == {0: "ok", 1: "ok"}


SLOW_SAVE = """
import signal, sys, time
from pathlib import Path
from runner.sweep import workers

sweep = Path(sys.argv[1])

def save(signum, frame):
    time.sleep(1.0)  # a checkpoint that takes its time
    (sweep / "saved").write_text(str(signum))
    sys.exit(0)

signal.signal(signal.SIGTERM, save)
with workers.running_job(sweep, 0):
    (sweep / "started").write_text("")
    while True:
        time.sleep(0.05)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock")
def test_a_sweeps_stop_waits_for_the_jobs_in_its_workers_and_refuses_later_ones(tmp_path):
    from runner import signals
    from runner.sweep import workers

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    job = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(sweep)], cwd=REPO)
    try:
        _wait_for(lambda: (sweep / "started").exists(), timeout=60)
        assert workers.busy(sweep) == {job.pid}
        began = time.monotonic()
        waited = workers.stop(sweep, signal.SIGINT)  # passed on as SIGTERM: a second SIGINT means "no checkpoint"
        assert time.monotonic() - began >= 0.9 and (sweep / "saved").read_text() == str(int(signal.SIGTERM))
        assert waited == "once its 1 running job had saved"
        assert workers.busy(sweep) == set() and job.wait(timeout=10) == 0
    finally:
        job.kill()
    ran = []
    with pytest.raises(signals.Interrupted) as refused, workers.running_job(sweep, 3):
        ran.append(3)
    assert ran == [] and refused.value.where == "before job 3" and refused.value.signum == signal.SIGTERM
    workers.clear(sweep)
    assert not (sweep / workers.FOLDER).exists() and workers.stopped(sweep) is None
    assert workers.stop(sweep, signal.SIGTERM) == ""  # no job running: nothing to wait for
    # a job that does not let go in time is not waited for past `patience`, and the line says so
    workers.clear(sweep)
    job = subprocess.Popen([sys.executable, "-c", SLOW_SAVE.replace("1.0", "30.0"), str(sweep)], cwd=REPO)
    try:
        _wait_for(lambda: workers.busy(sweep) == {job.pid}, timeout=60)
        waited = workers.stop(sweep, signal.SIGTERM, patience=0.5)
        assert waited.startswith("after 0.5 s waiting on 1 of its 1 running job to save"), waited
    finally:
        job.kill()
        job.wait()


def test_signals_in_a_worker_between_jobs_and_during_a_stop(monkeypatch):
    from runner import signals

    monkeypatch.setattr(signals, "_pending", None)
    monkeypatch.setattr(signals, "_parked", True)  # a joblib worker whose job ended
    signals._handler(signal.SIGTERM, None)  # only noted: raised there, it broke joblib's pool
    signals._handler(signal.SIGINT, None)  # the terminal's Ctrl-C as well
    with pytest.raises(signals.Interrupted):
        signals.check("job 3")  # its next job does not begin
    monkeypatch.setattr(signals, "_parked", False)
    signals._handler(signal.SIGTERM, None)  # a stop under way is not cut short by another SIGTERM
    with pytest.raises(KeyboardInterrupt):
        signals._handler(signal.SIGINT, None)  # but a second Ctrl-C stops at once
    # the sweep's process: the stop waits for the workers, and a signal during that wait stops at once
    monkeypatch.setattr(signals, "_pending", None)
    calls = []

    def stop_workers(signum):
        calls.append(signum)
        with pytest.raises(signals.Interrupted):
            signals._handler(signal.SIGTERM, None)

    monkeypatch.setattr(signals, "_stop_workers", stop_workers)
    with pytest.raises(signals.Interrupted) as stopped:
        signals._handler(signal.SIGINT, None)
    assert calls == [signal.SIGINT] and stopped.value.signum == signal.SIGINT


DECODE_FOREVER = """
import sys
from runner.data import folders
folders.PARALLEL_ABOVE = 1  # the pool even for a few files
folders.decode(sys.argv[1:], 1, (8, 8))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2, reason="/proc, 2 cores")
def test_killing_dlrun_while_it_decodes_images_stops_the_decoders(tmp_path):
    """The decode pool's workers, blocked on a queue whose writer died with their parent, used to
    live on, holding their memory (still there 30 s after a kill -9)."""
    fifos = [tmp_path / f"{i}.png" for i in range(4)]  # a read of a FIFO blocks: the workers wait in it
    for f in fifos:
        os.mkfifo(f)
    parent = subprocess.Popen([sys.executable, "-c", DECODE_FOREVER, *map(str, fifos)], cwd=tmp_path)
    _wait_for(lambda: len(_children_of(parent.pid) & {str(p) for p in _alive_with("spawn_main")}) >= 2, timeout=60)
    workers = [int(p) for p in _children_of(parent.pid) & {str(p) for p in _alive_with("spawn_main")}]
    parent.kill()
    parent.wait()
    try:
        _wait_for(lambda: not [p for p in workers if _exists(p)], timeout=10)
    finally:  # a failure leaves no process blocked on a FIFO for good
        for p in workers:
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)


def _children_of(pid: int) -> set:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    out.add(entry.name)
    return out


def _exists(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has stopped


# ---------------------------------------------------------------- SLURM: requeue on timeout or preemption


def test_a_requeued_submitit_job_resumes_from_its_checkpoint(tmp_path):
    """SLURM signals a job (SIGUSR2 with submitit) before its time limit or on preemption; the
    local launcher runs the same code path, so the test sends that signal to the job itself."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    import csv

    base = ["-m", "dataset=function", "dataset.n_train=20000", "trainer.epochs=8", "seed=3"]
    whole = run_dlrun(*base, f"hydra.sweep.dir={tmp_path / 'whole'}", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    sweep = tmp_path / "sweep"
    cmd = dlrun_cmd() + [*base, f"hydra.sweep.dir={sweep}", "hydra/launcher=submitit_local",
                         "hydra.launcher.timeout_min=10"]  # fmt: skip
    launcher = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: any(len(_text(p).splitlines()) > 2 for p in sweep.glob("0_*/metrics.csv")), timeout=300)
    job = [p for p in _alive_with("submitit.core._submit") if str(sweep) in _cmdline(p)]
    assert len(job) == 1, job
    os.kill(job[0], signal.SIGUSR2)
    out, err = launcher.communicate(timeout=600)
    assert launcher.returncode == 0, err[-3000:]
    run = next(sweep.glob("0_*"))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "ok" and summary.get("resumed_from_epoch", 0) >= 2, summary
    logs = "".join(p.read_text(errors="replace") for p in (sweep / ".submitit").rglob("*_log.*"))
    assert "Requeued" in logs or "requeue" in logs.lower(), logs[-2000:]

    def table(path):
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in csv.DictReader(open(path))]

    assert table(run / "metrics.csv") == table(next((tmp_path / "whole").glob("0_*")) / "metrics.csv")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_make_report_on_a_damaged_folder_is_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text('epoch,train_loss\n1,0.5\n"2')  # cut in the middle of a quoted cell
    proc = subprocess.run([sys.executable, "-m", "runner.report", str(run)], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"report: error: {run / 'metrics.csv'}: not a readable metrics.csv (")


def _report(folder: Path):
    return subprocess.run([sys.executable, "-m", "runner.report", str(folder)], capture_output=True, text=True)


def test_make_report_on_a_missing_folder_or_a_file_says_which(tmp_path):
    proc = _report(tmp_path / "nope")
    assert (proc.returncode, proc.stderr) == (2, f"report: error: {tmp_path / 'nope'} does not exist\n")
    (tmp_path / "summary.csv").write_text("job\n")
    proc = _report(tmp_path / "summary.csv")
    assert proc.returncode == 2
    assert (
        proc.stderr
        == f"report: error: {tmp_path / 'summary.csv'} is a file; give the folder that holds it ({tmp_path})\n"
    )


def test_make_report_redraws_a_runs_plots_and_report_and_names_a_file_it_cannot_use(tmp_path):
    from runner.train.rows import LAYER_COLUMNS

    _, run = train(tmp_path, "dataset=function", "dataset.n_train=200", "trainer.epochs=2", name="run")
    (run / "report.md").write_text("stale")
    proc = _report(run)
    assert proc.returncode == 0, proc.stderr
    assert (run / "report.md").read_text().startswith("# Run ") and "![curves](plots/curves.png)" in (
        run / "report.md"
    ).read_text()
    assert proc.stdout.splitlines()[-1] == str(run / "report.html")

    drawn = {p.name: p.stat().st_mtime_ns for p in (run / "plots").iterdir()}
    summary = (run / "summary.json").read_text()
    (run / "summary.json").write_text(summary[: len(summary) // 2])  # cut short
    proc = _report(run)
    assert (
        proc.returncode == 2
        and proc.stderr
        == f"report: error: {run / 'summary.json'}: not a readable JSON object; the run's report needs it\n"
    )
    assert {p.name: p.stat().st_mtime_ns for p in (run / "plots").iterdir()} == drawn  # nothing redrawn

    (run / "summary.json").write_text(summary)
    metrics = (run / "metrics.csv").read_text()
    (run / "metrics.csv").write_text("garbage\n")  # parses as a header with no rows: used to draw nothing and exit 0
    proc = _report(run)
    assert proc.returncode == 2 and proc.stderr.startswith(
        f"report: error: {run / 'metrics.csv'}: not a dlrun metrics.csv"
    )
    assert proc.stderr.count("\n") == 1

    (run / "metrics.csv").write_text(metrics)
    (run / "layers.csv").write_bytes(b"epoch,layer\n1,\xff\xfe\n")  # not UTF-8: a disk error, a bad copy
    proc = _report(run)
    assert proc.returncode == 2 and proc.stderr.startswith(
        f"report: error: {run / 'layers.csv'}: not a readable layers.csv ('utf-8' codec can't decode"
    )
    assert proc.stderr.count("\n") == 1

    header = ",".join(LAYER_COLUMNS)
    (run / "layers.csv").write_text(f"{header}\n1,fc1,linear,10,abc,0.1,0.2,0.3,\n")  # a value that is no number
    proc = _report(run)
    assert proc.returncode == 2 and proc.stderr.startswith(f"report: error: {run / 'layers.csv'}: not a readable "
                                                           "layers.csv (")  # fmt: skip
    (run / "layers.csv").unlink()
    (run / "predictions.csv").write_text("x,y\n0.5,1.0\n")  # a table of someone else's
    proc = _report(run)
    assert (proc.returncode, proc.stderr) == (
        2, f"report: error: {run / 'predictions.csv'}: not a dlrun predictions.csv: its header lacks y_true, y_pred\n"
    )  # fmt: skip


def test_a_resumed_run_clears_the_litter_of_a_killed_write(tmp_path):
    run = tmp_path / "run"
    args = ["dataset=function", "dataset.n_train=20000", "trainer.epochs=30", "trainer.checkpoint_seconds=0",
            f"hydra.run.dir={run}"]  # fmt: skip
    p = subprocess.Popen(dlrun_cmd() + args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: (run / "checkpoint.pt").is_file())
    p.kill()
    p.wait()
    (run / ".checkpoint.pt.99999.tmp").write_bytes(b"half a checkpoint")  # what a kill during a write leaves
    (run / ".metrics.csv.99999.tmp").write_text("epoch\n")
    q = subprocess.Popen(dlrun_cmd() + args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: "resumed_from_epoch" in _text(run / "summary.json"))
    q.kill()
    q.wait()
    assert not list(run.glob(".*.tmp"))


def test_a_full_disk_hidden_behind_a_writers_own_error_is_still_one_line(tmp_path):
    """torch.save's zip writer meets ENOSPC, then fails again while closing with a RuntimeError
    ('unexpected pos'): the disk is still what gets reported, and nothing is left behind."""
    import errno

    from runner.errors import OutputError
    from runner.files import atomic_write

    def write(f):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        finally:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 75840 vs 75728")

    with pytest.raises(OutputError) as e:
        atomic_write(tmp_path / "checkpoint.pt", write)
    assert str(e.value) == f"cannot write {tmp_path / 'checkpoint.pt'}: No space left on device"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- a stop signal at the end of training


def test_a_signal_in_the_last_epoch_stops_after_it_and_the_rerun_only_draws_the_plots(tmp_path):
    """The loop takes a signal at step boundaries; one that comes during the last epoch's last
    steps used to be dropped (the run drew its plots and exited 0, as if never asked to stop)."""
    from conftest import compose

    from runner import signals
    from runner.config.validate import prepare
    from runner.train.base import RunHooks
    from runner.train.run import run_training

    epochs = 3

    class SigtermInTheLastEpoch(RunHooks):
        def on_epoch(self, engine, row) -> None:
            if row.epoch == epochs:
                signals._handler(signal.SIGTERM, None)  # what dlrun's handler does when SIGTERM arrives

    args = ("trainer.progress=quiet", "dataset=function", "dataset.n_train=256", f"trainer.epochs={epochs}")
    cfg = compose(*args)
    prepare(cfg)
    run_dir = tmp_path / "run"
    try:
        with pytest.raises(signals.Interrupted) as stopped:
            run_training(cfg, run_dir, hooks=SigtermInTheLastEpoch())
    finally:
        signals.reset()
    assert stopped.value.where == "the end of training" and stopped.value.saved == run_dir / "checkpoint.pt"
    record = json.loads((run_dir / "summary.json").read_text())
    assert record["status"] == "interrupted" and record["interrupted"] == {
        "signal": "SIGTERM", "where": "the end of training", "checkpoint": str(run_dir / "checkpoint.pt")
    }, "where it stopped, as one stopped mid-epoch says (a sweep's stop line reads it)"  # fmt: skip
    assert not (run_dir / "DONE").exists() and not (run_dir / "plots").exists()
    trained = (run_dir / "metrics.csv").read_text()
    assert len(trained.splitlines()) == 1 + epochs
    cfg = compose(*args)
    prepare(cfg)
    summary = run_training(cfg, run_dir)  # the same command again: no epoch retrained
    assert summary["status"] == "ok" and (run_dir / "DONE").read_text().startswith("ok")
    assert (run_dir / "metrics.csv").read_text() == trained and (run_dir / "plots" / "curves.png").is_file()


def test_a_signal_while_training_writes_its_summary_leaves_the_run_interrupted_not_running(tmp_path, monkeypatch):
    """Between the training loop and the plots a signal interrupts at once: one that came while
    summary.json was being written cut the write short, and the stopped run said `running`
    (seen under load in test_resume's SIGTERM kills of the NumPy engine)."""
    from conftest import compose

    from runner import signals
    from runner.config.validate import prepare
    from runner.train import run as run_module

    write_json = run_module.write_json

    def signal_during(path, data):
        if path.name == "summary.json" and data.get("status") == "finishing":
            signals._handler(signal.SIGTERM, None)  # SIGTERM arrives in the middle of this write
        write_json(path, data)

    monkeypatch.setattr(run_module, "write_json", signal_during)
    args = ("trainer.progress=quiet", "dataset=function", "dataset.n_train=64", "trainer.epochs=2")
    cfg = compose(*args)
    prepare(cfg)
    run_dir = tmp_path / "run"
    try:
        with pytest.raises(signals.Interrupted) as stopped:
            run_module.run_training(cfg, run_dir)
    finally:
        signals.reset()
    assert stopped.value.where == "the end of training" and stopped.value.saved == run_dir / "checkpoint.pt"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    assert not (run_dir / "DONE").exists()


@pytest.mark.parametrize("when", ["on_end", "plots"])
def test_a_signal_after_the_training_loop_says_where_it_stopped(tmp_path, monkeypatch, when):
    """Past the loop's step boundaries a signal stops at once, and nothing named where: summary.json
    said `where: ""`, and a sweep's stop line left that job out of its list (seen under load in a
    submitit_local sweep whose job 0 was drawing its plots)."""
    from conftest import compose

    from runner import signals
    from runner.config.validate import prepare
    from runner.report import run_plots
    from runner.train.base import RunHooks
    from runner.train.run import run_training

    class SigtermAtTheEnd(RunHooks):
        def on_end(self, engine) -> None:
            signals._handler(signal.SIGTERM, None)  # outside the loop: raises at once

    def sigterm_while_drawing(run_dir):
        signals._handler(signal.SIGTERM, None)

    if when == "plots":
        monkeypatch.setattr(run_plots, "render_run", sigterm_while_drawing)
    cfg = compose("trainer.progress=quiet", "dataset=function", "dataset.n_train=64", "trainer.epochs=2")
    prepare(cfg)
    run_dir = tmp_path / "run"
    try:
        with pytest.raises(signals.Interrupted) as stopped:
            run_training(cfg, run_dir, hooks=SigtermAtTheEnd() if when == "on_end" else None)
    finally:
        signals.reset()
    where = {"on_end": "the end of training", "plots": "after training (plots not drawn)"}[when]
    record = json.loads((run_dir / "summary.json").read_text())
    assert record["status"] == "interrupted" and record["interrupted"]["where"] == where
    at = "at " if when == "on_end" else ""
    assert stopped.value.describe() == f"stopped by SIGTERM {at}{where}; checkpoint saved: {run_dir / 'checkpoint.pt'}"
    assert not (run_dir / "DONE").exists()


def test_a_sweeps_stop_line_names_a_job_stopped_after_its_training(tmp_path):
    """The sweep's line reads each stopped job's summary.json: a job past its loop is named too."""
    from runner.sweep import workers

    sweep = tmp_path / "sweep"
    folder = sweep / workers.FOLDER
    folder.mkdir(parents=True)
    for pid, (num, where) in {11: (0, "after training (plots not drawn)"), 12: (1, "epoch 2, step 3 of 9")}.items():
        (folder / str(pid)).write_text(str(num))
        job = sweep / f"{num}_seed={num}"
        job.mkdir()
        (job / "summary.json").write_text(json.dumps({"status": "interrupted", "interrupted": {"where": where}}))
    assert workers._where(sweep, {11, 12}) == " (job 0 after training (plots not drawn); job 1 at epoch 2, step 3 of 9)"


def test_a_library_ending_the_process_mid_training_leaves_the_run_interrupted(tmp_path):
    """A SystemExit from inside training (rich's own answer to a closed pipe was one) met no
    clause of the run's error handling: an UnboundLocalError hid it, and summary.json said
    `running` for good."""
    from runner.train.base import RunHooks

    class ExitInEpoch2(RunHooks):
        def on_epoch(self, engine, row) -> None:
            if row.epoch == 2:
                raise SystemExit(1)

    with pytest.raises(SystemExit):
        train(tmp_path, "dataset=function", "dataset.n_train=64", "trainer.epochs=4", hooks=ExitInEpoch2())
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["epochs_run"] == 2


# ---------------------------------------------------------------- make clean keeps the results


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("flock") is None, reason="needs make and flock")
def test_make_clean_keeps_outputs_and_clean_outputs_waits_for_a_running_dlrun(tmp_path):
    """`make clean` used to delete outputs/ with the caches: hours of results gone by habit."""
    import fcntl

    for folder in ("runner", "tests", ".pytest_cache"):
        (tmp_path / folder).mkdir()
    run = tmp_path / "outputs" / "sweeps" / "my sweep" / "0_seed=0"  # a name with a space: the lock was
    run.mkdir(parents=True)  # looked for at two paths, one made by flock, and a free folder read as in use
    (run / "metrics.csv").write_text("epoch\n1\n")
    (tmp_path / "outputs" / ".gitkeep").write_text("")

    def make(target):
        return subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), target], cwd=tmp_path,
                              capture_output=True, text=True)  # fmt: skip

    assert make("clean").returncode == 0
    assert (run / "metrics.csv").is_file() and not (tmp_path / ".pytest_cache").exists()
    (run.parent / ".dlrun.lock").write_text("pid 1 on host since today\n")
    with open(run.parent / ".dlrun.lock") as held:  # as a running sweep holds its folder
        fcntl.flock(held, fcntl.LOCK_EX)
        refused = make("clean-outputs")
    assert refused.returncode != 0 and refused.stderr.startswith(
        "make clean-outputs: outputs/sweeps/my sweep is in use by a running dlrun (pid 1 on host since today); "
    )
    assert (run / "metrics.csv").is_file(), "nothing deleted"
    assert [p.name for p in run.parents[1].iterdir()] == ["my sweep"], "no file made beside it"
    done = make("clean-outputs")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (tmp_path / "outputs").iterdir()] == [".gitkeep"]
    shutil.rmtree(tmp_path / "outputs")  # none there: nothing to do, not find's error and make's failure
    none = make("clean-outputs")
    assert none.returncode == 0 and none.stdout == "make clean-outputs: there is no outputs/ here: nothing to delete\n"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_report_takes_a_folder_whose_name_has_a_space(tmp_path):
    """`name='my run'` names the run's folder `..._my run`, which make report split in two."""
    venv = Path(sys.executable).parents[1]
    if not (venv / ".dlrun-installed").is_file():
        pytest.skip("this venv was not made by `make setup`")
    run = tmp_path / "my run"
    assert run_dlrun("dataset=function", "trainer.epochs=1", f"hydra.run.dir={run}", cwd=tmp_path).returncode == 0
    (run / "report.md").unlink()
    proc = subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), "report", f"DIR={run}", f"VENV={venv}"],
                          cwd=REPO, capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (run / "report.md").is_file()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_data_without_the_offline_copies_says_where_they_come_from(tmp_path):
    """Beside a checkout without ../shared, `make data` was python's "can't open file" traceback-like line."""
    here = tmp_path / "checkout"
    here.mkdir()
    proc = subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), "data"], cwd=here, capture_output=True,
                          text=True)  # fmt: skip
    assert proc.returncode != 0 and proc.stderr.startswith(
        "make data: no ../shared/datasets/prepare.py beside this checkout: the offline copies come with the project's "
        "workspace; elsewhere put the files in the layout README.md's Offline data shows\n"
    ), proc.stderr
    assert not (here / "data").exists()


# ---------------------------------------------------------------- the console going away

# 60 epochs of about 0.05 s: the stop comes at epoch 2 or 3, long before the end
CONSOLE_RUN = ["dataset=function", "trainer.epochs=60", "trainer.checkpoint_seconds=inf"]


def _assert_stopped(run: Path, signame: str) -> int:
    """A run stopped by `signame`, saved, unfinished; the epochs it had done."""
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["interrupted"]["signal"] == signame, summary
    assert (run / "checkpoint.pt").is_file() and not (run / "DONE").exists()
    epochs = len((run / "metrics.csv").read_text().splitlines()) - 1
    assert 1 <= epochs < 60
    return epochs


@pytest.mark.parametrize(
    "preset,hint",
    [(None, "to resume"), ("function_fit", "to go on (what it finished is kept; the run it stopped in starts over)")],
)
def test_a_stopped_run_says_what_running_it_again_does(tmp_path, preset, hint):
    """A study stopped in its first run said `... to resume`; run again, it keeps the runs it
    finished but starts the one it stopped in over (its hooks watch each run from the first
    step), so it says that instead (tests/test_studies.py runs it again)."""
    run = tmp_path / "run"
    args = [f"experiment={preset}", "study.reduced=true"] if preset else []
    cmd = dlrun_cmd() + [*args, *CONSOLE_RUN, f"hydra.run.dir={run}"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=dlrun_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    _wait_for(lambda: any(p.read_text().count("\n") > 2 for p in run.rglob("metrics.csv")))
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 143 and err.count("\n") == 1, err
    assert err.rstrip().endswith(f"run the same command with hydra.run.dir={run} {hint}"), err


@pytest.mark.parametrize("how", ["print", "logging", "stderr-too", "bar"])
def test_a_closed_standard_output_stops_the_run_with_a_checkpoint(tmp_path, how):
    """`dlrun ... | head` (or a tee that is killed): the next epoch line met a closed pipe and the
    run died in a BrokenPipeError traceback, status `failed`, its training since the last
    checkpoint lost; with Hydra's job logging on stdout, logging printed a traceback for every
    line and trained on; with `2>&1 | head` the closing line failed too, exit code 1; with the
    progress bar (trainer.progress=bar), rich exited mid-epoch, summary.json left `running`. Now
    it stops as for SIGPIPE at the next step boundary, saved, exit 141."""
    run = tmp_path / "run"
    extra = {"logging": ["hydra/job_logging=stdout"], "bar": ["trainer.progress=bar"]}.get(how, [])
    stderr = subprocess.STDOUT if how == "stderr-too" else subprocess.PIPE
    proc = subprocess.Popen(dlrun_cmd() + CONSOLE_RUN + extra + [f"hydra.run.dir={run}"], cwd=tmp_path,
                            env=dlrun_env(), stdout=subprocess.PIPE, stderr=stderr, text=True)  # fmt: skip
    for line in proc.stdout:  # what `head` reads before it exits
        if "epoch  1/60" in line:
            break
    proc.stdout.close()
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.wait(timeout=120) == 141, err
    if how != "stderr-too":
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith("dlrun: stopped by SIGPIPE (its standard output was closed) before epoch "), err
        assert f"checkpoint saved: {run / 'checkpoint.pt'}; run the same command with hydra.run.dir={run}" in err
    epochs = _assert_stopped(run, "SIGPIPE")
    if how != "print":
        return
    resumed = run_dlrun(*CONSOLE_RUN, f"hydra.run.dir={run}", "trainer.progress=quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    done = json.loads((run / "summary.json").read_text())
    assert done["status"] == "ok" and done["resumed_from_epoch"] == epochs and (run / "DONE").is_file()
    assert len((run / "metrics.csv").read_text().splitlines()) == 61
    # `make report DIR=<run> | head -1`: the list of what it drew was cut short, so the report was
    # left undrawn, and it said the run's files did not read as dlrun wrote them (Broken pipe)
    (run / "report.html").unlink()
    report = subprocess.Popen([sys.executable, "-m", "runner.report", str(run)], cwd=tmp_path, env=dlrun_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    report.stdout.close()
    assert report.wait(timeout=120) == 0 and report.stderr.read() == b""
    assert (run / "report.html").is_file()


def test_help_into_a_pipe_that_closes_ends_quietly(tmp_path):
    """`dlrun --help | head -1` printed a BrokenPipeError traceback."""
    proc = subprocess.Popen(dlrun_cmd() + ["--help"], cwd=tmp_path, env=dlrun_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    proc.stdout.close()  # before dlrun has started: its first write meets a closed pipe
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_a_closed_terminal_stops_the_run_with_a_checkpoint_unless_under_nohup(tmp_path):
    """An ssh session that drops, or a terminal window closed: the kernel sends SIGHUP, whose
    default killed dlrun at once, summary.json left saying `running` and no checkpoint. Now it
    stops as for SIGTERM, saved, exit 129. A run that ignores SIGHUP (nohup, disown) trains on,
    its writes to the dead terminal (EIO) dropped."""
    import fcntl
    import pty
    import termios

    def in_a_terminal(run: Path, preexec) -> int:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(dlrun_cmd() + CONSOLE_RUN + [f"hydra.run.dir={run}"], cwd=tmp_path,
                                env=dlrun_env(), stdin=follower, stdout=follower, stderr=follower,
                                preexec_fn=preexec)  # fmt: skip
        os.close(follower)
        seen = b""
        while b"epoch  2/60" not in seen:  # printed above the progress bar: dlrun sees a terminal
            seen += os.read(leader, 4096)
        os.close(leader)  # the terminal goes away: the kernel hangs up its session
        return proc.wait(timeout=120)

    def own_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as a login shell starts it, whatever ran the suite (nohup)

    run = tmp_path / "run"
    assert in_a_terminal(run, own_terminal) == 129
    _assert_stopped(run, "SIGHUP")  # and it resumes as any stopped run does

    def under_nohup():
        own_terminal()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    kept = tmp_path / "kept"
    assert in_a_terminal(kept, under_nohup) == 0
    assert json.loads((kept / "summary.json").read_text())["status"] == "ok"


def test_a_signal_after_done_says_the_run_had_finished_not_how_to_resume_it(tmp_path):
    """SIGTERM as the loggers closed, DONE already written: the line said 'run the same command
    with hydra.run.dir=... to resume', and that command is refused, the folder holding a finished run."""
    run = tmp_path / "run"
    code = (
        "import os, signal, sys\n"
        "import runner.report.finish as finish\n"
        "done = finish.finish_run\n"
        "def finish_then_term(*a, **k):\n"
        "    done(*a, **k)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "finish.finish_run = finish_then_term\n"
        "from runner.cli import main\n"
        f"sys.argv = ['dlrun', 'dataset=function', 'trainer.epochs=1', 'hydra.run.dir={run}']\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=dlrun_env(), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert (run / "DONE").is_file(), proc.stderr
    assert proc.returncode == 143 and proc.stderr.endswith(f"; it had finished: {run} holds its results\n"), proc.stderr
    assert "to resume" not in proc.stderr
