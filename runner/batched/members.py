"""One member of a batched group: its run folder, its records, its schedule and data order, and its summary.

A member's folder ends up with exactly the files its separate run writes (runner/training/run.py): metrics.csv,
eval.csv, summary.json, curves.png, checkpoint.pt, run.log and Hydra's .hydra/. Its checkpoint has the layout of a
separate run's (model and torch optimizer state_dicts, the data order, the RNG state right after its model was
built), so a member can be resumed by this launcher or by any other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import summary as summary_file
from runner.status import Status
from runner.summary import RunSummary

log = logging.getLogger("runner")
LAUNCHER = "batched"  # summary.json's `launcher`


@dataclass
class Member:
    """A sweep job that trains inside a group."""

    index: int  # the job number in the sweep
    cfg: Any  # its validated RunConfig
    out_dir: Path
    steps: int
    per_epoch: int
    resume: dict | None = None  # its checkpoint, when it continues
    previous: RunSummary = field(default_factory=RunSummary)
    schedule: Any = None  # its policy resolved to the run's length (runner/batched/launcher.py, plan_job)
    eval_at: dict = field(default_factory=dict)
    order: Any = None
    metrics: Any = None
    evals: Any = None
    on_loss: Any = None
    result: Any = None
    summary: RunSummary | None = None
    rng: dict | None = None  # torch's, NumPy's and Python's RNG right after its model was built (its checkpoint's)
    wall0: float = field(default_factory=time.perf_counter)  # reset when the group starts
    error: str | None = None
    n_train: int = 0

    @property
    def start_step(self) -> int:
        return int(self.resume["step"]) if self.resume else 0

    def start(self, threads: int) -> None:
        """What run_train does before its loop: the schedule, the evaluation points, the starting summary."""
        from runner.training.loop import evaluation_points
        from runner.training.run import log_ignored_keys, lr_bounds, note_cycle_end, warn_half_cycle

        cfg = self.cfg
        self.wall0 = time.perf_counter()
        self.eval_at = evaluation_points(
            self.steps, self.per_epoch, self.schedule.cycle_ends(self.steps), cfg.trainer.eval_every
        )
        with member_log(self.out_dir):  # what run_train logs before its loop, in the same words
            ignored = log_ignored_keys(cfg)
            note_cycle_end(self.schedule, self.steps)
            warn_half_cycle(self.schedule, self.per_epoch)
            base_lr, max_lr = lr_bounds(self.schedule)
        self.summary = RunSummary(
            schedule=self.schedule.name,
            seed=cfg.seed,
            steps=self.start_step,
            iters_per_epoch=self.per_epoch,
            step_size=getattr(self.schedule, "step_size", None),
            base_lr=base_lr,
            max_lr=max_lr,
            ignored_keys=ignored or None,
            threads=threads,
            device="cpu",  # grouping.py admits only jobs that train on the CPU
            resumes=self.previous.resumes + (1 if self.resume else 0),
            launcher=LAUNCHER,
        )
        self.summary.write(self.out_dir)

    def open_records(self, stack: contextlib.ExitStack) -> None:
        from runner.training.faults import fault_hook
        from runner.training.loop import BatchOrder, TrainResult
        from runner.training.records import EVAL_COLUMNS, METRICS_COLUMNS, CsvLog

        keep = (self.resume["metrics_rows"], self.resume["eval_rows"]) if self.resume else (None, None)
        trainer = self.cfg.trainer
        self.metrics = stack.enter_context(
            CsvLog(self.out_dir / "metrics.csv", METRICS_COLUMNS, trainer.flush_every, keep[0])
        )
        self.evals = stack.enter_context(CsvLog(self.out_dir / "eval.csv", EVAL_COLUMNS, trainer.flush_every, keep[1]))
        self.order = BatchOrder(self.n_train, trainer.batch_size, self.cfg.seed)
        self.on_loss = fault_hook(self.cfg.faults)
        if self.resume:
            self.order.restore(self.resume)
            saved = dict(self.resume["result"])
            saved["evals"] = [tuple(e) for e in saved.get("evals", [])]
            saved["status"] = Status.COMPLETED.value
            self.result = TrainResult(**saved)
        else:
            self.result = TrainResult(status=Status.COMPLETED.value, steps=0)

    def checkpoint_state(self, step: int, model_state: dict, optimizer_state: dict) -> dict:
        """The dict a separate run's loop hands to its checkpoint at `step` (runner/training/loop.py, loop_state)."""
        from runner.training.checkpoint import config_dict

        self.metrics.flush()
        self.evals.flush()
        self.result.steps = step
        return {
            "step": step,
            **self.order.state(),
            "rng": self.rng,
            "metrics_rows": self.metrics.rows_written,
            "eval_rows": self.evals.rows_written,
            "result": dataclasses.asdict(self.result),
            "model": model_state,
            "optimizer": optimizer_state,
            "config": config_dict(self.cfg),
            # What a resume keeps (runner/training/pins.py), so any launcher resumes a member as it started.
            "threads": self.summary.threads,
            "device": "cpu",
        }

    def save_checkpoint(self, state: dict) -> None:
        from runner.training import checkpoint as ckpt

        final = state["result"]["status"] != Status.COMPLETED or state["step"] >= self.steps
        ckpt.save(self.out_dir / ckpt.FILENAME, state, durable=final)

    def conclude(self) -> dict[str, Any] | None:
        """What run_train does after its loop, up to its figure: the summary and the analysis. Returns the arguments
        of its curves.png (drawn with the group's other figures, runner/batched/figures.py), or None when the
        figure cannot be prepared (recorded as run_train records a failed figure)."""
        from runner.training.run import analyze_folder, curves_arguments, finish_summary, postprocess_failed

        summary = self.summary
        with member_log(self.out_dir):
            if self.result is not None and self.result.status == Status.INTERRUPTED:
                log.warning("interrupted at step %d: checkpointed; rerun the same command to resume", self.result.steps)
            finish_summary(summary, None if self.error else self.result, self.error, self.wall0)
            if self.resume:
                summary.wall_s += self.previous.wall_s or 0.0
            try:
                summary.update(**analyze_folder(self.out_dir, self.cfg.analysis))
            except Exception as exc:  # noqa: BLE001 - recorded in summary.json and the log, as run_train does
                postprocess_failed(summary, "analysis", exc)
            try:
                return curves_arguments(self.out_dir, self.schedule, summary, self.cfg)
            except Exception as exc:  # noqa: BLE001
                postprocess_failed(summary, "curves.png", exc)
                return None

    def finish(self, figure_failure: tuple[str, str] | None = None) -> Status:
        """summary.json and the last log line, once curves.png is drawn (`figure_failure`: its error and traceback)."""
        from runner.training.run import postprocess_failed

        summary = self.summary
        with member_log(self.out_dir):
            if figure_failure is not None:
                postprocess_failed(summary, "curves.png", *figure_failure)
            summary.write(self.out_dir)
            log.info(
                "%s: status %s, final val_acc %s, test_acc %s (batched)",
                self.out_dir,
                summary.status,
                summary.final_val_acc,
                summary.test_acc,
            )
        return Status(summary.status)


def read_previous(out_dir: Path) -> RunSummary:
    return summary_file.read(out_dir) or RunSummary()


@contextlib.contextmanager
def member_log(out_dir: Path):
    """Log lines into the member's run.log (as Hydra's file handler would for a separate run) while inside."""
    root = logging.getLogger()
    formatter = next((h.formatter for h in root.handlers if h.formatter is not None), None)
    handler = logging.FileHandler(Path(out_dir) / "run.log", mode="a", encoding="utf-8")
    handler.setFormatter(formatter or logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
