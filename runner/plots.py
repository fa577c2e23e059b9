"""Run figures (matplotlib, Agg backend: no display needed, safe in sweep workers), and the one way to save any figure.

curves.png puts the LR, the training loss (raw and smoothed) and the validation accuracy on one shared iteration
axis, so a user sees what the loss did while the LR rose and fell; the detected plateaus are shaded and the escape
from the first one is a vertical line (docs/plateaus.md), computed from the run's records exactly as summary.json's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from runner.analysis.plateaus import centred_median, ema  # noqa: E402
from runner.analysis.run import analyze_run  # noqa: E402
from runner.analysis.settings import AnalysisConfig  # noqa: E402
from runner.files import atomic_file, floats, read_csv_columns, read_yaml  # noqa: E402
from runner.training.records import accuracy_points  # noqa: E402


def save_figure(fig: plt.Figure, path: Path, tight: bool = True) -> None:
    """Save and close `fig`, written atomically: a sweep report never picks up half a PNG. `tight` crops to the
    drawn content, which costs a second draw; a figure with fixed margins (curves.png, one per run) skips it."""
    path = Path(path)
    with atomic_file(path, binary=True) as f:
        fig.savefig(f, format=path.suffix.lstrip("."), dpi=110, bbox_inches="tight" if tight else None)
    plt.close(fig)


def run_analysis_settings(run_dir: Path) -> dict[str, Any]:
    """The run's analysis.* keys from the config Hydra saved in its folder (.hydra/config.yaml), else the defaults:
    the figure is drawn before summary.json holds the analysis, and must use the run's own settings."""
    defaults = AnalysisConfig()
    out: dict[str, Any] = {
        "smoothing": defaults.smoothing,
        "window": defaults.plateau.window,
        "rel_drop": defaults.plateau.rel_drop,
        "escape_drop": defaults.plateau.escape_drop,
    }
    saved = read_yaml(Path(run_dir) / ".hydra" / "config.yaml") or {}
    analysis = saved.get("analysis") or {}
    out["smoothing"] = analysis.get("smoothing", out["smoothing"])
    plateau = analysis.get("plateau") or {}
    for key in ("window", "rel_drop", "escape_drop"):
        out[key] = plateau.get(key, out[key])
    return out


def plot_curves(
    run_dir: Path,
    title: str = "",
    smoothing: float = 0.98,
    cycle_ends: Sequence[int] | None = None,
    analysis: Mapping[str, Any] | None = None,
    marks: Mapping[str, Any] | None = None,
) -> Path:
    """curves.png of a run folder, drawn from its metrics.csv and eval.csv alone.

    ``analysis``: smoothing, window, rel_drop and escape_drop for the plateaus; by default the run's own
    (run_analysis_settings()), with ``smoothing`` for both smoothed curves. ``marks``: the plateaus, escape_step and
    escape_lr the run task already computed for summary.json; without them they are computed from the records.
    """
    run_dir = Path(run_dir)
    settings = dict(analysis) if analysis is not None else {**run_analysis_settings(run_dir), "smoothing": smoothing}
    metrics = read_csv_columns(run_dir / "metrics.csv")
    points = accuracy_points(run_dir)
    steps = floats(metrics.get("step", []))
    losses = floats(metrics.get("loss", []))
    lrs = floats(metrics.get("lr", []))
    fig, (ax_lr, ax_loss, ax_acc) = plt.subplots(
        3, 1, sharex=True, figsize=(9, 7.5), gridspec_kw={"height_ratios": [1, 1.4, 1]}
    )
    ax_lr.plot(steps, lrs, color="tab:blue", lw=1.2)
    ax_lr.set_ylabel("learning rate")
    ax_loss.plot(steps, losses, color="tab:orange", alpha=0.3, lw=0.7, label="loss")
    beta = settings["smoothing"]
    if losses:
        ax_loss.plot(steps, ema(losses, beta), color="tab:red", lw=1.0, alpha=0.6, label=f"EMA({beta:g}), lags")
        ax_loss.plot(steps, centred_median(losses, beta), color="black", lw=1.2, label="centred median (detector)")
        if loss_spans_a_decade(losses):
            ax_loss.set_yscale("log")
        if marks is None:
            mark_plateaus((ax_lr, ax_loss, ax_acc), steps, lrs, losses, settings)
        else:
            draw_marks((ax_lr, ax_loss, ax_acc), marks)
    ax_loss.set_ylabel("training loss")
    ax_loss.legend(loc="upper right", fontsize=8)
    if points:
        ax_acc.plot(list(points), list(points.values()), "o-", color="tab:green", ms=3, lw=1)
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_xlabel("iteration (optimizer step)")
    for ax in (ax_lr, ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        for end in cycle_ends or ():
            ax.axvline(end, color="grey", alpha=0.25, lw=0.8)
    if title:
        ax_lr.set_title(title)
    # Fixed margins instead of a tight crop: every run draws this figure, and the crop draws it a second time.
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.07, top=0.95)
    path = run_dir / "curves.png"
    save_figure(fig, path, tight=False)
    return path


