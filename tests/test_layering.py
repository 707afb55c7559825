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
# scikit-learn and skops, too, load only in jobs on workers.
FRAMEWORKS = ("tensorflow", "keras", "sklearn", "skops")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in FRAMEWORKS)))
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


def test_import_contracts_hold() -> None:
    """The layers in pyproject.toml ([tool.importlinter]): pages use core's public API only, the
    store is at the bottom, compute knows no job kind, training never imports tuning, private
    modules stay inside their package, and no import cycles anywhere in core."""
    import shutil

    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed: pip install -r requirements-dev.txt")
    out = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " 0 broken" in out.stdout


def test_pages_import_no_private_core_module() -> None:
    """The same rule as the private-modules contract, for app.py and pages (which the contract
    sees as one root package): ``core.<package>._<module>`` is never imported from the UI."""
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            bad = [
                n for n in names if n.startswith("core.") and any(p.startswith("_") for p in n.split(".")[1:])
            ]
            assert not bad, f"{path.name} imports {bad}: use the package's public API"


@pytest.mark.parametrize(
    "package", sorted(p.parent.name for p in (ROOT / "core").glob("*/__init__.py")), ids=str
)
def test_each_package_names_its_api_exactly(package: str) -> None:
    """A package's __init__ is its public API: ``__all__`` lists exactly the public names it
    binds (in the spirit of httpx's tests/test_exported_members.py), and each of them exists."""
    import importlib

    module = importlib.import_module(f"core.{package}")
    tree = ast.parse((ROOT / "core" / package / "__init__.py").read_text())
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            bound |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound |= {t.id for t in node.targets if isinstance(t, ast.Name) and t.id != "__all__"}
    public = {name for name in bound if not name.startswith("_")}
    assert set(module.__all__) == public, f"core.{package}: __all__ differs from what it binds"
    assert all(hasattr(module, name) for name in module.__all__)


def test_pages_take_read_models_never_orm_rows() -> None:
    """Pages import no SQLAlchemy model from the store: queries hand them frozen read models."""
    from core.store import Base

    orm = {mapper.class_.__name__ for mapper in Base.registry.mappers} | {"Base"}
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "core.store":
                bad = sorted({a.name for a in node.names} & orm)
                assert not bad, f"{path.name} imports the ORM model(s) {bad}: use a query's read model"
