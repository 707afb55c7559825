from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.sharing import NOT_FOUND
from core.sharing import create_link
from core.sharing import revoke_link
from core.sharing import token_hash
from core.store import SYSTEM
from core.store import open_store
from tests.pages.conftest import open_page
from tests.pages.conftest import plain
from tests.pages.test_experiments import _finished

XSS = "<img src=x onerror=alert(1)>"


def test_compare_two_runs_and_share_read_only(app: AppTest) -> None:
    store = open_store(get_config())
    a = _finished(store, "left", [1.0, 0.5, 0.25])
    b = _finished(store, "right", [1.0, 0.8])
    open_page(app, "pages/compare.py", runs=f"{a},{b}", metric="epoch/val_loss", smooth="0.5")
    assert not app.error, [e.value for e in app.error]
    assert len(app.get("plotly_chart")) == 1
    diff = app.dataframe[0].value  # settings first, then metrics
    assert list(diff["setting"]) == ["epochs", "note"]
    table = app.dataframe[1].value
    assert list(table.columns[:2]) == ["name", "epoch/val_loss"]  # metrics first, the ID last
    assert list(table.columns[-1:]) == ["run"]
    chart = json.loads(app.get("plotly_chart")[0].proto.spec)["layout"]
    assert chart["title"]["text"] and chart["xaxis"]["title"]["text"] == "epoch"  # not "step"
    assert chart["yaxis"]["title"]["text"] == "epoch/val_loss"
    assert app.get("download_button")

    token = create_link(
        store,
        "compare",
        "",
        query={"runs": f"{a},{b}", "metric": "epoch/val_loss", "smooth": "0.5"},
        viewer=SYSTEM,
    )
    fresh = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(fresh, "pages/share.py", token=token)
    assert fresh.query_params["runs"] in (f"{a},{b}", [f"{a},{b}"])
    assert len(fresh.get("plotly_chart")) == 1
    assert not [e for e in fresh.get("expandable") if "Share" in str(e.label)]  # a shared view makes no links
    revoke_link(store, token_hash(token), viewer=SYSTEM)
    again = AppTest.from_file(app._script_path, default_timeout=60)
    open_page(again, "pages/share.py", token=token)
    assert [e.value for e in again.error] == [NOT_FOUND]


def test_unknown_ids_and_missing_runs_look_the_same_through_links(app: AppTest) -> None:
    store = open_store(get_config())
    a = _finished(store, "one", [1.0])
    open_page(app, "pages/compare.py", runs=f"{a},{'e' * 32}")
    assert [plain(e.value) for e in app.error] == [
        "This comparison does not exist or is not shared with you."
    ]
    open_page(app, "pages/share.py", token="A" * 43)
    assert [e.value for e in app.error] == [NOT_FOUND]


def test_runs_with_the_same_name_compare_side_by_side(app: AppTest) -> None:
    """Names need not be unique (it crashed with "Duplicate column names found")."""
    store = open_store(get_config())
    a = _finished(store, "same name", [1.0, 0.5])
    b = _finished(store, "same name", [1.0, 0.7])
    open_page(app, "pages/compare.py", runs=f"{a},{b}")
    assert not app.error, [e.value for e in app.error]
    columns = list(app.dataframe[0].value.columns)
    assert f"same name ({a[:6]})" in columns and f"same name ({b[:6]})" in columns


def test_opened_from_the_sidebar_it_offers_a_picker_not_an_error(app: AppTest) -> None:
    store = open_store(get_config())
    a = _finished(store, "pick-a", [1.0, 0.5])
    b = _finished(store, "pick-b", [1.0, 0.7])
    open_page(app, "pages/compare.py")
    assert not app.error and not app.exception
    picker = app.multiselect(key="cmp_pick")
    assert {a, b} <= set(picker.options) or len(picker.options) >= 2
    picker.set_value([a, b]).run()
    app.button(key="cmp_pick_go").click().run()
    assert app.query_params["runs"] in (f"{a},{b}", [f"{a},{b}"])
    assert len(app.get("plotly_chart")) >= 1 and not app.error
