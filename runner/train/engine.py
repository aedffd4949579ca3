"""The torch engine: data on the device, the configured model, the loop and its probes,
behind the interface of runner.train.base.Engine.

With trainer.replicas = N > 1 the model is N stacked copies (runner/models/stacked.py) and
the row's values are lists, one per copy (run.py splits them with EpochRow.split_replicas).
"""

from __future__ import annotations

import platform
import random
from pathlib import Path

import numpy as np
import torch
import torch._dynamo  # noqa: F401  the first optimizer built imports it (1.1 s on a CPU): paid here, with torch, not in a run's time

from runner.data import device as device_data
from runner.errors import ConfigError
from runner.models import build_model, count_params
from runner.train.base import Engine
from runner.train.evaluate import evaluate
from runner.train.loop import Trainer
from runner.train.probes import LayerProbes


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("device", "cpu or auto: no CUDA device is available here", name)
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise ConfigError("device", f"cuda:0..cuda:{torch.cuda.device_count() - 1}", name)
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device", "cpu or auto: MPS is not available here", name)
    return torch.device(name)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # every device's default generator


class TorchEngine(Engine):
    def __init__(self, cfg):
        self.cfg = cfg
        self.device = pick_device(str(cfg.device))
        self.device_name = device_name(self.device)
        seed_everything(cfg.seed)
        self.data = device_data.load(cfg.dataset, Path(cfg.data_dir), cfg.seed, self.device)
        self.replicas = cfg.trainer.replicas
        if self.replicas > 1:
            self._init_replicas(cfg)
            return
        seed_everything(cfg.seed)  # the initial weights depend on the seed alone
        self.model = build_model(cfg, self.data.input_shape, self.data.num_outputs).to(self.device)
        self.params = count_params(self.model)
        probes = None
        if cfg.diagnostics.probes:
            probe_x = self.data.splits["train"].sample(cfg.diagnostics.probe_samples, cfg.seed).x
            probes = LayerProbes(self.model, probe_x, cfg.diagnostics.saturation)
        self.probes = probes
        self.layer_probes = probes is not None
        self.trainer = Trainer(self.model, self.data, cfg, self.device, cfg.seed, probes)

    def _init_replicas(self, cfg) -> None:
        from runner.models.stacked import StackedNet
        from runner.train.replicas import ReplicaTrainer

        seeds = [cfg.seed + r for r in range(self.replicas)]
        nets = []
        for s in seeds:  # copy r starts exactly as a single run with seed s would
            seed_everything(s)
            nets.append(build_model(cfg, self.data.input_shape, self.data.num_outputs))
        self.params = count_params(nets[0])  # per copy
        self.model = StackedNet(nets).to(self.device)
        seed_everything(cfg.seed)
        self.probes, self.layer_probes = None, False  # per-layer probes watch one model
        self.trainer = ReplicaTrainer(self.model, self.data, cfg, self.device, seeds)

    def notes(self) -> list:
        lines = []
        if self.cfg.diagnostics.probes and self.replicas > 1:
            lines.append("layers.csv is not written with trainer.replicas > 1 (the probes watch one model)")
        if self.cfg.trainer.precision == "tf32" and self.device.type != "cuda":  # a switch of CUDA's backends
            lines.append(f"trainer.precision=tf32 computes in exact float32 on {self.device.type}: "
                         "TensorFloat-32 is a mode of CUDA's tensor cores")  # fmt: skip
        runner = self.trainer.runner
        if self.device.type == "cuda" and not runner.active and self.cfg.trainer.cuda_graph != "off":
            lines.append(f"CUDA graph {runner.status()}: trained eagerly")
        return lines

    def facts(self) -> dict:
        return {"cuda_graph": self.trainer.runner.status()}

    def train_epoch(self, n: int) -> tuple:
        return self.trainer.train_epoch(n)

    def after_epoch(self, row) -> None:
        self.trainer.schedule.after_epoch(row)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def evaluate(self, split: str) -> tuple:
        return self.trainer.evaluate(split)

    def penalty(self):
        return self.trainer.current_penalty()

    def lr(self) -> float:
        return self.trainer.lr()

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "trainer": self.trainer.state_dict(),
            "probes": self.probes.state_dict() if self.probes is not None else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.trainer.load_state_dict(state["trainer"])
        if self.probes is not None and state["probes"] is not None:
            self.probes.load_state_dict(state["probes"])

    def weights(self) -> dict:
        return self.model.state_dict()

    @staticmethod
    def weights_in(state: dict) -> dict:
        return state["model"]

    def load_weights(self, weights: dict) -> None:
        self.model.load_state_dict(weights)

    def layer_rows(self, n: int) -> list:
        return self.probes.epoch_rows(n) if self.probes is not None else []

    def confusion(self, split: str) -> np.ndarray | None:
        s = self.data.splits.get(split)
        if s is None:
            return None
        k = self.data.num_outputs
        reps = self.replicas if self.replicas > 1 else 0  # replicas: counts pooled over the copies
        return evaluate(
            self.model,
            s,
            True,
            self.cfg.trainer.eval_batch_size,
            k,
            confusion=True,
            replicas=reps,
            precision=self.cfg.trainer.precision,
        ).confusion.numpy()

    @torch.no_grad()
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Regression predictions; with replicas, their mean."""
        self.model.eval()
        xt = torch.from_numpy(x).to(self.device)
        if self.replicas > 1:
            return self.model(xt.unsqueeze(0).expand(self.replicas, *xt.shape)).mean(0).cpu().numpy()
        return self.model(xt).cpu().numpy()

    def histogram_rows(self, last_epoch: int) -> list:
        return self.probes.histogram_rows(last_epoch) if self.probes is not None else []

    def step_rows(self) -> list:
        """With trainer.log_steps: (step, epoch, loss, grad_norm) rows of the last epoch."""
        return self.trainer.last_steps

    def sensitivity(self, n: int) -> float:
        """Mean ||d output / d input||_F over n test samples (val when there is no test), each class in
        proportion."""
        from runner.train.sensitivity import jacobian_norms

        split = self.data.splits.get("test") or self.data.splits.get("val") or self.data.splits["train"]
        return float(jacobian_norms(self.model, split.sample(n, self.cfg.seed).x).mean())
