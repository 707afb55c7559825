"""The Reports page through AppTest: create a report, compose it (Markdown and a run chart),
save a version, read an older version from the URL, open it through a share link read only,
a run deleted later shown as a placeholder, and the editor's preview of an unsaved draft."""

from __future__ import annotations

from typing import Any

from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from core.config import get_config
from core.experiments import delete_runs
from core.reports import MarkdownBlock
from core.reports import ReportSpec
from core.reports import RunChartBlock
from core.reports import get_report
from core.reports import save_report
from core.reports import unavailable
from core.sharing import create_link
from core.store import SYSTEM
from core.store import Run
from core.store import open_store
from tests.pages.conftest import APP
from tests.pages.conftest import open_page
from tests.pages.conftest import plain
from tests.pages.test_experiments import _finished

XSS = "<img src=x onerror=alert(1)>"


def _shown(app: AppTest, key: str, kind: str) -> list[Any]:
    """Elements of one kind in the saved view's blocks (``key="report"``) or in the editor's
    preview (``"report_preview"``): both are on the page while the editor is there."""
    blocks = [n for n in app.main if isinstance(n, Block) and (n.key or "").startswith(f"{key}_block_")]
    return [e for b in blocks for e in b.get(kind)]


def _html(app: AppTest, key: str) -> list[str]:
    return [h.proto.body.strip() for h in _shown(app, key, "html")]


def test_compose_save_and_read_versions(app: AppTest) -> None:
    store = open_store(get_config())
    run_id = _finished(store, "curve run", [1.0, 0.5, 0.25])
    open_page(app, "pages/reports.py")
    assert any("No reports yet" in i.value for i in app.info)
    app.text_input(key="new_report_title").input(f"Weekly {XSS}")
    app.button[0].click().run()  # the form's "Create report"
    assert not app.exception, [e.value for e in app.exception]
    report_id = app.query_params["report"]
    report_id = report_id[0] if isinstance(report_id, list) else report_id
    draft = f"report_draft_{report_id}_1"

    app.selectbox(key=f"{draft}_add_type").select("markdown").run()
    app.button(key=f"{draft}_add").click().run()
    app.text_area(key="rb_text_new-0").input(f"# Findings\n\nThe loss *fell*. {XSS}").run()
    app.selectbox(key=f"{draft}_add_type").select("run_chart").run()
    app.button(key=f"{draft}_add").click().run()
    app.multiselect(key="rb_runs_new-1").select(run_id).run()
    app.selectbox(key="rb_metric_new-1").select("epoch/val_loss").run()
    app.button(key=f"{draft}_save").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]

    saved = get_report(store, report_id, viewer=SYSTEM)
    assert saved.version == 2
    assert saved.spec.blocks == (
        MarkdownBlock(f"# Findings\n\nThe loss *fell*. {XSS}"),
        RunChartBlock((run_id,), "epoch/val_loss"),
    )
    html = _html(app, "report")
    assert any("<h1>Findings</h1>" in h and "&lt;img src=x" in h and "<img" not in h for h in html)
    assert len(_shown(app, "report", "plotly_chart")) == 1
    # The editor's preview of the new version's draft reads the same.
    assert _html(app, "report_preview") == html
    assert len(_shown(app, "report_preview", "plotly_chart")) == 1
    assert app.get("download_button")

    # Version 1 (empty) is still there, from the URL.
    open_page(app, "pages/reports.py", report=report_id, version="1")
    assert not app.get("plotly_chart") and not app.html  # the view, and the preview of its draft
    open_page(app, "pages/reports.py", report=report_id, version="9")
    assert any("has no version 9" in plain(e.value) for e in app.error)
    open_page(app, "pages/reports.py", report=report_id, version="drop")
    assert any("not a number" in plain(e.value) for e in app.error)


def test_a_share_link_opens_the_report_read_only_with_placeholders(app: AppTest) -> None:
    store = open_store(get_config())
    kept = _finished(store, "kept run", [1.0, 0.5])
    gone = _finished(store, "gone run", [2.0, 1.5])
    spec = ReportSpec("Shared", (MarkdownBlock("hello"), RunChartBlock((kept, gone))))
    report_id, _ = save_report(store, spec, viewer=SYSTEM)
    delete_runs(store, [gone], viewer=SYSTEM)
    token = create_link(store, "report", report_id, viewer=SYSTEM)

    fresh = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(fresh, "pages/share.py", token=token)
    assert fresh.query_params["report"] in (report_id, [report_id])
    assert [w.value for w in fresh.warning] == [unavailable("run", gone)]
    assert len(fresh.get("plotly_chart")) == 1
    # Read only: no editor, no share box, no delete.
    assert not [e for e in fresh.get("expandable") if "Edit" in str(e.label) or "Share" in str(e.label)]
    assert not [b for b in fresh.button if b.key and b.key.startswith("report_delete")]
    # The token on another report's URL is not found.
    other, _ = save_report(store, ReportSpec("Other"), viewer=SYSTEM)
    open_page(fresh, "pages/reports.py", report=other, share=token)
    assert [plain(e.value) for e in fresh.error][0].startswith("Not found")


