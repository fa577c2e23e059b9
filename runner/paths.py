"""Where the Hydra configs live: conf/ beside the package in a source checkout (the folder users edit), or the copy
the wheel ships inside the package (pyproject.toml maps conf/ to runner/conf/ when building)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def conf_dir() -> Path:
    """The top-level conf/ of a source checkout (an editable install), else runner/conf/ of an installed wheel."""
    checkout = _PACKAGE.parent / "conf"
    return checkout if (checkout / "config.yaml").is_file() else _PACKAGE / "conf"


CONF_DIR = conf_dir()
