"""The report's verdicts against the baseline on synthetic sweeps with a known truth: noise is not a win, a tie is
not crowned, censored and diverged seeds are counted, and few seeds give no verdict."""

from __future__ import annotations

import re

import pytest
from scipy import stats

from runner.report.build import build_report
from support import ROOT, read_csv

SEEDS3 = [0.90, 0.92, 0.91]


def build(sweep) -> tuple[str, dict[tuple[str, str], dict]]:
    """report.md's text and comparisons.csv as {(group, figure): row}."""
    build_report(sweep.folder)
    rows = read_csv(sweep.folder / "comparisons.csv")
    return (sweep.folder / "report.md").read_text(), {(r["group"], r["figure"]): r for r in rows}


def headline(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("**"))


def test_two_identical_groups_show_no_detectable_difference(fake_sweep):
    fake_sweep.group("schedule=constant", SEEDS3)
    fake_sweep.group("schedule=triangular", SEEDS3)
    text, rows = build(fake_sweep)
    row = rows[("schedule=triangular", "final_val_acc")]
    assert row["baseline"] == "schedule=constant" and row["test"] == "welch_t"
    assert row["verdict"] == "no detectable difference at n = 3"
    assert float(row["difference"]) == 0 and float(row["ci_low"]) < 0 < float(row["ci_high"])
    assert "does not differ detectably" in headline(text)
    assert "better" not in headline(text) and "worse" not in headline(text)


def test_a_clearly_better_group_is_better_with_a_ci_that_excludes_zero(fake_sweep):
    fake_sweep.group("schedule=constant", SEEDS3)
    fake_sweep.group("schedule=triangular2", [0.96, 0.97, 0.965])
    text, rows = build(fake_sweep)
    row = rows[("schedule=triangular2", "final_val_acc")]
    assert row["verdict"] == "better" and row["test"] == "welch_t"
    assert 0 < float(row["ci_low"]) <= float(row["difference"]) <= float(row["ci_high"])
    # Welch's t, as scipy computes it from the same numbers
    expected = stats.ttest_ind([0.96, 0.97, 0.965], SEEDS3, equal_var=False)
    assert float(row["p"]) == pytest.approx(expected.pvalue)
    assert "`schedule=triangular2` has higher final val_acc by 0.055" in headline(text)
    assert "95% CI" in headline(text)


def test_a_schedule_diverging_in_every_seed_is_worse(fake_sweep):
    five = [0.90, 0.92, 0.91, 0.93, 0.90]
    fake_sweep.group("schedule=constant", five, reach={"0.9": 120})
    fake_sweep.group("schedule=exp_range", five, status="diverged", steps=40)
    text, rows = build(fake_sweep)
    for figure in ("final_val_acc", "best_val_acc", "steps_to_0.9"):
        row = rows[("schedule=exp_range", figure)]
        assert row["verdict"] == "worse", figure
        assert row["reached"] == "0/5" and row["n"] == "5" and row["test"] == "mann_whitney_u"
    assert (
        "`schedule=exp_range` diverged in every seed (5/5): worse in final val_acc, best val_acc, steps to 0.9"
        in headline(text)
    )
    groups = {g["group"]: g for g in read_csv(fake_sweep.folder / "schedules.csv")}
    assert groups["schedule=exp_range"]["diverged"] == "5" and groups["schedule=exp_range"]["counted"] == "5"


def test_one_seed_prints_no_spread_and_gives_no_verdict(fake_sweep):
    fake_sweep.group("schedule=constant", [0.90])
    fake_sweep.group("schedule=triangular", [0.99])
    text, rows = build(fake_sweep)
    cells = [line for line in text.splitlines() if line.startswith("| `")]  # the table rows, headers aside
    assert len(cells) >= 3 and not any("±" in line for line in cells)
    row = rows[("schedule=triangular", "final_val_acc")]
    assert row["verdict"] == "no verdict (n < 3)" and row["p"] == "" and row["test"] == "" and row["ci_low"] == ""
    assert "no verdict is possible with fewer than 3 seeds" in headline(text)
    group = {g["group"]: g for g in read_csv(fake_sweep.folder / "schedules.csv")}["schedule=triangular"]
    assert group["final_val_acc_std"] == ""


def test_two_seeds_show_their_spread_but_give_no_verdict(fake_sweep):
    fake_sweep.group("schedule=constant", [0.90, 0.91])
    fake_sweep.group("schedule=triangular", [0.98, 0.99])
    text, rows = build(fake_sweep)
    assert "0.985 ± 0.007" in text
    assert rows[("schedule=triangular", "final_val_acc")]["verdict"] == "no verdict (n < 3)"
    assert all(r["p"] == "" and r["verdict"] not in ("better", "worse") for r in rows.values())
    assert "better" not in headline(text)


