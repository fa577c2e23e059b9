"""The members' curves.png drawn in worker processes (runner/batched/figures.py): every figure written, in order, and a
figure that fails is reported for its own member without costing the others theirs."""

from __future__ import annotations

import os

from runner.batched.figures import draw_curves
from runner.training.records import EVAL_COLUMNS, METRICS_COLUMNS

SETTINGS = {"smoothing": 0.9, "window": 20, "rel_drop": 0.05, "escape_drop": 0.3}


def run_folder(path, steps=60):
    path.mkdir()
    rows = [f"{s},0,0,0.01,0.9,{2.3 / (1 + s / 10):.6f}" for s in range(steps)]
    (path / "metrics.csv").write_text(",".join(METRICS_COLUMNS) + "\n" + "\n".join(rows) + "\n")
    (path / "eval.csv").write_text(
        ",".join(EVAL_COLUMNS) + f"\n{steps},1.0,0.01,0.4,0.9,end,100\n"
    )  # fmt: skip
    return path


def job(path, title):
    return {"run_dir": path, "title": title, "cycle_ends": [], "analysis": SETTINGS, "marks": None}


def test_workers_draw_every_members_figure_and_report_the_one_that_fails(tmp_path):
    a, b = run_folder(tmp_path / "a"), run_folder(tmp_path / "b")
    missing = tmp_path / "never-made"  # its figure cannot be saved
    results = draw_curves([job(a, "a"), job(missing, "missing"), job(b, "b")], workers=2)
    assert results[0] is None and results[2] is None
    message, trace = results[1]
    assert "never-made" in message + trace and "Traceback" in trace
    for folder in (a, b):
        png = folder / "curves.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert not missing.exists()


def test_one_worker_draws_in_this_process(tmp_path, monkeypatch):
    a = run_folder(tmp_path / "a")
    pid = os.getpid()
    seen = []
    import runner.plots

    real = runner.plots.plot_curves

    def spy(**kwargs):
        seen.append(os.getpid())
        return real(**kwargs)

    monkeypatch.setattr(runner.plots, "plot_curves", spy)
    assert draw_curves([job(a, "a")], workers=1) == [None]
    assert seen == [pid] and (a / "curves.png").is_file()
