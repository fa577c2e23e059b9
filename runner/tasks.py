"""The tasks, chosen with `task=NAME`: what a command does with its validated config and its run folder.

    train       train one run into its folder (runner/training/run.py)
    preview     draw the schedule over preview.steps iterations, no training (runner/training/preview.py)
    range_test  Smith's LR range test: suggest base_lr and max_lr (runner/range_test/task.py)

Each task takes (RunConfig, run folder) and returns the run's Status. The builders are named by module path and
imported when the task runs, so choosing a task never imports torch.
"""

from __future__ import annotations

from runner.range_test.settings import RangeTestConfig
from runner.registry import Registry
from runner.training.settings import PreviewConfig, TrainerConfig

TASKS = Registry("task")
TASKS.add("train", TrainerConfig, "runner.training.run:run_train")
TASKS.add("preview", PreviewConfig, "runner.training.preview:run_preview")
TASKS.add("range_test", RangeTestConfig, "runner.range_test.task:run")
