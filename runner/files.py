"""Files that survive a kill: atomic writes, strict JSON, small CSV tables, and tolerant readers of them.

Every file a reader (a report, a resumed run) may open while a process is killed is written to a temporary name
beside it and renamed over the old one: a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any


def _cell(value: Any) -> Any:
    # repr() keeps every bit of a float, so two identical runs give byte-identical files.
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else value


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """CSV lines for `rows`: floats as repr (every bit kept), None as an empty cell."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([_cell(v) for v in row] for row in rows)
    return buffer.getvalue()


def _fsync_folder(folder: Path) -> None:
    """Make a rename inside `folder` durable: the new name is on disk, not only the new bytes."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: Path, *, binary: bool = False, durable: bool = False) -> Iterator[IO]:
    """Open a temporary file beside `path` and rename it over `path` when the block ends without error.

    A reader (or a resumed run) sees the old file or the new one, never half of one, even if the process is killed
    mid-write. `durable` adds an fsync of the file and of its folder, so the new file and its name also survive a
    power cut. The temporary name carries the process id, so concurrent writers (parallel sweep workers filling a
    cache) never share one.
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
        if durable:
            _fsync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """A whole text file, durably (see atomic_file)."""
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
    write_text_atomic(Path(path), json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    """The parsed JSON at `path`, or None when it is missing or not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_yaml(path: Path) -> Any:
    """A YAML file's data (yaml.safe_load's), or None when it cannot be read or parsed. libyaml's loader where PyYAML
    has it: a sweep report reads three Hydra records per run, and the pure-Python parser is most of that time."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.load(f, Loader=loader)  # noqa: S506 - a safe loader, chosen above
    except (OSError, yaml.YAMLError):
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
    """A whole small CSV at once (preview and report tables), written atomically."""
    with atomic_file(Path(path)) as f:
        f.write(csv_text(itertools.chain([columns], rows)))
