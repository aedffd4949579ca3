"""Range and choice checks that types alone cannot express.

Runs on the composed config before any data is read. Each failure is a `ConfigError` naming
the key, what was expected and what was given; the CLI prints it as one line.
"""
from __future__ import annotations

import math
from typing import Any

from runner.errors import ConfigError

DATASETS_BUILTIN = ("cifar10", "mnist", "fashion_mnist", "gurmukhi", "function")
SOURCES = ("auto", "torchvision", "folders", "function")
FUNCTIONS = ("sin_plus_square", "sign_sin", "sin_plus_x", "cos_over_x")
MODELS = ("mlp", "cnn")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu")
OPTIMIZERS = ("sgd", "adam")
INITS = ("default", "xavier", "kaiming")
TRAIN_METRICS = ("running", "full")
PROGRESS = ("auto", "bar", "plain", "quiet")
PRECISIONS = ("fp32", "tf32", "bf16")
CUDA_GRAPH = ("auto", "off")
TASKS = ("train", "gradcheck", "study")
STUDIES = ("function_fit", "trajectory_pca", "minimal_ratio", "flatness_interpolation")
ENGINES = ("torch", "numpy")
TAPERS = ("constant", "halve")
SCRATCH_ACTIVATIONS = ("relu", "sigmoid", "tanh")


