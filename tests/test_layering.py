"""Meta-tests of the architecture: what may import what."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_"))


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path", sorted((ROOT / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_core_never_imports_streamlit(path: Path) -> None:
    assert "streamlit" not in _imported_modules(path)


@pytest.mark.parametrize("path", [ROOT / "app.py", *PAGES], ids=lambda p: p.name)
def test_ui_never_imports_tensorflow_directly(path: Path) -> None:
    assert not {"tensorflow", "keras"} & _imported_modules(path)


def test_every_page_is_in_navigation_and_has_a_test() -> None:
    app = (ROOT / "app.py").read_text()
    for page in PAGES:
        assert f'"pages/{page.name}"' in app, f"{page.name} is not in app.py's st.navigation"
        assert (ROOT / "tests" / "pages" / f"test_{page.name}").exists(), f"no AppTest for {page.name}"


_VISIT_ALL_PAGES = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
for page in sys.argv[2:]:
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))))
"""


@pytest.mark.slow
def test_visiting_every_page_never_loads_tensorflow(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LOOM_DATA_DIR": str(tmp_path),
        "LOOM_DASK_PROCESSES": "false",
        "LOOM_DASK_WORKERS": "1",
    }
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    env.pop("LOOM_DATABASE_URL", None)
    pages = [f"pages/{p.name}" for p in PAGES]
    out = subprocess.run(
        [sys.executable, "-c", _VISIT_ALL_PAGES, str(ROOT / "app.py"), *pages],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [], f"the UI process imported {loaded[:5]}: import TensorFlow only in worker code"
