"""summary.json has one owner (runner/summary.py) and the exit status one decider (runner/status.py): the fields the
README documents, a reader that never raises on a damaged file, and exit codes from statuses."""

from __future__ import annotations

import json
import re

import pytest

from runner import summary as summary_file
from runner.status import ExitCode, Outcomes, Status, exit_code
from runner.summary import FIELDS, RunSummary
from support import ROOT


def test_the_readme_documents_every_summary_field():
    readme = (ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `summary.json` |"))
    documented = set(re.findall(r"`(\w+)`", row)) - {"summary"}
    assert FIELDS <= documented, f"README's summary.json row lacks {sorted(FIELDS - documented)}"


def test_a_summary_round_trips_and_omits_what_does_not_apply(tmp_path):
    s = RunSummary(schedule="triangular", seed=3, steps=10, final_val_acc=0.9)
    s.write(tmp_path)
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["status"] == "running" and data["final_val_acc"] == 0.9
    assert "error" not in data and "diverged_at" not in data  # only when they apply
    assert summary_file.read(tmp_path) == s


@pytest.mark.parametrize(
    "content",
    ["", "not json", "[1, 2]", '"completed"', "null", '{"status": 3, "final_val_acc": "high", "seed": true}'],
)
def test_a_damaged_summary_never_raises(tmp_path, content):
    (tmp_path / "summary.json").write_text(content)
    summary = summary_file.read(tmp_path)
    if summary is not None:  # an object with wrong types: those fields are None, the defaults stay
        assert summary.final_val_acc is None and summary.seed is None and summary.status == Status.RUNNING


def test_unknown_keys_are_kept_for_later_versions(tmp_path):
    (tmp_path / "summary.json").write_text('{"status": "completed", "from_the_future": 1}')
    summary = summary_file.read(tmp_path)
    assert summary.status == "completed" and summary.to_json()["from_the_future"] == 1


def test_exit_codes_come_from_statuses_and_signals():
    assert exit_code(["completed", "completed"]) == ExitCode.OK == 0
    for bad in ("failed", "diverged", "interrupted", "missing", "running"):
        assert exit_code(["completed", bad]) == ExitCode.FAILED == 1
    assert exit_code(["completed"], signal=15) == 143 and exit_code([], signal=2) == 130
    outcomes = Outcomes()
    outcomes.note(Status.COMPLETED)
    assert outcomes.exit_code() == 0
    outcomes.note_signal(2)
    assert outcomes.exit_code() == 130
