"""Per-layer probes behind layers.csv: what each weight layer's gradient, weights and
activations did during an epoch.

Per step (after backward): the L2 norm of every layer's weight gradient, added up on the
device with one fused call, so the loop does not wait for the host. Per epoch: the mean of
those norms, the weights' mean and std, their change since initialisation
(||W - W0|| / ||W0||), and for activations whose registry entry has a saturation rule
(sigmoid, tanh) the share of saturated outputs over a fixed batch of training samples in eval
mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from runner.registry.activations import ACTIVATIONS, Activation


@dataclass
class Layer:
    name: str  # conv1.., fc1.., out
    module: nn.Module  # the Linear or Conv2d
    activation: nn.Module | None  # the activation that follows it, if any
    entry: Activation | None = None  # the activation's registry entry


def _activation_entries() -> dict:
    """torch module class -> registry entry, for every registered activation."""
    found = {}
    for entry in ACTIVATIONS.values():
        found.setdefault(entry.torch_class(), entry)
    return found


def saturated_fraction(act: nn.Module, y: torch.Tensor, s: float) -> torch.Tensor | None:
    """The share of `act`'s outputs y that its registry entry counts as saturated at level s
    (None when the activation has no saturation rule)."""
    entry = _activation_entries().get(type(act))
    if entry is None or entry.saturated is None:
        return None
    return entry.saturated(y, s).float().mean()


def weight_layers(model: nn.Module) -> list:
    """The model's Linear/Conv2d layers in forward order, each with the activation after it."""
    layers, counts, entries = [], {"conv": 0, "fc": 0}, _activation_entries()
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            kind = "conv" if isinstance(m, nn.Conv2d) else "fc"
            counts[kind] += 1
            layers.append(Layer(f"{kind}{counts[kind]}", m, None))
        elif type(m) in entries and layers and layers[-1].activation is None:
            layers[-1].activation, layers[-1].entry = m, entries[type(m)]
    head = getattr(model, "head", None)
    if layers and head is not None and layers[-1].module is head:
        layers[-1].name = "out"
    return layers


class LayerProbes:
    def __init__(self, model: nn.Module, probe_x: torch.Tensor, saturation: float):
        self.model, self.probe_x, self.s = model, probe_x, saturation
        self.layers = weight_layers(model)
        self.weights = [layer.module.weight for layer in self.layers]
        self.initial = [w.detach().clone() for w in self.weights]
        self.first_epoch = None  # first layer's weights after epoch 1, for the histogram
        self._sum = torch.zeros(len(self.layers), dtype=torch.float64, device=self.weights[0].device)
        self._steps = 0

    def after_backward(self) -> None:
        """Device work only, so a CUDA graph can capture it; the trainer counts the steps."""
        grads = [w.grad if w.grad is not None else torch.zeros_like(w) for w in self.weights]
        self._sum += torch.stack(torch._foreach_norm(grads)).double()

    def add_steps(self, n: int) -> None:
        self._steps += n

    def state_dict(self) -> dict:
        first = None if self.first_epoch is None else torch.from_numpy(self.first_epoch)
        return {"initial": self.initial, "first_epoch": first, "sum": self._sum, "steps": self._steps}

    def load_state_dict(self, state: dict) -> None:
        for w0, saved in zip(self.initial, state["initial"]):
            w0.copy_(saved)
        first = state["first_epoch"]
        self.first_epoch = None if first is None else first.numpy()
        self._sum.copy_(state["sum"])
        self._steps = state["steps"]

    @torch.no_grad()
    def _saturation(self) -> dict:
        hooks, found = [], {}
        for i, layer in enumerate(self.layers):
            if layer.entry is not None and layer.entry.saturated is not None:

                def hook(mod, inp, out, i=i):
                    found[i] = saturated_fraction(mod, out, self.s)

                hooks.append(layer.activation.register_forward_hook(hook))
        if hooks:
            was_training = self.model.training
            self.model.eval()
            self.model(self.probe_x)
            self.model.train(was_training)
        for h in hooks:
            h.remove()
        return {i: float(v) for i, v in found.items()}

    @torch.no_grad()
    def epoch_rows(self, epoch: int) -> list:
        grad = (self._sum / max(self._steps, 1)).tolist()
        self._sum.zero_()
        self._steps = 0
        sat = self._saturation()
        rows = []
        for i, (layer, w, w0) in enumerate(zip(self.layers, self.weights, self.initial)):
            change = float((w - w0).norm() / w0.norm().clamp_min(1e-12))
            kind = "conv" if isinstance(layer.module, nn.Conv2d) else "fc"
            rows.append(
                {
                    "epoch": epoch,
                    "layer": layer.name,
                    "kind": kind,
                    "params": w.numel(),
                    "grad_norm": grad[i],
                    "weight_mean": float(w.mean()),
                    "weight_std": float(w.std()) if w.numel() > 1 else 0.0,
                    "weight_change": change,
                    "saturation": sat.get(i),
                }
            )
        if epoch == 1:
            self.first_epoch = self.weights[0].detach().cpu().numpy().ravel().copy()
        return rows

    def histogram_rows(self, last_epoch: int, bins: int = 60) -> list:
        """Long-form histogram of the first layer's weights after epoch 1 and after the last, in
        at most `bins` bins."""
        last = self.weights[0].detach().cpu().numpy().ravel()
        first = self.first_epoch if self.first_epoch is not None else last
        first, last = first[np.isfinite(first)], last[np.isfinite(last)]
        if first.size == 0 or last.size == 0:  # a diverged run: nothing finite to count
            return []
        lo, hi = float(min(first.min(), last.min())), float(max(first.max(), last.max()))
        # numpy's rule (the larger of Sturges' and Freedman-Diaconis'): 32 weights get about 9 bins, where
        # a fixed 60 left most bins empty and the rest at 1 or 2
        edges = np.histogram_bin_edges(np.concatenate([first, last]), bins="auto") if hi > lo else [lo, lo + 1e-6]
        if len(edges) > bins + 1:
            edges = np.linspace(lo, hi, bins + 1)
        rows = []
        for epoch, values in ((1, first), (last_epoch, last)):
            counts, _ = np.histogram(values, bins=edges)
            rows += [[epoch, float(a), float(b), int(c)] for a, b, c in zip(edges[:-1], edges[1:], counts)]
        return rows
