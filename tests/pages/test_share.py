from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.sharing import NOT_FOUND
from core.sharing import create_link
from core.store import SYSTEM
from core.store import create_run
from core.store import open_store
from tests.pages.conftest import open_page

XSS = "<img src=x onerror=alert(1)>"


def test_a_view_link_cannot_launch_or_stop(app: AppTest) -> None:
    store = open_store(get_config())
    run = create_run(store, "smoke", {"type": "smoke", "steps": 5, "interval_s": 0, "fail_at_step": None})
    token = create_link(store, "run", run.id, permission="view", viewer=SYSTEM)
    open_page(app, "pages/share.py", token=token)
    assert not [b for b in app.button if b.key and b.key.startswith(("stop_", "smoke_launch"))]
    assert not app.get("selectbox") or all(s.key != "run_select" for s in app.selectbox)
    # The same token on another run's page is not found: a link opens only its own view.
    other = create_run(store, "smoke", {"type": "smoke", "steps": 5, "interval_s": 0, "fail_at_step": None})
    open_page(app, "pages/jobs.py", run=other.id, share=token)
    assert [e.value for e in app.error] == [NOT_FOUND]


def test_a_run_link_shows_notes_only_if_its_owner_included_them(app: AppTest) -> None:
    from core.experiments import add_note
    from core.store import Viewer

    def shown(at: AppTest) -> str:
        return "\n".join(e.value for kind in ("markdown", "text", "caption") for e in at.get(kind))

    store = open_store(get_config())
    run = create_run(store, "smoke", {"type": "smoke", "steps": 5, "interval_s": 0, "fail_at_step": None})
    add_note(store, "run", run.id, "BOBS-PRIVATE-NOTE", viewer=Viewer.local("bob-the-author"))
    plain = create_link(store, "run", run.id, viewer=SYSTEM)
    open_page(app, "pages/share.py", token=plain)
    text = shown(app)
    assert "BOBS-PRIVATE-NOTE" not in text and "bob-the-author" not in text
    assert "This link does not include notes." in text
    assert "no notes and no model download (read only)" in text

    with_notes = create_link(store, "run", run.id, include_notes=True, viewer=SYSTEM)
    fresh = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(fresh, "pages/share.py", token=with_notes)
    text = shown(fresh)
    assert "BOBS-PRIVATE-NOTE" in text and "bob" in text
    assert "its notes and no model download" in text
