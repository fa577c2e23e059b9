"""Plain config values -> typed dataclasses, with one-line errors that name the key.

Hydra's own structured-config errors span several lines and do not say what is allowed, so the YAML stays untyped
at compose time and every section is checked here, before any work starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

from runner.errors import ConfigError

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """`value` as type `tp` (int, float, bool, str, Optional[...], list[...]), or ConfigError."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return coerce(value, args[0], key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}={value!r}: must be a list, e.g. [{key.split('.')[-1]}1, ...]")
        (item_tp,) = typing.get_args(tp)[:1]
        return [coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if value is None:
        raise ConfigError(f"{key}=null: must be {_type_name(tp)}")
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            # Every float is read through here: NaN and infinity are refused once, for every key (an infinite
            # weight_decay or diverge_factor would only fail at the first step, or never stop anything).
            if not math.isfinite(float(value)):
                raise ConfigError(f"{key}={value!r}: must be a finite number, not NaN or infinity")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is Any:
        return value
    else:
        raise TypeError(f"unsupported field type {tp!r} for {key}")
    raise ConfigError(f"{key}={value!r}: must be {_type_name(tp)}")


def did_you_mean(value: Any, allowed: list[str], prefix: str = "") -> str:
    """ "; did you mean 'x'?" for the closest allowed name (difflib), or "" when nothing is close; `prefix` goes
    before the name shown ("schedule." for a key)."""
    close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.6)
    return f"; did you mean {prefix + close[0]!r}?" if close else ""


def from_mapping(cls: type[T], values: Mapping[str, Any], key: str) -> T:
    """Build dataclass `cls` from `values`; unknown keys and wrong types are ConfigErrors naming `key.field`."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]}: unknown key; allowed: {', '.join(fields)}{did_you_mean(unknown[0], list(fields))}"
        )
    kwargs = {}
    for name, value in values.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key}.{name}={value!r}: must be a group of keys")
            kwargs[name] = from_mapping(tp, value, f"{key}.{name}")
        else:
            kwargs[name] = coerce(value, tp, f"{key}.{name}")
    return cls(**kwargs)


def nested_keys(cls: type, path: str) -> list[str]:
    """The field names of dataclass `cls` at the dotted `path` of nested dataclasses ("" for its own fields)."""
    for part in filter(None, path.split(".")):
        hint = typing.get_type_hints(cls).get(part)
        if not dataclasses.is_dataclass(hint):
            return []
        cls = hint
    return [f.name for f in dataclasses.fields(cls) if f.init]


# Range checks shared by every config dataclass's check(): one line naming the key, the value and what is allowed.
def require_positive(key: str, value: float) -> None:
    if not value > 0 or not math.isfinite(value):
        raise ConfigError(f"{key}={value!r}: must be a finite number > 0")


def require_in(
    key: str, value: float, low: float, high: float, *, low_open: bool = False, high_open: bool = False, why: str = ""
) -> None:
    below = value <= low if low_open else value < low
    above = value >= high if high_open else value > high
    if below or above or math.isnan(value) or (math.isinf(value) and math.isfinite(high)):
        text = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(f"{key}={value!r}: must be in {text}" + (f": {why}" if why else ""))


def require_at_most(key: str, value: int | None, limit: int, why: str) -> None:
    """An upper bound on a count (steps, epochs, widths, depths), so a typo of a few zeros is refused at once."""
    if value is not None and value > limit:
        raise ConfigError(f"{key}={value!r}: must be at most {limit:,}: {why}")


def require_choice(key: str, value: str, allowed: tuple) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r}: must be one of {', '.join(allowed)}")
