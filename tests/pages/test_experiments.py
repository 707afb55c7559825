from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.experiments import add_tag
from core.sharing import NOT_FOUND
from core.sharing import create_link
from core.sharing import revoke_link
from core.sharing import token_hash
from core.store import Run
from core.store import create_run
from core.store import open_store
from core.store import write_metrics
from tests.pages.conftest import open_page
from tests.pages.conftest import plain

XSS = "<img src=x onerror=alert(1)>"


def _finished(store, name: str, losses: list[float]) -> str:  # type: ignore[no-untyped-def]
    from core.experiments import summarize_run

    run = create_run(store, "train", {"type": "train", "epochs": len(losses), "note": name}, name=name)
    write_metrics(store, run.id, [("epoch/val_loss", i + 1, v, 1000.0 + i) for i, v in enumerate(losses)])
    with store.session() as s:
        s.get(Run, run.id).status = "succeeded"
    summarize_run(store, run.id)
    return run.id


def test_list_filters_live_in_the_url(app: AppTest) -> None:
    store = open_store(get_config())
    a = _finished(store, f"alpha {XSS}", [0.9, 0.5])
    _finished(store, "beta", [0.8, 0.7])
    add_tag(store, "run", a, "keeper", "test")
    open_page(app, "pages/experiments.py", tag="keeper")
    table = next(d for d in app.dataframe if (d.key or "").startswith("exp_table")).value
    assert list(table["id"]) == [a]
    assert table["name"][0] == f"alpha {XSS}"  # a cell: text, never HTML
    open_page(app, "pages/experiments.py", sort="metric", descending="false", metric_max="0.6", tag="keeper")
    assert any("1 run(s)" in c.value for c in app.caption)


def test_tampered_filters_get_a_message_not_a_traceback(app: AppTest) -> None:
    open_page(app, "pages/experiments.py", **{"page": "-3", "sort": "drop table"})
    assert any("not valid" in plain(e.value) for e in app.error)


def test_compare_two_runs_and_share_read_only(app: AppTest) -> None:
    store = open_store(get_config())
    a = _finished(store, "left", [1.0, 0.5, 0.25])
    b = _finished(store, "right", [1.0, 0.8])
    open_page(app, "pages/compare.py", runs=f"{a},{b}", metric="epoch/val_loss", smooth="0.5")
    assert not app.error, [e.value for e in app.error]
    assert len(app.get("plotly_chart")) == 1
    diff = app.dataframe[0].value  # settings first, then metrics
    assert list(diff["setting"]) == ["epochs", "note"]
    assert app.get("download_button")

    token = create_link(
        store, "compare", "", query={"runs": f"{a},{b}", "metric": "epoch/val_loss", "smooth": "0.5"}
    )
    fresh = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(fresh, "pages/share.py", token=token)
    assert fresh.query_params["runs"] in (f"{a},{b}", [f"{a},{b}"])
    assert len(fresh.get("plotly_chart")) == 1
    assert not [e for e in fresh.get("expandable") if "Share" in str(e.label)]  # a shared view makes no links
    revoke_link(store, token_hash(token))
    again = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(again, "pages/share.py", token=token)
    assert [e.value for e in again.error] == [NOT_FOUND]


def test_unknown_ids_and_missing_runs_look_the_same_through_links(app: AppTest) -> None:
    store = open_store(get_config())
    a = _finished(store, "one", [1.0])
    open_page(app, "pages/compare.py", runs=f"{a},{'e' * 32}")
    assert any("no run" in plain(e.value) for e in app.error)
    open_page(app, "pages/share.py", token="A" * 43)
    assert [e.value for e in app.error] == [NOT_FOUND]


def test_a_view_link_cannot_launch_or_stop(app: AppTest) -> None:
    store = open_store(get_config())
    run = create_run(store, "smoke", {"type": "smoke", "steps": 5, "interval_s": 0, "fail_at_step": None})
    token = create_link(store, "run", run.id, permission="view")
    open_page(app, "pages/share.py", token=token)
    assert not [b for b in app.button if b.key and b.key.startswith(("stop_", "smoke_launch"))]
    assert not app.get("selectbox") or all(s.key != "run_select" for s in app.selectbox)
    # The same token on another run's page is not found: a link opens only its own view.
    other = create_run(store, "smoke", {"type": "smoke", "steps": 5, "interval_s": 0, "fail_at_step": None})
    open_page(app, "pages/jobs.py", run=other.id, share=token)
    assert [e.value for e in app.error] == [NOT_FOUND]
