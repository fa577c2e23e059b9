"""The reader behind `schedule.bounds_from=PATH`: base_lr and max_lr from an LR range test's range_test.json.

The range test (runner/range_test/) writes the file; a cyclical policy reads its suggestions here, before any work
starts, so a missing or malformed file is one line naming schedule.bounds_from. Two layouts are read:

- layout 2 (several seeds): the median bounds of the file's chosen rule, `aggregate[rule]["base_lr"|"max_lr"]`;
  a test that suggested nothing (`aggregate` null) is refused with its warning.
- the single-seed files written before it (no `layout` key): `suggested_base_lr` and `suggested_max_lr`, so the
  committed range tests under experiments/ keep working.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from runner.errors import ConfigError

RESULT_FILE = "range_test.json"
# A range_test.json nests five levels (aggregate -> rule -> spread -> bound -> min) and holds a few kilobytes per
# seed; anything far deeper or larger is not one, and is refused before it can exhaust the stack or the memory.
MAX_DEPTH = 32
MAX_BYTES = 16 * 1024 * 1024


def depth(value: object) -> int:
    """How deeply `value` (parsed JSON) nests; a scalar is 0."""
    level, layer = 0, [value]
    while layer:
        layer = [
            child
            for node in layer
            if isinstance(node, (dict, list))
            for child in (node.values() if isinstance(node, dict) else node)
        ]
        level += 1
    return level - 1


def result_path(path: str) -> Path:
    """A range_test.json, or the folder holding one; relative paths start at the folder the command runs from
    (Hydra 1.3 does not change the working directory)."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path.cwd() / p
    return p / RESULT_FILE if p.is_dir() else p


def read_bounds(path: str, key: str = "schedule.bounds_from") -> tuple[float, float]:
    """(base_lr, max_lr) from a range test's result; ConfigError naming `key` if missing or malformed."""
    file = result_path(path)
    if not file.is_file():
        raise ConfigError(
            f"{key}={path!r}: no range-test result at {file}; write one with "
            f"`python -m runner task=range_test` and pass its folder"
        )
    if file.stat().st_size > MAX_BYTES:
        raise ConfigError(f"{key}={path!r}: {file} is over {MAX_BYTES:,} bytes; a range-test result is far smaller")
    try:
        data = json.loads(file.read_text())
        if depth(data) > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        if not isinstance(data, dict):
            raise TypeError(f"a JSON {type(data).__name__}, not an object")
        refused = refusal(data)
        base, top = (math.nan, math.nan) if refused else bounds_of(data)
    except RecursionError:
        raise ConfigError(f"{key}={path!r}: {file} is not a range-test result (nested too deeply to read)") from None
    except (ValueError, KeyError, TypeError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else " ".join(str(exc).split())
        raise ConfigError(f"{key}={path!r}: {file} is not a range-test result ({detail})") from None
    if refused:
        raise ConfigError(f"{key}={path!r}: {file} suggests no bounds ({refused}); run a new range test")
    if not (math.isfinite(base) and math.isfinite(top) and 0 < base < top):
        raise ConfigError(
            f"{key}={path!r}: {file} holds unusable bounds (base_lr={base!r}, max_lr={top!r}); need 0 < base < max"
        )
    return base, top


def refusal(data: dict) -> str | None:
    """Why a layout-2 file suggests nothing (its range test's reason or warnings), or None when it suggests bounds."""
    if "layout" not in data:
        return None
    if data.get("usable") is False:
        return " ".join(str(data.get("reason") or "usable: false").split())
    if data.get("aggregate") is not None:
        return None
    return " ".join("; ".join(str(w) for w in data.get("warnings") or []).split()) or "no aggregate"


def bounds_of(data: dict) -> tuple[float, float]:
    """(base_lr, max_lr) from a parsed range_test.json of either layout; KeyError/TypeError/ValueError if malformed."""
    if "layout" in data:
        chosen = data["aggregate"][data["rule"]]
        return float(chosen["base_lr"]), float(chosen["max_lr"])
    return float(data["suggested_base_lr"]), float(data["suggested_max_lr"])
