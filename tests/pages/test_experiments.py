from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.experiments import add_tag
from core.store import SYSTEM
from core.store import Run
from core.store import Viewer
from core.store import create_run
from core.store import open_store
from core.store import write_metrics
from tests.pages.conftest import open_page
from tests.pages.conftest import plain

XSS = "<img src=x onerror=alert(1)>"


def _finished(store, name: str, losses: list[float]) -> str:  # type: ignore[no-untyped-def]
    from core.store import summarize_run

    run = create_run(store, "train", {"type": "train", "epochs": len(losses), "note": name}, name=name)
    write_metrics(store, run.id, [("epoch/val_loss", i + 1, v, 1000.0 + i) for i, v in enumerate(losses)])
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
    summarize_run(store, run.id)
    return run.id


def test_list_filters_live_in_the_url(app: AppTest) -> None:
    store = open_store(get_config())
    a = _finished(store, f"alpha {XSS}", [0.9, 0.5])
    _finished(store, "beta", [0.8, 0.7])
    add_tag(store, "run", a, "keeper", viewer=Viewer.local("test"))
    open_page(app, "pages/experiments.py", tag="keeper")
    table = next(d for d in app.dataframe if (d.key or "").startswith("exp_table")).value
    assert list(table["id"]) == [a]
    assert table["name"][0] == f"alpha {XSS}"  # a cell: text, never HTML
    open_page(app, "pages/experiments.py", sort="metric", descending="false", metric_max="0.6", tag="keeper")
    assert any("1 run(s)" in c.value for c in app.caption)


def test_tampered_filters_get_a_message_not_a_traceback(app: AppTest) -> None:
    open_page(app, "pages/experiments.py", **{"page": "-3", "sort": "drop table"})
    assert any("not valid" in plain(e.value) for e in app.error)


def test_past_the_page_the_count_says_more_and_counts_all_on_request(app: AppTest) -> None:
    store = open_store(get_config())
    for i in range(5):
        _finished(store, f"paged {i}", [0.1 * (i + 1)])
    open_page(app, "pages/experiments.py", page_size="2", text="paged")
    assert any("Runs 1–2 of more than 2" in c.value for c in app.caption)
    assert not app.button(key="exp_next").disabled
    app.button(key="exp_count_all").click().run()
    assert any("Exactly 5 run(s) match." in c.value for c in app.caption)
    open_page(app, "pages/experiments.py", page_size="2", text="paged", page="3")  # short last page: exact
    assert any("5 run(s) · page 3 of 3" in c.value for c in app.caption)
    assert app.button(key="exp_next").disabled
