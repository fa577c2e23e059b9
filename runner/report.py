"""The sweep report: runs.csv, schedules.csv, compare.png and report.md, built from a sweep folder's files alone.

    python -m runner.report outputs/sweeps/2026-11-25/09-12-03      # (re)build the report of a sweep folder

The same code runs as a Hydra callback at the end of every multirun (conf/config.yaml, hydra.callbacks). Runs that
are missing, unfinished or failed are listed, never silently averaged in; the command exits 1 when there are any.
"""
from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from runner.analysis import steps_to_target, target_key
from runner.records import accuracy_points, atomic_file, write_rows
from runner.sweep import RunRecord, collect

log = logging.getLogger("runner.report")

FIGURES = ("final_val_acc", "best_val_acc", "escape_step", "plateau_fraction", "wall_s")
OK_STATUSES = ("completed",)


@dataclass
class Group:
    """The runs of one configuration across seeds (e.g. schedule=triangular2)."""

    label: str
    runs: list[RunRecord]

    @property
    def done(self) -> list[RunRecord]:
        return [r for r in self.runs if r.status in OK_STATUSES]

    @property
    def schedule(self) -> str:
        names = {r.summary.get("schedule") for r in self.runs if r.summary}
        return ",".join(sorted(n for n in names if n)) or "?"


def varying_keys(records: list[RunRecord]) -> list[str]:
    """Override keys whose value differs between jobs: these name the groups (the seed aside)."""
    values: dict[str, set] = {}
    for r in records:
        for o in r.overrides:
            key, _, value = o.partition("=")
            values.setdefault(key, set()).add(value)
    present = [set(o.partition("=")[0] for o in r.overrides) for r in records]
    keys = [k for k, v in values.items() if len(v) > 1 or any(k not in p for p in present)]
    return [k for k in keys if k != "seed"]


def short_override(override: str) -> str:
    """A group-choice override as a reader says it: `experiment/plateau_escape@_global_=constant` reads
    `plateau_escape=constant`; plain key=value overrides stay as they are."""
    key, sep, value = override.partition("=")
    return f"{key.split('@', 1)[0].rsplit('/', 1)[-1]}{sep}{value}"


def group_runs(records: list[RunRecord]) -> list[Group]:
    keys = varying_keys(records)
    groups: dict[str, list[RunRecord]] = {}
    for r in records:
        label = " ".join(short_override(o) for o in r.overrides if o.partition("=")[0] in keys) or "(all runs)"
        groups.setdefault(label, []).append(r)
    return [Group(label, runs) for label, runs in groups.items()]


def target_keys(records: list[RunRecord]) -> list[str]:
    keys: list[str] = []
    for r in records:
        for k in (r.summary or {}).get("steps_to_target") or {}:
            if k not in keys:
                keys.append(k)
    return sorted(keys, key=float)


def first_step_reaching(folder: Optional[Path], accuracy: float) -> Optional[int]:
    """The first evaluation step whose val_acc reaches `accuracy` (Smith's iterations-to-accuracy)."""
    if folder is None:
        return None
    points = accuracy_points(folder)
    return steps_to_target(list(points), list(points.values()), [accuracy])[target_key(accuracy)]


