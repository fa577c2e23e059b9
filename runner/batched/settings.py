"""The hydra.launcher.* keys of the batched launcher, checked before any job starts."""

from __future__ import annotations

from typing import Any

from runner.errors import ConfigError

FALLBACKS = ("joblib", "basic")


def check(settings: Any) -> None:
    for name in ("max_members", "max_pixels"):
        value = getattr(settings, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"hydra.launcher.{name}={value!r}: must be an integer >= 1 or null (no limit)")
    if settings.fallback not in FALLBACKS:
        raise ConfigError(f"hydra.launcher.fallback={settings.fallback!r}: allowed: {', '.join(FALLBACKS)}")
    n = settings.n_jobs
    if isinstance(n, bool) or not isinstance(n, int) or n == 0:
        raise ConfigError(f"hydra.launcher.n_jobs={n!r}: must be a non-zero integer (-1: every core)")