def _choice(key: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(key, f"one of {', '.join(allowed)}", value)


def _check(ok: bool, key: str, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError(key, expected, value)


def _size(key: str, value: float, allow_zero: bool = True) -> None:
    """A size is 0 (off), a fraction in (0, 1), or a whole count >= 1."""
    ok = math.isfinite(value) and value >= 0 and (value < 1 or float(value).is_integer())
    if not allow_zero and value == 0:
        ok = False
    _check(ok, key, "0 (off), a fraction in (0, 1) or a whole count >= 1", value)


def shortcut_widths(m) -> list | None:
    """The hidden widths model.depth / model.width / model.taper ask for, or None if unset."""
    if m.depth is None and m.width is None:
        return None
    width = int(m.width if m.width is not None else m.hidden[0])
    depth = int(m.depth if m.depth is not None else len(m.hidden))
    if m.taper == "halve":
        return [width >> i for i in range(depth)]
    return [width] * depth


def apply_shortcuts(cfg) -> None:
    """Expand the shortcuts into model.hidden, so config.yaml shows the real widths."""
    widths = shortcut_widths(cfg.model)
    if widths is not None:
        cfg.model.hidden = widths


def validate(cfg) -> None:
    """Raise ConfigError for the first value out of range; when all is well, expand the
    shortcuts (model.depth / model.width) in place."""
    d = cfg.dataset
    _choice("dataset.source", d.source, SOURCES)
    is_function = d.source == "function"
    if is_function:
        _choice("dataset.fn", d.fn, FUNCTIONS)
        _check(d.n_train >= 2, "dataset.n_train", "an integer >= 2", d.n_train)
        _check(d.n_test >= 1, "dataset.n_test", "an integer >= 1", d.n_test)
        _check(d.noise >= 0, "dataset.noise", "a number >= 0", d.noise)
        if d.low is not None and d.high is not None:
            _check(d.low < d.high, "dataset.low", f"a number below dataset.high ({d.high})", d.low)
        if d.fn == "cos_over_x" and d.low is not None:
            _check(d.low > 0, "dataset.low", "a number > 0 (cos(x)/x needs a positive interval)", d.low)
    else:
        _check(d.channels in (1, 3), "dataset.channels", "1 or 3", d.channels)
        _check(len(d.image_size) == 2 and min(d.image_size) >= 1, "dataset.image_size",
               "[height, width] with both >= 1", list(d.image_size))
        _check(d.num_classes >= 2, "dataset.num_classes", "an integer >= 2", d.num_classes)
        for stat in ("mean", "std"):
            vals = getattr(d, stat)
            if vals is not None:
                _check(len(vals) == d.channels, f"dataset.{stat}",
                       f"{d.channels} value(s), one per channel, or null", list(vals))
        if d.std is not None:
            _check(min(d.std) > 0, "dataset.std", "values > 0", list(d.std))
        if d.source == "folders" or d.name not in DATASETS_BUILTIN:
            _check(bool(d.folder), "dataset.folder", "the folder under data_dir holding <split>/<class>/*", d.folder)
    for key in ("val_size", "subsample", "test_subsample"):
        _size(f"dataset.{key}", getattr(d, key))
    _check(0 < d.train_fraction <= 1, "dataset.train_fraction", "a fraction in (0, 1]", d.train_fraction)
    _check(0 <= d.holdout < 1, "dataset.holdout", "0 (off) or a fraction in (0, 1), e.g. 0.3", d.holdout)
    _check(not (d.shuffle_labels and is_function), "dataset.shuffle_labels", "false for regression data",
           d.shuffle_labels)

    m = cfg.model
    _choice("model.name", m.name, MODELS)
    if m.depth is not None:
        _check(m.depth >= 1, "model.depth", "null or an integer >= 1 (hidden layers)", m.depth)
    if m.width is not None:
        _check(m.width >= 1, "model.width", "null or an integer >= 1 (units per hidden layer)", m.width)
        _check(m.depth is not None or len(m.hidden) > 0, "model.depth", "a depth when model.hidden is empty",
               m.depth)
    _check(all(w >= 1 for w in m.hidden), "model.hidden", "a list of widths >= 1, e.g. [256,128]", list(m.hidden))
    _check(all(c >= 1 for c in m.conv), "model.conv", "a list of channel counts >= 1, e.g. [32,64]", list(m.conv))
    _choice("model.taper", m.taper, TAPERS)
    widths = shortcut_widths(m)
    if widths is not None and m.taper == "halve":
        _check(min(widths) >= 1, "model.depth", f"at most {widths[0].bit_length()} layers when halving from "
               f"width {widths[0]}", m.depth)
    if m.name == "mlp":
        _check(len(m.conv) == 0, "model.conv", "[] for model=mlp (use model=cnn for conv layers)", list(m.conv))
    else:
        _check(not is_function, "model", "mlp for dataset=function (a CNN needs images)", m.name)
        _check(len(m.conv) >= 1, "model.conv", "at least one channel count for model=cnn", list(m.conv))
        h, w = d.image_size
        stages = len(m.conv)
        _check(min(h, w) >> stages >= 1, "model.conv",
               f"at most {max(0, min(h, w).bit_length() - 1)} conv layers: each 2x2 pool halves the "
               f"{h}x{w} input", list(m.conv))

    a = cfg.activation
    _choice("activation.name", a.name, ACTIVATIONS)
    _check(a.negative_slope >= 0, "activation.negative_slope", "a number >= 0", a.negative_slope)
    _check(a.alpha > 0, "activation.alpha", "a number > 0", a.alpha)

    r = cfg.regularizer
    _check(r.l1 >= 0, "regularizer.l1", "a lambda >= 0", r.l1)
    _check(r.l2 >= 0, "regularizer.l2", "a lambda >= 0", r.l2)
    _check(0 <= r.dropout < 1, "regularizer.dropout", "a probability in [0, 1)", r.dropout)

    o = cfg.optimizer
    _choice("optimizer.name", o.name, OPTIMIZERS)
    _check(o.lr > 0 and math.isfinite(o.lr), "optimizer.lr", "a learning rate > 0", o.lr)
    _check(0 <= o.momentum < 1, "optimizer.momentum", "a number in [0, 1)", o.momentum)
    _check(len(o.betas) == 2 and all(0 <= b < 1 for b in o.betas), "optimizer.betas",
           "two numbers in [0, 1), e.g. [0.9,0.999]", list(o.betas))

    _choice("init.name", cfg.init.name, INITS)

    t = cfg.trainer
    _check(t.epochs >= 1, "trainer.epochs", "an integer >= 1", t.epochs)
    _check(t.batch_size >= 1, "trainer.batch_size", "an integer >= 1", t.batch_size)
    _check(t.eval_batch_size >= 1, "trainer.eval_batch_size", "an integer >= 1", t.eval_batch_size)
    _choice("trainer.train_metrics", t.train_metrics, TRAIN_METRICS)
    _choice("trainer.progress", t.progress, PROGRESS)
    _choice("trainer.precision", t.precision, PRECISIONS)
    _choice("trainer.cuda_graph", t.cuda_graph, CUDA_GRAPH)
    _check(t.replicas >= 1, "trainer.replicas", "an integer >= 1 (copies trained at once)", t.replicas)

    _check(cfg.sweep.max_depth >= 1, "sweep.max_depth", "an integer >= 1", cfg.sweep.max_depth)
    _check(cfg.sweep.seeds >= 1, "sweep.seeds", "an integer >= 1", cfg.sweep.seeds)
    _check(cfg.sweep.render_workers >= -1, "sweep.render_workers", "an integer >= 0, or -1 for automatic",
           cfg.sweep.render_workers)

    dg = cfg.diagnostics
    _check(0.5 < dg.saturation < 1, "diagnostics.saturation", "a number in (0.5, 1)", dg.saturation)
    _check(dg.probe_samples >= 1, "diagnostics.probe_samples", "an integer >= 1", dg.probe_samples)
    _check(dg.ratio > 0, "diagnostics.ratio", "a number > 0", dg.ratio)
    _check(dg.window >= 1, "diagnostics.window", "an integer >= 1", dg.window)
    _check(dg.min_improvement >= 0, "diagnostics.min_improvement", "a number >= 0", dg.min_improvement)
    _check(dg.min_weight_change >= 0, "diagnostics.min_weight_change", "a number >= 0", dg.min_weight_change)
    _check(dg.max_loss_fraction > 0, "diagnostics.max_loss_fraction", "a number > 0", dg.max_loss_fraction)
    _check(dg.sensitivity_samples >= 1, "diagnostics.sensitivity_samples", "an integer >= 1",
           dg.sensitivity_samples)

    gc = cfg.gradcheck
    _check(gc.samples >= 1, "gradcheck.samples", "an integer >= 1", gc.samples)
    _check(gc.batch >= 1, "gradcheck.batch", "an integer >= 1", gc.batch)
    _check(0 < gc.eps < 1e-2, "gradcheck.eps", "a step in (0, 0.01)", gc.eps)
    _check(gc.tol > 0, "gradcheck.tol", "a tolerance > 0", gc.tol)
    _check(gc.floor > 0, "gradcheck.floor", "a number > 0", gc.floor)

    st = cfg.study
    if cfg.task == "study":
        _choice("study.name", st.name, STUDIES)
    _check(0 <= st.plateau.rel, "study.plateau.rel", "a number >= 0", st.plateau.rel)
    _check(st.plateau.window >= 1, "study.plateau.window", "an integer >= 1", st.plateau.window)
    ff = st.function_fit
    for fn in ff.functions:
        _choice("study.function_fit.functions", fn, FUNCTIONS)
    _check(len(ff.depths) >= 1 and min(ff.depths) >= 1, "study.function_fit.depths", "depths >= 1, e.g. [1,3,6]",
           list(ff.depths))
    _check(ff.target_params >= 10, "study.function_fit.target_params", "an integer >= 10", ff.target_params)
    _check(st.trajectory.runs >= 2, "study.trajectory.runs", "an integer >= 2 (PCA compares runs)", st.trajectory.runs)
    _check(st.trajectory.every >= 1, "study.trajectory.every", "an integer >= 1", st.trajectory.every)
    mr = st.minimal_ratio
    _check(mr.repeats >= 1, "study.minimal_ratio.repeats", "an integer >= 1", mr.repeats)
    _check(mr.steps >= 1, "study.minimal_ratio.steps", "an integer >= 1", mr.steps)
    _check(mr.grad_steps >= 0, "study.minimal_ratio.grad_steps", "an integer >= 0", mr.grad_steps)
    _check(mr.grad_threshold > 0, "study.minimal_ratio.grad_threshold", "a number > 0", mr.grad_threshold)
    _check(mr.lr > 0, "study.minimal_ratio.lr", "a learning rate > 0", mr.lr)
    ip = st.interpolation
    _check(ip.batch_small >= 1 and ip.batch_large >= 1, "study.interpolation.batch_small",
           "batch sizes >= 1", [ip.batch_small, ip.batch_large])
    _check(ip.alpha_min < ip.alpha_max, "study.interpolation.alpha_min", f"a number below alpha_max ({ip.alpha_max})",
           ip.alpha_min)
    _check(ip.steps >= 2, "study.interpolation.steps", "an integer >= 2", ip.steps)
    _check(ip.eval_samples >= 0, "study.interpolation.eval_samples", "0 (all) or a count", ip.eval_samples)
    if cfg.task == "study" and st.name in ("trajectory_pca", "flatness_interpolation"):
        _check(not is_function, "dataset", f"an image dataset for study {st.name}", d.name)
    if cfg.task == "study" and st.name in ("function_fit", "minimal_ratio"):
        _check(is_function and m.name == "mlp", "dataset", f"function (with model=mlp) for study {st.name}", d.name)

    dev = str(cfg.device)
    _choice("engine", cfg.engine, ENGINES)
    if cfg.engine == "numpy":
        _check(m.name == "mlp", "model", "mlp for engine=numpy (the scratch engine has no conv layers)", m.name)
        _choice("activation.name", a.name, SCRATCH_ACTIVATIONS)
        _check(o.name == "sgd", "optimizer", "sgd for engine=numpy", o.name)
        _check(not r.batchnorm, "regularizer.batchnorm", "false for engine=numpy", r.batchnorm)
        _check(dev in ("auto", "cpu"), "device", "auto or cpu for engine=numpy (NumPy runs on the CPU)", dev)
        _check(cfg.task == "train", "task", "train for engine=numpy", cfg.task)
        _check(not dg.sensitivity, "diagnostics.sensitivity", "false for engine=numpy", dg.sensitivity)

    _choice("task", cfg.task, TASKS)
    if t.replicas > 1:  # the stacked model supports plain training; these need one model at a time
        _check(cfg.task == "train", "trainer.replicas", f"1 for task={cfg.task}", t.replicas)
        _check(cfg.engine == "torch", "trainer.replicas", "1 for engine=numpy", t.replicas)
        _check(not t.log_steps, "trainer.log_steps", "false with trainer.replicas > 1", t.log_steps)
        _check(not dg.sensitivity, "diagnostics.sensitivity", "false with trainer.replicas > 1", dg.sensitivity)
    if cfg.engine == "numpy":
        _check(t.precision == "fp32", "trainer.precision", "fp32 for engine=numpy", t.precision)
    _check(cfg.seed >= 0, "seed", "an integer >= 0", cfg.seed)
    _check(dev in ("auto", "cpu", "cuda", "mps") or (dev.startswith("cuda:") and dev[5:].isdigit()),
           "device", "auto, cpu, cuda, cuda:N or mps", dev)
    _check(bool(str(cfg.data_dir).strip()), "data_dir", "a directory path", cfg.data_dir)
    apply_shortcuts(cfg)
