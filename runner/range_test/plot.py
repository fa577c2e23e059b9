"""range_test.png: every seed's smoothed loss and validation accuracy against the LR, the aggregate bounds marked."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend is chosen first)

from runner.plots import save_figure  # noqa: E402


def finite(values: Sequence[float]) -> list[float]:
    return [x for x in values if x == x and abs(x) != float("inf")]


def plot_range_test(
    path: Path,
    curves: Sequence[dict[str, Any]],
    aggregate: dict[str, dict[str, Any]] | None,
    rule: str,
    *,
    log_x: bool,
    title: str = "",
) -> Path:
    """`curves`: one {"seed", "lrs", "losses", "smoothed", "accuracy"} per seed; `aggregate`: each rule's median
    bounds and spread ({rule: {"base_lr", "max_lr", "spread"}}), None when the test suggested nothing; `rule` is the
    one schedule.bounds_from uses, drawn bold, the others' max_lr dotted on the loss panel."""
    bounds = aggregate[rule] if aggregate else None
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    starts, lows = [], []
    for k, c in enumerate(curves):
        color = f"C{k % 10}"
        ax_loss.plot(c["lrs"], c["smoothed"], color=color, lw=1.4, label=f"seed {c['seed']} smoothed loss")
        good = finite(c["smoothed"])
        if good:
            starts.append(max(good[0], min(good)))
            lows.append(min(finite(c["losses"]) + good))
        points = [(lr, a) for lr, a in zip(c["lrs"], c["accuracy"]) if a is not None]
        if points:
            ax_acc.plot([p[0] for p in points], [p[1] for p in points], "o-", color=color, ms=3, lw=1)
    # The divergence at the end dwarfs the interesting part: clip the y axis a little above the start.
    if starts:
        ax_loss.set_ylim(min(lows) * 0.95, max(starts) * 1.5)
    ax_loss.set_ylabel("training loss (EMA)")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_xlabel("learning rate" + (" (log scale)" if log_x else ""))
    if bounds is not None:
        # The band: the seeds' max_lr from the lowest to the highest, around the median that bounds_from uses.
        s = bounds["spread"]["max_lr"]
        for ax in (ax_loss, ax_acc):
            ax.axvspan(s["min"], s["max"], color="0.5", alpha=0.15, lw=0)
        # The other rules' medians, for comparison; black and grey stay clear of the seeds' colours.
        for k, (other, a) in enumerate((r, a) for r, a in aggregate.items() if r != rule):
            ax_loss.axvline(
                a["max_lr"], color="0.35", ls=(0, (1, 2 + 2 * k)), lw=1, label=f"{other} max_lr {a['max_lr']:.3g}"
            )
    for ax in (ax_loss, ax_acc):
        if log_x:
            ax.set_xscale("log")
        if bounds is not None:
            ax.axvline(bounds["base_lr"], color="k", ls="--", lw=1.2, label=f"{rule} base_lr {bounds['base_lr']:.3g}")
            s = bounds["spread"]["max_lr"]
            label = f"{rule} max_lr {bounds['max_lr']:.3g} (median; seeds {s['min']:.3g}-{s['max']:.3g} shaded)"
            ax.axvline(bounds["max_lr"], color="k", ls="-.", lw=1.2, label=label)
        ax.grid(alpha=0.3)
    ax_loss.legend(fontsize=8, loc="best")
    if bounds is not None:
        ax_acc.legend(fontsize=8, loc="best")
    full = title + ("" if bounds is not None else "\nno usable bounds: the loss never improved")
    if full:
        ax_loss.set_title(full, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path)
    return path
