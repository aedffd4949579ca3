"""task=gradcheck engine=numpy: the scratch engine's hand-written backward pass against central
differences, in float64, on the same batch, loss and penalties as the torch engine's check.

    dlrun task=gradcheck engine=numpy regularizer=[l1,l2,dropout] activation=sigmoid

This is the check a network written from scratch needs most: a wrong derivative in one layer's
backward (runner/scratch/layers.py) still trains, only worse, and shows here as one tensor that fails.
"""

from __future__ import annotations

import numpy as np

from runner.scratch.engine import build_network
from runner.scratch.layers import Dropout, MeanSquaredError, SoftmaxCrossEntropy
from runner.scratch.optim import add_penalty_gradients, penalty
from runner.train.gradcheck import compare, fixed_batch
from runner.train.gradcheck_result import GradcheckResult


def check_numpy(cfg, data) -> tuple[GradcheckResult, int]:
    """(the result, the parameter count) of the network engine=numpy would train, untrained."""
    gc, r = cfg.gradcheck, cfg.regularizer
    x, y = fixed_batch(data, gc.batch, cfg.seed)
    x, y = x.numpy().reshape(len(x), -1), y.numpy()
    net = build_network(cfg, x.shape[1], data.num_outputs, np.random.default_rng(cfg.seed), dtype=np.float64)
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.freeze()  # the first pass draws each mask; every later one reuses it
    criterion = SoftmaxCrossEntropy() if data.classification else MeanSquaredError()

    def loss() -> float:
        return criterion.forward(net.forward(x, train=True), y) + penalty(net, r.l1, r.l2)

    start = loss()
    net.backward(criterion.backward())  # the gradients of the pass just made
    add_penalty_gradients(net, r.l1, r.l2)
    linears = net.linears()
    tensors = []
    for k, layer in enumerate(linears):  # named as the torch engine's layers are: fc1, fc2, ..., out
        name = "out" if k == len(linears) - 1 else f"fc{k + 1}"
        tensors += [(name, "weight", layer.W.reshape(-1), layer.dW.reshape(-1).copy()),
                    (name, "bias", layer.b, layer.db.copy())]  # fmt: skip
    params = sum(v.size for v, _, _ in net.params())
    return compare(tensors, loss, abs(start), gc.samples, gc.eps, gc.tol, gc.floor, cfg.seed), params
