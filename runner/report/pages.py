"""What report.html and index.html share: the Jinja2 templates (shipped in the package, runner/report/templates/),
table cells that sort by their value, and links relative to the page, so a folder copied elsewhere or served by any
static server still shows every image and opens every link. Nothing is fetched from the network."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from runner.files import write_text_atomic

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass
class Cell:
    """One table cell: its text, the value it sorts by (numbers sort as numbers; None: by its text), a CSS class
    (a status or a verdict; "wrap" lets a long cell break), and optionally a link and a thumbnail image."""

    text: str = ""
    sort: float | str | None = None
    css: str = ""
    href: str | None = None
    img: str | None = None
    code: bool = False  # a configuration label: each override in monospace
    note: str = ""  # a second, smaller line (how many seeds reached a target)


@dataclass
class Table:
    head: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)  # per column: right-aligned numbers


def number(value: Any, digits: int = 3) -> Cell:
    """A number cell: `digits` decimals, "–" when there is none (sorted last)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return Cell("–")
    return Cell(f"{value:.{digits}f}" if isinstance(value, float) else str(value), sort=float(value))


def link(page_dir: Path, target: Path) -> str:
    """`target` as a URL relative to the folder holding the page (a folder ends with /)."""
    rel = Path(os.path.relpath(target, page_dir)).as_posix()
    return quote(rel) + ("/" if target.is_dir() else "")


def inline_code(text: str) -> Any:
    """A sentence of the report (the headline, the baseline note) with its `code` spans as <code>, the rest
    escaped: the same sentence report.md prints, no markdown parser needed for one kind of mark."""
    import re

    from markupsafe import Markup, escape

    parts = re.split(r"`([^`]*)`", str(text))
    return Markup("").join(escape(p) if i % 2 == 0 else Markup("<code>%s</code>") % p for i, p in enumerate(parts))


def render(template: str, path: Path, **context: Any) -> Path:
    """Render a template of runner/report/templates/ into `path`, written whole (a reader never sees half)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a missing value is a bug in the page's code, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["inline_code"] = inline_code
    write_text_atomic(path, env.get_template(template).render(**context))
    return path
