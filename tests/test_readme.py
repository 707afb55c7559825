"""Every ```python block of README.md runs as printed: each in its own process, against a fresh
data directory (``LOOM_DATA_DIR``), from the repository root. A block that needs a running app
says so on its first line with ``# readme-test: needs-app`` and is skipped (keep that rare)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NEEDS_APP = "# readme-test: needs-app"


def _python_blocks() -> list[tuple[int, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1))
        for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    ]


BLOCKS = _python_blocks()


def test_the_readme_has_python_examples() -> None:
    assert BLOCKS, "README.md has no ```python block: this test would check nothing"


@pytest.mark.slow
@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_a_readme_python_example_runs_as_printed(tmp_path: Path, line: int, code: str) -> None:
    from core.config import AppConfig
    from core.store import SYSTEM
    from core.store import list_runs
    from core.store import open_store

    if code.lstrip().startswith(NEEDS_APP):
        pytest.skip(f"README.md:{line} needs a running app")
    env = {**os.environ, "LOOM_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    for name in ("LOOM_DATABASE_URL", "DASK_SCHEDULER_ADDRESS", "LOOM_AUTH", "LOOM_USER"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"README.md:{line} failed:\n{done.stdout}{done.stderr[-3000:]}"
    if (tmp_path / "data").exists():  # what the example left behind: no failed run
        store = open_store(AppConfig.for_data_dir(tmp_path / "data"))
        failed = [r.name for r in list_runs(store, viewer=SYSTEM) if r.status != "succeeded"]
        assert not failed, f"README.md:{line} left runs that did not succeed: {failed}"
