"""Checks and conversions shared by the analysis functions: logged series as numpy arrays, JSON-ready numbers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def float_array(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values if values is not None else [], dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D series, got shape {arr.shape}")
    return arr


def steps_array(steps: Any, name: str = "steps") -> np.ndarray:
    arr = float_array(steps, name)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: step numbers must be finite")
    # searchsorted (window references, step -> index lookups) needs a sorted axis; duplicates would make
    # "the step at which" ambiguous, so they are refused rather than silently resolved.
    if arr.size > 1 and not np.all(np.diff(arr) > 0):
        raise ValueError(f"{name}: step numbers must be strictly increasing")
    return arr


def series(steps: Any, values: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    s = steps_array(steps)
    y = float_array(values, name)
    if s.shape != y.shape:
        raise ValueError(f"steps and {name} differ in length: {s.size} != {y.size}")
    return s, y


def finite_prefix(y: np.ndarray) -> int:
    """Length of the leading run of finite values (the part of a diverged run that still means something)."""
    bad = np.flatnonzero(~np.isfinite(y))
    return int(bad[0]) if bad.size else int(y.size)


def step_int(x: float) -> int:
    return int(round(float(x)))


def json_float(x: Any) -> float | None:
    # NaN/inf are not valid JSON (json.dump writes bare NaN, which strict parsers reject).
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}={value!r}: must be in [0, 1)")
