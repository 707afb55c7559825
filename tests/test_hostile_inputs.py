"""The bad-input battery beyond data files (those are in tests/core/data/test_bad_inputs.py):
hostile names and IDs at every entry point, markup in every user-text field, spreadsheet formulas
on export. Each gets a clear message or is made harmless; nothing is written outside the data
directory and nothing stored changes."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.config import AppConfig
from core.data import resolve_server_path
from core.data import save_upload
from core.errors import AppError
from core.errors import NotFoundError
from core.errors import SpecError
from core.errors import StoreError
from core.formatting import csv_bytes
from core.store import SYSTEM
from core.store import Viewer
from core.store import count_rows
from core.store import open_store

TRAVERSALS = ["../x", "..\\x", "/etc/passwd", "%2e%2e%2fx", "..%2Fx", "a/../../x", "~/x", "C:\\x", "x\x00y"]
XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "![x](http://evil.example/x.png)",
    "$$\\href{javascript:alert(1)}{x}$$",
    ":red[**bold**] <b>b</b>",
]
FORMULAS = ["=1+1", "+SUM(A1)", "-2+3", "@SUM(1)", "\tTAB", "\rCR", '=HYPERLINK("http://x")']


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    return open_store(AppConfig.for_data_dir(tmp_path / "data"))


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", TRAVERSALS)
def test_hostile_names_never_become_paths(name: str, store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = _files(tmp_path) - _files(store.data_dir)
    # An object ID in disguise is refused before any path is built.
    with pytest.raises(StoreError, match="is not a Loom ID"):
        store.path_for("models", name, ".keras")
    # A server path outside the import root is refused, whatever its spelling.
    root = tmp_path / "imports"
    root.mkdir(exist_ok=True)
    with pytest.raises(AppError):
        resolve_server_path(root, name)
    # An upload's name is used only for its suffix; the file lands under uploads/ by a new ID.
    try:
        upload_id = save_upload(store, io.BytesIO(b"a,b\n1,2\n"), name + ".csv", viewer=SYSTEM)
    except AppError as exc:
        assert "Traceback" not in str(exc)
    else:
        assert (store.data_dir / "uploads" / f"{upload_id}.csv").exists()
    assert _files(tmp_path) - _files(store.data_dir) == outside, "something was written outside the data dir"


@pytest.mark.parametrize("token", TRAVERSALS + ["", "A" * 500, "' OR '1'='1"])
def test_hostile_share_tokens_and_ids_are_not_found(token: str, store) -> None:  # type: ignore[no-untyped-def]
    from core.experiments import parse_run_ids
    from core.sharing import NOT_FOUND
    from core.sharing import resolve_link
    from core.store import get_run

    before = count_rows(store, viewer=SYSTEM)
    with pytest.raises(NotFoundError) as info:
        resolve_link(store, token)
    assert str(info.value) == NOT_FOUND
    with pytest.raises((NotFoundError, StoreError)):
        get_run(store, token, viewer=SYSTEM)
    with pytest.raises(SpecError):
        parse_run_ids(f"{token},{token}x")
    assert count_rows(store, viewer=SYSTEM) == before


@pytest.mark.parametrize("text", FORMULAS)
def test_exports_never_carry_a_formula(text: str) -> None:
    import csv

    data = csv_bytes(pd.DataFrame({text: [text, "plain", -1.5]})).decode()
    rows = list(csv.reader(io.StringIO(data, newline="")))
    assert rows[0][0] == "'" + text and rows[1][0] == "'" + text
    assert rows[2][0] == "plain" and rows[3][0] == "-1.5"  # numbers stay numbers


@pytest.fixture
def hostile_app(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """The real app on a store whose every user-text field holds markup."""
    from core.data import ingest_file
    from core.experiments import add_note
    from core.experiments import add_tag
    from core.store import Run
    from core.store import create_run

    monkeypatch.setenv("LOOM_DATA_DIR", str(tmp_path / "hostile"))
    monkeypatch.setenv("LOOM_DASK_PROCESSES", "false")
    monkeypatch.setenv("LOOM_DASK_WORKERS", "1")
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    from core.config import get_config

    store = open_store(get_config())
    root = Path(__file__).resolve().parents[1]
    ds = ingest_file(store, root / "assets" / "iris.csv", "csv", " ".join(XSS))
    run = create_run(
        store, "smoke", {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}, name=XSS[1]
    )
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    for text in XSS:
        add_note(store, "run", run.id, text, viewer=Viewer.local(XSS[0]))
    add_tag(store, "run", run.id, "safe tag", viewer=Viewer.local(XSS[0]))
    return AppTest.from_file(str(root / "app.py"), default_timeout=60), ds, run


def _markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]


def test_markup_in_every_user_text_field_is_shown_as_text(hostile_app) -> None:  # type: ignore[no-untyped-def]
    at, ds, run = hostile_app
    for page, params in (
        ("pages/data.py", {"dataset": ds.id}),
        ("pages/jobs.py", {"run": run.id}),
        ("pages/experiments.py", {}),
    ):
        at.run()
        at.switch_page(page)
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        for text in _markdown(at):
            # Markdown that reaches the browser has every markup character from user text
            # escaped: no bare "<" (HTML), "$" (LaTeX), "](" (links, images) or ":red[" (colour).
            for pattern in (r"(?<!\\)<", r"(?<!\\)\$", r"(?<!\\)\]\(", r"(?<!\\):red(?<!\\)\["):
                assert not re.search(pattern, text), (page, pattern, text)
    notes = [t.value for t in at.text]
    del notes  # st.text renders its argument as plain text by construction
