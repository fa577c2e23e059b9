"""Run figures (matplotlib, Agg backend: no display needed, safe in sweep workers).

curves.png puts the LR, the training loss (raw and smoothed) and the validation accuracy on one shared iteration
axis, so a user sees what the loss did while the LR rose and fell.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from runner.analysis import ema  # noqa: E402
from runner.records import accuracy_points, atomic_file, floats, read_csv_columns  # noqa: E402


def save_figure(fig: plt.Figure, path: Path) -> None:
    """Save and close `fig`, written atomically: a sweep report never picks up half a PNG."""
    path = Path(path)
    with atomic_file(path, binary=True) as f:
        fig.savefig(f, format=path.suffix.lstrip("."), dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_curves(run_dir: Path, title: str = "", smoothing: float = 0.98,
                cycle_ends: Optional[Sequence[int]] = None) -> Path:
    """curves.png of a run folder, drawn from its metrics.csv and eval.csv alone."""
    run_dir = Path(run_dir)
    metrics = read_csv_columns(run_dir / "metrics.csv")
    points = accuracy_points(run_dir)
    steps = floats(metrics.get("step", []))
    losses = floats(metrics.get("loss", []))
    fig, (ax_lr, ax_loss, ax_acc) = plt.subplots(3, 1, sharex=True, figsize=(9, 7.5),
                                                 gridspec_kw={"height_ratios": [1, 1.4, 1]})
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


def plot_schedule(path: Path, steps: Sequence[int], lrs: Sequence[float], title: str,
                  momenta: Optional[Sequence[Optional[float]]] = None) -> Path:
    """schedule.png: the LR (and momentum, where the policy sets it) over the preview steps."""
    path = Path(path)
    has_momentum = momenta is not None and any(m is not None for m in momenta)
    fig, axes = plt.subplots(2 if has_momentum else 1, 1, sharex=True, figsize=(9, 5 if has_momentum else 3.5),
                             squeeze=False)
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


def _band(series: list[list[float]]) -> tuple[list[float], list[float], list[float]]:
    """Mean, min and max across runs, over the steps all of them reached."""
    n = min(len(s) for s in series)
    cols = [[s[i] for s in series] for i in range(n)]
    return [sum(c) / len(c) for c in cols], [min(c) for c in cols], [max(c) for c in cols]


def plot_compare(path: Path, groups: Sequence[tuple[str, Sequence[Path]]], smoothing: float = 0.98) -> Path:
    """compare.png: LR, smoothed training loss and val_acc per group, mean over seeds with a min-max band."""
    path = Path(path)
    fig, (ax_lr, ax_loss, ax_acc) = plt.subplots(3, 1, sharex=True, figsize=(10, 8.5),
                                                 gridspec_kw={"height_ratios": [1, 1.4, 1.2]})
    for index, (label, folders) in enumerate(groups):
        color = f"C{index % 10}"
        metrics = [read_csv_columns(Path(f) / "metrics.csv") for f in folders]
        metrics = [m for m in metrics if m.get("step")]
        if not metrics:
            continue
        steps = floats(metrics[0]["step"])
        lr_mean, _, _ = _band([floats(m["lr"]) for m in metrics])
        ax_lr.plot(steps[:len(lr_mean)], lr_mean, color=color, lw=1.2, label=label)
        mean, low, high = _band([list(ema(floats(m["loss"]), smoothing)) for m in metrics])
        ax_loss.plot(steps[:len(mean)], mean, color=color, lw=1.3)
        ax_loss.fill_between(steps[:len(mean)], low, high, color=color, alpha=0.2, lw=0)
        curves = [c for c in (accuracy_points(f) for f in folders) if c]
        if curves:
            common = sorted(set.intersection(*(set(c) for c in curves)))
            acc_mean, acc_low, acc_high = _band([[c[s] for s in common] for c in curves])
            ax_acc.plot(common, acc_mean, "o-", color=color, ms=2.5, lw=1.1)
            ax_acc.fill_between(common, acc_low, acc_high, color=color, alpha=0.2, lw=0)
    ax_lr.set_ylabel("learning rate")
    ax_lr.legend(fontsize=8, loc="upper right")
    ax_loss.set_ylabel(f"training loss, EMA({smoothing:g})")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_xlabel("iteration (optimizer step)")
    for ax in (ax_lr, ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    ax_lr.set_title("mean over seeds; bands: min-max across seeds")
    save_figure(fig, path)
    return path
