"""Run-folder writing: metrics.csv, eval.csv (buffered CSV rows) and summary.json (written atomically).

Rows are buffered and flushed every `flush_every` rows and at each evaluation, so a step costs no file I/O; a file
that must survive a kill (summary.json) is written to a temporary name and renamed over the old one.
"""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

METRICS_COLUMNS = ("step", "epoch", "cycle", "lr", "momentum", "loss")
EVAL_COLUMNS = ("step", "epoch", "lr", "val_loss", "val_acc", "when")


def _cell(value: Any) -> Any:
    # repr() keeps every bit of a float, so two identical runs give byte-identical files.
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value


class CsvLog:
    """One CSV file kept open for the run, with a header and a bounded row buffer."""

    def __init__(self, path: Path, columns: Sequence[str], flush_every: int = 500) -> None:
        self.path = Path(path)
        self.columns = tuple(columns)
        self.flush_every = flush_every
        self._rows: list[list[Any]] = []
        self._file = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(self.columns)

    def append(self, *values: Any) -> None:
        self._rows.append([_cell(v) for v in values])
        if len(self._rows) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._writer.writerows(self._rows)
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
    """Write to a temporary name, fsync, rename: a reader sees the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(json_ready(data), f, indent=2, allow_nan=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A whole small CSV at once (preview and report tables), via a temporary name."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(v) for v in row] for row in rows)
    os.replace(tmp, path)
