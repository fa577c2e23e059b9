"""Start-up time of `python -m runner` (process start to the log line just before the first training step), where
the import time goes, and the peak resident memory of a Fashion-MNIST run.

    python experiments/throughput/startup_memory.py --startup 5          # 5 default digits runs, median and spread
    python experiments/throughput/startup_memory.py --importtime         # import time by package, real run
    python experiments/throughput/startup_memory.py --memory trainer.epochs=2   # /usr/bin/time -v, fashion_mnist
    python experiments/throughput/startup_memory.py --memory --synthetic # the same shape, random data (no dataset)

Start-up: the clock starts just before the process is spawned and stops when run.log's line
"<schedule> on <dataset>: N train / M val images, ..." reaches the console (Hydra's handler flushes per line). That
line is logged after config validation, data loading, the schedule, the model and the optimizer are built; what is
left before step 0 is writing summary.json and the two CSV headers (each fsynced) and entering train().
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FASHION_SYSTEM = Path("/usr/share/datasets/fashion-mnist")


def startup(runs: int, extra: list[str]) -> None:
    first_step, totals = [], []
    with tempfile.TemporaryDirectory(prefix="clr-startup-") as tmp:
        for i in range(runs):
            cmd = [sys.executable, "-m", "runner", f"hydra.run.dir={tmp}/run{i}", *extra]
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            seen = None
            for line in proc.stdout:  # type: ignore[union-attr]
                if seen is None and " train / " in line and " val images" in line:
                    seen = time.perf_counter() - t0
            rc = proc.wait()
            total = time.perf_counter() - t0
            if rc != 0 or seen is None:
                sys.exit(f"run {i} failed (rc {rc}) or never logged its start line: {' '.join(cmd)}")
            first_step.append(seen)
            totals.append(total)
            print(f"run {i + 1}: start line after {seen:.2f} s, process done after {total:.2f} s", file=sys.stderr)
    print(f"| measure ({runs} runs of `python -m runner {' '.join(extra)}`) | median s | min | max |")
    print("|---|---|---|---|")
    for name, xs in (("process start -> line before the first step", first_step), ("whole process", totals)):
        print(f"| {name} | {statistics.median(xs):.2f} | {min(xs):.2f} | {max(xs):.2f} |")


WATCH = ("torch", "torchvision", "hydra", "omegaconf", "sklearn", "scipy", "numpy", "matplotlib", "tqdm", "runner")


def importtime(extra: list[str]) -> None:
    """`python -X importtime -m runner` on a real run: where the import time goes, by package (the outermost
    import of each, cumulative, so a package's row includes what it imports)."""
    with tempfile.TemporaryDirectory(prefix="clr-importtime-") as tmp:
        cmd = [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "runner",
            f"hydra.run.dir={tmp}",
            "trainer.progress=false",
            *(extra or ["trainer.max_steps=45"]),
        ]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    first: dict[str, float] = {}
    total = 0.0
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if not m:
            continue
        name, cumulative, depth = m.group(4), int(m.group(2)) / 1e6, len(m.group(3))
        if depth <= 1:
            total += cumulative
        top = name.split(".")[0]
        if top in WATCH and name == top or (top == "runner" and name.count(".") == 1):
            first[name] = max(first.get(name, 0.0), cumulative)
    print(f"`{' '.join(cmd[3:])}` imports ({total:.2f} s of top-level imports in all, whole process):\n")
    print("| module (cumulative, includes what it imports) | s |\n|---|---|")
    for name, t in sorted(first.items(), key=lambda kv: -kv[1])[:14]:
        print(f"| {name} | {t:.2f} |")


def memory(synthetic: bool, data_root: Path, extra: list[str]) -> None:
    if synthetic:  # the benchmark's Fashion-MNIST-shaped tensors, trained by runner.train in one process
        cmd = [
            "/usr/bin/time",
            "-v",
            sys.executable,
            str(ROOT / "experiments/throughput/bench.py"),
            "--case",
            "fashion",
            "--repeats",
            "1",
            "--no-lightning",
        ]
    else:
        cmd = [
            "/usr/bin/time",
            "-v",
            sys.executable,
            "-m",
            "runner",
            "experiment=fashion_mnist",
            f"dataset.root={data_root}",
            "trainer.progress=false",
            f"hydra.run.dir={tempfile.mkdtemp(prefix='clr-mem-')}",
            *extra,
        ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr)
    print(f"`{' '.join(cmd[2:])}`: peak RSS {int(peak.group(1)) / 1024:.0f} MiB, wall {wall.group(1)}")
    done = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "status " in ln and "val_acc" in ln]
    if done:
        print(done[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--startup", type=int, default=0, metavar="RUNS")
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--synthetic", action="store_true", help="with --memory: random Fashion-MNIST-shaped data")
    parser.add_argument(
        "--data-root",
        type=Path,
        default=Path(tempfile.gettempdir()) / "clr-lab-data",
        help="dataset.root for --memory (Debian's copy is decompressed here once)",
    )
    parser.add_argument("extra", nargs="*", help="overrides for the runs of --startup, --importtime, --memory")
    args = parser.parse_args()
    if args.startup:
        startup(args.startup, args.extra)
    if args.importtime:
        importtime(args.extra)
    if args.memory:
        if not args.synthetic and not FASHION_SYSTEM.exists():
            print(f"{FASHION_SYSTEM} not installed: measuring the synthetic equivalent instead")
        memory(args.synthetic or not FASHION_SYSTEM.exists(), args.data_root, args.extra)


if __name__ == "__main__":
    main()
