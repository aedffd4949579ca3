"""Checks of the `diagnostics` (per-layer probes, vanishing-gradient verdict, input
sensitivity) and `gradcheck` sections; the thresholds are documented in runner/config/schema.py."""

from __future__ import annotations

from runner.config.checks import require


def check_diagnostics(cfg) -> None:
    dg = cfg.diagnostics
    require(0.5 < dg.saturation < 1, "diagnostics.saturation", "a number in (0.5, 1)", dg.saturation)
    require(dg.probe_samples >= 1, "diagnostics.probe_samples", "an integer >= 1", dg.probe_samples)
    require(dg.ratio > 0, "diagnostics.ratio", "a number > 0", dg.ratio)
    require(dg.window >= 1, "diagnostics.window", "an integer >= 1", dg.window)
    require(dg.min_improvement >= 0, "diagnostics.min_improvement", "a number >= 0", dg.min_improvement)
    require(dg.min_weight_change >= 0, "diagnostics.min_weight_change", "a number >= 0", dg.min_weight_change)
    require(dg.max_loss_fraction > 0, "diagnostics.max_loss_fraction", "a number > 0", dg.max_loss_fraction)
    require(dg.sensitivity_samples >= 1, "diagnostics.sensitivity_samples", "an integer >= 1", dg.sensitivity_samples)


def check_gradcheck(cfg) -> None:
    gc = cfg.gradcheck
    require(gc.samples >= 1, "gradcheck.samples", "an integer >= 1", gc.samples)
    require(gc.batch >= 1, "gradcheck.batch", "an integer >= 1", gc.batch)
    require(gc.batch >= 2 or not cfg.regularizer.batchnorm, "gradcheck.batch", "an integer >= 2 with "
            "regularizer.batchnorm (the loss is taken in train mode, normalised by the batch's statistics)",
            gc.batch)  # fmt: skip
    require(0 < gc.eps < 1e-2, "gradcheck.eps", "a step in (0, 0.01)", gc.eps)
    require(gc.tol > 0, "gradcheck.tol", "a tolerance > 0", gc.tol)
    require(gc.floor > 0, "gradcheck.floor", "a number > 0", gc.floor)
