"""regularizer.augment: per-sample flips and shifts drawn on the device each epoch, checked
against the same change written out by hand, and in training: reproducible from the seed,
each epoch and each replica its own draws, refused where it cannot apply."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import compose, run_dlrun, train

from runner.train import augment


def _images(n: int = 6, c: int = 2, h: int = 5, w: int = 7) -> torch.Tensor:
    return torch.arange(n * c * h * w, dtype=torch.float32).view(n, c, h, w)


def test_flip_mirrors_exactly_the_samples_drawn():
    x = _images()
    drawn = torch.tensor([1, 0, 0, 1, 1, 0])
    out = augment.flip(x, drawn, None)
    for i in range(len(x)):
        assert torch.equal(out[i], x[i].flip(-1) if drawn[i] else x[i]), i


def test_shift_is_a_crop_of_the_reflect_padded_image():
    """Each sample equals torchvision's RandomCrop(padding=p, padding_mode='reflect') at its
    offset: the padded image cut at (p + dy, p + dx)."""
    cfg = compose("regularizer.crop_padding=2")
    x = _images()
    drawn = torch.tensor([[0, 0], [2, -2], [-2, 1], [1, 2], [-1, -1], [0, 2]])
    out = augment.shift(x, drawn, cfg)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for i, (dy, dx) in enumerate(drawn.tolist()):
        expect = padded[i, :, 2 + dy : 2 + dy + 5, 2 + dx : 2 + dx + 7]
        assert torch.equal(out[i], expect), i
    assert torch.equal(out[0], x[0])  # no shift: the image itself
    # a replicas' batch [R, b, C, H, W] shifts each copy's samples by their own draws
    stacked = augment.shift(x.view(2, 3, 2, 5, 7), drawn.view(2, 3, 2), cfg)
    assert torch.equal(stacked.reshape_as(out), out)


def test_draws_cover_their_range_and_follow_the_generator():
    cfg = compose("regularizer.crop_padding=3")
    gen = torch.Generator().manual_seed(0)
    shifts = augment.draw_shift(gen, 20_000, cfg)
    assert shifts.shape == (20_000, 2) and shifts.min() == -3 and shifts.max() == 3
    assert set(shifts.flatten().tolist()) == set(range(-3, 4))
    flips = augment.draw_flip(gen, 20_000, cfg)
    assert abs(flips.float().mean().item() - 0.5) < 0.02
    again = augment.draw_shift(torch.Generator().manual_seed(0), 20_000, cfg)
    assert torch.equal(again, shifts)


def test_an_augmenter_reads_each_samples_draws_by_its_index_and_each_copy_its_own():
    cfg = compose("regularizer.augment=[crop,flip]", "regularizer.crop_padding=1")
    x = _images(n=4)
    one = augment.build(cfg, 4, torch.device("cpu"))
    one.draw([torch.Generator().manual_seed(3)])
    shifts, flips = one.buffers
    idx = torch.tensor([2, 0])
    expect = augment.flip(augment.shift(x[idx], shifts[idx], cfg), flips[idx], cfg)
    assert torch.equal(one(x[idx], idx), expect)
    copies = augment.build(cfg, 4, torch.device("cpu"), copies=2)
    copies.draw([torch.Generator().manual_seed(3), torch.Generator().manual_seed(4)])
    assert torch.equal(copies.buffers[0][0], shifts)  # copy 0 draws as the single run of its seed does
    assert not torch.equal(copies.buffers[0][0], copies.buffers[0][1])
    both = torch.tensor([[2, 0], [1, 3]])
    out = copies(torch.stack([x[both[0]], x[both[1]]]), both)
    for r in range(2):
        s, f = copies.buffers[0][r][both[r]], copies.buffers[1][r][both[r]]
        assert torch.equal(out[r], augment.flip(augment.shift(x[both[r]], s, cfg), f, cfg)), r
    assert augment.build(compose(), 4, torch.device("cpu")) is None  # none asked for


def test_training_with_augmentation_is_reproducible_and_differs_from_training_without(tmp_path, tiny_data):
    args = (f"data_dir={tiny_data}", "dataset=mnist", "model.hidden=[16]", "trainer.epochs=3", "trainer.batch_size=16")
    plain, dp = train(tmp_path, *args, name="plain")
    aug, da = train(tmp_path, *args, "regularizer=augment", name="aug")
    again, dg = train(tmp_path, *args, "regularizer=augment", name="again")
    mp, ma, mg = (pd.read_csv(d / "metrics.csv") for d in (dp, da, dg))
    assert ma["train_loss"].tolist() == mg["train_loss"].tolist()  # the seed fixes every draw
    assert ma["train_loss"].tolist() != mp["train_loss"].tolist()
    assert "| regularizer | augment [crop, flip], crop_padding 4 |" in (da / "report.md").read_text()  # said so
    assert "| regularizer | none |" in (dp / "report.md").read_text()  # crop_padding's default is not a setting


@pytest.mark.parametrize(
    "args,line",
    [
        (("dataset=function", "regularizer=augment"), "regularizer=augment: regularizer.augment: expected [] for dataset.source=function"),
        (("engine=numpy", "optimizer=sgd", "regularizer.augment=[crop]"), "regularizer.augment: expected [] for engine=numpy"),
        (("regularizer.augment=[crop,crop]",), "regularizer.augment: expected a list of distinct names among crop, flip"),
        (("regularizer.augment=[crop]", "regularizer.crop_padding=28"), "regularizer.crop_padding: expected an integer in [1, 27]"),
    ],
)  # fmt: skip
def test_augmentation_is_refused_in_one_line_where_it_cannot_apply(tmp_path, tiny_data, args, line):
    proc = run_dlrun(f"data_dir={tiny_data}", "trainer.epochs=1", *args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith(f"dlrun: error: {line}"), proc.stderr


def test_mirroring_digits_is_noted_and_a_gradient_check_says_it_ignores_augmentation(tmp_path, tiny_data):
    proc = run_dlrun(f"data_dir={tiny_data}", "trainer.epochs=1", "regularizer=augment", "model.hidden=[8]",
                     "trainer.progress=quiet", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "note: regularizer.augment flip mirrors mnist's digits" in proc.stdout
    alone = run_dlrun(f"data_dir={tiny_data}", "trainer.epochs=1", "regularizer.crop_padding=2", "model.hidden=[8]",
                      "trainer.progress=quiet", cwd=tmp_path)  # fmt: skip
    assert (
        "note: regularizer.crop_padding=2 does nothing: no augmentation in regularizer.augment reads it" in alone.stdout
    )
    check = run_dlrun(f"data_dir={tiny_data}", "task=gradcheck", "regularizer.augment=[crop]", "model.hidden=[8]",
                      cwd=tmp_path)  # fmt: skip
    assert check.returncode == 0, check.stderr
    assert "note: regularizer.augment=[crop] does nothing for task=gradcheck" in check.stdout
    assert "mirrors" not in check.stdout


def test_the_augmentation_checks_apply_to_training_only():
    """An eval of weights trained with augment=[crop,flip] on a dataset of another kind was
    refused for the augmentation (which an eval never applies), not for the data's shape."""
    from runner.errors import ConfigError
    from runner.registry.training import check_regularizer

    args = ("dataset=function", "regularizer=augment")
    with pytest.raises(ConfigError, match="regularizer.augment"):
        check_regularizer(compose(*args))
    check_regularizer(compose("task=eval", "ckpt=run", *args))
    check_regularizer(compose("task=gradcheck", *args))
    with pytest.raises(ConfigError, match="trainer.batch_size"):  # the checks before it still hold for an eval
        check_regularizer(compose("task=eval", "ckpt=run", "regularizer=batchnorm", "trainer.batch_size=1"))
