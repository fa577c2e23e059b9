"""task=range_test: for each of range_test.seeds seeds, build what a training run with that seed would build and run
the LR range test; then read the bounds off every curve under three rules, take their medians, and write:

    range_test.csv    seed, step, lr, loss, smoothed_loss, val_acc (blank where not measured)
    range_test.json   per seed and aggregated (median, spread) suggestions of each rule, warnings, the setup
    range_test.png    every seed's smoothed loss and accuracy against the LR, the aggregate bounds marked

Chain it into training without copying numbers: `python -m runner schedule.bounds_from=<this folder>`. A test whose
loss never improved suggests nothing: range_test.json records why, and the command exits with one error line.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from runner.errors import ConfigError
from runner.status import Status

log = logging.getLogger("runner")
CSV_COLUMNS = ("seed", "step", "lr", "loss", "smoothed_loss", "val_acc")
LAYOUT = 2  # range_test.json's layout: 2 = per seed and aggregated; the single-seed files before it have none


def range_test_seed(cfg: Any, seed: int) -> tuple[dict[str, Any], dict[str, Any], Any, int]:
    """(its range_test.json entry, its curve, the data, the thread count) for one seed: the test on copies of the
    model, weights, optimizer and batch order a training run with `seed=<seed>` would start from, on the device
    trainer.device names."""
    from runner.range_test.loop import lr_range_test, snapshot, unchanged
    from runner.training.build import build_training

    rt = cfg.range_test
    seeded = dataclasses.replace(cfg, seed=seed)
    threads, data, model, optimizer = build_training(seeded)
    before = snapshot(model, optimizer)
    result = lr_range_test(
        model,
        optimizer,
        data,
        min_lr=rt.min_lr,
        max_lr=rt.max_lr,
        steps=rt.steps,
        mode=rt.mode,
        batch_size=cfg.trainer.batch_size,
        seed=seed,
        smoothing=rt.smoothing,
        diverge_factor=rt.diverge_factor,
        eval_every=rt.eval_every,
        eval_size=rt.eval_size,
        eval_batch_size=cfg.trainer.eval_batch_size,
    )
    entry, curve = read_curve(seed, result, rt)
    return {**entry, "model_unchanged": unchanged(before, model, optimizer)}, curve, data, threads


def read_curve(seed: int, result: Any, rt: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the seed's range_test.json entry, its curve for the CSV and the figure) from its RangeTestResult: the
    smoothed loss, the three rules' bounds, the best measured accuracy."""
    from runner.analysis.plateaus import ema
    from runner.range_test.rules import all_rules

    smoothed = [float(s) for s in ema(result.losses, rt.smoothing)]
    measured = [(a, lr) for a, lr in zip(result.accuracy, result.lrs) if a is not None]
    best_acc, best_acc_lr = max(measured) if measured else (None, None)
    rules = all_rules(result.lrs, smoothed, rt.smoothing, rt.improve_fraction)
    entry = {
        "seed": seed,
        "usable": rules.pop("usable"),
        "reason": rules.pop("reason"),
        "rules": rules,
        "steps_run": len(result.lrs),
        "stopped": result.stopped,
        "last_lr": result.lrs[-1],
        "best_val_acc": best_acc,
        "best_val_acc_lr": best_acc_lr,
    }
    curve = {"seed": seed, "lrs": result.lrs, "losses": result.losses, "smoothed": smoothed}
    return entry, {**curve, "accuracy": result.accuracy}


def seed_line(entry: dict[str, Any]) -> str:
    """The progress line for one seed: how far the LR got and each rule's max_lr."""
    head = f"seed {entry['seed']}: {entry['steps_run']} steps, {entry['stopped']} at LR {entry['last_lr']:.3g}"
    if not entry["usable"]:
        return f"{head}; no usable bounds: {entry['reason']}"
    tops = ", ".join(f"{rule} {r['max_lr']:.3g}" for rule, r in entry["rules"].items())
    return f"{head}; max_lr by rule: {tops}"


def already_done(result_file: Path) -> Status:
    """A rerun in a finished range test's folder (the same config: runner/run_folder.py refused any other) redoes
    nothing and ends as the test did: exit 0 with its suggestion, or the one-line refusal when it suggested none."""
    from runner.files import read_json

    done = read_json(result_file) or {}
    if not done.get("aggregate"):
        raise ConfigError(
            f"hydra.run.dir={str(result_file.parent)!r}: its range test suggested nothing "
            f"({'; '.join(done.get('warnings') or []) or 'no aggregate in ' + result_file.name}); choose a new folder"
        )
    rule = done.get("rule")
    bounds = done["aggregate"].get(rule) or {}
    log.info(
        "%s: range test already done; nothing to do (suggested, %s rule: base_lr %s, max_lr %s)",
        result_file.parent,
        rule,
        bounds.get("base_lr"),
        bounds.get("max_lr"),
    )
    return Status.COMPLETED


