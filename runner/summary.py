"""summary.json: every field a run folder's summary holds, in one dataclass, and a tolerant reader.

The run task fills a `RunSummary` as the run goes (written at the start with status running, and at the end) and
the reports read it back. The reader never raises: a summary.json that is missing, not JSON, not an object, or holds
a value of the wrong type gives None (or None for that field), because a report must still list such a run.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.files import read_json, write_json_atomic
from runner.status import Status

FILENAME = "summary.json"
# Written only when they apply: a run that completed has no error.
WHEN_SET = ("ignored_keys", "device_changes", "diverged_at", "error", "postprocess_errors", "launcher")


@dataclass
class RunSummary:
    """One run's summary.json (README, "What a run leaves", documents each field)."""

    status: str = Status.RUNNING.value
    schedule: str | None = None
    seed: int | None = None
    steps: int = 0  # optimizer steps done
    iters_per_epoch: int | None = None
    step_size: int | None = None  # the cyclical half cycle in steps, when the policy has one
    # The LR bounds a cyclical policy ran between: the configured ones, or a range test's (schedule.bounds_from).
    base_lr: float | None = None
    max_lr: float | None = None
    ignored_keys: list[str] | None = None  # set but overruled, e.g. schedule.step_size_epochs when step_size is set
    # CPU kernels sum in a thread-count-dependent order: results repeat bit for bit per thread count.
    threads: int | None = None
    device: str | None = None  # the torch device the run started on: cpu, cuda:0, mps
    # A resume on another device than the checkpoint's: [{"step", "from", "to"}]; the numbers drift from there on.
    device_changes: list[dict[str, Any]] | None = None
    resumes: int = 0  # how often the run continued from a checkpoint
    final_val_acc: float | None = None
    final_val_loss: float | None = None
    best_val_acc: float | None = None
    # The official test split (or digits' held-out test part), measured once at the end and never used for choices.
    test_acc: float | None = None
    test_loss: float | None = None
    wall_s: float | None = None  # whole run, every resumed part added up
    train_s: float | None = None  # training steps only, evaluation excluded
    images_per_s: float | None = None
    plateaus: list[dict[str, Any]] | None = None
    # escaped | not_escaped (a plateau the run never left) | no_plateau (nothing to escape: the loss fell from the
    # start); None when the run has no analysis.
    escape_status: str | None = None
    escape_step: int | None = None
    escape_lr: float | None = None
    plateau_fraction: float | None = None
    steps_to_target: dict[str, int | None] | None = None
    diverged_at: dict[str, Any] | None = None  # step, lr, loss of the first non-finite loss
    error: str | None = None  # why a failed run failed
    postprocess_errors: list[str] | None = None  # analysis or figures that failed after the records were written
    launcher: str | None = None  # "batched" when the batched launcher trained it in a vectorized group
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # keys this version does not know

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        for name in WHEN_SET:
            if out[name] is None:
                del out[name]
        out["status"] = str(out["status"])
        return {**out, **self.extra}

    def write(self, run_dir: Path) -> None:
        write_json_atomic(Path(run_dir) / FILENAME, self.to_json())

    def update(self, **values: Any) -> None:
        for key, value in values.items():
            if key in FIELDS:
                setattr(self, key, value)
            else:
                self.extra[key] = value

    @classmethod
    def from_json(cls, data: Any) -> RunSummary | None:
        """A summary from parsed JSON, or None when it is not an object; a value of the wrong type becomes None."""
        if not isinstance(data, dict):
            return None
        known = {k: _typed(k, v) for k, v in data.items() if k in FIELDS}
        summary = cls(**{k: v for k, v in known.items() if v is not None or k not in _REQUIRED_DEFAULTS})
        summary.extra = {k: v for k, v in data.items() if k not in FIELDS}
        return summary


def read(run_dir: Path) -> RunSummary | None:
    """The run folder's summary, or None when it is missing or unusable."""
    return RunSummary.from_json(read_json(Path(run_dir) / FILENAME))


FIELDS = {f.name for f in dataclasses.fields(RunSummary) if f.name != "extra"}
_HINTS = typing.get_type_hints(RunSummary)
_REQUIRED_DEFAULTS = {"status", "steps", "resumes"}  # never None: keep the default when a file has null there


def _typed(name: str, value: Any) -> Any:
    """`value` if it has the field's type (ints accepted as floats), else None."""
    kinds = {a for a in typing.get_args(_HINTS[name]) if a is not type(None)} or {_HINTS[name]}
    origins = {typing.get_origin(k) or k for k in kinds}
    if value is None or isinstance(value, bool) and bool not in origins:
        return None
    if float in origins and isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    return value if isinstance(value, tuple(origins)) else None
