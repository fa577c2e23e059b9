"""report.html: written beside report.md from the same objects, offline (nothing fetched from elsewhere), and, in a
real headless Chromium, every image loads, every link opens a file of the sweep, and the tables show the runs'
numbers, also from a copy of the sweep folder somewhere else."""

from __future__ import annotations

import re
import shutil

from browser import Page, assert_page_complete, open_page
from runner.report.build import build_report
from support import read_csv, read_json


def markdown_headline(sweep) -> str:
    line = (sweep / "report.md").read_text().splitlines()[2]
    return line.strip("*").replace("`", "")


def test_report_html_holds_report_md_content(fake_sweep):
    fake_sweep.group("schedule=constant", [0.90, 0.91, 0.92, 0.905])
    fake_sweep.group("schedule=triangular2", [0.95, 0.96, 0.97, 0.955])
    fake_sweep.run("schedule=triangular2", 4, status="failed")
    build_report(fake_sweep.folder)
    page = Page((fake_sweep.folder / "report.html").read_text())
    assert " ".join(page.headline.split()) == markdown_headline(fake_sweep.folder)
    assert "higher final val_acc by 0.050" in page.headline  # the detected difference, as report.md says it
    verdicts = [row[-1] for row in page.tables["comparisons"]]
    assert verdicts == [row["verdict"] for row in read_csv(fake_sweep.folder / "comparisons.csv")]
    final = {row[0]: row[-1] for row in page.tables["comparisons"] if row[1] == "final val_acc"}
    assert final == {"schedule=triangular2": "better"}
    # one row per run, with its own numbers and links to its folder and summary
    runs = {row[1]: row for row in page.tables["runs"]}
    assert len(runs) == 9
    for folder in fake_sweep.folder.glob("*/.hydra"):
        summary = read_json(folder.parent / "summary.json")
        row = runs[folder.parent.name]
        assert row[5] == summary["status"]
        assert row[7] == f"{summary['final_val_acc']:.3f}"
        assert f"{folder.parent.name}/" in page.urls and f"{folder.parent.name}/summary.json" in page.urls
    assert page.tables["problems"][0][3] == "failed"


def test_report_html_is_offline_and_relative(fake_sweep):
    fake_sweep.group("schedule=constant", [0.90, 0.91, 0.92])
    fake_sweep.group("schedule=triangular2", [0.95, 0.96, 0.97])
    build_report(fake_sweep.folder)
    text = (fake_sweep.folder / "report.html").read_text()
    page = Page(text)
    assert page.urls and all(not re.match(r"^([a-z]+:|/)", u) for u in page.urls), page.urls
    assert "<link" not in text and "@import" not in text and "url(" not in text


def test_report_html_escapes_what_the_runs_wrote(fake_sweep):
    fake_sweep.group("schedule=constant note=<b>bold</b>", [0.90, 0.91, 0.92])
    fake_sweep.group("schedule=triangular2 note=<b>bold</b>", [0.95, 0.96, 0.97])
    build_report(fake_sweep.folder)
    text = (fake_sweep.folder / "report.html").read_text()
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text


def test_a_real_sweep_report_renders_in_chromium_from_a_copy(cli, tmp_path):
    sweep = tmp_path / "sweep"
    proc = cli(
        "-m",
        "schedule=constant,triangular",
        "seed=0,1",
        "trainer.max_steps=30",
        "trainer.threads=1",
        f"hydra.sweep.dir={sweep}",
    )
    assert proc.returncode == 0, proc.stderr
    assert (sweep / "report.html").is_file()
    moved = tmp_path / "elsewhere" / "copied"  # another machine, another folder: relative links still hold
    shutil.copytree(sweep, moved)
    shutil.rmtree(sweep)
    result = open_page(moved / "report.html", click=("runs", 7, 1))
    assert_page_complete(result)
    srcs = sorted(i["src"] for i in result["images"])
    assert srcs == sorted(["compare.png", *(f"{p.parent.name}/curves.png" for p in moved.glob("*/.hydra"))])
    runs = result["tables"]["runs"]
    assert runs["head"][1] == "folder" and runs["head"][7] == "final val_acc"
    shown = {row[1]: row for row in runs["rows"]}
    for job in moved.glob("*/summary.json"):
        summary = read_json(job)
        assert shown[job.parent.name][5] == "completed"
        assert shown[job.parent.name][7] == f"{summary['final_val_acc']:.3f}"
    ascending = [float(row[7]) for row in result["sorted"]["rows"]]
    assert ascending == sorted(ascending)  # the header click sorted the rows by that column
    # A job folder deleted afterwards: the rebuilt page lists it as missing, with no link to nothing.
    shutil.rmtree(next(moved.glob("1-*")))
    build_report(moved)
    result = open_page(moved / "report.html")
    assert_page_complete(result)
    assert ["(missing)", "missing"] == [result["tables"]["problems"]["rows"][0][i] for i in (1, 3)]
