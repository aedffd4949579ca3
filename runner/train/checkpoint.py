"""checkpoint.pt and model.pt: what a run needs to go on exactly where it stopped, and its
final weights.

A checkpoint holds the engine's state (weights, optimizer, the data-order generators, the
epoch's progress at a step boundary, probe sums), every random state that affects the result
(Python's, NumPy's, torch's CPU and CUDA generators), the rows written so far, and the run's
config. It is written atomically (temporary file, fsync, rename), so a kill during the write
leaves the previous one, and read with torch.load(weights_only=True): plain tensors,
numbers, strings, lists and dicts, never arbitrary objects.
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from runner import __version__
from runner.errors import DataError, reading
from runner.files import atomic_write

# torch is imported by the functions that use it: a render worker reads these names without it (~1.5 s)
CHECKPOINT, MODEL, BEST = "checkpoint.pt", "model.pt", "best.pt"
FORMAT = 1


def fingerprint(cfg) -> str:
    """The resolved config as text, without the keys that only change how a run prints, saves,
    mirrors or is named (runfolder.PRESENTATION, the one list the sweep folder guard and the
    job folder names read too): equal for the same run, so a run resumes under a command that
    differs only in those."""
    from runner.runfolder import presentation_keys

    data = OmegaConf.to_container(cfg, resolve=True)
    for key in presentation_keys():  # a key under one already dropped finds no node and is skipped
        *path, last = key.split(".")
        node = data
        for name in path:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return json.dumps(data, sort_keys=True, default=str)


def rng_state() -> dict:
    import torch

    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    np_state = np.random.get_state(legacy=False)
    state["numpy"] = {**np_state, "state": {k: torch.from_numpy(np.asarray(v).copy()) if isinstance(v, np.ndarray)
                                                else v for k, v in np_state["state"].items()}}  # fmt: skip
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import torch

    random.setstate(_tuples(state["python"]))
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    inner = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in np_state["state"].items()}
    np.random.set_state({**np_state, "state": inner})
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _tuples(value):
    """random.setstate wants the tuples that a save and load may have turned into lists."""
    return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def save(path: Path, payload: dict) -> None:
    import torch

    payload = {"format": FORMAT, "dlrun_version": __version__, **payload}
    atomic_write(path, lambda f: torch.save(payload, f))


def load(path: Path, header_only: bool = False) -> dict:
    """A checkpoint or model file, or a DataError naming it. header_only: its tensors mapped, not
    read (for a look at its fingerprint)."""
    import torch

    with reading(path, "dlrun checkpoint"):
        if not zipfile.is_zipfile(path):  # torch.save writes a zip; torch.load's error for others is cryptic
            raise DataError(f"{path}: not a readable dlrun checkpoint (not a file torch.save wrote)")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True, mmap=header_only)
        except (RuntimeError, OSError):
            if not header_only:
                raise
            payload = torch.load(path, map_location="cpu", weights_only=True)  # a file system that cannot mmap
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(f"{path}: not a dlrun checkpoint of format {FORMAT}")
    return payload


def save_model(run_dir: Path, engine, cfg, epoch: int, name: str = MODEL) -> None:
    """model.pt: the final weights (best.pt: the best epoch's, with early stopping), with the
    config that built them (for task=eval)."""
    save(Path(run_dir) / name, {"kind": "model", "epoch": epoch, "config": OmegaConf.to_yaml(cfg, resolve=True),
                                 "weights": engine.weights()})  # fmt: skip