def loss_spans_a_decade(losses: Sequence[float]) -> bool:
    """A log axis where the finite, positive loss spans more than a factor of 10 (else a linear one reads better)."""
    positive = [x for x in losses if x > 0 and x != float("inf")]
    return bool(positive) and max(positive) > 10 * min(positive)


def mark_plateaus(
    axes: Sequence[plt.Axes], steps: list[float], lrs: list[float], losses: list[float], settings: Mapping[str, Any]
) -> None:
    """Shade each detected plateau on every panel and draw the escape from the first as a vertical line."""
    try:
        found = analyze_run(
            steps,
            lrs if len(lrs) == len(steps) else None,
            losses,
            [],
            [],
            beta=settings["smoothing"],
            window=int(settings["window"]),
            rel_drop=settings["rel_drop"],
            escape_drop=settings["escape_drop"],
            targets=[],
        )
    except ValueError:  # a damaged log (steps out of order): its curves without the marks
        return
    draw_marks(axes, found)


def draw_marks(axes: Sequence[plt.Axes], found: Mapping[str, Any]) -> None:
    """The shading and escape line of `found` (analyze_run's plateaus, escape_step and escape_lr)."""
    for i, p in enumerate(found.get("plateaus") or ()):
        for ax in axes:
            ax.axvspan(p["start"], p["end"], color="tab:purple", alpha=0.12, lw=0, label="plateau" if i == 0 else None)
    step = found.get("escape_step")
    if step is not None:
        lr = found.get("escape_lr")
        label = f"escape: step {step}" + (f", LR {lr:.3g}" if lr is not None else "")
        for ax in axes:
            ax.axvline(step, color="tab:purple", lw=1.4, ls="--", label=label if ax is axes[1] else None)
    if found["escape_status"] is not None:
        axes[1].set_title(f"escape_status: {found['escape_status']}", fontsize=9, loc="left")


def plot_schedule(
    path: Path, steps: Sequence[int], lrs: Sequence[float], title: str, momenta: Sequence[float | None] | None = None
) -> Path:
    """schedule.png: the LR (and momentum, where the policy sets it) over the preview steps."""
    path = Path(path)
    has_momentum = momenta is not None and any(m is not None for m in momenta)
    fig, axes = plt.subplots(
        2 if has_momentum else 1, 1, sharex=True, figsize=(9, 5 if has_momentum else 3.5), squeeze=False
    )
    axes[0][0].plot(steps, lrs, color="tab:blue", lw=1.2)
    axes[0][0].set_ylabel("learning rate")
    axes[0][0].set_title(title)
    if has_momentum:
        axes[1][0].plot(steps, momenta, color="tab:purple", lw=1.2)
        axes[1][0].set_ylabel("momentum")
    axes[-1][0].set_xlabel("iteration")
    for row in axes:
        row[0].grid(alpha=0.3)
    save_figure(fig, path)
    return path
