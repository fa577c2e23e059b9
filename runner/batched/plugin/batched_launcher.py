"""`hydra/launcher=batched`: the launcher class Hydra instantiates and its config (hydra.launcher.*).

Kept thin and free of torch: Hydra imports every plugin module at start-up; the work is in runner/batched/launcher.py.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.plugins.launcher import Launcher


@dataclass
class BatchedLauncherConf:
    _target_: str = "hydra_plugins.clr_lab_batched.batched_launcher.BatchedLauncher"
    # Members per vectorized group at most (memory grows with it); null: no cap.
    max_members: Optional[int] = None  # noqa: UP045 - OmegaConf reads this annotation
    # Inputs with more pixels per channel than this run the ordinary way: vectorized convolutions won on 8x8 digits
    # and lost at 28x28 in the measurement that motivated this launcher (experiments/sweep_launchers/).
    max_pixels: Optional[int] = 256  # noqa: UP045 - OmegaConf reads this annotation
    # How the jobs that fit no group run when there are several: joblib (in parallel) or basic (one after another).
    fallback: str = "joblib"
    # Parallel workers for the fallback (joblib's n_jobs: -1 is every core).
    n_jobs: int = -1


ConfigStore.instance().store(group="hydra/launcher", name="batched", node=BatchedLauncherConf, provider="clr-lab")


class BatchedLauncher(Launcher):
    def __init__(self, **settings: Any) -> None:
        self.settings = BatchedLauncherConf(**settings)
        self.config = None
        self.task_function = None
        self.hydra_context = None

    def setup(self, *, hydra_context: Any, task_function: Any, config: Any) -> None:
        from runner.batched.settings import check

        check(self.settings)
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[Any]:
        from runner.batched.launcher import launch

        return launch(self, job_overrides, initial_job_idx)
