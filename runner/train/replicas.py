"""trainer.replicas=N: N copies of one configuration trained at once as a stacked model
(runner/models/stacked.py), copy r with seed + r for its initialisation and its own data
order. All copies share the split (carved with the run's seed) and see every sample once per
epoch; the run's metrics are per replica (lists, split into rows by EpochRow.split_replicas),
and their mean drives the console, the best epoch and the divergence check."""

from __future__ import annotations

import torch

from runner.train.evaluate import replica_losses
from runner.train.loop import Trainer
from runner.train.penalties import penalty


class ReplicaTrainer(Trainer):
    def __init__(self, model, data, cfg, device: torch.device, seeds: list):
        self.seeds = list(seeds)
        self.replicas = len(self.seeds)
        self._stat_shape = (self.replicas,)
        super().__init__(model, data, cfg, device, self.seeds[0], probes=None)

    def _generators(self, seed: int) -> list:
        gens = []
        for s in self.seeds:
            g = torch.Generator(device=self.device)
            g.manual_seed(s)
            gens.append(g)
        return gens

    def _permutation(self, n: int) -> torch.Tensor:  # [R, n]: every copy its own order
        return torch.stack([torch.randperm(n, device=self.device, generator=g) for g in self.gens])

    def _gather(self, idx: torch.Tensor):  # idx [R, b] -> x [R, b, ...], y [R, b, ...]
        train = self.data.splits["train"]
        flat = idx.reshape(-1)
        x, y = train.x.index_select(0, flat), train.y.index_select(0, flat)
        return x.view(*idx.shape, *x.shape[1:]), y.view(*idx.shape, *y.shape[1:])

    def _losses(self, out, yb):
        return replica_losses(out, yb, self.classification)

    def current_penalty(self) -> list:
        with torch.no_grad():
            pen = penalty([w.double() for w in self.model.replica_weights()], self.l1, self.l2, per_copy=True)
        return [0.0] * self.replicas if pen is None else pen.tolist()

    def evaluate(self, name: str, **kw) -> tuple:
        return super().evaluate(name, replicas=self.replicas, **kw)
