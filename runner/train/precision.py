"""trainer.precision: how the matmuls and convolutions of a run compute.

fp32  exact float32 everywhere (the default; TF32 explicitly off)
tf32  float32 storage, TensorFloat-32 tensor-core matmuls and convolutions on CUDA
      (10-bit mantissa inputs, float32 accumulation); the same as fp32 on a CPU
bf16  autocast: matmuls and convolutions in bfloat16, losses, reductions and the weights
      and optimizer state in float32
"""

from __future__ import annotations

import contextlib

import torch


def configure(precision: str) -> None:
    """Set the process-wide TF32 switches every run (a sweep may run jobs in one process)."""
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def autocast(precision: str, device: torch.device):
    """The forward pass's context. The cast cache is off so a CUDA graph may capture it."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)
