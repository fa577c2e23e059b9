"""Wall time of the same 4-job sweep under the basic launcher (jobs in turn, all cores each) and the joblib
launcher (jobs in parallel, cores split between workers), interleaved, ratios taken within one run.

    python experiments/sweep_launchers/bench.py                 # 3 repeats of the default 4-job sweep
    python experiments/sweep_launchers/bench.py --repeats 1 --steps 100   # the CI smoke

Prints a Markdown table: median and spread of wall seconds per launcher and the joblib/basic ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWEEP = ["-m", "schedule=constant,triangular,triangular2,exp_range", "trainer.progress=false"]
LAUNCHERS = {"basic": [], "joblib": ["hydra/launcher=joblib"]}


def time_sweep(extra: list[str], steps: int | None, folder: Path) -> float:
    args = [sys.executable, "-m", "runner", *SWEEP, *extra, f"hydra.sweep.dir={folder}"]
    if steps:
        args.append(f"trainer.max_steps={steps}")
    tic = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    elapsed = time.perf_counter() - tic
    if proc.returncode != 0:
        sys.exit(f"sweep failed ({' '.join(args)}):\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="trainer.max_steps (default: the full 1,080)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for name, extra in LAUNCHERS.items():  # interleaved: drift on the machine hits both alike
                times[name].append(time_sweep(extra, args.steps, Path(tmp) / f"{name}-{rep}"))
                print(f"repeat {rep + 1} {name}: {times[name][-1]:.1f} s", file=sys.stderr)
    ratios = [j / b for j, b in zip(times["joblib"], times["basic"])]
    print("| launcher | wall s (median) | min | max |\n|---|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.1f} | {min(ts):.1f} | {max(ts):.1f} |")
    print(
        f"\njoblib / basic wall-time ratio: median {statistics.median(ratios):.2f} "
        f"(per repeat: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
