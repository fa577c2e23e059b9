"""Fixtures shared by every test; the helpers they use live in tests/support.py."""

from __future__ import annotations

import pytest

from support import run_cli


@pytest.fixture
def cli(tmp_path):
    """Run the CLI with the temporary folder as working directory (outputs/ lands there), progress bars off."""

    def _run(*args: str, **kw):
        return run_cli(*args, "trainer.progress=false", cwd=tmp_path, **kw)

    return _run
