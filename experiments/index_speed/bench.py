"""How long index.html takes for many runs: synthetic output folders in the default layout, indexed in turn.

    python experiments/index_speed/bench.py                   # 1,000 run folders: 500 single runs, 50 sweeps of 10
    python experiments/index_speed/bench.py --runs 5000       # more
    python experiments/index_speed/bench.py --smoke           # 50 run folders, one repeat (the test suite runs this)

Each run folder holds what a real one holds for the index (.hydra/config.yaml, overrides.yaml, hydra.yaml,
summary.json, metrics.csv, eval.csv, curves.png, run.log); statuses are mixed: mostly completed, some failed,
diverged, interrupted, running, without summary.json and with a damaged one. Times: `write_index` in this process
(scan and page), and the whole command `python -m runner.report DIR` in a fresh process (imports included), median
of --repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# A 1x1 PNG: the index links and shows curves.png but never opens it.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
SCHEDULES = ("constant", "triangular", "triangular2", "exp_range", "one_cycle", "fixed")
# One in twenty runs is not completed, in turn: failed, diverged, interrupted, running, no summary, damaged summary.
ODD = ("failed", "diverged", "interrupted", "running", None, "damaged")


def write_run(folder: Path, i: int, job: int | None = None) -> None:
    schedule = SCHEDULES[i % len(SCHEDULES)]
    seed = i % 5
    (folder / ".hydra").mkdir(parents=True)
    overrides = [f"schedule={schedule}", f"seed={seed}", "trainer.max_steps=816"]
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (folder / ".hydra" / "config.yaml").write_text(f"task: train\nseed: {seed}\nschedule:\n  name: {schedule}\n")
    (folder / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  job:\n    num: {job if job is not None else 0}\n")
    status = "completed" if i % 20 else ODD[(i // 20) % len(ODD)]
    summary = {
        "status": status,
        "schedule": schedule,
        "seed": seed,
        "steps": 816,
        "final_val_acc": 0.9 + (i % 50) / 1000,
        "best_val_acc": 0.92 + (i % 50) / 1000,
        "test_acc": 0.89,
        "wall_s": 10.0,
    }
    if status == "failed":
        summary["error"] = "RuntimeError: injected failure"
    if status == "diverged":
        summary["diverged_at"] = {"step": 300, "lr": 3.0, "loss": None}
    if status == "damaged":
        (folder / "summary.json").write_text('{"status": "comp')
    elif status is not None:
        (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "metrics.csv").write_text("step,epoch,cycle,lr,momentum,loss\n" + "0,0,1,0.01,0.9,2.3\n" * 816)
    (folder / "eval.csv").write_text("step,epoch,lr,val_loss,val_acc,when,val_n\n34,1,0.01,0.5,0.9,epoch_end,359\n")
    (folder / "curves.png").write_bytes(PNG)
    (folder / "run.log").write_text("log\n")


def make_outputs(root: Path, runs: int, sweep_size: int) -> None:
    """`runs` run folders under root/: half single runs, half in sweeps of `sweep_size` jobs, one folder a minute."""
    singles = runs // 2
    for i in range(singles):
        minute = i
        write_run(
            root / "runs" / f"2026-11-{1 + minute // 1440:02d}" / f"{minute // 60 % 24:02d}-{minute % 60:02d}-00-r", i
        )
    for s in range((runs - singles) // sweep_size):
        minute = s * 7
        sweep = root / "sweeps" / f"2026-12-{1 + minute // 1440:02d}" / f"{minute // 60 % 24:02d}-{minute % 60:02d}-00"
        for j in range(sweep_size):
            write_run(sweep / f"{j}-job", singles + s * sweep_size + j, job=j)
        (sweep / "multirun.yaml").write_text("hydra:\n  mode: MULTIRUN\n")
        (sweep / "report.md").write_text("# report\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--sweep-size", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="50 runs, one repeat")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.repeats = 50, 1
    from runner.report.index import write_index

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "outputs"
        make_outputs(root, args.runs, args.sweep_size)
        inproc, command = [], []
        for _ in range(args.repeats):
            tic = time.perf_counter()
            path, counts = write_index(root)
            inproc.append(time.perf_counter() - tic)
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            tic = time.perf_counter()
            subprocess.run([sys.executable, "-m", "runner.report", str(root)], check=True, env=env, capture_output=True)
            command.append(time.perf_counter() - tic)
        size = path.stat().st_size
    jobs = args.runs - counts["runs"]
    print(f"{args.runs} run folders: {counts['runs']} single runs, {counts['sweeps']} sweeps ({jobs} jobs)")
    print(f"index.html: {size / 1e6:.2f} MB")
    print(f"write_index, in process: median {statistics.median(inproc):.2f} s over {args.repeats}")
    print(f"python -m runner.report DIR, whole command: median {statistics.median(command):.2f} s over {args.repeats}")


if __name__ == "__main__":
    main()
