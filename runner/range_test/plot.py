"""range_test.png: the loss (raw and smoothed) and the validation accuracy against the LR, bounds marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from runner.plots import save_figure  # noqa: E402


def plot_range_test(
    path: Path,
    lrs: Sequence[float],
    losses: Sequence[float],
    smoothed: Sequence[float],
    accuracy: Sequence[float | None],
    base_lr: float,
    max_lr: float,
    *,
    log_x: bool,
    title: str = "",
) -> Path:
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    finite = [(lr, x) for lr, x in zip(lrs, losses) if x == x and abs(x) != float("inf")]
    ax_loss.plot([lr for lr, _ in finite], [x for _, x in finite], color="0.75", lw=0.8, label="loss")
    ax_loss.plot(lrs, smoothed, color="C0", lw=1.6, label="smoothed loss (EMA)")
    # The divergence at the end dwarfs the interesting part: clip the y axis a little above the start.
    good = [s for s in smoothed if s == s]
    if good:
        low = min([x for _, x in finite] + good)
        ax_loss.set_ylim(low * 0.95, max(good[0], min(good)) * 1.5)
    ax_loss.set_ylabel("training loss")
    points = [(lr, a) for lr, a in zip(lrs, accuracy) if a is not None]
    if points:
        ax_acc.plot(
            [lr for lr, _ in points], [a for _, a in points], "o-", color="C2", ms=3, label="validation accuracy"
        )
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_xlabel("learning rate" + (" (log scale)" if log_x else ""))
    for ax in (ax_loss, ax_acc):
        if log_x:
            ax.set_xscale("log")
        ax.axvline(base_lr, color="C1", ls="--", lw=1, label=f"suggested base_lr {base_lr:.3g}")
        ax.axvline(max_lr, color="C3", ls="--", lw=1, label=f"suggested max_lr {max_lr:.3g}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    if title:
        ax_loss.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path)
    return path
