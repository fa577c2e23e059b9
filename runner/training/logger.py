"""The `logger` setting: metrics.csv and eval.csv always; `logger=tensorboard` adds TensorBoard event files.

With tensorboard, the run folder also gets event files (torch.utils.tensorboard's SummaryWriter) with lr, momentum,
loss, loss_smoothed (the bias-corrected EMA of curves.png, analysis.smoothing), val_loss and val_acc, written as the
CSV rows are flushed (at every evaluation and every trainer.flush_every rows), so `tensorboard --logdir` on a sweep
folder compares its runs while they train. The writer sees the rows the CSV files get, never the loop itself.

A resumed run opens its writer with purge_step = the checkpoint's step: TensorBoard then drops whatever an earlier
writer recorded from that step on, so a kill between two checkpoints leaves no duplicate steps.

Choosing a logger imports nothing heavy; the writer imports torch's tensorboard module when it is built.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from runner.errors import ConfigError

LOGGERS = ("csv", "tensorboard")
INSTALL_HINT = 'pip install "clr-lab[tensorboard]"'


def check_logger(value: Any) -> str:
    """The validated `logger` value; tensorboard only when its package is importable (checked before any folder
    is made, so the one-line error leaves nothing behind)."""
    if value not in LOGGERS:
        raise ConfigError(f"logger={value!r}: unknown logger; allowed: {', '.join(LOGGERS)}")
    if value == "tensorboard":
        try:
            import tensorboard  # noqa: F401 - torch.utils.tensorboard needs this package
        except ImportError:
            raise ConfigError(
                f"logger=tensorboard: the tensorboard package is not installed; {INSTALL_HINT}, or use logger=csv"
            ) from None
    return value


class TensorBoardLog:
    """Event files in the run folder, fed with the rows metrics.csv and eval.csv get (CsvLog's on_flush)."""

    def __init__(self, run_dir: Path, beta: float, resume_step: int | None, losses: list[float]) -> None:
        """`losses`: the loss column metrics.csv already holds (a resumed run's rows before `resume_step`), so the
        smoothed loss continues where it stopped instead of starting over."""
        from torch.utils.tensorboard import SummaryWriter

        from runner.analysis.plateaus import RunningEma

        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=resume_step)
        self.ema = RunningEma(beta)
        self.finite = True
        for loss in losses:
            self._smooth(loss)
        self.last_eval_step: int | None = None

    def _smooth(self, loss: float) -> float:
        # As ema() in curves.png: NaN from the first non-finite loss on (a diverged run's average means nothing).
        self.finite = self.finite and math.isfinite(loss)
        return self.ema.update(loss) if self.finite else math.nan

    def metrics_rows(self, rows: list[tuple]) -> None:
        """Rows of metrics.csv: step, epoch, cycle, lr, momentum, loss."""
        add = self.writer.add_scalar
        for step, _epoch, _cycle, lr, momentum, loss in rows:
            add("lr", lr, step)
            if momentum is not None:
                add("momentum", momentum, step)
            add("loss", loss, step)
            add("loss_smoothed", self._smooth(loss), step)
        self.writer.flush()

    def eval_rows(self, rows: list[tuple]) -> None:
        """Rows of eval.csv: step, epoch, lr, val_loss, val_acc, when, val_n. A step evaluated for several reasons
        has one row per reason with the same numbers: it is written once."""
        for step, _epoch, _lr, val_loss, val_acc, _when, _n in rows:
            if step == self.last_eval_step:
                continue
            self.last_eval_step = step
            self.writer.add_scalar("val_loss", val_loss, step)
            self.writer.add_scalar("val_acc", val_acc, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
