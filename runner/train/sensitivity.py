"""Input sensitivity: the Frobenius norm of the Jacobian of the model's output with respect to
its input, ||d f(x) / d x||_F, per sample, in eval mode (so samples do not interact).

||J||_F^2 = sum over outputs k of ||d f_k / d x||^2, so one backward pass per output gives
every sample's row of the Jacobian at once.
"""

from __future__ import annotations

import torch


def jacobian_norms(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    was_training = model.training
    model.eval()
    norms = []
    for xb in x.split(batch_size):
        xb = xb.detach().clone().requires_grad_(True)
        out = model(xb).reshape(len(xb), -1)
        squares = torch.zeros(len(xb), dtype=torch.float64, device=xb.device)
        for k in range(out.shape[1]):
            (g,) = torch.autograd.grad(out[:, k].sum(), xb, retain_graph=k < out.shape[1] - 1)
            squares += g.reshape(len(xb), -1).double().pow(2).sum(1)
        norms.append(squares.sqrt())
    model.train(was_training)
    return torch.cat(norms)
