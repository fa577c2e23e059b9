"""compare.png: the sweep's groups overlaid (LR, smoothed loss, validation accuracy), drawn from the run folders.

Each group has its own colour and line style, so groups that overlap (a tie, or schedules equal for a while) stay
apart; the band is the t-based 95% confidence interval of the mean over seeds (runner/report/stats.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from runner.analysis.plateaus import ema  # noqa: E402
from runner.files import floats, read_csv_columns  # noqa: E402
from runner.plots import save_figure  # noqa: E402
from runner.report.stats import mean_band  # noqa: E402
from runner.training.records import accuracy_points  # noqa: E402

# Four dash patterns against ten colours: 20 groups before a colour and style pair repeats.
LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v")


def _columns(series: list[list[float]]) -> list[list[float]]:
    """Runs x steps, over the steps all of them reached."""
    n = min(len(s) for s in series)
    return [list(s[:n]) for s in series]


def plot_compare(path: Path, groups: Sequence[tuple[str, Sequence[Path]]], smoothing: float = 0.98) -> Path:
    """compare.png: LR, smoothed training loss and val_acc per group: mean over seeds and its 95% CI band."""
    path = Path(path)
    fig, (ax_lr, ax_loss, ax_acc) = plt.subplots(
        3, 1, sharex=True, figsize=(10, 8.5), gridspec_kw={"height_ratios": [1, 1.4, 1.2]}
    )
    for index, (label, folders) in enumerate(groups):
        style = {"color": f"C{index % 10}", "linestyle": LINE_STYLES[index % len(LINE_STYLES)]}
        metrics = [read_csv_columns(Path(f) / "metrics.csv") for f in folders]
        metrics = [m for m in metrics if m.get("step")]
        if not metrics:
            continue
        steps = floats(metrics[0]["step"])
        lr_mean, _, _ = mean_band(_columns([floats(m["lr"]) for m in metrics]))
        ax_lr.plot(steps[: len(lr_mean)], lr_mean, lw=1.2, label=f"{label} (n={len(metrics)})", **style)
        mean, low, high = mean_band(_columns([list(ema(floats(m["loss"]), smoothing)) for m in metrics]))
        ax_loss.plot(steps[: len(mean)], mean, lw=1.3, **style)
        ax_loss.fill_between(steps[: len(mean)], low, high, color=style["color"], alpha=0.15, lw=0)
        curves = [c for c in (accuracy_points(f) for f in folders) if c]
        if curves:
            common = sorted(set.intersection(*(set(c) for c in curves)))
            acc_mean, acc_low, acc_high = mean_band([[c[s] for s in common] for c in curves])
            marker = MARKERS[index % len(MARKERS)]
            ax_acc.plot(common, acc_mean, marker=marker, ms=3, lw=1.1, **style)
            ax_acc.fill_between(common, acc_low, acc_high, color=style["color"], alpha=0.15, lw=0)
    ax_lr.set_ylabel("learning rate")
    if ax_lr.get_legend_handles_labels()[0]:  # no completed run: an empty figure, without matplotlib's warning
        ax_lr.legend(fontsize=8, loc="upper right")
    ax_loss.set_ylabel(f"training loss, EMA({smoothing:g})")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_xlabel("iteration (optimizer step)")
    for ax in (ax_lr, ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    ax_lr.set_title("mean over completed seeds; bands: t-based 95% confidence interval of the mean (none for n=1)")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.06, top=0.95)  # fixed margins: no second draw to crop
    save_figure(fig, path, tight=False)
    return path
