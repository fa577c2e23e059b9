"""compare.png: the sweep's groups overlaid (LR, smoothed loss, validation accuracy), drawn from the run folders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from runner.analysis.plateaus import ema  # noqa: E402
from runner.files import floats, read_csv_columns  # noqa: E402
from runner.plots import save_figure  # noqa: E402
from runner.training.records import accuracy_points  # noqa: E402


def _band(series: list[list[float]]) -> tuple[list[float], list[float], list[float]]:
    """Mean, min and max across runs, over the steps all of them reached."""
    n = min(len(s) for s in series)
    cols = [[s[i] for s in series] for i in range(n)]
    return [sum(c) / len(c) for c in cols], [min(c) for c in cols], [max(c) for c in cols]


def plot_compare(path: Path, groups: Sequence[tuple[str, Sequence[Path]]], smoothing: float = 0.98) -> Path:
    """compare.png: LR, smoothed training loss and val_acc per group, mean over seeds with a min-max band."""
    path = Path(path)
    fig, (ax_lr, ax_loss, ax_acc) = plt.subplots(
        3, 1, sharex=True, figsize=(10, 8.5), gridspec_kw={"height_ratios": [1, 1.4, 1.2]}
    )
    for index, (label, folders) in enumerate(groups):
        color = f"C{index % 10}"
        metrics = [read_csv_columns(Path(f) / "metrics.csv") for f in folders]
        metrics = [m for m in metrics if m.get("step")]
        if not metrics:
            continue
        steps = floats(metrics[0]["step"])
        lr_mean, _, _ = _band([floats(m["lr"]) for m in metrics])
        ax_lr.plot(steps[: len(lr_mean)], lr_mean, color=color, lw=1.2, label=label)
        mean, low, high = _band([list(ema(floats(m["loss"]), smoothing)) for m in metrics])
        ax_loss.plot(steps[: len(mean)], mean, color=color, lw=1.3)
        ax_loss.fill_between(steps[: len(mean)], low, high, color=color, alpha=0.2, lw=0)
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
