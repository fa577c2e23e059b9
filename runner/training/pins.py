"""What a resumed run keeps from its start because it changes the numbers: the thread count and the device.

torch's CPU kernels add in an order that depends on the thread count, and a GPU computes in yet another order, so a
run continued with other threads or on another device drifts away from the run that was never interrupted. A fresh
run chooses both (trainer.threads or the free cores; trainer.device); a resume takes them from its checkpoint:

- threads: the count the run started with, whatever the free cores are now, unless trainer.threads was given
  (then it is the same as at the start: a different explicit count is refused as a changed config);
- device: with trainer.device=auto, the device the checkpoint was written on when it is available; otherwise
  (another machine) auto's choice, and an explicit different device is taken as asked. Either move is logged as a
  warning that the numbers are no longer bit-identical and recorded in summary.json's device_changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("runner")


@dataclass
class Pins:
    threads: int | None  # None: a fresh run, threads_for_run decides
    threads_from: str
    device: Any  # torch.device
    moved_from: str | None = None  # the checkpoint's device, when the run continues on another


def choose(cfg: Any, state: dict | None, started_threads: int | None) -> Pins:
    """Threads and device for a run: fresh from the config, or pinned by the checkpoint `state`.

    `started_threads` is summary.json's count, for checkpoints written before they held one."""
    from runner.training.build import threads_source
    from runner.training.device import resolve, unavailable_reason

    configured = cfg.trainer.threads
    if state is None:
        return Pins(None, threads_source(configured), resolve(cfg.trainer.device))
    pinned = None if configured else (state.get("threads") or started_threads)
    # Checkpoints written before devices existed were all written on the CPU.
    was = str(state.get("device") or "cpu")
    if cfg.trainer.device == "auto" and unavailable_reason(was) is None:
        device = resolve(was)
    else:
        device = resolve(cfg.trainer.device)
    moved = None if str(device) == was else was
    if moved:
        log.warning(
            "resuming on %s, not on %s where the checkpoint was written: the rest of the run is no longer "
            "bit-identical to a run that was never interrupted (recorded in summary.json's device_changes)",
            device,
            was,
        )
    return Pins(pinned, "resumed" if pinned else threads_source(configured), device, moved)
