"""The vanishing-gradient verdict, from numbers a run already recorded.

vanishing = grad_ratio < ratio  and  (loss_improvement < min_improvement
                                      or first_layer_change < min_weight_change
                                      or loss_fraction > max_loss_fraction)

grad_ratio          the smallest, over epochs, of (first layer's grad_norm / output layer's
                    grad_norm): gradients vanish most at the start, before an adaptive
                    optimizer such as Adam has grown the early layers' weights to compensate
loss_improvement    relative fall of the train loss over the last `window` epochs:
                    (loss[-1-window] - loss[-1]) / loss[-1-window], from epoch 1 when shorter
first_layer_change  ||W1 - W1_init|| / ||W1_init|| at the last epoch
loss_fraction       last train loss / first epoch's train loss

A small ratio alone is not enough (a network can recover and train well), so the rule also
asks for evidence that training suffered: it stalled, the first layer stayed frozen, or the
loss is still far from where a healthy network gets. Measured on MNIST MLPs of width 256
(Adam, 8 epochs): sigmoid's first-epoch ratio falls about 10x per layer (0.4 at depth 1,
2e-3 at depth 5, 2e-4 at depth 6, 8e-7 at depth 8) and training breaks down from depth 6;
tanh and relu stay above 0.3 at every depth up to 8.

A dead network is told apart: when no weight layer gets any gradient from some epoch to the
end (a layer's units are off for every sample, e.g. ReLUs that never fire), there may be no
ratio to judge, and no step can change the weights; summary.json says so in dead_from_epoch.
"""

from __future__ import annotations

import math


def vanishing_verdict(layer_rows: list, train_losses: list, cfg) -> dict | None:
    """layer_rows: the rows of layers.csv (dicts); cfg: the `diagnostics` config node."""
    by_epoch: dict = {}
    for r in layer_rows:
        by_epoch.setdefault(r["epoch"], []).append(r)
    ratios = []
    for _, rows in sorted(by_epoch.items()):
        first, last = rows[0]["grad_norm"], rows[-1]["grad_norm"]
        if len(rows) >= 2 and last > 0 and math.isfinite(first) and math.isfinite(last):
            ratios.append(first / last)
    losses = [v for v in train_losses if v is not None]
    if not ratios or not losses:
        return None
    grad_ratio = min(ratios)
    span = min(cfg.window, len(losses) - 1)  # a run shorter than the window uses all it has
    improvement = None  # one epoch alone says nothing about progress
    if span > 0:
        ref = losses[-1 - span]
        finite = math.isfinite(ref) and math.isfinite(losses[-1]) and ref != 0
        improvement = (ref - losses[-1]) / abs(ref) if finite else 0.0
    last_epoch = by_epoch[max(by_epoch)]
    change = last_epoch[0]["weight_change"]
    fraction = None  # like the improvement, undefined for a single epoch
    if len(losses) > 1 and losses[0] and math.isfinite(losses[0]):
        fraction = losses[-1] / losses[0]
    small_ratio = grad_ratio < cfg.ratio
    suffered = (
        (improvement is not None and improvement < cfg.min_improvement)
        or change < cfg.min_weight_change
        or (fraction is not None and fraction > cfg.max_loss_fraction)
    )
    return {
        "vanishing_gradients": bool(small_ratio and suffered),
        "evidence": {
            "grad_ratio": grad_ratio,
            "loss_improvement": improvement,
            "first_layer_change": change,
            "loss_fraction": fraction,
            "window": span,
            "first_layer": last_epoch[0]["layer"],
            "last_layer": last_epoch[-1]["layer"],
        },
        "thresholds": {
            "ratio": cfg.ratio,
            "min_improvement": cfg.min_improvement,
            "min_weight_change": cfg.min_weight_change,
            "max_loss_fraction": cfg.max_loss_fraction,
        },
    }


def dead_from_epoch(layer_rows: list, train_losses: list) -> int | None:
    """The first epoch from which every weight layer's gradient norm is exactly 0 through the
    last epoch; None while any layer still gets a gradient at the end, and when the train loss
    is 0 (a fit so exact that the loss has no gradient left is not a dead network)."""
    by_epoch: dict = {}
    for r in layer_rows:
        by_epoch.setdefault(int(r["epoch"]), []).append(float(r["grad_norm"]))
    last_loss = next((v for v in reversed(train_losses) if v is not None), None)
    if not by_epoch or last_loss is None or not (math.isfinite(last_loss) and last_loss > 0):
        return None
    dead = None
    for epoch in sorted(by_epoch, reverse=True):
        if any(g != 0 for g in by_epoch[epoch]):  # NaN counts as a gradient: divergence is not death
            break
        dead = epoch
    return dead


def verdict_lines(summary: dict) -> list[str]:
    """The console's and run report's lines for summary.json's verdicts: vanishing gradients,
    and a dead network."""
    lines = [describe(summary)] if summary.get("vanishing_evidence") else []
    if summary.get("dead_from_epoch") is not None:
        lines.append(
            f"dead network: no weight layer got any gradient from epoch {summary['dead_from_epoch']} on: a layer's "
            "units are off for every sample (e.g. ReLUs that never fire), so the network gives one output whatever "
            "the input and no step can change its weights"
        )
    return lines


def describe(summary: dict) -> str:
    """One console line from summary.json's vanishing_gradients and vanishing_evidence."""
    e = summary["vanishing_evidence"]
    t = e["thresholds"]
    head = "yes" if summary["vanishing_gradients"] else "no"
    progress = (
        "one epoch: no loss trend"
        if e["loss_improvement"] is None
        else f"train loss improved {100 * e['loss_improvement']:.2f}% over the last {e['window']} epoch(s) "
        f"vs {100 * t['min_improvement']:g}%"
    )
    fraction = (
        ""
        if e.get("loss_fraction") is None
        else f"; train loss at {100 * e['loss_fraction']:.1f}% of epoch 1's vs {100 * t['max_loss_fraction']:g}%"
    )
    return (
        f"vanishing gradients: {head} (smallest {e['first_layer']}/{e['last_layer']} gradient norm ratio "
        f"{e['grad_ratio']:.2e} vs threshold {t['ratio']:g}; {progress}; "
        f"first layer moved {100 * e['first_layer_change']:.2f}% vs {100 * t['min_weight_change']:g}%{fraction})"
    )
