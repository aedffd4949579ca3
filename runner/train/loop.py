"""The training loop: batches drawn by index from a device-side permutation, the loss plus
our own L1/L2 penalty, one optimizer step per batch, and one metrics row per epoch.

The last batch of an epoch is the remainder (smaller than batch_size) rather than dropped, so
every sample is seen once per epoch, as with a DataLoader's default drop_last=False.
"""
from __future__ import annotations

import time

import torch

from runner.train.evaluate import batch_loss, evaluate
from runner.train.penalties import penalized_weights, penalty

SPLITS = ("train", "val", "test")


def make_optimizer(params, cfg):
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Trainer:
    def __init__(self, model, data, cfg, device: torch.device, seed: int, probes=None):
        self.model, self.data, self.cfg, self.device = model, data, cfg, device
        self.probes = probes  # LayerProbes or None
        self.opt = make_optimizer(model.parameters(), cfg.optimizer)
        self.weights = penalized_weights(model)
        self.l1, self.l2 = cfg.regularizer.l1, cfg.regularizer.l2
        # the data order has its own generator on the device, seeded from the run's seed
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seed)
        self.log_steps = cfg.trainer.log_steps
        self.step = 0  # optimizer steps so far
        self.last_steps = []  # with log_steps: rows (step, epoch, loss, grad_norm) of the last epoch

    def _train_epoch(self, epoch: int) -> tuple[float, float | None]:
        model, train = self.model, self.data.splits["train"]
        classification = self.data.classification
        model.train()
        n, bs = len(train), self.cfg.trainer.batch_size
        perm = torch.randperm(n, device=self.device, generator=self.gen)
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        n_steps = -(-n // bs)
        if self.log_steps:  # filled on the device, read once at the end of the epoch
            step_loss = torch.empty(n_steps, dtype=torch.float64, device=self.device)
            step_grad = torch.empty(n_steps, dtype=torch.float64, device=self.device)
        for i, idx in enumerate(perm.split(bs)):
            xb, yb = train.x.index_select(0, idx), train.y.index_select(0, idx)
            out = model(xb)
            loss = batch_loss(out, yb, classification)
            pen = penalty(self.weights, self.l1, self.l2)
            total = loss + pen if pen is not None else loss
            self.opt.zero_grad(set_to_none=True)
            total.backward()
            if self.probes is not None:
                self.probes.after_backward()
            if self.log_steps:
                grads = [p.grad for p in model.parameters() if p.grad is not None]
                step_grad[i] = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).double()
                step_loss[i] = loss.detach().double()
            self.opt.step()
            # accumulate on the device: no host sync inside the epoch
            loss_sum += loss.detach().double() * idx.numel()
            if classification:
                correct += (out.detach().argmax(1) == yb).sum()
        if self.log_steps:
            self.last_steps = [{"step": self.step + j + 1, "epoch": epoch, "loss": lo, "grad_norm": gn}
                               for j, (lo, gn) in enumerate(zip(step_loss.tolist(), step_grad.tolist()))]
        self.step += n_steps
        return float(loss_sum) / n, (float(correct) / n if classification else None)

    def current_penalty(self) -> float:
        with torch.no_grad():
            pen = penalty(self.weights, self.l1, self.l2)
        return float(pen) if pen is not None else 0.0

    def epoch(self, epoch: int) -> dict:
        """Train one epoch, evaluate every split, return the metrics row."""
        t0 = time.perf_counter()
        train_loss, train_acc = self._train_epoch(epoch)
        _sync(self.device)
        t_train = time.perf_counter() - t0
        row = {"epoch": epoch}
        tr = self.cfg.trainer
        for name in SPLITS:
            if name == "train" and tr.train_metrics == "running":
                row["train_loss"], row["train_acc"] = train_loss, train_acc
                continue
            split = self.data.splits.get(name)
            if split is None:
                continue
            res = evaluate(self.model, split, self.data.classification, tr.eval_batch_size)
            row[f"{name}_loss"], row[f"{name}_acc"] = res.loss, res.acc
        row["penalty"] = self.current_penalty()
        row["lr"] = self.opt.param_groups[0]["lr"]
        row["train_seconds"] = t_train
        row["seconds"] = time.perf_counter() - t0
        return row
