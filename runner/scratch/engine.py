"""The NumPy engine behind `engine=numpy`: the same data, splits, metrics rows and files as
the torch engine, with the network, its gradients and SGD written by hand (runner/scratch).

    dlrun engine=numpy optimizer=sgd dataset=mnist model.hidden=[128]

Supports mlp configs with relu, sigmoid or tanh, dropout, L1/L2, SGD (momentum, nesterov)
and the default, xavier and kaiming initialisations, on the CPU.
"""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import torch

from runner import signals
from runner.data import device as device_data
from runner.registry import load
from runner.registry.activations import ACTIVATIONS
from runner.registry.models import INITS
from runner.registry.training import OPTIMIZERS
from runner.scratch.layers import Dropout, Linear, MeanSquaredError, Network, SoftmaxCrossEntropy
from runner.scratch.optim import add_penalty_gradients, penalty
from runner.train.base import Engine
from runner.train.engine import seed_everything


def build_network(cfg, n_in: int, n_out: int, rng: np.random.Generator, dtype=np.float32) -> Network:
    """Linear -> activation -> [Dropout] per hidden width, then the output Linear (and, with
    model.head_activation, its activation and dropout): the torch engine's mlp layout. The
    activation's NumPy class and the init rule come from their registry entries."""
    entry, p = ACTIVATIONS[cfg.activation.name], cfg.regularizer.dropout
    act_class, init = load(entry.numpy), load(INITS[cfg.init.name].numpy)
    gain = entry.gain(cfg.activation)
    layers, width = [], n_in
    for w in list(cfg.model.hidden):
        layers += [Linear(width, w, rng, init, gain, dtype), act_class()]
        if p > 0:
            layers.append(Dropout(p, rng))
        width = w
    layers.append(Linear(width, n_out, rng, init, gain, dtype))
    if cfg.model.head_activation:
        layers.append(act_class())
        if p > 0:
            layers.append(Dropout(p, rng))
    return Network(layers)


class NumpyEngine(Engine):
    def __init__(self, cfg):
        self.cfg = cfg
        self.device = "cpu"
        self.device_name = f"{platform.processor() or platform.machine()} (NumPy)"
        seed_everything(cfg.seed)
        # the data pipeline (splits, normalisation) is shared with the torch engine
        self.data = device_data.load(cfg.dataset, Path(cfg.data_dir), cfg.seed, torch.device("cpu"))
        self.arrays = {
            name: (s.x.numpy().reshape(len(s), -1).astype(np.float32), s.y.numpy())
            for name, s in self.data.splits.items()
        }
        self.rng = np.random.default_rng(cfg.seed)
        n_in = self.arrays["train"][0].shape[1]
        self.net = build_network(cfg, n_in, self.data.num_outputs, self.rng)
        self.params = int(sum(v.size for v, _, _ in self.net.params()))
        self.loss = SoftmaxCrossEntropy() if self.data.classification else MeanSquaredError()
        self.opt = OPTIMIZERS[cfg.optimizer.name].numpy(cfg.optimizer)
        self.step, self.last_steps = 0, []
        self._progress = None  # an epoch stopped at a step boundary: {"epoch", "perm", "next", sums}

    def evaluate(self, split: str) -> tuple[float, float | None]:
        x, y = self.arrays[split]
        bs = self.cfg.trainer.eval_batch_size
        loss_sum, correct = 0.0, 0
        for i in range(0, len(x), bs):
            out = self.net.forward(x[i : i + bs], train=False)
            loss_sum += self.loss.forward(out, y[i : i + bs]) * len(out)
            if self.data.classification:
                correct += int((out.argmax(1) == y[i : i + bs]).sum())
        n = len(x)
        return loss_sum / n, (correct / n if self.data.classification else None)

    def train_epoch(self, epoch: int) -> tuple[float, float | None]:
        x, y = self.arrays["train"]
        r = self.cfg.regularizer
        bs = self.cfg.trainer.batch_size
        progress, self._progress = self._progress, None
        if progress is not None and progress["epoch"] == epoch:  # resumed at a step boundary
            perm, start = progress["perm"], progress["next"]
            loss_sum, correct, self.last_steps = progress["loss_sum"], progress["correct"], progress["steps"]
        else:
            perm, start = self.rng.permutation(len(x)), 0
            loss_sum, correct, self.last_steps = 0.0, 0, []
        for i in range(start, len(x), bs):
            if signals.pending():
                self._progress = {"epoch": epoch, "perm": perm, "next": i, "loss_sum": loss_sum,
                                  "correct": correct, "steps": self.last_steps}  # fmt: skip
                signals.check(f"epoch {epoch}, sample {i} of {len(x)}")
            idx = perm[i : i + bs]
            out = self.net.forward(x[idx], train=True)
            loss = self.loss.forward(out, y[idx])
            loss_sum += loss * len(idx)
            if self.data.classification:
                correct += int((out.argmax(1) == y[idx]).sum())
            self.net.backward(self.loss.backward())
            add_penalty_gradients(self.net, r.l1, r.l2)
            self.step += 1
            if self.cfg.trainer.log_steps:
                norm = float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for _, g, _ in self.net.params())))
                self.last_steps.append({"step": self.step, "epoch": epoch, "loss": loss, "grad_norm": norm})
            self.opt.step(self.net)
        n = len(x)
        return loss_sum / n, (correct / n if self.data.classification else None)

    def weights(self) -> dict:
        return {f"{i}.{name}": torch.from_numpy(getattr(layer, name).copy())
                for i, layer in enumerate(self.net.linears()) for name in ("W", "b")}  # fmt: skip

    @staticmethod
    def weights_in(state: dict) -> dict:
        return state["weights"]

    def load_weights(self, weights: dict) -> None:
        for i, layer in enumerate(self.net.linears()):
            for name in ("W", "b"):
                getattr(layer, name)[...] = weights[f"{i}.{name}"].numpy()  # in place: the optimizer holds it

    def state_dict(self) -> dict:
        progress = self._progress
        if progress is not None:
            progress = {**progress, "perm": torch.from_numpy(progress["perm"].copy())}
        sgd = {k: torch.from_numpy(v.copy()) for k, v in self.opt.state_dict(self.net).items()}
        return {"weights": self.weights(), "sgd": sgd, "rng": self.rng.bit_generator.state, "step": self.step,
                "progress": progress}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.load_weights(state["weights"])
        self.opt.load_state_dict(self.net, {k: v.numpy().copy() for k, v in state["sgd"].items()})
        self.rng.bit_generator.state = state["rng"]
        self.step = state["step"]
        progress = state["progress"]
        if progress is not None:
            progress = {**progress, "perm": progress["perm"].numpy()}
        self._progress = progress

    def penalty(self) -> float:
        r = self.cfg.regularizer
        return penalty(self.net, r.l1, r.l2)

    def lr(self) -> float:
        return self.opt.lr

    def confusion(self, split: str) -> np.ndarray | None:
        if split not in self.arrays:
            return None
        x, y = self.arrays[split]
        k = self.data.num_outputs
        pred = np.concatenate([self.net.forward(x[i : i + 4096]).argmax(1) for i in range(0, len(x), 4096)])
        return np.bincount(y * k + pred, minlength=k * k).reshape(k, k)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.net.forward(x.astype(np.float32), train=False)

    def step_rows(self) -> list:
        return self.last_steps
