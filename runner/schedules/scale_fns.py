"""Scale functions for cyclical policies, chosen by name: `schedule=clr schedule.scale_fn=halve_per_cycle`.

A scale function multiplies the triangle's amplitude (max_lr - base_lr):

    lr = base_lr + (max_lr - base_lr) * triangle(it) * scale_fn(x, gamma)

with x the cycle number (1, 2, ...) when scale_mode=cycle, or the iteration (0, 1, ...) when
scale_mode=iterations, and gamma = schedule.gamma. The config holds the name, never code: a name survives a
state_dict round trip as plain data, and no config string is imported or evaluated.

Register your own in your own module (see docs/schedules.md):

    from runner.schedules.scale_fns import register_scale_fn

    @register_scale_fn("inverse_cycle", modes=("cycle",))
    def inverse_cycle(x: float, gamma: float) -> float:
        return 1.0 / x

Importing that module registers the name, which is enough in your own training script. `python -m runner` never
imports your module, so declare an entry point in your installed package; a name missing from the registry is
looked up there (lazily, only then):

    [project.entry-points."clr_lab.scale_fns"]
    inverse_cycle = "mypkg.scales:inverse_cycle"

Nothing here imports torch or Hydra.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import metadata

from runner.errors import ConfigError
from runner.registry import Registry
from runner.typed import require_choice

ENTRY_POINT_GROUP = "clr_lab.scale_fns"
MODES = ("cycle", "iterations")  # what x counts: cycles (1-based) or optimizer steps (0-based)

ScaleFn = Callable[[float, float], float]
SCALE_FNS = Registry("scale function")


def register_scale_fn(name: str, *, modes: Sequence[str] = MODES, note: str = "") -> Callable[[ScaleFn], ScaleFn]:
    """Add `fn(x, gamma) -> float` to the registry under `name`.

    modes: the scale_mode values the function is meant for; a policy asking for another one is refused at check
    time with `note` (why it makes no sense) in the message.
    """
    modes = tuple(modes)
    if not modes or any(m not in MODES for m in modes):
        raise ValueError(f"register_scale_fn({name!r}): modes must be a non-empty subset of {MODES}")

    def add(fn: ScaleFn) -> ScaleFn:
        if not callable(fn):
            raise TypeError(f"register_scale_fn({name!r}): {fn!r} is not callable")
        fn.scale_modes = modes  # type: ignore[attr-defined]
        fn.scale_note = note  # type: ignore[attr-defined]
        SCALE_FNS.add(name, None, fn)
        return fn

    return add


def _entry_points() -> list:
    # Looked up through the module attribute at call time, so tests can monkeypatch importlib.metadata.
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def available() -> list[str]:
    """Every name a config may use: the registry and installed entry points (not loaded)."""
    return sorted(set(SCALE_FNS.names()) | {ep.name for ep in _entry_points()})


def _load_entry_point(name: str, key: str) -> None:
    for ep in _entry_points():
        if ep.name != name:
            continue
        try:
            fn = ep.load()
        except Exception as exc:  # an installed package that fails to import: say which, in one line
            raise ConfigError(
                f"{key}={name!r}: entry point {ep.value!r} (group {ENTRY_POINT_GROUP}) failed to "
                f"load: {type(exc).__name__}: {exc}"
            ) from None
        if name not in SCALE_FNS:  # a module that registers itself on import needs nothing more
            if not callable(fn):
                raise ConfigError(f"{key}={name!r}: entry point {ep.value!r} is not a function")
            register_scale_fn(name, modes=getattr(fn, "scale_modes", MODES), note=getattr(fn, "scale_note", ""))(fn)
        return


def get_scale_fn(name: str, key: str = "schedule.scale_fn") -> ScaleFn:
    """The function registered as `name`, from the registry or an installed entry point; ConfigError otherwise."""
    if name not in SCALE_FNS:
        _load_entry_point(name, key)
    if name not in SCALE_FNS:
        raise ConfigError(
            f"{key}={name!r}: unknown scale function; allowed: {', '.join(available())} "
            f"(add one with @register_scale_fn or an entry point in group {ENTRY_POINT_GROUP})"
        )
    return SCALE_FNS.entry(name).build


def check_mode(name: str, scale_mode: str, key: str) -> None:
    """Refuse a scale_mode the function was not registered for (the triangular2-by-iterations trap)."""
    require_choice(f"{key}.scale_mode", scale_mode, MODES)
    fn = get_scale_fn(name, f"{key}.scale_fn")
    modes = getattr(fn, "scale_modes", MODES)
    if scale_mode not in modes:
        note = getattr(fn, "scale_note", "")
        raise ConfigError(
            f"{key}.scale_mode={scale_mode!r}: scale_fn {name!r} is meant for scale_mode="
            f"{' or '.join(modes)}" + (f"; {note}" if note else "")
        )


# ---- built-ins ----------------------------------------------------------------------------------------------
HALVING_TRAP = (
    "evaluated per iteration it halves the amplitude at every step, so the LR collapses onto base_lr "
    "after the first few steps (the triangular2 trap reported against bckenstler/CLR, torch's CyclicLR "
    "and TensorFlow Addons); use scale_mode=cycle"
)


@register_scale_fn("one")
def one(x: float, gamma: float) -> float:
    """Full amplitude always: Smith's triangular."""
    return 1.0


@register_scale_fn("halve_per_cycle", modes=("cycle",), note=HALVING_TRAP)
def halve_per_cycle(x: float, gamma: float) -> float:
    """1, 1/2, 1/4, ... per cycle: Smith's triangular2."""
    return 1.0 / 2.0 ** (x - 1)


@register_scale_fn("exp_gamma")
def exp_gamma(x: float, gamma: float) -> float:
    """gamma**x: Smith's exp_range by iterations (x = it), or a per-cycle decay by cycle."""
    return gamma**x
