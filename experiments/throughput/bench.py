"""Training throughput of clr-lab's own loop beside a hand-written PyTorch loop and Lightning's Trainer: the same
model, data, order, batch size, threads, steps, LR policy, loss, optimizer and evaluation points, timed in one
process with the repeats interleaved, so the ratios come from the same minutes on the same (shared, noisy) cores.

    python experiments/throughput/bench.py                  # both cases, 5 interleaved repeats (a few minutes)
    python experiments/throughput/bench.py --case digits    # one case
    python experiments/throughput/bench.py --smoke          # the CI smoke: tiny case, 68 steps, 1 repeat (~30 s)
    python experiments/throughput/bench.py --device cpu     # --device as trainer.device (default auto)

The three ways (README.md in this folder says exactly what each one times):
  runner     runner.training.run.train_with_records, the function `python -m runner` trains through: CsvLog files
             (metrics.csv, eval.csv) in a temporary folder, a policy from runner.schedules.build_schedule resolved
             to steps, checkpoints every trainer.checkpoint_every steps (runner.training.checkpoint.save),
             signals.
  bare       a minimal loop: LR from the same policy set per step, cross-entropy, SGD step, loss.item() into a list.
  lightning  a LightningModule whose configure_optimizers returns the same optimizer and runner.schedules.PolicyLR
             with interval "step"; logger, checkpointing, progress bar and model summary off; data from a
             DataLoader over the same tensors in the same order (one index tensor per batch).
All three evaluate on the whole validation split at the points where the runner does (every epoch end, every
cycle end, the final step); the cases are chosen so that those are epoch ends, where Lightning validates.
The loss sequences of the three are compared after the first repeat: they must agree, or the ways differ in work.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the checkout's runner, installed or not

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from torch import nn  # noqa: E402

from runner import models  # noqa: E402
from runner.data import load_dataset  # noqa: E402
from runner.data.split import DataSplit, channel_stats  # noqa: E402
from runner.errors import ConfigError  # noqa: E402
from runner.files import read_csv_columns  # noqa: E402
from runner.optimizers import build_optimizer  # noqa: E402
from runner.schedules import build_schedule  # noqa: E402
from runner.training import checkpoint as ckpt  # noqa: E402
from runner.training import loop as train_mod  # noqa: E402
from runner.training.device import check_name as check_device_name  # noqa: E402
from runner.training.device import resolve as resolve_device  # noqa: E402
from runner.training.run import train_with_records  # noqa: E402

CONF = ROOT / "conf"
TRAINER = OmegaConf.load(CONF / "trainer" / "default.yaml")  # flush_every, checkpoint_every, eval_batch_size
SEED = 0
# Where all three ways train: --device, resolved as trainer.device is (runner/training/device.py); main() sets it.
DEVICE = torch.device("cpu")


# ---- the cases ------------------------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    describe: str
    load: Callable[[], DataSplit]
    model: str  # a conf/model/ file
    batch_size: int
    epochs: int
    half_cycle_epochs: int  # triangular step_size in epochs: cycle ends then fall on epoch ends


def digits() -> DataSplit:
    return load_dataset(OmegaConf.load(CONF / "dataset" / "digits.yaml"))


def fashion_shaped(n_train: int = 20_000, n_val: int = 2_000) -> DataSplit:
    """Random uint8 images of Fashion-MNIST's shape (1x28x28, 10 classes), stored and standardized per batch as
    the runner stores Fashion-MNIST: the compute of a real run without the dataset files (the numbers that are
    learned do not change the cost of a step)."""
    g = torch.Generator().manual_seed(1)
    train_x = torch.randint(0, 256, (n_train, 1, 28, 28), generator=g, dtype=torch.uint8)
    val_x = torch.randint(0, 256, (n_val, 1, 28, 28), generator=g, dtype=torch.uint8)
    return DataSplit(
        train_x,
        torch.randint(0, 10, (n_train,), generator=g),
        val_x,
        torch.randint(0, 10, (n_val,), generator=g),
        10,
        *channel_stats(train_x.numpy()),
    )


CASES = {
    "digits": Case(
        "digits",
        "digits 8x8, small_cnn, batch 32, 24 epochs (the default run: 816 steps)",
        digits,
        "small_cnn",
        32,
        24,
        4,
    ),
    "fashion": Case(
        "fashion",
        "Fashion-MNIST-shaped synthetic 1x28x28, 20,000 images, small_cnn, batch 128, 2 epochs (314 steps)",
        fashion_shaped,
        "small_cnn",
        128,
        2,
        1,
    ),
}
SMOKE = Case("digits-smoke", "digits 8x8, small_cnn, batch 32, 2 epochs (68 steps)", digits, "small_cnn", 32, 2, 1)


@dataclass
class Setup:
    """What every way gets: the same data, policy, step count and evaluation points; a fresh model each time."""

    case: Case
    data: DataSplit
    steps: int
    per_epoch: int
    policy: object  # a resolved runner.schedules policy
    eval_at: dict  # {step: reasons}, runner.train.evaluation_points

    def fresh(self) -> tuple[nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(SEED)  # the same initial weights for every way and repeat
        model = models.build_model(
            OmegaConf.load(CONF / "model" / f"{self.case.model}.yaml"), self.data.input_shape, self.data.num_classes
        ).to(DEVICE)  # made on the CPU, then moved, as the runner does: the same weights on every device
        return model, build_optimizer(OmegaConf.load(CONF / "optimizer" / "sgd.yaml"), model.parameters())


def make_setup(case: Case) -> Setup:
    data = case.load().to(DEVICE)  # once, as the runner moves it
    per_epoch = train_mod.iters_per_epoch(len(data.train_x), case.batch_size)
    steps = case.epochs * per_epoch
    policy = build_schedule(
        {
            "name": "triangular",
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size": None,
            "step_size_epochs": case.half_cycle_epochs,
        }
    ).resolve(per_epoch, steps)
    eval_at = train_mod.evaluation_points(steps, per_epoch, policy.cycle_ends(steps))
    # Lightning validates at epoch ends only: the comparison holds while the runner's points are epoch ends too.
    assert all(s % per_epoch == 0 for s in eval_at), "choose half_cycle_epochs so cycle ends are epoch ends"
    return Setup(case, data, steps, per_epoch, policy, eval_at)


# ---- way 1: the runner ---------------------------------------------------------------------------------------
def run_runner(s: Setup, folder: Path, checkpoints: bool = True) -> tuple[float, list[float]]:
    model, optimizer = s.fresh()
    folder.mkdir(parents=True)
    # conf/trainer/default.yaml with this case's batch size and the progress bar off
    trainer = OmegaConf.merge(TRAINER, {"batch_size": s.case.batch_size, "progress": False})

    def save_checkpoint(loop_state: dict) -> None:  # as run_train's, with an empty config
        ckpt.save(folder / ckpt.FILENAME, {**loop_state, "config": {}})

    gc.collect()
    tic = time.perf_counter()
    result, _ = train_with_records(
        folder,
        model,
        optimizer,
        s.policy,
        s.data,
        trainer,
        steps=s.steps,
        seed=SEED,
        save_checkpoint=save_checkpoint if checkpoints else None,
    )
    elapsed = time.perf_counter() - tic
    assert result.status == "completed" and result.steps == s.steps, result
    return elapsed, [float(v) for v in read_csv_columns(folder / "metrics.csv")["loss"]]


# ---- way 2: the bare loop ------------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, inputs: Callable[[torch.Tensor], torch.Tensor]
) -> tuple[float, float]:
    model.eval()
    loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        logits = model(inputs(x[start : start + batch_size]))
        loss += nn.functional.cross_entropy(logits, y[start : start + batch_size], reduction="sum").item()
        correct += int((logits.argmax(dim=1) == y[start : start + batch_size]).sum())
    model.train()
    return loss / len(x), correct / len(x)


def run_bare(s: Setup, folder: Path) -> tuple[float, list[float]]:  # noqa: ARG001
    model, optimizer = s.fresh()
    x, y, bs, per_epoch = s.data.train_x, s.data.train_y, s.case.batch_size, s.per_epoch
    inputs = s.data.inputs  # identity for digits; uint8 -> standardized float32 for the Fashion-shaped case
    gc.collect()
    tic = time.perf_counter()
    order = torch.Generator().manual_seed(SEED)
    losses: list[float] = []
    evals: list[tuple] = []
    model.train()
    for step in range(s.steps):
        if step % per_epoch == 0:
            perm = torch.randperm(len(x), generator=order)
        lr = s.policy.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = perm[(step % per_epoch) * bs : (step % per_epoch + 1) * bs]
        loss = nn.functional.cross_entropy(model(inputs(x[idx])), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step + 1 in s.eval_at:
            evals.append((step + 1, *evaluate(model, s.data.val_x, s.data.val_y, TRAINER.eval_batch_size, inputs)))
    return time.perf_counter() - tic, losses


# ---- way 3: Lightning ----------------------------------------------------------------------------------------
def lightning_available() -> bool:
    try:
        import lightning  # noqa: F401
    except ImportError:
        return False
    return True


def run_lightning(s: Setup, folder: Path) -> tuple[float, list[float]]:  # noqa: ARG001
    import lightning as L
    from torch.utils.data import DataLoader, Dataset, Sampler

    from runner.schedules import PolicyLR

    class Indexed(Dataset):
        """dataset[index tensor] -> a whole batch: no per-image collate, as the runner indexes its tensors."""

        def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
            self.x, self.y, self.inputs = x, y, s.data.inputs

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, idx):
            return self.inputs(self.x[idx]), self.y[idx]

    class BatchOrder(Sampler):
        """The runner's order: a randperm per epoch from a generator seeded with the run's seed."""

        def __init__(self, n: int, batch_size: int, shuffle: bool) -> None:
            self.n, self.bs, self.shuffle = n, batch_size, shuffle
            self.g = torch.Generator().manual_seed(SEED)

        def __len__(self) -> int:
            return math.ceil(self.n / self.bs)

        def __iter__(self):
            perm = torch.randperm(self.n, generator=self.g) if self.shuffle else torch.arange(self.n)
            for start in range(0, self.n, self.bs):
                yield perm[start : start + self.bs]

    class Module(L.LightningModule):
        def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
            super().__init__()
            self.model, self.opt = model, optimizer
            self.losses: list[float] = []
            self.evals: list[tuple] = []

        def training_step(self, batch, batch_idx):  # noqa: ARG002
            x, y = batch
            loss = nn.functional.cross_entropy(self.model(x), y)
            self.losses.append(loss.item())
            return loss

        def on_validation_epoch_start(self) -> None:
            self.val_sum, self.val_correct, self.val_n = 0.0, 0, 0

        def validation_step(self, batch, batch_idx):  # noqa: ARG002
            x, y = batch
            logits = self.model(x)
            self.val_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            self.val_correct += int((logits.argmax(dim=1) == y).sum())
            self.val_n += len(y)

        def on_validation_epoch_end(self) -> None:
            self.evals.append((self.global_step, self.val_sum / self.val_n, self.val_correct / self.val_n))

        def configure_optimizers(self):
            return {
                "optimizer": self.opt,
                "lr_scheduler": {"scheduler": PolicyLR(self.opt, s.policy), "interval": "step", "frequency": 1},
            }

    model, optimizer = s.fresh()
    train_dl = DataLoader(
        Indexed(s.data.train_x, s.data.train_y),
        batch_size=None,
        sampler=BatchOrder(len(s.data.train_x), s.case.batch_size, shuffle=True),
    )
    val_dl = DataLoader(
        Indexed(s.data.val_x, s.data.val_y),
        batch_size=None,
        sampler=BatchOrder(len(s.data.val_x), TRAINER.eval_batch_size, shuffle=False),
    )
    module = Module(model, optimizer)
    gc.collect()
    tic = time.perf_counter()
    trainer = L.Trainer(
        accelerator={"cuda": "gpu"}.get(DEVICE.type, DEVICE.type),
        devices=[DEVICE.index] if DEVICE.type == "cuda" else 1,
        max_steps=s.steps,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        check_val_every_n_epoch=1,
        use_distributed_sampler=False,
    )
    trainer.fit(module, train_dl, val_dl)
    elapsed = time.perf_counter() - tic
    assert trainer.global_step == s.steps and len(module.evals) == len(s.eval_at), (trainer.global_step, module.evals)
    return elapsed, module.losses


WAYS: dict[str, Callable[[Setup, Path], tuple[float, list[float]]]] = {
    "runner": run_runner,
    "bare": run_bare,
    "lightning": run_lightning,
    # --no-ckpt-way: the runner without its checkpoints, to show what they cost (not a configuration users get)
    "runner-no-ckpt": lambda s, folder: run_runner(s, folder, checkpoints=False),
}


# ---- measuring and printing ----------------------------------------------------------------------------------
def quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*num_workers.*")
    warnings.filterwarnings("ignore", module="lightning")  # deprecation notes from inside lightning itself
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def bench_case(case: Case, ways: list[str], repeats: int, warmup: bool, tmp: Path) -> None:
    s = make_setup(case)
    images = sum(
        min(case.batch_size, len(s.data.train_x) - (i % s.per_epoch) * case.batch_size) for i in range(s.steps)
    )
    print(f"\n## {case.describe}\n")
    print(
        f"{len(s.data.train_x)} train / {len(s.data.val_x)} val images, {s.steps} steps ({s.per_epoch} per "
        f"epoch), {images} images per run, evaluation after steps {sorted(s.eval_at)}, "
        f"{torch.get_num_threads()} torch threads, device {DEVICE}, {repeats} repeat(s)\n",
        flush=True,
    )
    if warmup:  # first calls pay one-off costs (lazy imports, allocator growth): not what we measure
        warm = make_setup(Case(case.name, "", lambda: s.data, case.model, case.batch_size, 1, 1))
        for name in ways:
            WAYS[name](warm, tmp / f"{case.name}-warmup-{name}")
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    losses: dict[str, list[float]] = {}
    for rep in range(repeats):
        order = ways[rep % len(ways) :] + ways[: rep % len(ways)]  # rotate: no way always runs first
        for name in order:
            elapsed, loss = WAYS[name](s, tmp / f"{case.name}-{rep}-{name}")
            seconds[name].append(elapsed)
            losses.setdefault(name, loss)
            print(
                f"  repeat {rep + 1} {name}: {elapsed:.3f} s, {images / elapsed:,.0f} images/s",
                file=sys.stderr,
                flush=True,
            )
    print("| way | images/s (median) | min | max | spread (max-min)/median | s per run (median) |")
    print("|---|---|---|---|---|---|")
    for name, ts in seconds.items():
        rates = [images / t for t in ts]
        med = statistics.median(rates)
        print(
            f"| {name} | {med:,.0f} | {min(rates):,.0f} | {max(rates):,.0f} | "
            f"{(max(rates) - min(rates)) / med:.1%} | {statistics.median(ts):.3f} |"
        )
    print()
    for other, label in (("bare", "bare"), ("lightning", "Lightning")):
        if other == "lightning" and "runner-no-ckpt" in seconds:
            ratios = [b / r for r, b in zip(seconds["runner-no-ckpt"], seconds["bare"])]
            print(
                f"runner-no-ckpt / bare throughput: median {statistics.median(ratios):.3f} "
                f"(per repeat: {', '.join(f'{x:.3f}' for x in ratios)})"
            )
        if other not in seconds:
            print(f"runner / {label}: skipped ({label} was not run)")
            continue
        ratios = [o / r for r, o in zip(seconds["runner"], seconds[other])]  # throughput ratio = time ratio^-1
        print(
            f"runner / {label} throughput: median {statistics.median(ratios):.3f} "
            f"(per repeat: {', '.join(f'{x:.3f}' for x in ratios)})"
        )
    ref = losses["runner"]
    for name, loss in losses.items():
        if name != "runner":
            diff = max(abs(a - b) for a, b in zip(ref, loss)) if len(loss) == len(ref) else math.inf
            print(f"same losses, runner vs {name}: {len(loss)} steps, max |difference| {diff:.2e}")
    print(flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for all three ways (default 1: on 2 shared cores, the least noisy)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny case, 68 steps, 1 repeat, no warm-up (CI)")
    parser.add_argument("--device", default="auto", help="as trainer.device: auto, cpu, cuda, cuda:N, mps")
    parser.add_argument("--no-lightning", action="store_true", help="skip Lightning even if it is installed")
    parser.add_argument(
        "--no-ckpt-way",
        action="store_true",
        help="also time the runner with checkpoints off (what checkpoint_every costs)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    global DEVICE
    try:
        check_device_name("--device", args.device)
        DEVICE = resolve_device(args.device, "--device")
    except ConfigError as e:
        parser.error(str(e))
    ways = ["runner", "bare"]
    if args.no_lightning:
        print("Lightning skipped (--no-lightning)")
    elif lightning_available():
        quiet_lightning()
        import lightning

        ways.append("lightning")
        print(f"lightning {lightning.__version__}, ", end="")
    else:
        print("Lightning skipped: not installed (pip install -e '.[bench]')")
    if args.no_ckpt_way:
        ways.append("runner-no-ckpt")
    print(f"torch {torch.__version__}, python {sys.version.split()[0]}, {args.threads} thread(s), device {DEVICE}")
    cases = [SMOKE] if args.smoke else list(CASES.values()) if args.case == "all" else [CASES[args.case]]
    with tempfile.TemporaryDirectory(prefix="clr-throughput-") as tmp:
        for case in cases:
            bench_case(case, ways, 1 if args.smoke else args.repeats, not args.smoke, Path(tmp))


if __name__ == "__main__":
    main()
