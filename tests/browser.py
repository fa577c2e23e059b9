"""A page opened in a real browser: Debian's chromium, headless, from disk (file://), after its scripts have run.

`open_page(path)` writes a copy of the page beside it (so every relative link and image means the same) with a probe
script appended, lets chromium load it (images included) and dump the DOM, and returns what the probe saw: every
image's natural size, every link as the browser resolved it, and every table's cells, optionally after clicking
a column header. The copy is removed afterwards. CI installs chromium (.ci/run): there, a missing browser fails.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

PROBE = """
<script>
window.addEventListener("load", function () {
  function cells(row) { return Array.prototype.map.call(row.cells, function (c) { return c.textContent.trim(); }); }
  function tables() {
    var out = {};
    document.querySelectorAll("table").forEach(function (t) {
      out[t.id] = {head: cells(t.tHead.rows[0]), rows: Array.prototype.map.call(t.tBodies[0].rows, cells)};
    });
    return out;
  }
  var result = {images: [], links: [], tables: tables(), sorted: null, title: document.title};
  document.querySelectorAll("img").forEach(function (i) {
    result.images.push({src: i.getAttribute("src"), url: i.src, width: i.naturalWidth, complete: i.complete});
  });
  document.querySelectorAll("a[href]").forEach(function (a) { result.links.push(a.href); });
  var click = CLICK;
  if (click) {
    var th = document.querySelector("#" + click[0] + " thead th:nth-child(" + (click[1] + 1) + ")");
    for (var k = 0; k < click[2]; k++) th.click();
    result.sorted = tables()[click[0]];
  }
  var pre = document.createElement("pre");
  pre.id = "probe-result";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>
"""


def chromium_or_skip() -> str:
    """The browser's path; without one, a failure in CI (CI=true) and a skip elsewhere."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("CI: chromium is missing; .ci/run installs it (apt-get install -y chromium)")
    pytest.skip("chromium not installed; `apt-get install chromium` for the browser tests")


def open_page(page: Path, click: tuple[str, int, int] | None = None, timeout: float = 120) -> dict:
    """What the browser shows of `page`; `click`: (table id, column index, clicks) on that column's header."""
    browser = chromium_or_skip()
    page = Path(page)
    probe = page.with_name(f".probe-{page.name}")
    text = page.read_text(encoding="utf-8")
    assert text.count("</body>") == 1
    probe.write_text(text.replace("</body>", PROBE.replace("CLICK", json.dumps(click)) + "</body>"), encoding="utf-8")
    try:
        proc = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",  # CI runs as root, where chromium refuses its sandbox
                "--disable-gpu",
                "--no-first-run",
                "--virtual-time-budget=10000",  # let the load event and its script finish before the dump
                f"--user-data-dir={page.parent / '.probe-profile'}",
                "--dump-dom",
                probe.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        probe.unlink()
        shutil.rmtree(page.parent / ".probe-profile", ignore_errors=True)
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the probe did not run (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def local_path(url: str) -> Path | None:
    """The file a file:// URL names (None for any other scheme)."""
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def assert_page_complete(result: dict) -> None:
    """Every image loaded (naturalWidth > 0) and every link names a file or folder that exists, on this disk."""
    assert result["images"], "no image on the page"
    broken = [i["src"] for i in result["images"] if not i["complete"] or i["width"] <= 0]
    assert broken == [], f"images that did not load: {broken}"
    assert result["links"], "no link on the page"
    for url in result["links"]:
        path = local_path(url)
        assert path is not None, f"a link leaves the disk: {url}"
        assert path.exists(), f"a link to nothing: {url}"


class Page(HTMLParser):
    """The parts of a page these tests read: every src and href, the text of the headline, the text of each table's
    cells by table id."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.headline = ""
        self.tables: dict[str, list[list[str]]] = {}
        self._in_headline = False
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.urls += [a[k] for k in ("src", "href") if k in a]
        if a.get("id") == "headline":
            self._in_headline = True
        if tag == "table":
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag == "td":
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag == "tr" and self._table and not self.tables[self._table][-1]:
            self.tables[self._table].pop()  # the header row: th cells only
        if tag == "p":
            self._in_headline = False
        elif tag == "td" and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._in_headline:
            self.headline += data
        if self._cell is not None:
            self._cell.append(data)
