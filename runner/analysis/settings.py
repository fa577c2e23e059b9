"""The analysis.* keys: loss smoothing, the plateau detector (W, r, d) and the target accuracies of the reports.

The defaults here are the ones the YAML (conf/analysis/default.yaml) shows and the analysis functions use when
called without them; docs/plateaus.md says why each has its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.errors import ConfigError
from runner.typed import require_in


@dataclass
class PlateauConfig:
    window: int = 100
    rel_drop: float = 0.05
    escape_drop: float = 0.2

    def check(self, key: str) -> None:
        if self.window < 2:
            raise ConfigError(f"{key}.window={self.window!r}: must be an integer >= 2 (steps)")
        require_in(f"{key}.rel_drop", self.rel_drop, 0.0, 1.0, low_open=True, high_open=True)
        require_in(f"{key}.escape_drop", self.escape_drop, 0.0, 1.0, low_open=True, high_open=True)


@dataclass
class AnalysisConfig:
    smoothing: float = 0.98
    targets: list[float] = field(default_factory=lambda: [0.9, 0.95])
    plateau: PlateauConfig = field(default_factory=PlateauConfig)
    # The group every other group of a sweep report is compared with, as its label reads in the report
    # (e.g. "schedule=fixed"); null: the constant or fixed group, if the sweep has one.
    baseline: str | None = None

    def check(self, key: str) -> None:
        require_in(f"{key}.smoothing", self.smoothing, 0.0, 1.0, high_open=True)
        for i, t in enumerate(self.targets):
            require_in(f"{key}.targets[{i}]", t, 0.0, 1.0, low_open=True)
        self.plateau.check(f"{key}.plateau")
