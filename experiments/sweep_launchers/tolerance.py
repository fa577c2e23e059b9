"""How close a batched member's loss stays to its separate run, next to how close a separate run stays to itself when
only its thread count changes (the README beside this file, "Same numbers, within float tolerance").

Three sweeps of the issue's 9 jobs (constant, triangular, triangular2 x seeds 0-2, 60 steps): separate runs at 1 and
at 2 threads, and the batched launcher at 1 thread. For each pair, per job: the largest relative loss difference
over the first 50 steps, and the first step that differs by more than 1e-4.

    python experiments/sweep_launchers/tolerance.py            # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

JOBS = ["schedule=constant,triangular,triangular2", "seed=0,1,2", "trainer.max_steps=60", "trainer.progress=false"]
SWEEPS = {
    "separate, 1 thread": ["trainer.threads=1"],
    "separate, 2 threads": ["trainer.threads=2"],
    "batched, 1 thread": ["trainer.threads=1", "hydra/launcher=batched"],
}
PAIRS = [
    ("separate, 1 thread", "separate, 2 threads"),
    ("batched, 1 thread", "separate, 1 thread"),
    ("batched, 1 thread", "separate, 2 threads"),
]
STEPS, TOLERANCE = 50, 1e-4


def losses(run_dir: Path) -> list[float]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)][:STEPS]


def compare(a: Path, b: Path) -> list[tuple[str, float, int | None]]:
    rows = []
    for run_dir in sorted(p for p in a.iterdir() if p.is_dir()):
        rel = [abs(x - y) / abs(y) for x, y in zip(losses(run_dir), losses(b / run_dir.name))]
        first = next((step for step, r in enumerate(rel) if r > TOLERANCE), None)
        rows.append((run_dir.name, max(rel), first))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the sweeps here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        folders = {}
        for name, extra in SWEEPS.items():
            folders[name] = root / name.replace(", ", "_").replace(" ", "_")
            cmd = [sys.executable, "-m", "runner", "-m", *JOBS, *extra, f"hydra.sweep.dir={folders[name]}"]
            subprocess.run(cmd, check=True, capture_output=True)
        for a, b in PAIRS:
            rows = compare(folders[a], folders[b])
            over = [r for r in rows if r[2] is not None]
            print(f"\n### {a} vs {b}: {len(over)} of {len(rows)} jobs leave {TOLERANCE:g} within {STEPS} steps\n")
            print("| job | largest relative difference | first step over |")
            print("|---|---|---|")
            for job, worst, first in rows:
                print(f"| {job} | {worst:.1e} | {'-' if first is None else first} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
