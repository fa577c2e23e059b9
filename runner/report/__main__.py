"""`python -m runner.report DIR`: (re)build the report of a sweep folder from its files, or the index of an output
folder.

    python -m runner.report outputs/sweeps/2026-11-25/09-12-03
    python -m runner.report outputs/sweeps/2026-11-25/09-12-03 --baseline schedule=fixed   # compare with another group
    python -m runner.report outputs/                # index.html: every sweep and single run under outputs/

A sweep folder (multirun.yaml, or job folders) gets report.md and report.html; any other folder that holds runs or
sweeps gets index.html. Exit status: for a sweep, 0 when every run completed, 1 when some run has no result (the
report lists why); for an index, 0; 2 when DIR is neither (runner/status.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.report.catalog import is_sweep
from runner.status import ExitCode, exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.report", description=__doc__.splitlines()[0])
    parser.add_argument(
        "sweep_dir",
        metavar="DIR",
        type=Path,
        help="a sweep folder (the one holding multirun.yaml), or a folder of runs and sweeps such as outputs/",
    )
    parser.add_argument(
        "--baseline",
        metavar="LABEL",
        help="the group to compare every other group with, as the report labels it (e.g. schedule=fixed); "
        "default: the runs' analysis.baseline, else the best constant, else the fixed group",
    )
    args = parser.parse_args(argv)
    folder = args.sweep_dir
    if folder.is_dir() and not is_sweep(folder):
        return _index(folder, args.baseline)
    from runner.report.build import build_report  # scipy and matplotlib: only for a sweep's report

    try:
        counts = build_report(folder, args.baseline)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    print(f"{folder / 'report.md'}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return exit_code(s for s, n in counts.items() for _ in range(n))


def _index(folder: Path, baseline: str | None) -> int:
    from runner.report.catalog import scan
    from runner.report.index import write_index

    if baseline:
        print(f"error: --baseline={baseline}: {folder} is not a sweep folder; --baseline asks a sweep", file=sys.stderr)
        return ExitCode.BAD_INPUT

    found = scan(folder)
    if not any(found):
        print(
            f"error: {folder}: no multirun.yaml and no run folders: not a sweep folder, and no runs or sweeps below",
            file=sys.stderr,
        )
        return ExitCode.BAD_INPUT
    path, counts = write_index(folder, found)
    print(f"{path}: {counts['sweeps']} sweeps, {counts['runs']} single runs")
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
