"""What a run folder already holds, and the refusals made before a command writes anything into it.

A folder belongs to the task that first wrote results there (train, preview or range_test) and to that task's
config: another task, or a config that would change the results, is refused with one line, before Hydra rewrites
the folder's .hydra/ record and before any job of a sweep starts. The config a train folder is compared with is its
checkpoint's (which carries the validated config), so a lost or overwritten .hydra/ record never decides; other
tasks compare with .hydra/config.yaml when it is there. A finished run (completed or diverged, with or without its
checkpoint; a drawn preview; a range test with its range_test.json) is never redone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.errors import ConfigError

# The files that show which task used a folder, in the order they are looked for.
TASK_FILES = {
    "train": ("checkpoint.pt", "checkpoint.prev.pt", "metrics.csv", "eval.csv"),
    "preview": ("schedule.csv",),
    "range_test": ("range_test.json", "range_test.csv"),
}
HYDRA_CONFIG = Path(".hydra") / "config.yaml"
# Keys that change how a run is watched, not what it computes: a resume may change them freely.
NO_EFFECT_KEYS = (
    "trainer.progress",
    "trainer.flush_every",
    "trainer.checkpoint_every",
    "faults.",
    "unused_keys",
    "logger",
)
# Keys a resume settles itself rather than refusing: the checkpoint records the device it was written on, and the
# run decides (runner/training/pins.py) whether to keep it or move, with a warning.
RESUME_DECIDES = ("trainer.device",)


class FolderRefused(ConfigError):
    """A command that would change or mix up the results a folder already holds."""


def _hydra_record(folder: Path) -> Any:
    from runner.files import read_yaml

    return read_yaml(folder / HYDRA_CONFIG)


def held_task(folder: Path) -> str | None:
    """The task whose results `folder` holds, or None when it holds none."""
    folder = Path(folder)
    for task, names in TASK_FILES.items():
        if any((folder / name).exists() for name in names):
            return task
    if (folder / "summary.json").exists():  # a run stopped before its first row, or a failed sweep job
        record = _hydra_record(folder)
        task = record.get("task") if isinstance(record, dict) else None
        return task if task in TASK_FILES else "train"
    return None


def finished(folder: Path, task: str) -> bool:
    """Whether `task`'s run in `folder` is over for good: a rerun does nothing."""
    from runner import summary as summary_file
    from runner.status import FINAL

    folder = Path(folder)
    if task == "train":
        summary = summary_file.read(folder)
        return summary is not None and summary.status in FINAL
    if task == "preview":
        return (folder / "schedule.csv").exists() and (folder / "schedule.png").exists()
    return (folder / "range_test.json").exists()


def recorded_config(folder: Path, task: str, strict: bool = True) -> dict[str, Any] | None:
    """The validated config (as checkpoints store it) the folder's run used, or None when nothing records it.

    Train folders: the newest checkpoint that proves itself, else .hydra/config.yaml. A checkpoint that does not
    prove itself, with no good predecessor, is refused here with one line when `strict` (the run would resume from
    it); a finished run needs no checkpoint, so then .hydra/config.yaml decides. Other tasks: .hydra/config.yaml.
    """
    from omegaconf import OmegaConf

    from runner.config import validate

    folder = Path(folder)
    if task == "train" and any((folder / n).exists() for n in TASK_FILES["train"][:2]):
        from runner.training import checkpoint

        try:
            state = checkpoint.load_latest(folder)
        except ConfigError as e:
            if strict:
                raise FolderRefused(str(e)) from None
            state = None
        if state is not None:
            return state["config"]
    if not (folder / HYDRA_CONFIG).exists():
        return None
    try:
        return _as_dict(validate(OmegaConf.load(folder / HYDRA_CONFIG)))
    except ConfigError as e:
        raise FolderRefused(
            f"hydra.run.dir={str(folder)!r}: its .hydra/config.yaml no longer validates ({e}); choose a new folder"
        ) from None


def _as_dict(cfg: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(cfg)


def check(folder: Path, cfg: Any, where: str) -> bool:
    """Refuse `cfg` in `folder` if it would mix tasks or change the results there; returns whether the folder's
    run is finished (the command then has nothing to do). Call with the folder's lock held."""
    folder = Path(folder)
    task = held_task(folder)
    if task is None:
        return False
    if task != cfg.task:
        raise FolderRefused(
            f"{where}: holds a {task} run; task={cfg.task} needs a folder of its own (one task per run folder); "
            "choose another folder"
        )
    done = finished(folder, task)
    old = recorded_config(folder, task, strict=not done)
    if old is not None:
        refuse_changed_config(where, old, _as_dict(cfg))
    return done


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ and that would change the results."""
    a, b = _flatten(old), _flatten(new)
    keys = sorted(k for k in set(a) | set(b) if a.get(k, "<unset>") != b.get(k, "<unset>"))
    return [
        k
        for k in keys
        if not any(k == n or (n.endswith(".") and k.startswith(n)) for n in NO_EFFECT_KEYS + RESUME_DECIDES)
    ]


def refuse_changed_config(where: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    """One line naming each key (up to four) whose change would make the folder's results another run's."""
    differ = config_diff(old, new)
    if differ:
        _a, _b = _flatten(old), _flatten(new)
        shown = ", ".join(f"{k}: {_a.get(k)!r} -> {_b.get(k)!r}" for k in differ[:4])
        more = f" (+{len(differ) - 4} more)" if len(differ) > 4 else ""
        raise FolderRefused(
            f"{where}: holds a run with another config, which a resume would change ({shown}{more}); "
            "rerun with the same values or choose a new folder"
        )