def spread(values: list[Optional[float]]) -> dict[str, Any]:
    """Mean, sample std, min and max of the values that exist, and how many there were."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {"mean": statistics.fmean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0,
            "min": min(xs), "max": max(xs), "n": len(xs)}


def baseline_group(groups: list[Group]) -> Optional[Group]:
    """The constant-LR group Smith compares against (the first, if a sweep holds several constant LRs)."""
    for g in groups:
        if g.schedule == "constant" and g.done:
            return g
    return None


def smith_comparison(groups: list[Group]) -> tuple[Optional[float], dict[str, dict]]:
    """Per group: the steps to reach the constant policy's mean final accuracy, and the ratio to constant's."""
    base = baseline_group(groups)
    if base is None:
        return None, {}
    target = statistics.fmean(r.summary["final_val_acc"] for r in base.done)
    steps = {g.label: spread([first_step_reaching(r.folder, target) for r in g.done]) for g in groups}
    base_steps = steps[base.label]["mean"]
    out = {}
    for g in groups:
        s = steps[g.label]
        ratio = s["mean"] / base_steps if s["mean"] is not None and base_steps else None
        out[g.label] = {"steps": s, "ratio": ratio, "reached": s["n"], "of": len(g.done)}
    return target, out


def run_rows(records: list[RunRecord], targets: list[str]) -> tuple[list[str], list[list[Any]]]:
    columns = ["job", "folder", "overrides", "schedule", "seed", "status", "steps", "final_val_acc",
               "best_val_acc", *[f"steps_to_{t}" for t in targets], "escape_step", "escape_lr",
               "plateau_fraction", "wall_s", "threads", "problem"]
    rows = []
    for r in records:
        s = r.summary or {}
        stt = s.get("steps_to_target") or {}
        problem = r.problem or s.get("error")
        rows.append([r.job, r.folder.name if r.folder else "", " ".join(r.overrides), s.get("schedule"), r.seed,
                     r.status, s.get("steps"), s.get("final_val_acc"), s.get("best_val_acc"),
                     *[stt.get(t) for t in targets], s.get("escape_step"), s.get("escape_lr"),
                     s.get("plateau_fraction"), s.get("wall_s"), s.get("threads"), problem])
    return columns, rows


def group_rows(groups: list[Group], targets: list[str], smith: dict) -> tuple[list[str], list[list[Any]]]:
    figures = [*FIGURES, *[f"steps_to_{t}" for t in targets]]
    columns = ["group", "schedule", "runs", "completed"]
    for f in figures:
        columns += [f"{f}_mean", f"{f}_std", f"{f}_min", f"{f}_max", f"{f}_n"]
    columns += ["steps_to_constant_final_mean", "ratio_to_constant"]
    rows = []
    for g in groups:
        row: list[Any] = [g.label, g.schedule, len(g.runs), len(g.done)]
        for f in figures:
            if f.startswith("steps_to_"):
                values = [(r.summary.get("steps_to_target") or {}).get(f[len("steps_to_"):]) for r in g.done]
            else:
                values = [r.summary.get(f) for r in g.done]
            st = spread(values)
            row += [st["mean"], st["std"], st["min"], st["max"], st["n"]]
        comp = smith.get(g.label, {})
        row += [(comp.get("steps") or {}).get("mean"), comp.get("ratio")]
        rows.append(row)
    return columns, rows


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _mean_pm(st: dict, digits: int = 3, empty: str = "never") -> str:
    if st["mean"] is None:
        return empty
    text = f"{_fmt(st['mean'], digits)} ± {_fmt(st['std'], digits)}"
    return text


def write_markdown(sweep_dir: Path, records: list[RunRecord], groups: list[Group], targets: list[str],
                   smith_target: Optional[float], smith: dict) -> Path:
    problems = [r for r in records if r.status not in OK_STATUSES]
    lines = [f"# Sweep report: {sweep_dir.name}", "",
             f"Folder `{sweep_dir}`: {len(records)} runs, "
             f"{sum(r.status in OK_STATUSES for r in records)} completed, {len(problems)} not.", ""]
    if problems:
        lines += ["## Runs without a result", "", "| job | folder | overrides | status | why |", "|---|---|---|---|---|"]
        for r in problems:
            why = r.problem or (r.summary or {}).get("error") or (r.summary or {}).get("diverged_at") or ""
            lines.append(f"| {r.job} | {r.folder.name if r.folder else '(missing)'} | `{' '.join(r.overrides)}` "
                         f"| {r.status} | {why} |")
        lines += ["", "Their numbers are left out of the tables below.", ""]
    lines += ["## Per schedule (mean ± std over seeds)", ""]
    head = ["group", "runs done", "final val_acc", "best val_acc",
            *[f"steps to {t}" for t in targets], "plateau escape step", "plateau fraction"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        done = g.done
        cells = [f"`{g.label}`", f"{len(done)}/{len(g.runs)}",
                 _mean_pm(spread([r.summary.get("final_val_acc") for r in done]), empty="–"),
                 _mean_pm(spread([r.summary.get("best_val_acc") for r in done]), empty="–")]
        for t in targets:
            st = spread([(r.summary.get("steps_to_target") or {}).get(t) for r in done])
            cells.append(_mean_pm(st, 0) + (f" ({st['n']}/{len(done)})" if st["n"] < len(done) else ""))
        esc = spread([r.summary.get("escape_step") for r in done])
        cells.append(_mean_pm(esc, 0) + (f" ({esc['n']}/{len(done)} escaped)" if esc["n"] else " (no plateau escaped)"))
        cells.append(_mean_pm(spread([r.summary.get("plateau_fraction") for r in done]), 2, empty="–"))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += headline(groups, targets)
    if smith:
        lines += ["## Iterations to the constant policy's final accuracy (Smith 2017, Table 1 style)", "",
                  f"Target: the constant policy's mean final val_acc, {smith_target:.4f}. Ratio below 1: the "
                  "schedule gets there in fewer iterations than constant.", "",
                  "| group | reached | steps (mean ± std) | ratio to constant |", "|---|---|---|---|"]
        for g in groups:
            c = smith[g.label]
            lines.append(f"| `{g.label}` | {c['reached']}/{c['of']} | {_mean_pm(c['steps'], 0)} | "
                         f"{_fmt(c['ratio'], 2)} |")
        lines.append("")
    else:
        lines += ["No completed constant-LR runs in this sweep, so no ratio to constant.", ""]
    lines += ["## Curves", "", "![LR, smoothed loss and validation accuracy per schedule](compare.png)", "",
              "Lines are the mean over seeds, bands the min-max across seeds. Per-run figures:", ""]
    lines += [f"- [{r.folder.name}]({r.folder.name}/curves.png) ({r.status})" for r in records if r.folder]
    lines += ["", "Tables: [runs.csv](runs.csv) (one row per run), [schedules.csv](schedules.csv) "
              "(per group: mean, std, min, max, n).", ""]
    path = sweep_dir / "report.md"
    with atomic_file(path) as f:
        f.write("\n".join(lines))
    return path


def headline(groups: list[Group], targets: list[str]) -> list[str]:
    """One sentence per question the sweep answers: who escaped first, who reached each target first."""
    out = []
    esc = [(spread([r.summary.get("escape_step") for r in g.done]), g) for g in groups]
    esc = [(st, g) for st, g in esc if st["n"]]
    if esc:
        st, g = min(esc, key=lambda x: x[0]["mean"])
        out.append(f"- Earliest plateau escape: `{g.label}` at step {st['mean']:.0f} on average "
                   f"({st['n']}/{len(g.done)} runs escaped).")
    else:
        out.append("- No run had a plateau to escape (the detector found none, or none was escaped).")
    for t in targets:
        reach = [(spread([(r.summary.get("steps_to_target") or {}).get(t) for r in g.done]), g) for g in groups]
        reach = [(st, g) for st, g in reach if st["n"]]
        if reach:
            st, g = min(reach, key=lambda x: (-x[0]["n"], x[0]["mean"]))
            out.append(f"- Fewest iterations to val_acc {t}: `{g.label}`, {st['mean']:.0f} ± {st['std']:.0f} "
                       f"steps ({st['n']}/{len(g.done)} runs reached it).")
        else:
            out.append(f"- No run reached val_acc {t}.")
    return out + [""]


def build_report(sweep_dir: Path) -> dict:
    """Write runs.csv, schedules.csv, compare.png and report.md; return counts of runs by status."""
    from runner.plots import plot_compare

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep folder {sweep_dir} does not exist")
    records = collect(sweep_dir)
    if not records:
        raise FileNotFoundError(f"{sweep_dir}: no multirun.yaml and no run folders: not a sweep folder")
    groups = group_runs(records)
    targets = target_keys(records)
    smith_target, smith = smith_comparison(groups)
    write_rows(sweep_dir / "runs.csv", *run_rows(records, targets))
    write_rows(sweep_dir / "schedules.csv", *group_rows(groups, targets, smith))
    plot_compare(sweep_dir / "compare.png", [(g.label, [r.folder for r in g.done]) for g in groups])
    write_markdown(sweep_dir, records, groups, targets, smith_target, smith)
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder (the one holding multirun.yaml)")
    args = parser.parse_args(argv)
    try:
        counts = build_report(args.sweep_dir)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.sweep_dir / 'report.md'}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return 0 if set(counts) <= set(OK_STATUSES) else 1


if __name__ == "__main__":
    sys.exit(main())