def test_seeds_that_never_get_there_are_counted_not_dropped(fake_sweep):
    # Two of three seeds reach 0.9 (and escape) early, one never does: over the survivors only this group would
    # "win"; counted at the worst rank, three seeds cannot tell.
    fake_sweep.group("schedule=constant", SEEDS3, reach={"0.9": 150}, escape=200)
    fake_sweep.group(
        "schedule=triangular",
        SEEDS3,
        reach=[{"0.9": 30}, {"0.9": 30}, {"0.9": None}],
        escape=[40, 40, "not_escaped"],
    )
    text, rows = build(fake_sweep)
    for figure in ("steps_to_0.9", "escape_step"):
        row = rows[("schedule=triangular", figure)]
        assert row["reached"] == "2/3" and row["reached_baseline"] == "3/3", figure
        assert row["test"] == "mann_whitney_u" and row["verdict"] == "no detectable difference at n = 3", figure
    assert "30 ± 0 (reached 2/3)" in text
    assert "escaped 2/3" in text


def test_a_run_without_a_plateau_is_not_censored_but_counted_apart(fake_sweep):
    fake_sweep.group("schedule=constant", [0.9] * 4, escape=[200, 210, 190, 205])
    fake_sweep.group("schedule=triangular", [0.9] * 4, escape=[100, 110, 90, "no_plateau"])
    text, rows = build(fake_sweep)
    row = rows[("schedule=triangular", "escape_step")]
    assert row["n"] == "3" and row["reached"] == "3/3" and row["no_plateau"] == "1"
    assert row["test"] == "welch_t" and row["verdict"] == "better"
    assert "no plateau 1/4" in text


def test_a_tie_is_not_crowned(fake_sweep):
    # Two schedules reach 0.9 at the very same steps: both are better than the baseline, neither beats the other.
    five = [0.92] * 5
    fake_sweep.group("schedule=constant", five, reach={"0.9": 90})
    fake_sweep.group("schedule=triangular", five, reach={"0.9": 45})
    fake_sweep.group("schedule=triangular2", five, reach={"0.9": 45})
    text, rows = build(fake_sweep)
    line = headline(text)
    assert "`schedule=triangular` reaches 0.9 in 45 fewer steps" in line
    assert "`schedule=triangular2` reaches 0.9 in 45 fewer steps" in line
    assert not re.search(r"(?i)earliest|fewest|best schedule|winner", text)
    assert rows[("schedule=triangular", "steps_to_0.9")]["verdict"] == "better"
    assert rows[("schedule=triangular2", "steps_to_0.9")]["verdict"] == "better"


def test_a_grid_of_constants_picks_the_best_by_validation_accuracy(fake_sweep):
    # The test split would pick base_lr=0.001: selection must never look at it.
    fake_sweep.group("schedule=constant schedule.base_lr=0.001", [0.80, 0.81, 0.79], test=0.99)
    fake_sweep.group("schedule=constant schedule.base_lr=0.01", [0.90, 0.91, 0.89], test=0.85)
    fake_sweep.group("schedule=constant schedule.base_lr=0.1", [0.85, 0.86, 0.84], test=0.85)
    fake_sweep.group("schedule=triangular", SEEDS3, test=0.85)
    text, rows = build(fake_sweep)
    chosen = "schedule=constant schedule.base_lr=0.01"
    assert f"grid-chosen constant: `{chosen}`, best of " in text and "by validation accuracy" in text
    assert {r["baseline"] for r in rows.values()} == {chosen}
    assert ("schedule=triangular", "test_acc") in rows  # runs measured the test split: it is compared too


def test_analysis_baseline_names_the_group_to_compare_with(fake_sweep):
    fake_sweep.group("schedule=constant", SEEDS3, baseline="schedule=fixed")
    fake_sweep.group("schedule=fixed", [0.95, 0.96, 0.955], baseline="schedule=fixed")
    text, rows = build(fake_sweep)
    assert set(rows) and {r["baseline"] for r in rows.values()} == {"schedule=fixed"}
    assert rows[("schedule=constant", "final_val_acc")]["verdict"] == "worse"
    assert "Baseline: `schedule=fixed` (analysis.baseline)" in text


def test_a_baseline_that_names_no_group_is_one_clear_line(fake_sweep):
    fake_sweep.group("schedule=constant", SEEDS3, baseline="schedule=triangle")
    fake_sweep.group("schedule=triangular", SEEDS3, baseline="schedule=triangle")
    text, rows = build(fake_sweep)
    assert rows == {}
    assert "analysis.baseline=schedule=triangle names no group of this sweep" in text
    assert "`schedule=triangular`" in text and "## Per group" in text  # the tables are still there


