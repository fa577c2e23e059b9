"""The arithmetic ceiling of the batched launcher: one training step of M separate models against one vectorized step
of M members, with nothing else (no records, evaluation, checkpoints, figures, start-up).

Both sides are the launchers' own code: a separate run's step is forward, cross-entropy, backward and
torch.optim.SGD's step on its nn.Module; a vectorized step is runner/batched's StackedModel forward, member_losses,
backward and StackedSGD's step. The ratio (vectorized / M separate) is the lowest batched/basic wall-time ratio
training alone could give: a sweep adds start-up, evaluation and per-run files on top of both.

    python experiments/sweep_launchers/step_cost.py               # small_cnn on 8x8 digits, M = 9 and 30
    python experiments/sweep_launchers/step_cost.py --shape 1,28,28 --batch 128
    python experiments/sweep_launchers/step_cost.py --profile     # where a 9-member vectorized step spends its time
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn


def separate_step_s(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, steps: int) -> float:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    tic = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,))
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - tic) / steps


def vectorized_step_s(models: list[nn.Module], x: torch.Tensor, y: torch.Tensor, batch: int, steps: int) -> float:
    from runner.batched.optim import stacked_optimizer
    from runner.batched.stacked import StackedModel, member_losses
    from runner.optimizers import SGDConfig

    stacked = StackedModel(models)
    optimizer = stacked_optimizer(stacked.params, [SGDConfig() for _ in models])
    optimizer.set_lr([0.01] * len(models), [None] * len(models))
    active = torch.ones(len(models), dtype=torch.bool)
    tic = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (len(models), batch))
        losses = member_losses(stacked.forward(x[idx]), y[idx])
        stacked.zero_grad()
        losses.sum().backward()
        optimizer.step(active)
    return (time.perf_counter() - tic) / steps


def main() -> None:
    from runner.models import SmallCNNConfig, build_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="1,8,8", help="C,H,W of the inputs (digits: 1,8,8)")
    parser.add_argument("--batch", type=int, default=32, help="images per step (trainer.batch_size)")
    parser.add_argument("--members", default="9,30")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--profile", action="store_true", help="torch's profiler table of the first group size")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shape = tuple(int(v) for v in args.shape.split(","))
    x, y = torch.randn(2000, *shape), torch.randint(0, 10, (2000,))
    print(f"small_cnn on {args.shape} inputs, batch {args.batch}, {args.threads} threads, {args.steps} steps a timing")
    print("\n| members | M separate steps, ms | one vectorized step, ms | vectorized / separate |\n|---|---|---|---|")
    for m in (int(v) for v in args.members.split(",")):
        models = [build_model(SmallCNNConfig(), shape, 10) for _ in range(m)]
        separate, vectorized, ratios = [], [], []
        for _ in range(args.repeats):  # interleaved, so drift on the machine hits both alike
            one = separate_step_s(models[0], x, y, args.batch, args.steps) * m
            both = vectorized_step_s(models, x, y, args.batch, args.steps)
            separate.append(one)
            vectorized.append(both)
            ratios.append(both / one)
        print(
            f"| {m} | {statistics.median(separate) * 1e3:.1f} | {statistics.median(vectorized) * 1e3:.1f} | "
            f"{statistics.median(ratios):.2f} |"
        )
        if args.profile:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CPU]) as prof:
                vectorized_step_s(models, x, y, args.batch, args.steps)
            print(f"\n{m} members, {args.steps} vectorized steps:\n")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))
            args.profile = False


if __name__ == "__main__":
    main()
