"""curves.png shows what summary.json says: the plateaus shaded, the escape as a line, the run's own settings."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import yaml

from runner import plots
from runner.analysis.run import analyze_run

LN10 = math.log(10.0)


def write_run(run_dir, losses, lrs) -> None:
    rows = ["step,lr,loss"] + [f"{i},{float(lr)!r},{float(x)!r}" for i, (lr, x) in enumerate(zip(lrs, losses))]
    (run_dir / "metrics.csv").write_text("\n".join(rows) + "\n")


def flat_then_fall(n: int = 1200) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(n, dtype=float)
    return np.where(t < 500, LN10, LN10 * np.exp(-(t - 500) / 100)), 0.1 + 1e-3 * t


def test_marks_are_the_summary_plateaus_and_escape():
    losses, lrs = flat_then_fall()
    steps = list(range(losses.size))
    settings = {"smoothing": 0.98, "window": 100, "rel_drop": 0.05, "escape_drop": 0.2}
    fig, axes = plt.subplots(3, 1)
    plots.mark_plateaus(axes, steps, list(lrs), list(losses), settings)
    want = analyze_run(steps, lrs, losses, [], [])
    ((start, end),) = [(p["start"], p["end"]) for p in want["plateaus"]]
    spans = [p for p in axes[1].patches]
    assert len(spans) == 1
    x0, x1 = spans[0].get_x(), spans[0].get_x() + spans[0].get_width()
    assert (x0, x1) == (start, end)
    escape_lines = [ln for ln in axes[1].lines if ln.get_linestyle() == "--"]
    assert [ln.get_xdata()[0] for ln in escape_lines] == [want["escape_step"]]
    assert f"LR {want['escape_lr']:.3g}" in escape_lines[0].get_label()
    plt.close(fig)


def test_no_escape_line_without_an_escape():
    fig, axes = plt.subplots(3, 1)
    t = np.arange(800, dtype=float)
    plots.mark_plateaus(axes, list(t), [0.1] * t.size, list(LN10 * np.exp(-t / 300)), plots.run_analysis_settings("."))
    assert not axes[1].patches and not [ln for ln in axes[1].lines if ln.get_linestyle() == "--"]
    plt.close(fig)


def test_log_axis_only_past_a_decade():
    assert plots.loss_spans_a_decade([2.3, 0.2])
    assert not plots.loss_spans_a_decade([2.3, 0.5, float("nan")])
    assert not plots.loss_spans_a_decade([])


def test_curves_png_uses_the_settings_saved_in_the_run_folder(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(
        yaml.safe_dump({"analysis": {"smoothing": 0.9, "plateau": {"window": 200, "rel_drop": 0.02}}})
    )
    got = plots.run_analysis_settings(tmp_path)
    assert got == {"smoothing": 0.9, "window": 200, "rel_drop": 0.02, "escape_drop": 0.2}
    assert plots.run_analysis_settings(tmp_path / "missing")["window"] == 100  # no saved config: the defaults
    losses, lrs = flat_then_fall()
    write_run(tmp_path, losses, lrs)
    path = plots.plot_curves(tmp_path, title="t")
    assert path.exists() and path.stat().st_size > 0
