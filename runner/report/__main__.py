"""`python -m runner.report DIR`: (re)build the report of a sweep folder from its files.

    python -m runner.report outputs/sweeps/2026-11-25/09-12-03
    python -m runner.report outputs/sweeps/2026-11-25/09-12-03 --baseline schedule=fixed   # compare with another group

Exit status: 0 when every run completed, 1 when some run has no result (the report lists why), 2 when DIR is not a
sweep folder (runner/status.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.report.build import build_report
from runner.status import ExitCode, exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder (the one holding multirun.yaml)")
    parser.add_argument(
        "--baseline",
        metavar="LABEL",
        help="the group to compare every other group with, as the report labels it (e.g. schedule=fixed); "
        "default: the runs' analysis.baseline, else the best constant, else the fixed group",
    )
    args = parser.parse_args(argv)
    try:
        counts = build_report(args.sweep_dir, args.baseline)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    print(f"{args.sweep_dir / 'report.md'}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    return exit_code(s for s, n in counts.items() for _ in range(n))


if __name__ == "__main__":
    sys.exit(main())
