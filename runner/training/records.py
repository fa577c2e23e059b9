"""The run folder's step records: metrics.csv (one row per optimizer step) and eval.csv (one row per evaluation).

Rows are buffered and flushed every `flush_every` rows and at each evaluation, so a step costs no file I/O; each
flush writes whole lines, so a kill leaves at most one partial last line, which a resume cuts off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from runner.files import csv_text, floats, read_csv_columns, write_rows, write_text_atomic

METRICS_COLUMNS = ("step", "epoch", "cycle", "lr", "momentum", "loss")
# val_n: how many validation images the row was measured on (the whole split, or trainer.eval_size of them).
EVAL_COLUMNS = ("step", "epoch", "lr", "val_loss", "val_acc", "when", "val_n")


class CsvLog:
    """One CSV file kept open for the run, with a header and a bounded row buffer."""

    def __init__(
        self,
        path: Path,
        columns: Sequence[str],
        flush_every: int = 500,
        keep_rows: int | None = None,
        on_flush: Callable[[list[tuple]], None] | None = None,
    ) -> None:
        """A new file with a header, or, with `keep_rows`, the existing file cut back to its first `keep_rows`
        rows (what the checkpoint saw): a resumed run then continues with no partial line and no repeated step.
        `on_flush` receives each batch of rows as it is written (the TensorBoard logger): called per flush, never
        per step, so a run without it pays nothing."""
        self.path = Path(path)
        self.columns = tuple(columns)
        self.flush_every = flush_every
        self.on_flush = on_flush
        # Rows wait here as tuples and are formatted at the next flush, all together: appending is then a list
        # append inside the training step, and the CSV formatting runs as one batch between steps.
        self._rows: list[tuple] = []
        self.rows_written = 0
        if keep_rows is None:
            # Atomic, so a kill never leaves half a header; not fsynced, as the rows that follow never are.
            write_rows(self.path, self.columns, ())
        else:
            self._cut_back(keep_rows)
        self._file = open(self.path, "a", newline="", encoding="utf-8")

    def _cut_back(self, keep_rows: int) -> None:
        with open(self.path, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        header, body = lines[0], [ln for ln in lines[1 : keep_rows + 1]]
        if header != csv_text([self.columns]).rstrip("\n") or len(body) < keep_rows or any(not ln for ln in body):
            raise ValueError(f"{self.path}: holds fewer rows than its checkpoint recorded ({keep_rows})")
        write_text_atomic(self.path, "\n".join([header, *body]) + "\n")
        self.rows_written = keep_rows

    def append(self, *values: Any) -> None:
        self._rows.append(values)
        if len(self._rows) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Whole lines in one write: a kill leaves at most one partial last line, which a resume cuts off."""
        if self._rows:
            self._file.write(csv_text(self._rows))
            self.rows_written += len(self._rows)
            if self.on_flush is not None:
                self.on_flush(self._rows)
            self._rows.clear()
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()

    def __enter__(self) -> CsvLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def accuracy_points(run_dir: Path) -> dict[float, float]:
    """{step: val_acc}, one entry per evaluation of a run folder's eval.csv (empty when it has none).

    A step that is both an epoch end and a cycle end has a row for each, with the same numbers: it counts once.
    """
    evals = read_csv_columns(Path(run_dir) / "eval.csv")
    return dict(zip(floats(evals.get("step", [])), floats(evals.get("val_acc", []))))