def test_blocks_move_and_go_before_a_save(app: AppTest) -> None:
    store = open_store(get_config())
    spec = ReportSpec("Order", (MarkdownBlock("one"), MarkdownBlock("two"), MarkdownBlock("three")))
    report_id, _ = save_report(store, spec, viewer=SYSTEM)
    open_page(app, "pages/reports.py", report=report_id)
    assert _html(app, "report") == ["<p>one</p>", "<p>two</p>", "<p>three</p>"]
    app.button(key="rb_up_1-2").click().run()  # "three" above "two"
    app.button(key="rb_remove_1-0").click().run()  # "one" goes
    app.text_area(key="rb_text_1-1").input("two, edited").run()
    app.button(key=f"report_draft_{report_id}_1_save").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert get_report(store, report_id, viewer=SYSTEM).spec.blocks == (
        MarkdownBlock("three"),
        MarkdownBlock("two, edited"),
    )
    assert _html(app, "report") == ["<p>three</p>", "<p>two, edited</p>"]
    # Version 1 is unchanged.
    assert get_report(store, report_id, 1, viewer=SYSTEM).spec == spec


def test_the_preview_shows_the_draft_before_a_save(app: AppTest) -> None:
    """Typed Markdown shows in the preview on the next rerun (raw HTML escaped) while the saved
    view and the store keep version 1; an incomplete block and an empty title show their error
    in the preview, and the page still works."""
    store = open_store(get_config())
    spec = ReportSpec("Drafting", (MarkdownBlock("saved words"),))
    report_id, _ = save_report(store, spec, viewer=SYSTEM)
    draft = f"report_draft_{report_id}_1"
    open_page(app, "pages/reports.py", report=report_id)
    # A report with blocks opens with the editor folded, which draws no preview: the page
    # renders the report once.
    assert _html(app, "report") == ["<p>saved words</p>"] and _html(app, "report_preview") == []
    app.session_state[f"report_editor_{report_id}"] = True  # the owner opens the editor
    app.run()
    assert _html(app, "report_preview") == _html(app, "report") == ["<p>saved words</p>"]

    app.text_area(key="rb_text_1-0").input(f"# Fresh words\n\nnot saved {XSS}").run()
    assert not app.exception, [e.value for e in app.exception]
    (preview,) = _html(app, "report_preview")
    assert "<h1>Fresh words</h1>" in preview and "&lt;img src=x" in preview and "<img" not in preview
    assert _html(app, "report") == ["<p>saved words</p>"]

    app.button(key=f"{draft}_add").click().run()  # Markdown, then an empty run chart
    app.selectbox(key=f"{draft}_add_type").select("run_chart").run()
    app.button(key=f"{draft}_add").click().run()
    app.text_input(key=f"{draft}_title").input("  ").run()
    assert not app.exception, [e.value for e in app.exception]
    errors = [plain(e.value) for e in app.error]
    assert any("needs a title" in e for e in errors), errors
    assert any(e.startswith("Block 3 (Run chart): Pick 1 to 10 for") for e in errors), errors
    assert _html(app, "report_preview")[0] == preview  # the valid blocks still show

    saved = get_report(store, report_id, viewer=SYSTEM)
    assert (saved.latest_version, saved.spec) == (1, spec)


def test_a_teammate_reads_a_team_report_with_a_placeholder_and_no_editor(app_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Accounts on: ada's team report names her private run and a team run. Bob (her teammate)
    sees the report, the team run's curve and a placeholder for the private one (its name and
    values appear nowhere on his page), and gets no editor; cyd (no team) gets not-found."""
    from core.sharing import add_member
    from core.sharing import create_team
    from core.sharing import create_user
    from core.sharing import viewer_for
    from tests.pages.test_accounts import _everything_shown
    from tests.pages.test_accounts import _sign_in

    monkeypatch.setenv("LOOM_AUTH", "on")
    store = open_store(get_config())
    for name in ("ada", "bob", "cyd"):
        create_user(store, name, f"{name}-password-123")
    create_team(store, "lab")
    add_member(store, "lab", "ada")
    add_member(store, "lab", "bob")
    private = _finished(store, "ADA-SECRET-RUN", [0.987654, 0.876543])
    shared = _finished(store, "lab run", [1.0, 0.5])
    with store.session(SYSTEM) as s:
        s.get(Run, private).author = "ada"
        s.get(Run, shared).author = "ada"
        s.get(Run, shared).team = "lab"
    spec = ReportSpec("Lab notes", (MarkdownBlock("see below"), RunChartBlock((private, shared))))
    report_id, _ = save_report(store, spec, team="lab", viewer=viewer_for(store, "ada"))

    bob = _sign_in(AppTest.from_file(APP, default_timeout=60), "bob", "bob-password-123")
    bob.switch_page("pages/reports.py")
    bob.query_params["report"] = report_id
    bob.run()
    assert not bob.exception, [e.value for e in bob.exception]
    assert [w.value for w in bob.warning] == [unavailable("run", private)]
    assert len(bob.get("plotly_chart")) == 1
    shown = _everything_shown(bob)
    assert "ADA-SECRET-RUN" not in shown and "0.987654" not in shown and "lab run" in shown
    assert not [e for e in bob.get("expandable") if "Edit" in str(e.label)]

    cyd = _sign_in(AppTest.from_file(APP, default_timeout=60), "cyd", "cyd-password-123")
    cyd.switch_page("pages/reports.py")
    cyd.query_params["report"] = report_id
    cyd.run()
    assert [plain(e.value) for e in cyd.error] == ["This report does not exist or is not shared with you."]
    assert "Lab notes" not in _everything_shown(cyd)

    # Ada, before sharing: told which block her team will not see, and why (a link sees it all:
    # both runs are hers).
    ada = _sign_in(AppTest.from_file(APP, default_timeout=60), "ada", "ada-password-123")
    ada.switch_page("pages/reports.py")
    ada.query_params["report"] = report_id
    ada.run()
    warned = [plain(w.value) for w in ada.warning]
    assert len(warned) == 1 and "team lab" in warned[0], warned
    assert "ADA-SECRET-RUN" in warned[0] and "Block 2" in warned[0] and "private" in warned[0]
