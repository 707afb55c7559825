"""mypy over core/ (settings in pyproject.toml): the suite fails when types are broken."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT


def test_mypy_is_clean_on_core() -> None:
    mypy = shutil.which("mypy")
    if mypy is None:
        pytest.skip("mypy is not installed: pip install -r requirements-dev.txt")
    out = subprocess.run([mypy], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:]
    assert "Success: no issues found" in out.stdout
