"""Whole-step CUDA graphs: the batch gather, forward, loss with its L1/L2 penalty, backward,
optimizer step and the epoch's on-device accumulators, recorded once and replayed per batch.

Small networks spend most of an eager step launching kernels; a replay launches the whole
step at once. One graph is captured per batch shape: the full batches share one, and the
epoch's last, smaller batch (when the training split does not divide evenly) gets its own,
so every sample is still seen once per epoch.

Each shape first runs WARMUP ordinary (eager) steps on a side stream, as capture requires
(lazy optimizer state, library handles); those are real training steps on real batches.
Capture records the next step without running it, so that step is then replayed once: the
sequence of updates is the same as the eager loop's. Anything that fails to capture falls
back to eager for the rest of the run, with the reason recorded once.
"""

from __future__ import annotations

import torch

from runner.errors import one_line

WARMUP = 3


def blocker(cfg, device: torch.device) -> str | None:
    """Why this run cannot use a CUDA graph, or None when it can."""
    if cfg.trainer.cuda_graph == "off":
        return "trainer.cuda_graph=off"
    if device.type != "cuda":
        return f"CUDA graphs need a CUDA device (this run is on {device.type})"
    if cfg.trainer.log_steps:
        return "trainer.log_steps reads every step's loss and gradient norm from Python"
    if cfg.scheduler.name == "onecycle" and cfg.scheduler.cycle_momentum:
        return "scheduler.cycle_momentum changes the optimizer's momentum, which a graph holds fixed"
    return None


class StepRunner:
    """Calls step(idx) for each batch of sample indices, through a CUDA graph when allowed."""

    def __init__(self, step, reason: str | None):
        self.step = step
        self.reason = reason  # None: graphs on
        self.failed = None  # the capture error, when capture was tried and failed
        self._graphs = {}  # idx shape -> (graph, static idx buffer)
        self._warm = {}  # idx shape -> eager steps run so far
        self._stream = None

    @property
    def active(self) -> bool:
        return self.reason is None and self.failed is None

    def status(self) -> str:
        if self.failed is not None:
            return f"off: capture failed ({self.failed})"
        if self.reason is not None:
            return f"off: {self.reason}"
        return f"on ({len(self._graphs)} graph{'s' if len(self._graphs) != 1 else ''} captured)"

    def __call__(self, idx: torch.Tensor) -> None:
        if not self.active:
            self.step(idx)
            return
        key = tuple(idx.shape)
        captured = self._graphs.get(key)
        if captured is not None:
            graph, static = captured
            static.copy_(idx)
            graph.replay()
            return
        if self._warm.get(key, 0) < WARMUP:
            self._warmup_step(idx)
            self._warm[key] = self._warm.get(key, 0) + 1
            return
        static = idx.clone()
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.step(static)
        except Exception as ex:  # noqa: BLE001 - any capture problem means: train eagerly
            self.failed = one_line(ex, 300)
            torch.cuda.synchronize()
            self.step(idx)  # the captured step never ran: run it now
            return
        self._graphs[key] = (graph, static)
        graph.replay()

    def _warmup_step(self, idx: torch.Tensor) -> None:
        if self._stream is None:
            self._stream = torch.cuda.Stream()
        self._stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self._stream):
            self.step(idx)
        torch.cuda.current_stream().wait_stream(self._stream)
