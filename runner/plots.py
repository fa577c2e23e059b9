"""Run figures (matplotlib, Agg backend: no display needed, safe in sweep workers), and the one way to save any figure.

curves.png puts the LR, the training loss (raw and smoothed) and the validation accuracy on one shared iteration
axis, so a user sees what the loss did while the LR rose and fell.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from runner.analysis.plateaus import ema  # noqa: E402
from runner.files import atomic_file, floats, read_csv_columns  # noqa: E402
from runner.training.records import accuracy_points  # noqa: E402


def save_figure(fig: plt.Figure, path: Path) -> None:
    """Save and close `fig`, written atomically: a sweep report never picks up half a PNG."""
    path = Path(path)
    with atomic_file(path, binary=True) as f:
        fig.savefig(f, format=path.suffix.lstrip("."), dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_curves(
    run_dir: Path, title: str = "", smoothing: float = 0.98, cycle_ends: Sequence[int] | None = None
) -> Path:
    """curves.png of a run folder, drawn from its metrics.csv and eval.csv alone."""
    run_dir = Path(run_dir)
    metrics = read_csv_columns(run_dir / "metrics.csv")
    points = accuracy_points(run_dir)
    steps = floats(metrics.get("step", []))
    losses = floats(metrics.get("loss", []))
    fig, (ax_lr, ax_loss, ax_acc) = plt.subplots(
        3, 1, sharex=True, figsize=(9, 7.5), gridspec_kw={"height_ratios": [1, 1.4, 1]}
    )
    ax_lr.plot(steps, floats(metrics.get("lr", [])), color="tab:blue", lw=1.2)
    ax_lr.set_ylabel("learning rate")
    ax_loss.plot(steps, losses, color="tab:orange", alpha=0.3, lw=0.7, label="loss")
    if losses:
        ax_loss.plot(steps, ema(losses, smoothing), color="tab:red", lw=1.4, label=f"EMA({smoothing:g})")
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
    path = run_dir / "curves.png"
    save_figure(fig, path)
    return path


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
