"""Models (conf/model/<name>.yaml), weight initialisations (conf/init/<name>.yaml), and the
checks of the `model` and `init` sections.

An init entry names its torch function (weight, gain) in runner/models/layers.py and its NumPy
twin (rng, fan_in, fan_out, gain) -> (W, b) in runner/scratch/layers.py; `gain` comes from the
activation's entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.config import shortcuts
from runner.config.checks import require
from runner.registry import Registry


@dataclass(frozen=True)
class Model:
    help: str
    conv: bool  # has a conv stack (model.conv), so it needs images


@dataclass(frozen=True)
class Init:
    help: str
    torch: str | None  # "module:function" (weight, gain) filling the weight in place; None keeps PyTorch's
    numpy: str  # "module:function" (rng, fan_in, fan_out, gain) -> (W, b) for the scratch engine


MODELS: Registry[Model] = Registry("model.name", "model")
MODELS.add("mlp", Model("flatten -> hidden FC layers (model.hidden) -> output", conv=False))
MODELS.add("cnn", Model("3x3 conv + 2x2 max-pool per model.conv entry, then the FC block", conv=True))

INITS: Registry[Init] = Registry("init.name", "init")
INITS.add("default", Init("PyTorch's own (uniform, 1/sqrt(fan_in))", None, "runner.scratch.layers:default_init"))
INITS.add(
    "xavier",
    Init("Glorot uniform, gain 1; biases 0", "runner.models.layers:xavier", "runner.scratch.layers:xavier_init"),
)
INITS.add(
    "kaiming",
    Init(
        "He normal, fan_in, the activation's gain; biases 0",
        "runner.models.layers:kaiming",
        "runner.scratch.layers:kaiming_init",
    ),
)


def check_model(cfg) -> None:
    """The model section (the depth/width shortcut is checked by runner.config.shortcuts)."""
    m, images = cfg.model, cfg.dataset.source != "function"
    model = MODELS.check(m.name)
    require(all(w >= 1 for w in m.hidden), "model.hidden", "a list of widths >= 1, e.g. [256,128]", list(m.hidden))
    require(all(c >= 1 for c in m.conv), "model.conv", "a list of channel counts >= 1, e.g. [32,64]", list(m.conv))
    shortcuts.check(m)
    if not model.conv:
        require(
            len(m.conv) == 0,
            "model.conv",
            f"[] for model={m.name} (model=cnn trains conv layers; model.conv=[] drops those an experiment preset set)",
            list(m.conv),
        )
        return
    require(images, "model", "mlp for dataset=function (a CNN needs images)", m.name)
    require(len(m.conv) >= 1, "model.conv", f"at least one channel count for model={m.name}", list(m.conv))
    h, w = cfg.dataset.image_size
    stages = len(m.conv)
    require(
        min(h, w) >> stages >= 1,
        "model.conv",
        f"at most {max(0, min(h, w).bit_length() - 1)} conv layers: each 2x2 pool halves the {h}x{w} input",
        list(m.conv),
    )


def check_init(cfg) -> None:
    INITS.check(cfg.init.name)
