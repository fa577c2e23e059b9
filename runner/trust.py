"""What a config may name as code: the `_target_` allow-list, checked on the whole composed config.

Hydra imports and calls whatever a `_target_` names (hydra.callbacks, hydra.launcher, hydra.sweeper), and Python's
logging config does the same with `()` and a handler's `class`. An override (`+hydra.callbacks.x._target_=...`) or
an experiment YAML someone shares could name any callable that way, so only the project's own classes, Hydra's own
launchers and sweepers and Hydra's plugins are accepted; everything else is refused before Hydra instantiates it
(runner/hydra_compat.py installs the check where Hydra builds its callbacks, and ValidateConfig checks every sweep
job's config). The trusted code is what is installed; the config only chooses among it.
"""

from __future__ import annotations

from typing import Any

from runner.errors import ConfigError

# Module prefixes a `_target_` may name: the project, Hydra's own launchers and sweepers, Hydra's plugin namespace.
TARGET_PREFIXES = ("runner.", "hydra._internal.core_plugins.", "hydra_plugins.")
# Callables Python's logging config may build (Hydra's job_logging and hydra_logging, and the colorlog plugin).
LOGGING_PREFIXES = ("logging.", "colorlog.")
# Keys whose value logging.config.dictConfig imports: a formatter's or handler's factory and a handler's class.
LOGGING_KEYS = ("()", "class")


def _allowed(value: Any, prefixes: tuple[str, ...]) -> bool:
    return isinstance(value, str) and value.startswith(prefixes) and ".." not in value


def foreign_targets(node: Any, path: str = "", in_logging: bool = False) -> list[tuple[str, Any]]:
    """Every (key, value) in `node` (plain dicts and lists) that names code outside the allow-list."""
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for name, value in node.items():
            key = f"{path}.{name}" if path else str(name)
            logging_node = in_logging or key in ("hydra.job_logging", "hydra.hydra_logging")
            if name == "_target_" and not _allowed(value, TARGET_PREFIXES):
                found.append((key, value))
            elif logging_node and name in LOGGING_KEYS and not _allowed(value, LOGGING_PREFIXES):
                found.append((key, value))
            else:
                found += foreign_targets(value, key, logging_node)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += foreign_targets(value, f"{path}[{i}]", in_logging)
    return found


def refuse_foreign_targets(config: Any) -> None:
    """ConfigError naming the first key that would make Hydra or logging import code outside the allow-list."""
    from omegaconf import DictConfig, OmegaConf

    plain = OmegaConf.to_container(config, resolve=False) if isinstance(config, DictConfig) else config
    found = foreign_targets(plain)
    if found:
        key, value = found[0]
        allowed = ", ".join(f"{p}*" for p in (LOGGING_PREFIXES if not key.endswith("_target_") else TARGET_PREFIXES))
        raise ConfigError(
            f"{key}={value!r}: names code outside the project; only {allowed} may be named (no config string runs "
            "other code)"
        )
