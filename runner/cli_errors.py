"""Hydra's and clr-lab's configuration errors as one line each, for the command line."""
from __future__ import annotations

import re
from typing import Optional

from hydra.errors import HydraException, MissingConfigException
from omegaconf.errors import OmegaConfBaseException

from runner.errors import ConfigError

# Lines of Hydra/OmegaConf reports that repeat the key or name internal types.
_NOISE = re.compile(r"^\s*(full_key:|object_type=|reference_type=|Set the environment variable HYDRA_FULL_ERROR)")


def _missing_choice(e: MissingConfigException) -> Optional[str]:
    if not e.missing_cfg_file or "/" not in e.missing_cfg_file:
        return None
    group, _, value = e.missing_cfg_file.rpartition("/")
    allowed = ", ".join(sorted(e.options or [])) or "(none found)"
    return f"{group}={value}: unknown {group}; allowed: {allowed}"


def one_line(e: BaseException) -> Optional[str]:
    """A single line for a config error, or None for anything else (a bug: show the traceback)."""
    if isinstance(e, ConfigError):
        return str(e)
    if isinstance(e, MissingConfigException):
        line = _missing_choice(e)
        if line:
            return line
    if isinstance(e, (HydraException, OmegaConfBaseException)):
        message = str(e)
        struct = re.search(r"Could not override '([^']+)'", message)
        if struct and "To append to your config use +" in message:
            key = struct.group(1)
            return f"{key}: no such key (check the spelling; a new key is added with +{key}=VALUE)"
        lines = [ln.strip() for ln in message.splitlines() if ln.strip() and not _NOISE.match(ln)]
        return " ".join(lines) or type(e).__name__
    return None
