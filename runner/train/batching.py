"""How an epoch's samples are cut into batches: batch_size each, the remainder last (every
sample once per epoch, as a DataLoader with drop_last=False). A model with BatchNorm cannot
train on a batch of one sample (no batch statistics: torch raises), so there a remainder of one
joins the batch before it, and the epoch has one step fewer.

    dlrun regularizer=batchnorm dataset.subsample=1025 trainer.batch_size=128   # 7 x 128, then 129
"""

from __future__ import annotations

import torch


def smallest_batch(model: torch.nn.Module) -> int:
    """The fewest samples a training batch of `model` may hold: 2 with BatchNorm, else 1."""
    return 2 if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()) else 1


def check_split_size(n: int, smallest: int) -> None:
    """Refuse a training split too small for a single batch the model can take (one sample, with
    BatchNorm: a subsample or a holdout can leave that few)."""
    from runner.errors import UserError

    if n < smallest:
        raise UserError(f"the training split has {n} sample; a model with BatchNorm (regularizer.batchnorm) trains "
                        f"on batches of {smallest} or more: keep more samples (dataset.subsample, holdout, val_size)")  # fmt: skip


def split(idx: torch.Tensor, batch_size: int, smallest: int = 1) -> tuple:
    """The batches of the sample indices `idx` (along its last dimension, so a replicas' [R, n]
    permutation splits as one)."""
    batches = idx.split(batch_size, dim=-1)
    if len(batches) > 1 and batches[-1].shape[-1] < smallest:
        batches = (*batches[:-2], torch.cat(batches[-2:], dim=-1))
    return batches


def count(n: int, batch_size: int, smallest: int = 1) -> int:
    """len(split(...)) for n samples, without the indices (the schedule's steps per epoch)."""
    steps = -(-n // batch_size)
    return steps - 1 if steps > 1 and n - (steps - 1) * batch_size < smallest else steps
