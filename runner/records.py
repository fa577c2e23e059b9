"""Run-folder writing: metrics.csv, eval.csv (buffered CSV rows) and summary.json (written atomically).

Rows are buffered and flushed every `flush_every` rows and at each evaluation, so a step costs no file I/O; a file
that must survive a kill (summary.json) is written to a temporary name and renamed over the old one.
"""
from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import math
import os
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Optional, Sequence

METRICS_COLUMNS = ("step", "epoch", "cycle", "lr", "momentum", "loss")
EVAL_COLUMNS = ("step", "epoch", "lr", "val_loss", "val_acc", "when")


def _cell(value: Any) -> Any:
    # repr() keeps every bit of a float, so two identical runs give byte-identical files.
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value


class CsvLog:
    """One CSV file kept open for the run, with a header and a bounded row buffer."""

    def __init__(self, path: Path, columns: Sequence[str], flush_every: int = 500,
                 keep_rows: Optional[int] = None) -> None:
        """A new file with a header, or, with `keep_rows`, the existing file cut back to its first `keep_rows`
        rows (what the checkpoint saw): a resumed run then continues with no partial line and no repeated step."""
        self.path = Path(path)
        self.columns = tuple(columns)
        self.flush_every = flush_every
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
        header, body = lines[0], [ln for ln in lines[1:keep_rows + 1]]
        if header != _csv_text([self.columns]).rstrip("\n") or len(body) < keep_rows or any(not ln for ln in body):
            raise ValueError(f"{self.path}: holds fewer rows than its checkpoint recorded ({keep_rows})")
        _write_atomic(self.path, "\n".join([header, *body]) + "\n")
        self.rows_written = keep_rows

    def append(self, *values: Any) -> None:
        self._rows.append(values)
        if len(self._rows) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Whole lines in one write: a kill leaves at most one partial last line, which a resume cuts off."""
        if self._rows:
            self._file.write(_csv_text(self._rows))
            self.rows_written += len(self._rows)
            self._rows.clear()
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()

    def __enter__(self) -> "CsvLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """CSV lines for `rows`, each cell as _cell writes it."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


@contextlib.contextmanager
def atomic_file(path: Path, *, binary: bool = False, durable: bool = False) -> Iterator[IO]:
    """Open a temporary file beside `path` and rename it over `path` when the block ends without error.

    A reader (or a resumed run) sees the old file or the new one, never half of one, even if the process is killed
    mid-write. `durable` adds an fsync, so the new file also survives a power cut. The temporary name carries the
    process id, so concurrent writers (parallel sweep workers filling a cache) never share one.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    with atomic_file(path, durable=True) as f:
        f.write(text)


def json_ready(value: Any) -> Any:
    """Plain JSON: NaN and infinities become null (json.dumps would write invalid `NaN`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def write_json_atomic(path: Path, data: dict) -> None:
    """JSON written whole (see atomic_file): a reader sees the old file or the new one, never half of one."""
    _write_atomic(Path(path), json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n")


def read_json(path: Path) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_csv_columns(path: Path) -> dict[str, list[str]]:
    """A CSV file as {column: [cell, ...]} (strings); empty dict when the file is missing."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError:
        return {}
    if not rows:
        return {}
    header, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    return {name: [r[i] for r in body] for i, name in enumerate(header)}


def floats(cells: Iterable[str]) -> list[float]:
    return [float(c) if c != "" else math.nan for c in cells]


def accuracy_points(run_dir: Path) -> dict[float, float]:
    """{step: val_acc}, one entry per evaluation of a run folder's eval.csv (empty when it has none).

    A step that is both an epoch end and a cycle end has a row for each, with the same numbers: it counts once.
    """
    evals = read_csv_columns(Path(run_dir) / "eval.csv")
    return dict(zip(floats(evals.get("step", [])), floats(evals.get("val_acc", []))))


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A whole small CSV at once (preview and report tables), written atomically."""
    with atomic_file(Path(path)) as f:
        f.write(_csv_text(itertools.chain([columns], rows)))
