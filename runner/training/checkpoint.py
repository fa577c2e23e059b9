"""Checkpoints: everything a run needs to continue as if it had never stopped, written so a kill cannot corrupt it.

A checkpoint holds the model, the optimizer (momentum buffers included), the step (the schedule is a pure function
of it), every RNG state (Python, NumPy, torch, the data-order generator), the epoch's data permutation, how many
rows metrics.csv and eval.csv held, and the run's validated config. It is plain data (tensors, numbers, strings,
lists, dicts), written whole to a temporary name, fsynced and renamed over the previous one, and read back with
torch.load(weights_only=True), which refuses pickled callables instead of running them.
"""

from __future__ import annotations

import dataclasses
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from runner.errors import ConfigError
from runner.files import atomic_file

FILENAME = "checkpoint.pt"
# Keys that change how a run is watched, not what it computes: a resume may change them freely.
NO_EFFECT_KEYS = ("trainer.progress", "trainer.flush_every", "trainer.checkpoint_every", "faults.", "logger")


def rng_state() -> dict[str, Any]:
    # The 625- and 624-word Mersenne Twister states go in as one tensor each: as Python ints, every word is a
    # pickled object of its own, more objects than the rest of a small model's checkpoint put together.
    version, words, gauss = random.getstate()
    np_state = np.random.get_state()
    return {
        "python": [version, torch.tensor(words, dtype=torch.int64), gauss],
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    version, words, gauss = state["python"]
    # Checkpoints written before the states were tensors hold the words as a list (they still resume).
    random.setstate((version, tuple(words.tolist() if isinstance(words, torch.Tensor) else words), gauss))
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))


def save(path: Path, state: dict[str, Any], durable: bool = False) -> None:
    """Write `state` whole under a temporary name, then rename: the old checkpoint survives a kill mid-write.

    The rename alone protects against a killed process; `durable` adds an fsync (several ms) that also protects
    against a power cut, worth paying for the final checkpoint but not every few hundred steps.
    """
    with atomic_file(Path(path), binary=True, durable=durable) as f:
        torch.save(state, f)


def load(path: Path) -> dict[str, Any] | None:
    """The checkpoint at `path`, or None if there is none; a file that is not plain data is refused."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(
            f"{path}: refused to load the checkpoint (not plain data or damaged: {first}); "
            "move it away to start the run afresh"
        ) from None


def config_dict(cfg: Any) -> dict[str, Any]:
    """A validated RunConfig as nested plain values, the form checkpoints store and resumes compare."""
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ and that would change the results."""
    a, b = _flatten(old), _flatten(new)
    keys = sorted(k for k in set(a) | set(b) if a.get(k, "<unset>") != b.get(k, "<unset>"))
    return [k for k in keys if not any(k == n or (n.endswith(".") and k.startswith(n)) for n in NO_EFFECT_KEYS)]


def refuse_changed_config(run_dir: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    differ = config_diff(old, new)
    if differ:
        _a, _b = _flatten(old), _flatten(new)
        shown = ", ".join(f"{k}: {_a.get(k)!r} -> {_b.get(k)!r}" for k in differ[:4])
        more = f" (+{len(differ) - 4} more)" if len(differ) > 4 else ""
        raise ConfigError(
            f"hydra.run.dir={str(run_dir)!r}: holds a run with another config, which a resume "
            f"would change ({shown}{more}); rerun with the same values or choose a new folder"
        )
