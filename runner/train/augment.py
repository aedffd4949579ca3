"""Data augmentation on the device (regularizer.augment): each training sample gets its own
random flip and shift every epoch, as a torchvision transform would give it, without leaving
the device.

    dlrun dataset=cifar10 model=cnn regularizer=augment          # crop and flip
    dlrun dataset=mnist 'regularizer.augment=[crop]' regularizer.crop_padding=2

The draws for the whole epoch are made at its start, from the data-order generator, into
buffers that keep their place in memory; a step reads its batch's draws by the same indices
as its images. So the step has no random number generation of its own (a CUDA graph replays
it as it is), a resumed epoch goes on with the draws it had (they travel in the checkpoint),
and a run is reproducible from its seed. Replicas draw each copy's own.
"""

from __future__ import annotations

import torch

from runner.registry import load
from runner.registry.training import AUGMENTATIONS


def draw_flip(gen: torch.Generator, n: int, cfg) -> torch.Tensor:
    """Which of n samples are mirrored: [n] 0/1 (int64, so that one gather serves every draw)."""
    return torch.randint(0, 2, (n,), generator=gen, device=gen.device)


def flip(x: torch.Tensor, drawn: torch.Tensor, cfg) -> torch.Tensor:
    """x [..., C, H, W]; drawn [...]: 1 where the sample is mirrored left-right."""
    mirrored = drawn.bool().view(*drawn.shape, 1, 1, 1)
    return torch.where(mirrored, x.flip(-1), x)


def draw_shift(gen: torch.Generator, n: int, cfg) -> torch.Tensor:
    """Each sample's shift (rows, columns), each in [-p, p] pixels: [n, 2]."""
    p = cfg.regularizer.crop_padding
    return torch.randint(-p, p + 1, (n, 2), generator=gen, device=gen.device)


def shift(x: torch.Tensor, drawn: torch.Tensor, cfg) -> torch.Tensor:
    """x [..., C, H, W] moved by drawn [..., 2] pixels, the border filled by reflection: a
    random crop of the image padded by crop_padding on each side (torchvision's RandomCrop with
    padding_mode='reflect')."""
    import torch.nn.functional as F

    p = cfg.regularizer.crop_padding
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    flat = x.reshape(-1, c, h, w)
    padded = F.pad(flat, (p, p, p, p), mode="reflect")
    start = p + drawn.reshape(-1, 2)  # [B, 2]: where each crop begins in the padded image
    rows = start[:, :1] + torch.arange(h, device=x.device)  # [B, H]
    cols = start[:, 1:] + torch.arange(w, device=x.device)  # [B, W]
    b = torch.arange(flat.shape[0], device=x.device)[:, None, None]
    out = padded[b, :, rows[:, :, None], cols[:, None, :]]  # the indexed dims first: [B, H, W, C]
    return out.permute(0, 3, 1, 2).reshape(*lead, c, h, w)


class Augmenter:
    """The epoch's draws of every augmentation the config names, and their application to a
    batch. `copies` > 0: a stacked model's, one set of draws per copy ([R, n, ...])."""

    def __init__(self, cfg, n: int, device: torch.device, copies: int = 0):
        self.cfg, self.n, self.copies = cfg, n, copies
        self.steps = [(load(AUGMENTATIONS[a].draw), load(AUGMENTATIONS[a].apply)) for a in cfg.regularizer.augment]
        probe = torch.Generator(device=device)
        lead = (copies,) if copies else ()
        # allocated once: a captured step reads these addresses; each epoch refills them in place
        self.buffers = [torch.empty(*lead, *draw(probe, n, cfg).shape, dtype=torch.int64, device=device)
                        for draw, _ in self.steps]  # fmt: skip

    def draw(self, gens: list) -> None:
        """New draws for an epoch, from the data-order generators (one per copy with replicas)."""
        for (draw, _), buf in zip(self.steps, self.buffers):
            fresh = [draw(g, self.n, self.cfg) for g in gens]
            buf.copy_(torch.stack(fresh) if self.copies else fresh[0])

    def __call__(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """The batch x of the samples idx ([b], or [R, b] for replicas), each sample changed by its draws."""
        for (_, apply), buf in zip(self.steps, self.buffers):
            x = apply(x, _pick(buf, idx), self.cfg)
        return x

    def state(self) -> list:
        return [b.clone() for b in self.buffers]

    def load(self, state: list) -> None:
        for buf, saved in zip(self.buffers, state):
            buf.copy_(saved.to(buf.device))


def _pick(buf: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """The draws of the samples idx: buf [n, ...] with idx [b], or buf [R, n, ...] with idx [R, b]."""
    if idx.dim() == 1:
        return buf.index_select(0, idx)
    extra = buf.shape[2:]
    where = idx.view(*idx.shape, *([1] * len(extra))).expand(*idx.shape, *extra)
    return buf.gather(1, where)


def build(cfg, n: int, device: torch.device, copies: int = 0) -> Augmenter | None:
    """The run's Augmenter, or None without regularizer.augment."""
    return Augmenter(cfg, n, device, copies) if list(cfg.regularizer.augment) else None
