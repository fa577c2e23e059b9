"""Wall time of the same sweeps under the basic launcher (jobs in turn, all cores each), the joblib launcher (jobs in
parallel, cores split between workers) and the batched launcher (compatible jobs trained as one vectorized model),
interleaved, ratios taken within one run.

    python experiments/sweep_launchers/bench.py                  # every case, 3 repeats (~25 min on 2 quiet cores)
    python experiments/sweep_launchers/bench.py --cases digits-9 --repeats 5
    python experiments/sweep_launchers/bench.py --smoke          # the CI smoke: the 9-job digits case, tiny, 1 repeat

Cases (the issue's): 3 schedules x 3 seeds and 6 schedules x 5 seeds on digits (small_cnn), and 3 x 3 on
Fashion-MNIST (28x28, a 10,000-image subset, batch 128) with small_cnn and with lenet5. Fashion-MNIST is read from
Debian's dataset-fashion-mnist (or --fashion-root); without it those cases are skipped with a line saying so.

Prints the machine, then one Markdown table per case: median and spread of wall seconds per launcher, and the
median over repeats of the per-repeat ratios batched/basic and batched/joblib; and how many jobs the batched
launcher trained in groups (the rest fell back, see README's batched launcher section). Each case also times the
batched sweep cut to four steps ("batched, 4 steps"): what batched pays besides training, and so the lowest
batched/basic ratio that faster training could reach.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

THREE = "schedule=constant,triangular,triangular2"
SIX = "schedule=constant,triangular,triangular2,exp_range,one_cycle,linear_decay"
FASHION = ["dataset=fashion_mnist", "dataset.subset=10000", "trainer.batch_size=128"]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@dataclass
class Case:
    name: str
    sweep: list[str]
    fashion: bool = False
    jobs: int = 9
    times: dict[str, list[float]] = field(default_factory=dict)
    grouped: list[str] = field(default_factory=list)


def cases() -> list[Case]:
    return [
        Case("digits-9", [THREE, "seed=0,1,2"]),
        Case("digits-30", [SIX, "seed=0,1,2,3,4"], jobs=30),
        Case("fashion-9-small_cnn", [THREE, "seed=0,1,2", *FASHION, "model=small_cnn"], fashion=True),
        Case("fashion-9-lenet5", [THREE, "seed=0,1,2", *FASHION, "model=lenet5"], fashion=True),
    ]


FLOOR = "batched, 4 steps"
LAUNCHERS = {"basic": [], "joblib": ["hydra/launcher=joblib"], "batched": ["hydra/launcher=batched"]}
GROUPED = re.compile(r"batched launcher: (\d+) jobs, (\d+) trained in (\d+) vectorized group")


def time_sweep(case: Case, launcher: str, steps: int, folder: Path, extra: list[str]) -> tuple[float, str]:
    args = [
        sys.executable,
        "-m",
        "runner",
        "-m",
        *case.sweep,
        *LAUNCHERS[launcher],
        *extra,
        f"trainer.max_steps={steps}",
        "trainer.progress=false",
        f"hydra.sweep.dir={folder}",
    ]
    tic = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=folder.parent)
    elapsed = time.perf_counter() - tic
    if proc.returncode != 0:
        sys.exit(f"sweep failed ({' '.join(args)}):\n{(proc.stderr + proc.stdout)[-2000:]}")
    found = GROUPED.search(proc.stderr + proc.stdout)
    grouped = found is not None and int(found.group(2)) > 0
    note = f"{found.group(2)} of {found.group(1)} jobs in {found.group(3)} group(s)" if grouped else ""
    return elapsed, note


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (
        f"{platform.platform()}, {platform.processor() or platform.machine()}, {cores} cores usable, "
        f"Python {platform.python_version()}, load average {load[0]:.2f} at the start"
    )


def fashion_extra(args: argparse.Namespace, tmp: Path) -> list[str] | None:
    """dataset.root for the Fashion-MNIST cases (decompressed once, shared by every sweep), or None to skip them."""
    source = Path(args.fashion_root) if args.fashion_root else DEBIAN_FASHION
    if not (source / "train-images-idx3-ubyte.gz").is_file() and not (source / "FashionMNIST").is_dir():
        return None
    if args.fashion_root and (source / "FashionMNIST").is_dir():
        return [f"dataset.root={source}"]
    return [f"dataset.root={tmp / 'data'}", f"dataset.system_dir={source}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=408, help="trainer.max_steps on digits (408: 12 epochs)")
    parser.add_argument("--fashion-steps", type=int, default=156, help="trainer.max_steps on Fashion-MNIST (2 epochs)")
    parser.add_argument("--cases", default=None, help="comma-separated case names (default: all; --smoke: digits-9)")
    parser.add_argument("--fashion-root", default=None, help="a folder with Fashion-MNIST's IDX .gz files")
    parser.add_argument("--smoke", action="store_true", help="1 repeat, a few steps (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.repeats, args.steps, args.fashion_steps = 1, 6, 4
    if args.cases is None:
        # The smoke shows every launcher runs and the tables print; 171 short runs of every case would not fit CI.
        args.cases = "digits-9" if args.smoke else ",".join(c.name for c in cases())
    chosen = [c for c in cases() if c.name in args.cases.split(",")]
    print(f"Machine: {machine()}\n")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fashion = fashion_extra(args, tmp)
        if fashion is None:
            print("Fashion-MNIST not found (apt-get install dataset-fashion-mnist, or --fashion-root): skipped\n")
            chosen = [c for c in chosen if not c.fashion]
        elif args.smoke:
            fashion = [*fashion, "dataset.subset=1000", "dataset.val_size=500"]
        for rep in range(args.repeats):
            for case in chosen:
                extra = fashion if case.fashion else []
                steps = args.fashion_steps if case.fashion else args.steps
                for name in LAUNCHERS:  # interleaved: drift on the machine hits every launcher alike
                    folder = tmp / f"{case.name}-{name}-{rep}"
                    elapsed, note = time_sweep(case, name, steps, folder, extra)
                    case.times.setdefault(name, []).append(elapsed)
                    if name == "batched":
                        case.grouped.append(note)
                    print(f"repeat {rep + 1} {case.name} {name}: {elapsed:.1f} s {note}", file=sys.stderr)
                # The same batched sweep cut to four steps (one_cycle needs four): what it costs besides training
                # (start-up, composing every job, folders, a figure per job, the report): batched/basic's floor.
                elapsed, _ = time_sweep(case, "batched", 4, tmp / f"{case.name}-floor-{rep}", extra)
                case.times.setdefault(FLOOR, []).append(elapsed)
                print(f"repeat {rep + 1} {case.name} {FLOOR}: {elapsed:.1f} s", file=sys.stderr)
    for case in chosen:
        steps = args.fashion_steps if case.fashion else args.steps
        print(f"### {case.name}: {' '.join(case.sweep)}, {case.jobs} jobs, trainer.max_steps={steps}\n")
        print("| launcher | wall s (median) | min | max |\n|---|---|---|---|")
        for name, ts in case.times.items():
            print(f"| {name} | {statistics.median(ts):.1f} | {min(ts):.1f} | {max(ts):.1f} |")
        for mine, other in (("batched", "basic"), ("batched", "joblib"), (FLOOR, "basic")):
            ratios = [b / o for b, o in zip(case.times[mine], case.times[other])]
            print(
                f"\n{mine} / {other} wall-time ratio: median {statistics.median(ratios):.2f} "
                f"(per repeat: {', '.join(f'{r:.2f}' for r in ratios)})"
            )
        print(f"\nbatched grouped: {case.grouped[-1] or 'no group (every job ran the ordinary way)'}\n")


if __name__ == "__main__":
    main()
