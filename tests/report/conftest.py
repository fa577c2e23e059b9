"""Synthetic sweep folders: the files a sweep leaves (.hydra/, summary.json, eval.csv, metrics.csv) with the numbers
a test chooses, so each verdict of the report can be checked against a known truth in milliseconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml


class FakeSweep:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.jobs = 0

    def run(
        self,
        overrides: str,
        seed: int,
        *,
        final: float = 0.9,
        best: float | None = None,
        test: float | None = None,
        reach: dict[str, int | None] | None = None,
        escape: int | str | None = "no_plateau",
        status: str = "completed",
        steps: int = 300,
        baseline: str | None = None,
    ) -> Path:
        """One job's folder. `escape`: the step the run escaped its plateau, "not_escaped" or "no_plateau"."""
        schedule = overrides.split()[0].partition("=")[2]
        folder = self.folder / f"{self.jobs}-{schedule}-seed{seed}"
        (folder / ".hydra").mkdir(parents=True)
        override_list = [*overrides.split(), f"seed={seed}"]
        (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(override_list))
        (folder / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"job": {"num": self.jobs}}}))
        config = {"seed": seed, "analysis": {"targets": [0.9], "baseline": baseline}}
        (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
        self.jobs += 1
        escaped = isinstance(escape, int)
        summary = {
            "status": status,
            "schedule": schedule,
            "seed": seed,
            "steps": steps,
            "final_val_acc": final,
            "best_val_acc": final if best is None else best,
            "test_acc": test,
            "plateaus": [] if escape == "no_plateau" else [{"start": 0, "end": 100, "level": 2.0}],
            "escape_status": "escaped" if escaped else escape,
            "escape_step": escape if escaped else None,
            "plateau_fraction": 0.1,
            "steps_to_target": {"0.9": None, **(reach or {})},
        }
        (folder / "summary.json").write_text(json.dumps(summary))
        # val_acc rises linearly to `final` at the last step: what Smith's table reads
        evals = [(s, final * s / steps) for s in range(0, steps + 1, 30)]
        (folder / "eval.csv").write_text("step,val_acc\n" + "".join(f"{s},{a}\n" for s, a in evals))
        rows = "".join(f"{s},0,0,0.01,0.9,{2.0 - s / steps}\n" for s in range(steps))
        (folder / "metrics.csv").write_text("step,epoch,cycle,lr,momentum,loss\n" + rows)
        return folder

    def group(self, overrides: str, finals: list[float], **kw) -> None:
        """One run per seed 0, 1, ... with the given final val_acc each; `kw` values that are lists go per seed."""
        for seed, final in enumerate(finals):
            self.run(overrides, seed, final=final, **{k: v[seed] if isinstance(v, list) else v for k, v in kw.items()})


@pytest.fixture
def new_sweep(tmp_path):
    """A fresh synthetic sweep folder per call: new_sweep("name")."""
    return lambda name: FakeSweep(tmp_path / name)


@pytest.fixture
def fake_sweep(new_sweep):
    return new_sweep("sweep")
