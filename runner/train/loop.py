"""The training loop: batches drawn by index from a device-side permutation, the loss plus
our own L1/L2 penalty, one optimizer step per batch; the epoch's running loss and accuracy are
summed on the device and read once (runner.train.base.Engine.epoch builds the row).

The last batch of an epoch is the remainder (smaller than batch_size) rather than dropped, so
every sample is seen once per epoch, as with a DataLoader's default drop_last=False (a remainder
of one joins the batch before it where the model has BatchNorm: runner/train/batching.py). One step
touches only device tensors (no host sync), so on CUDA the whole step can be replayed from a
CUDA graph (runner/train/graphs.py).
"""

from __future__ import annotations

import torch

from runner import signals
from runner.registry.training import OPTIMIZERS
from runner.train import augment, batching, graphs, precision, schedule
from runner.train.evaluate import batch_loss, evaluate
from runner.train.penalties import penalized_weights, penalty


class Trainer:
    """One model; ReplicaTrainer (runner/train/replicas.py) trains a stacked one."""

    def __init__(self, model, data, cfg, device: torch.device, seed: int, probes=None):
        self.model, self.data, self.cfg, self.device = model, data, cfg, device
        self.probes = probes  # LayerProbes or None
        self.precision = cfg.trainer.precision
        precision.configure(self.precision)
        reason = graphs.blocker(cfg, device)
        # a CUDA graph needs an optimizer whose state stays on the device (capturable)
        self.opt = OPTIMIZERS[cfg.optimizer.name].torch(model.parameters(), cfg.optimizer, reason is None)
        self.tensor_lr = schedule.holds_lr_in_tensor(cfg, reason)
        if self.tensor_lr:  # a captured step reads the rate from this tensor; the schedule fills it
            schedule.tensor_lr(self.opt, device)
        self.smallest_batch = batching.smallest_batch(model)
        batching.check_split_size(len(data.splits["train"]), self.smallest_batch)
        self.schedule = schedule.Schedule(
            self.opt, cfg, batching.count(len(data.splits["train"]), cfg.trainer.batch_size, self.smallest_batch)
        )
        self.runner = graphs.StepRunner(self._step, reason)
        self.weights = penalized_weights(model)
        self.l1, self.l2 = cfg.regularizer.l1, cfg.regularizer.l2
        self.classification = data.classification
        self.gens = self._generators(seed)
        copies = self._stat_shape[0] if self._stat_shape else 0  # a stacked model's copies draw their own
        self.augment = augment.build(cfg, len(data.splits["train"]), device, copies)
        self.log_steps = cfg.trainer.log_steps
        self.step = 0  # optimizer steps so far
        self.last_steps = []  # with log_steps: rows (step, epoch, loss, grad_norm) of the last epoch
        # the epoch's running sums, updated in place by every step (also inside a CUDA graph)
        self.loss_sum = torch.zeros(self._stat_shape, dtype=torch.float64, device=device)
        self.correct = torch.zeros(self._stat_shape, dtype=torch.int64, device=device)
        self._step_stats = None  # with log_steps: per-step loss and gradient norm buffers
        self._progress = None  # {"epoch", "perm", "next"}: an epoch stopped at a step boundary

    _stat_shape: tuple = ()

    def _generators(self, seed: int) -> list:
        # the data order has its own generator on the device, seeded from the run's seed
        gen = torch.Generator(device=self.device)
        gen.manual_seed(seed)
        return [gen]

    def _permutation(self, n: int) -> torch.Tensor:
        return torch.randperm(n, device=self.device, generator=self.gens[0])

    def _gather(self, idx: torch.Tensor):
        train = self.data.splits["train"]
        return train.x.index_select(0, idx), train.y.index_select(0, idx)

    def _losses(self, out, yb):
        return batch_loss(out, yb, self.classification)

    def _step(self, idx: torch.Tensor) -> None:
        """One optimizer step on the samples idx. Device work only: graph-capturable."""
        self.opt.zero_grad(set_to_none=True)
        xb, yb = self._gather(idx)
        if self.augment is not None:
            xb = self.augment(xb, idx)
        with precision.autocast(self.precision, self.device):
            out = self.model(xb)
        out = out.float()
        loss = self._losses(out, yb)  # a scalar, or one per replica
        pen = penalty(self.weights, self.l1, self.l2)
        total = loss.sum() if pen is None else loss.sum() + pen
        total.backward()
        if self.probes is not None:
            self.probes.after_backward()
        if self._step_stats is not None:
            self._record_step(loss)
        self.opt.step()
        self.loss_sum += loss.detach().double() * idx.shape[-1]
        if self.classification:
            self.correct += (out.detach().argmax(-1) == yb).sum(-1)

    def _record_step(self, loss) -> None:
        step_loss, step_grad, i = self._step_stats
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        step_grad[i] = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))).double()
        step_loss[i] = loss.detach().double()
        self._step_stats = (step_loss, step_grad, i + 1)

    def train_epoch(self, epoch: int) -> tuple:
        """One pass over the training split. A signal (runner.signals) stops it at a step
        boundary with its progress kept for the checkpoint; a resumed epoch goes on from there."""
        self.model.train()
        n, bs = len(self.data.splits["train"]), self.cfg.trainer.batch_size
        n_steps = batching.count(n, bs, self.smallest_batch)
        progress, self._progress = self._progress, None
        if progress is not None and progress["epoch"] == epoch:  # resumed: the sums came with it
            perm, start = progress["perm"], progress["next"]
        else:
            perm, start = self._permutation(n), 0
            if self.augment is not None:  # the epoch's draws, after its order, from the same generators
                self.augment.draw(self.gens)
            self.loss_sum.zero_()
            self.correct.zero_()
            if self.log_steps:  # filled on the device, read once at the end of the epoch
                self._step_stats = (
                    torch.empty(n_steps, dtype=torch.float64, device=self.device),
                    torch.empty(n_steps, dtype=torch.float64, device=self.device),
                    0,
                )
        batches = batching.split(perm, bs, self.smallest_batch)
        for k in range(start, n_steps):
            if signals.pending():
                self._progress = {"epoch": epoch, "perm": perm, "next": k}
                if self.augment is not None:  # the rest of the epoch goes on with the draws it had
                    self._progress["augment"] = self.augment.state()
                signals.check(f"epoch {epoch}, step {k} of {n_steps}")
            self.runner(batches[k])
            self.schedule.after_step()
        if self.probes is not None:
            self.probes.add_steps(n_steps)
        if self.log_steps:
            step_loss, step_grad, _ = self._step_stats
            self.last_steps = [
                {"step": self.step + j + 1, "epoch": epoch, "loss": lo, "grad_norm": gn}
                for j, (lo, gn) in enumerate(zip(step_loss.tolist(), step_grad.tolist()))
            ]
            self._step_stats = None
        self.step += n_steps
        loss = (self.loss_sum / n).tolist()
        acc = (self.correct.double() / n).tolist() if self.classification else None
        return loss, acc

    def state_dict(self) -> dict:
        """Everything but the model that the next step depends on (runner.train.checkpoint)."""
        return {
            "optimizer": self.opt.state_dict(),
            "generators": [g.get_state() for g in self.gens],
            "step": self.step,
            "sums": [self.loss_sum, self.correct],
            "progress": self._progress,
            "step_stats": list(self._step_stats) if self._step_stats is not None else None,
            "schedule": self.schedule.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.opt.load_state_dict(state["optimizer"])
        if self.tensor_lr:  # the loaded rate may be a plain number or a tensor on another device
            schedule.tensor_lr(self.opt, self.device)
        self.schedule.load_state_dict(state.get("schedule"))
        for gen, gen_state in zip(self.gens, state["generators"]):
            gen.set_state(gen_state)
        self.step = state["step"]
        self.loss_sum.copy_(state["sums"][0])
        self.correct.copy_(state["sums"][1])
        progress = state["progress"]
        if progress is not None:
            progress = {**progress, "perm": progress["perm"].to(self.device)}
            if self.augment is not None and progress.get("augment") is not None:
                self.augment.load(progress["augment"])
        self._progress = progress
        stats = state["step_stats"]
        if stats is not None:
            stats = (stats[0].to(self.device), stats[1].to(self.device), int(stats[2]))
        self._step_stats = stats

    def current_penalty(self) -> float:
        with torch.no_grad():
            pen = penalty(self.weights, self.l1, self.l2)
        return float(pen) if pen is not None else 0.0

    def evaluate(self, name: str, **kw) -> tuple:
        """(loss, accuracy) of the split `name` in eval mode (per replica for a stacked model)."""
        res = evaluate(
            self.model,
            self.data.splits[name],
            self.classification,
            self.cfg.trainer.eval_batch_size,
            precision=self.precision,
            **kw,
        )
        return res.loss, res.acc

    def lr(self) -> float:
        return float(self.opt.param_groups[0]["lr"])  # a plain number, or the tensor a graph reads