def test_without_constant_the_fixed_group_is_the_baseline_and_without_either_nothing_is_compared(new_sweep):
    fixed = new_sweep("fixed")
    fixed.group("schedule=fixed", SEEDS3)
    fixed.group("schedule=triangular", SEEDS3)
    text, rows = build(fixed)
    assert {r["baseline"] for r in rows.values()} == {"schedule=fixed"}
    assert "Baseline: `schedule=fixed` (the sweep's only fixed group)" in text

    other = new_sweep("no_baseline")
    other.group("schedule=triangular", SEEDS3)
    other.group("schedule=triangular2", SEEDS3)
    text, rows = build(other)
    assert rows == {} and headline(text).startswith("**Nothing to compare with")


def test_failed_runs_are_listed_and_left_out_of_the_comparison(fake_sweep):
    fake_sweep.group("schedule=constant", SEEDS3)
    fake_sweep.group("schedule=triangular", [0.90, 0.92, 0.91, 0.95], status=["completed"] * 3 + ["failed"])
    text, rows = build(fake_sweep)
    assert rows[("schedule=triangular", "final_val_acc")]["n"] == "3"
    assert "1 excluded" in text and "| failed |" in text


def test_a_rebuilt_report_is_byte_for_byte_the_same(fake_sweep):
    # the bootstrap and permutation draws are seeded: the rank test and its CI repeat exactly
    fake_sweep.group("schedule=constant", SEEDS3 + [0.9, 0.93], reach={"0.9": 150})
    fake_sweep.group("schedule=sgdr", SEEDS3 + [0.9, 0.93], reach=[{"0.9": s} for s in (60, 90, None, 30, 120)])
    build_report(fake_sweep.folder)
    first = {n: (fake_sweep.folder / n).read_bytes() for n in ("comparisons.csv", "report.md", "schedules.csv")}
    build_report(fake_sweep.folder)
    assert {n: (fake_sweep.folder / n).read_bytes() for n in first} == first
    row = {(r["group"], r["figure"]): r for r in read_csv(fake_sweep.folder / "comparisons.csv")}
    assert row[("schedule=sgdr", "steps_to_0.9")]["ci_low"] != ""


def readme_row(name: str) -> str:
    readme = (ROOT / "README.md").read_text()
    return next(line for line in readme.splitlines() if line.startswith(f"| `{name}` |"))


def test_the_readme_names_every_column_of_the_report_tables(fake_sweep):
    fake_sweep.group("schedule=constant", SEEDS3, test=0.9)
    fake_sweep.group("schedule=triangular", SEEDS3, test=0.9)
    build_report(fake_sweep.folder)
    for name in ("runs.csv", "comparisons.csv", "schedules.csv"):
        row = readme_row(name)

        def named(word: str, row: str = row) -> bool:
            return re.search(rf"(?<![\w.]){re.escape(word)}(?![\w.])", row) is not None

        missing = []
        for column in read_csv(fake_sweep.folder / name)[0]:
            # per-target columns and per-figure statistics are documented by their pattern
            target = re.sub(r"^steps_to_0\.\d+", "steps_to_<target>", column)
            figure = re.match(r"(.+)_(mean|std|min|max|n)$", target)
            stats_pattern = figure and "<figure>_mean/_std/_min/_max/_n" in row and named(figure.group(1))
            if not (named(target) or stats_pattern):
                missing.append(column)
        assert not missing, f"README's {name} row lacks {missing}"


def test_the_report_command_asks_the_same_sweep_against_another_baseline(fake_sweep):
    import subprocess
    import sys

    fake_sweep.group("schedule=constant", SEEDS3)
    fake_sweep.group("schedule=fixed", [0.95, 0.96, 0.955])
    command = [sys.executable, "-m", "runner.report", str(fake_sweep.folder)]
    assert subprocess.run([*command, "--baseline", "schedule=fixed"], capture_output=True).returncode == 0
    rows = read_csv(fake_sweep.folder / "comparisons.csv")
    assert {r["baseline"] for r in rows} == {"schedule=fixed"}  # not the constant group the default would take
    before = (fake_sweep.folder / "report.md").read_bytes()
    bad = subprocess.run([*command, "--baseline", "schedule=fixd"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "schedule=fixed" in bad.stderr  # names the groups
    assert (fake_sweep.folder / "report.md").read_bytes() == before  # a refused request rewrites nothing
