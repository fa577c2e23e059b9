"""How the default thread count holds up when other processes compete for the cores (issue 13).

    python experiments/throughput/load.py                      # 0, 1 and all-cores busy, 4 variants, 5 repeats
    python experiments/throughput/load.py --busy 0,2 --repeats 3 --steps 400
    python experiments/throughput/load.py --smoke              # CI: 20 steps, 1 repeat, 0 and 1 busy

For each load level the script starts that many CPU-bound busy-loop processes itself (`while True: pass`, one
per core to be taken), waits for them to run, then times the command a user types,
`python -m runner schedule=triangular2 trainer.max_steps=STEPS`, once per variant:

    default            no thread setting: the run picks the free cores (runner/training/cores.py)
    threads=1          trainer.threads=1
    threads=N          trainer.threads=N, every core: the default before the free-core rule
    threads=N passive  the same with OMP_WAIT_POLICY=PASSIVE (OpenMP threads sleep at once instead of spinning)

Repeats are interleaved (load levels and variants rotate each repeat), so drift hits every cell alike; the table
gives medians of the wall time of the whole command and of summary.json's train_s, and each median as a ratio to
the quiet (0 busy) median of the default, and of the variant itself. The goals of issue 13 are checked at the end.
The machine (cores, CPU, torch's parallel backend, the load average before and after) is printed first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORES = os.cpu_count() or 1
SETTLE_S = 1.0  # the busy loops are running and counted by the kernel well within this


def variants(cores: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    """label -> (extra overrides, extra environment)."""
    return {
        "default": ([], {}),
        "threads=1": (["trainer.threads=1"], {}),
        f"threads={cores}": ([f"trainer.threads={cores}"], {}),
        f"threads={cores} passive": ([f"trainer.threads={cores}"], {"OMP_WAIT_POLICY": "PASSIVE"}),
    }


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    probe = "import torch; print(torch.__version__); print(torch.__config__.parallel_info())"
    torch_info = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False).stdout
    backend = [line.strip() for line in torch_info.splitlines() if "parallel backend" in line or "OpenMP" in line]
    return {
        "platform": platform.platform(),
        "cpu": model,
        "cores": CORES,
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": sys.version.split()[0],
        "torch": torch_info.splitlines()[0] if torch_info else "?",
        "torch_parallel": backend,
        "omp_env": {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_", "KMP_", "MKL_"))},
        "loadavg_start": os.getloadavg(),
    }


def start_busy(n: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    if procs:
        time.sleep(SETTLE_S)
    return procs


def stop_busy(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def run_once(folder: Path, steps: int, overrides: list[str], env_extra: dict[str, str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
    cmd = [
        sys.executable,
        "-m",
        "runner",
        "schedule=triangular2",
        f"trainer.max_steps={steps}",
        "trainer.progress=false",
        f"hydra.run.dir={folder}",
        *overrides,
    ]
    tic = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - tic
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    summary = json.loads((folder / "summary.json").read_text())
    return {"wall_s": wall, "train_s": summary["train_s"], "threads": summary["threads"]}


def measure(levels: list[int], names: list[str], steps: int, repeats: int, tmp: Path) -> list[dict]:
    table = variants(CORES)
    rows = []
    for rep in range(repeats):
        lv = levels[rep % len(levels) :] + levels[: rep % len(levels)]
        for busy in lv:
            procs = start_busy(busy)
            try:
                order = names[rep % len(names) :] + names[: rep % len(names)]
                for name in order:
                    overrides, env = table[name]
                    folder = tmp / f"r{rep}-b{busy}-{name.replace(' ', '_').replace('=', '')}"
                    row = {"repeat": rep, "busy": busy, "variant": name, **run_once(folder, steps, overrides, env)}
                    rows.append(row)
                    print(
                        f"  repeat {rep + 1}, {busy} busy, {name}: {row['wall_s']:.2f} s "
                        f"(train {row['train_s']:.2f} s, {row['threads']} threads)",
                        file=sys.stderr,
                        flush=True,
                    )
            finally:
                stop_busy(procs)
    return rows


def median_of(rows: list[dict], busy: int, name: str, key: str) -> float | None:
    values = [r[key] for r in rows if r["busy"] == busy and r["variant"] == name]
    return statistics.median(values) if values else None


def report(rows: list[dict], levels: list[int], names: list[str]) -> None:
    quiet = 0 if 0 in levels else None
    base = median_of(rows, quiet, "default", "wall_s") if quiet is not None else None
    print("| busy processes | variant | threads | wall s (median) | train s (median) | x quiet default | x own quiet |")
    print("|---|---|---|---|---|---|---|")
    for busy in levels:
        for name in names:
            wall = median_of(rows, busy, name, "wall_s")
            train = median_of(rows, busy, name, "train_s")
            threads = sorted({r["threads"] for r in rows if r["busy"] == busy and r["variant"] == name})
            own = median_of(rows, quiet, name, "wall_s") if quiet is not None else None
            x_base = f"{wall / base:.2f}" if base else "-"
            x_own = f"{wall / own:.2f}" if own else "-"
            shown = ",".join(map(str, threads))
            print(f"| {busy} | {name} | {shown} | {wall:.2f} | {train:.2f} | {x_base} | {x_own} |")
    if base is None:
        return
    print("\nIssue 13's goals for the default (wall time against the quiet default of this same command):")
    for busy, limit in ((CORES, 2.5), (1, 1.5)):
        if busy in levels:
            ratio = median_of(rows, busy, "default", "wall_s") / base
            print(f"  {busy} busy: {ratio:.2f}x (goal <= {limit}x): {'met' if ratio <= limit else 'NOT met'}")
    old = f"threads={CORES}"
    if old in names:
        ratio = base / median_of(rows, 0, old, "wall_s")
        print(f"  quiet: default / {old} (the old default) = {ratio:.2f} (goal: no slower, about 1.00 or below)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", default=f"0,1,{CORES}", help="busy-loop processes per level (comma-separated)")
    parser.add_argument("--steps", type=int, default=400, help="trainer.max_steps of each run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variants", default=",".join(variants(CORES)), help="which variants, comma-separated")
    parser.add_argument("--json", type=Path, help="also write the machine and every timing here")
    parser.add_argument("--smoke", action="store_true", help="20 steps, 1 repeat, 0 and 1 busy (CI)")
    args = parser.parse_args(argv)
    levels = [int(b) for b in ("0,1" if args.smoke else args.busy).split(",")]
    names = [n.strip() for n in args.variants.split(",")]
    unknown = [n for n in names if n not in variants(CORES)]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}; choose from {', '.join(variants(CORES))}")
    steps, repeats = (20, 1) if args.smoke else (args.steps, args.repeats)
    info = machine()
    print(f"machine: {json.dumps(info)}")
    print(f"command: python -m runner schedule=triangular2 trainer.max_steps={steps} trainer.progress=false ...")
    print(f"{repeats} repeat(s), busy levels {levels}, variants {names}\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="clr-load-") as tmp:
        rows = measure(levels, names, steps, repeats, Path(tmp))
    info["loadavg_end"] = os.getloadavg()
    report(rows, levels, names)
    print(f"\nload average at the start {info['loadavg_start']}, at the end {info['loadavg_end']}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "steps": steps, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
