"""Checkpoints: everything a run needs to continue as if it had never stopped, written so a kill cannot corrupt it.

A checkpoint holds the model, the optimizer (momentum buffers included), the step (the schedule is a pure function
of it), every RNG state (Python, NumPy, torch, the data-order generator), the epoch's data permutation, how many
rows metrics.csv and eval.csv held, and the run's validated config. It is plain data (tensors, numbers, strings,
lists, dicts), written whole to a temporary name, fsynced and renamed over the previous one, and read back with
torch.load(weights_only=True), which refuses pickled callables instead of running them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import random
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch

from runner.errors import ConfigError
from runner.files import atomic_file

FILENAME = "checkpoint.pt"
# The checkpoint before the newest: what a resume falls back on when the newest does not prove itself.
PREVIOUS = "checkpoint.prev.pt"
DIGEST_KEY = "sha256"  # of everything else in the checkpoint (content_digest)
# What every checkpoint holds; one without any of these cannot resume a run.
REQUIRED = ("step", "rng", "metrics_rows", "eval_rows", "result", "model", "optimizer", "config")
log = logging.getLogger("runner")


def rng_state(device: torch.device | None = None) -> dict[str, Any]:
    # The 625- and 624-word Mersenne Twister states go in as one tensor each: as Python ints, every word is a
    # pickled object of its own, more objects than the rest of a small model's checkpoint put together.
    version, words, gauss = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": [version, torch.tensor(words, dtype=torch.int64), gauss],
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
    }
    # On a GPU, dropout draws from the device's own generator: a resume on the same device continues it.
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device | None = None) -> None:
    version, words, gauss = state["python"]
    # Checkpoints written before the states were tensors hold the words as a list (they still resume).
    random.setstate((version, tuple(words.tolist() if isinstance(words, torch.Tensor) else words), gauss))
    torch.set_rng_state(state["torch"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _feed(h: Any, value: Any) -> None:
    """Hash `value` by content: tensors by dtype, shape and bytes; containers element by element, type-tagged."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(value.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        h.update(b"D%d" % len(value))
        for k, v in value.items():
            _feed(h, k)
            _feed(h, v)
    elif isinstance(value, (list, tuple)):  # a tuple may come back as either: one tag for both
        h.update(b"L%d" % len(value))
        for v in value:
            _feed(h, v)
    elif isinstance(value, float):
        h.update(b"F" + struct.pack("<d", value))
    elif isinstance(value, (bytes, bytearray)):
        h.update(b"B%d:" % len(value) + bytes(value))
    else:  # str, int, bool, None: their repr is exact
        text = repr(value).encode()
        h.update(f"{type(value).__name__}{len(text)}:".encode() + text)


def content_digest(state: dict[str, Any]) -> str:
    """sha256 over every value of a checkpoint but its own digest: one flipped bit anywhere changes it."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != DIGEST_KEY})
    return h.hexdigest()


def save(path: Path, state: dict[str, Any], durable: bool = False) -> None:
    """Write `state` and its digest whole under a temporary name; then the previous checkpoint becomes
    checkpoint.prev.pt and the new one takes its name, so a kill at any moment leaves a good checkpoint behind.

    The rename alone protects against a killed process; `durable` adds an fsync (several ms) that also protects
    against a power cut, worth paying for the final checkpoint but not every few hundred steps.
    """
    path = Path(path)
    with atomic_file(path, binary=True, durable=durable) as f:
        torch.save({**state, DIGEST_KEY: content_digest(state)}, f)
        f.flush()
        if path.exists():  # the new one is written in full by now: only then does the old one step back
            os.replace(path, path.with_name(PREVIOUS))


def load(path: Path, required: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """The checkpoint at `path`, or None if there is none; a file that is not plain data, is cut short, fails its
    digest or lacks one of the `required` keys is refused with one line."""
    path = Path(path)
    if not path.exists():
        return None

    def refuse(why: str) -> ConfigError:
        return ConfigError(f"{path}: refused to load the checkpoint ({why}); move it away to start the run afresh")

    try:
        # Onto the CPU whatever device wrote it: the loop copies each part to the run's device (load_state_dict),
        # so a checkpoint written on a GPU resumes on a machine without one.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - pickle, zip, I/O and torch errors alike: the file is not a checkpoint
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise refuse(f"not plain data or damaged: {first}") from None
    if not isinstance(state, dict):
        raise refuse(f"holds a {type(state).__name__}, not a checkpoint")
    missing = [k for k in required if k not in state]
    if missing:
        raise refuse(f"incomplete: no {', '.join(missing)}")
    if DIGEST_KEY not in state:
        # Written before checkpoints carried a digest: nothing to check it against.
        log.warning("%s: has no checksum (written by an earlier version); loaded unchecked", path)
        return state
    if state[DIGEST_KEY] != content_digest(state):
        raise refuse("damaged: its content does not match its sha256")
    return state


def load_latest(folder: Path, resume: bool = False) -> dict[str, Any] | None:
    """The newest checkpoint in `folder` that proves itself: checkpoint.pt, else checkpoint.prev.pt; None when there
    is neither. When no file there loads, the newest one's refusal is raised.

    `resume` (the run is about to continue from it): a fallback is logged as a warning naming both files, and a
    refused checkpoint.pt is set aside as checkpoint.pt.damaged, so the next save does not push the good previous
    checkpoint out for it.
    """
    folder = Path(folder)
    newest, previous = folder / FILENAME, folder / PREVIOUS
    try:
        state = load(newest, REQUIRED)
    except ConfigError as e:
        if not previous.exists():
            raise
        try:
            state = load(previous, REQUIRED)
        except ConfigError:
            raise e from None
        if resume:
            log.warning("%s; resuming from the previous checkpoint %s (step %d) instead", e, previous, state["step"])
            os.replace(newest, newest.with_name(FILENAME + ".damaged"))
        return state
    if state is None and previous.exists():  # killed between the two renames of save()
        state = load(previous, REQUIRED)
        if resume:
            log.warning("%s is missing; resuming from the previous checkpoint %s", newest, previous)
    return state


def config_dict(cfg: Any) -> dict[str, Any]:
    """A validated RunConfig as nested plain values, the form checkpoints store and resumes compare."""
    return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(cfg)