def run(cfg: Any, out_dir: Path) -> Status:
    """task=range_test: test once per seed, read the bounds three ways, aggregate, write the three files."""
    from runner.files import write_json_atomic, write_rows
    from runner.range_test.plot import plot_range_test
    from runner.range_test.rules import RULES
    from runner.range_test.seeds import aggregate, disagreement, unusable
    from runner.schedules.bounds_file import RESULT_FILE

    out_dir = Path(out_dir)
    if (out_dir / RESULT_FILE).exists():
        return already_done(out_dir / RESULT_FILE)
    wall0 = time.perf_counter()
    rt = cfg.range_test
    seeds = [cfg.seed + k for k in range(rt.seeds)]
    log.info(
        "range test on %s/%s: LR %g -> %g over %d steps (%s), batch %d, seeds %s",
        cfg.model.name,
        cfg.dataset.name,
        rt.min_lr,
        rt.max_lr,
        rt.steps,
        rt.mode,
        cfg.trainer.batch_size,
        ", ".join(map(str, seeds)),
    )
    per_seed, curves, pinned = [], [], cfg
    for seed in seeds:
        entry, curve, data, threads = range_test_seed(pinned, seed)
        # The free cores may change between seeds, and the thread count changes the numbers: keep the first's.
        pinned = dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer, threads=threads))
        per_seed.append(entry)
        curves.append(curve)
        log.info(seed_line(entry))
    write_rows(
        out_dir / "range_test.csv",
        CSV_COLUMNS,
        (
            (c["seed"], step, lr, loss, smoothed, acc)
            for c in curves
            for step, (lr, loss, smoothed, acc) in enumerate(zip(c["lrs"], c["losses"], c["smoothed"], c["accuracy"]))
        ),
    )
    problem = unusable(per_seed)
    agg = None if problem else aggregate(per_seed, list(RULES))
    warnings = [problem] if problem else [w for w in [disagreement(agg, rt.rule, rt.max_spread, seeds)] if w]
    for warning in warnings:
        log.warning("range test: %s", warning)
    summary = {
        "layout": LAYOUT,
        "usable": problem is None,
        "reason": problem,
        "rule": rt.rule,
        "aggregate": agg,
        "warnings": warnings,
        "per_seed": per_seed,
        "rules": RULES,
        "seeds": seeds,
        "mode": rt.mode,
        "min_lr": rt.min_lr,
        "max_lr": rt.max_lr,
        "steps": rt.steps,
        "smoothing": rt.smoothing,
        "improve_fraction": rt.improve_fraction,
        "diverge_factor": rt.diverge_factor,
        "max_spread": rt.max_spread,
        "model": cfg.model.name,
        "dataset": cfg.dataset.name,
        "optimizer": cfg.optimizer.name,
        "batch_size": cfg.trainer.batch_size,
        "train_images": len(data.train_x),
        "threads": threads,
        "device": str(data.device),
        "model_unchanged": all(e["model_unchanged"] for e in per_seed),
        "wall_s": time.perf_counter() - wall0,
    }
    write_json_atomic(out_dir / RESULT_FILE, summary)
    plot_range_test(
        out_dir / "range_test.png",
        curves,
        agg,
        rt.rule,
        log_x=rt.mode == "exponential",
        title=f"LR range test: {cfg.model.name} on {cfg.dataset.name}, {cfg.optimizer.name}, "
        f"batch {cfg.trainer.batch_size}, seeds {seeds[0]}-{seeds[-1]}",
    )
    if problem:
        # Nothing to suggest: the file says why, and schedule.bounds_from refuses it.
        raise ConfigError(
            f"range_test.min_lr={rt.min_lr!r}: {problem}; nothing suggested: start the test lower so the loss can "
            f"fall first (see {out_dir / 'range_test.png'})"
        )
    for rule, a in agg.items():
        s = a["spread"]["max_lr"]
        log.info(
            "%s rule: base_lr %.3g, max_lr %.3g (median of %d seeds; max_lr %.3g..%.3g, %.2fx)",
            rule,
            a["base_lr"],
            a["max_lr"],
            len(seeds),
            s["min"],
            s["max"],
            s["ratio"],
        )
    log.info(
        "suggested (%s rule): base_lr %.4g, max_lr %.4g; train with schedule.bounds_from=%s",
        rt.rule,
        agg[rt.rule]["base_lr"],
        agg[rt.rule]["max_lr"],
        out_dir,
    )
    return Status.COMPLETED
