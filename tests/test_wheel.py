"""A wheel that works: every package is listed in pyproject.toml, conf/ ships inside the package, and `python -m
runner` from an installed wheel (not the checkout) writes a complete run folder from any working directory."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import tomllib

from support import CONF, ROOT, install_wheel, read_json


def setuptools_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def listed_packages() -> set[str]:
    return set(setuptools_table()["packages"])


def test_every_package_and_every_conf_folder_is_listed():
    # A folder that package-dir maps (runner/batched/plugin ships as hydra_plugins.clr_lab_batched) under its name.
    shipped_as = {folder.replace("/", "."): name for name, folder in setuptools_table()["package-dir"].items()}
    code = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "runner").rglob("__init__.py")}
    code = {shipped_as.get(name, name) for name in code}
    conf = {"runner.conf"} | {
        "runner.conf." + ".".join(d.relative_to(CONF).parts) for d in CONF.rglob("*") if d.is_dir()
    }
    assert listed_packages() == code | conf


def test_no_source_or_config_file_is_ignored_by_git():
    # A .gitignore pattern once hid runner/data/ (meant for the datasets folder): a fresh clone had no loaders.
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    files = [str(p.relative_to(ROOT)) for p in (ROOT / "runner").rglob("*.py")]
    files += [str(p.relative_to(ROOT)) for p in CONF.rglob("*.yaml")]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *files], cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == []


@pytest.mark.slow
def test_an_installed_wheel_runs_from_any_folder(tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    site = install_wheel(tmp_path)  # only clr-lab from the wheel, ahead on the path; the dependencies are ours
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import runner.paths as p; print(p.__file__, p.CONF_DIR)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where[0].startswith(str(site)) and where[1] == str(site / "runner" / "conf")
    run_dir = tmp_path / "x"
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "trainer.max_steps=20", f"hydra.run.dir={run_dir}"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("metrics.csv", "eval.csv", "summary.json", "curves.png", "checkpoint.pt", ".hydra/config.yaml"):
        assert (run_dir / name).is_file(), name
    assert read_json(run_dir / "summary.json")["status"] == "completed"
    assert not (work / "outputs").exists()
