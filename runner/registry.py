"""One way to choose a component by name: a registry maps each name to its config dataclass and its builder.

Every choice a user makes by name (`schedule=triangular2`, `model=lenet5`, `dataset=fashion_mnist`,
`optimizer=adam`, `task=preview`, `schedule.scale_fn=exp_gamma`) is looked up in a `Registry`. Adding a component
is one `register` (or `add`) call next to its code; a duplicate name is refused, so two components can never
silently replace each other; an unknown name is a one-line ConfigError that lists what is allowed and suggests the
nearest name.

    MODELS = Registry("model")

    @MODELS.register("small_cnn", config=SmallCNNConfig)
    def small_cnn(cfg, input_shape, num_classes): ...

    entry = MODELS.entry("small_cnn")          # Entry(name, config=SmallCNNConfig, build=small_cnn)
    cfg = MODELS.config_from({"name": "small_cnn", "channels": [8]}, key="model")   # typed and range-checked

A builder may be given as "package.module:function": it is imported on first use. The config layer uses this to
stay free of torch, so a bad value on the command line is refused before torch is imported (about a second and a
half of every start). Strings here are the project's own code paths, never values from a user's config.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runner.errors import ConfigError
from runner.typed import did_you_mean, from_mapping

__all__ = ["Entry", "Registry", "did_you_mean"]


@dataclass(frozen=True)
class Entry:
    """One registered component: its name, its config dataclass (or None) and its builder (or None)."""

    name: str
    config: type | None
    target: Callable[..., Any] | str | None

    @property
    def build(self) -> Callable[..., Any]:
        """The builder, imported now if it was registered as "module:function"."""
        if isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            return getattr(importlib.import_module(module), attr)
        if self.target is None:
            raise TypeError(f"{self.name!r} has no builder")
        return self.target


class Registry:
    """Names -> Entry, for one kind of component ("schedule", "model", ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, config: type | None = None, build: Callable[..., Any] | str | None = None) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice; choose another name")
        self._entries[name] = Entry(name, config, build)

    def register(self, name: str, *, config: type | None = None) -> Callable[[Any], Any]:
        """Decorator: a builder function (with `config`), or a config dataclass that is its own component (a
        schedule policy is both its config and the thing it builds)."""

        def add(obj: Any) -> Any:
            if config is None and isinstance(obj, type):
                self.add(name, obj, None)
            else:
                self.add(name, config, obj)
            return obj

        return add

    def remove(self, name: str) -> None:
        """Forget `name` (tests and plugins that register something for a while)."""
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: Any, key: str | None = None) -> Entry:
        """The entry for `name`, or a ConfigError naming `key` (default: the kind), the allowed names and the
        nearest one."""
        if isinstance(name, str) and name in self._entries:
            return self._entries[name]
        key = key or self.kind
        raise ConfigError(
            f"{key}={name!r}: unknown {self.kind}; allowed: {', '.join(self.names())}{did_you_mean(name, self.names())}"
        )

    def config_from(self, values: Any, key: str) -> Any:
        """A typed, range-checked config from plain values {"name": ..., field: value, ...}."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"{key}={values!r}: must be a config group; choose one with {key}=NAME")
        entry = self.entry(values.get("name"), f"{key}.name")
        if entry.config is None:
            raise TypeError(f"{self.kind} {entry.name!r} has no config dataclass")
        obj = from_mapping(entry.config, values, key)
        obj.check(key)
        return obj
