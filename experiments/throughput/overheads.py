"""What runner.training.loop.train does per step beyond the bare loop, each piece timed on its own (us per step).

    python experiments/throughput/overheads.py

Each line times one piece of bookkeeping that the bare loop in bench.py does not do, called as train() calls it,
on the digits case (small_cnn, batch 32, 816 steps, SGD); the per-step cost of work done every N steps (the
checkpoint) is its cost per call divided by N. Median of 7 timings of many calls each, so a busy neighbour on the
shared cores moves single timings, not the median.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from runner.training import checkpoint as ckpt  # noqa: E402
from runner.training import loop as train_mod  # noqa: E402
from runner.training.records import METRICS_COLUMNS, CsvLog  # noqa: E402


def per_call_us(fn, number: int) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def main() -> None:
    torch.set_num_threads(1)
    s = bench.make_setup(bench.CASES["digits"])
    model, optimizer = s.fresh()
    policy, steps = s.policy, s.steps
    cycle_ends = set(policy.cycle_ends(steps))
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        metrics = CsvLog(folder / "metrics.csv", METRICS_COLUMNS, bench.TRAINER.flush_every)
        evals = CsvLog(folder / "eval.csv", METRICS_COLUMNS, bench.TRAINER.flush_every)
        it = iter(range(10**9))
        rows.append(
            (
                "metrics.append(...) (csv row, repr of floats; flush every 500 rows)",
                per_call_us(
                    lambda: metrics.append(next(it) % 1080, 3, 1, 0.0123456789, 0.9, 0.6931471805599453), 20000
                ),
            )
        )
        rows.append(
            (
                "schedule.lr_at + momentum_at + cycle (the bare loop does lr_at only)",
                per_call_us(lambda: (policy.lr_at(517), policy.momentum_at(517), policy.cycle(517)), 20000),
            )
        )
        rows.append(
            ("  of which schedule.cycle(step) (for the metrics row)", per_call_us(lambda: policy.cycle(517), 20000))
        )
        rows.append(
            (
                "set_lr(optimizer, lr, momentum_at) vs the bare loop's `group['lr'] = lr`",
                per_call_us(lambda: train_mod.set_lr(optimizer, 0.05, None), 20000)
                - per_call_us(lambda: [g.__setitem__("lr", 0.05) for g in optimizer.param_groups], 20000),
            )
        )
        rows.append(
            (
                "current_momentum(optimizer) (for the metrics row)",
                per_call_us(lambda: train_mod.current_momentum(optimizer), 20000),
            )
        )
        bar = tqdm(total=steps, disable=True)
        rows.append(("bar.update(1), progress off", per_call_us(lambda: bar.update(1), 20000)))
        bar_on = tqdm(total=10**9, mininterval=0.5, file=open(folder / "bar.txt", "w"))
        rows.append(
            (
                "bar.update(1), progress on (trainer.progress=true, the default)",
                per_call_us(lambda: bar_on.update(1), 20000),
            )
        )
        caught = {"signal": None}
        stop = lambda: caught["signal"] is not None  # noqa: E731
        rows.append(("should_stop() poll", per_call_us(stop, 20000)))
        rows.append(
            ("2 x perf_counter + train_s add", per_call_us(lambda: time.perf_counter() - time.perf_counter(), 20000))
        )
        k = iter(range(10**9))

        def due() -> bool:
            n = next(k)
            return n % 45 == 0 or n in cycle_ends or n == steps

        rows.append(("evaluation due? (epoch end, cycle end or final step)", per_call_us(due, 20000)))
        # Checkpoint: as train() + run_train do it every trainer.checkpoint_every steps and at the end.
        result = train_mod.TrainResult(status="completed", steps=0)
        order = train_mod.BatchOrder(len(s.data.train_x), bench.TRAINER.batch_size, 0)
        hooks = train_mod.Hooks(metrics=metrics, evals=evals)

        def checkpoint() -> None:
            state = train_mod.loop_state(200, order, result, hooks, model, optimizer)
            ckpt.save(folder / ckpt.FILENAME, {**state, "config": {}})

        per_ckpt = statistics.median(timeit.repeat(checkpoint, number=3, repeat=5)) / 3 * 1e6
        every = bench.TRAINER.checkpoint_every
        n_ckpt = steps // every + 1
        rows.append(
            (
                f"checkpoint (state + torch.save + rename, no fsync): {per_ckpt / 1e3:.1f} ms per call, "
                f"{n_ckpt} calls in {steps} steps",
                per_ckpt * n_ckpt / steps,
            )
        )
        metrics.close()
        evals.close()
    print(f"| per-step bookkeeping in runner.training.loop.train ({steps}-step digits run, 1 thread) | us per step |")
    print("|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.2f} |")


if __name__ == "__main__":
    main()
