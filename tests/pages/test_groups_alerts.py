"""Seed groups and alerts through AppTest, on a real store: Experiments opened on a seed group
(its spread and band), grouped by a setting; Compare's groups; the run page's alerts (added,
fired, a malformed URL saved with its error)."""

from __future__ import annotations

from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from core.alerts import evaluate_alerts
from core.alerts import list_alerts
from core.config import get_config
from core.store import SYSTEM
from core.store import Run
from core.store import create_run
from core.store import new_id
from core.store import open_store
from core.store import summarize_run
from core.store import write_metrics
from tests.pages.conftest import open_page
from tests.pages.conftest import plain


def _group(store, losses: list[list[float]], optimizer: str = "adam") -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    group_id, run_ids = new_id(), []
    for seed, values in enumerate(losses):
        spec = {"type": "train", "seed": seed, "optimizer": {"name": optimizer}}
        run = create_run(store, "train", spec, name=f"seeds · seed {seed}")
        write_metrics(store, run.id, [("epoch/val_loss", i, v, 1000.0 + i) for i, v in enumerate(values)])
        with store.session(SYSTEM) as s:
            s.execute(update(Run).where(Run.id == run.id).values(status="succeeded", group_id=group_id))
        summarize_run(store, run.id)
        run_ids.append(run.id)
    return group_id, run_ids


def test_experiments_opens_on_a_seed_group_and_groups_by_a_setting(app: AppTest) -> None:
    store = open_store(get_config())
    group_id, run_ids = _group(store, [[1.0, 0.5], [0.9, 0.3], [0.8, 0.4]])
    _group(store, [[1.0, 0.9], [1.0, 0.7]], optimizer="sgd")
    open_page(app, "pages/experiments.py", group=group_id)
    assert not app.error, [e.value for e in app.error]
    assert [h.value for h in app.subheader][:1] == ["Seed group"]
    table = app.dataframe[0].value
    assert table["runs"].tolist() == [3] and table["epoch/val_loss mean"].tolist() == ["0.4"]
    assert table["min"].tolist() == ["0.3"] and table["max"].tolist() == ["0.5"]
    assert len(app.get("plotly_chart")) == 1  # the band
    # The group's page shows its group only: no list of every run below it.
    assert not [t for t in app.get("tab") if t.label == "Runs"]
    app.query_params.pop("group")

    open_page(app, "pages/experiments.py", group_by="optimizer.name")
    groups = app.dataframe[-1].value  # the groups table: the last on the page
    assert sorted(zip(groups["group"], groups["runs"], strict=True)) == [
        ("optimizer.name = adam", 3),
        ("optimizer.name = sgd", 2),
    ]

    open_page(app, "pages/experiments.py", group="0" * 32)
    assert [plain(e.value) for e in app.error] == [
        "This seed group does not exist or is not shared with you."
    ]


def test_compare_shows_the_groups_of_its_runs(app: AppTest) -> None:
    store = open_store(get_config())
    _, run_ids = _group(store, [[1.0, 0.5], [0.9, 0.3], [0.8, 0.4]])
    open_page(app, "pages/compare.py", runs=",".join(run_ids))
    assert not app.error, [e.value for e in app.error]
    groups = app.dataframe[-1].value  # the groups table: the last on the page
    assert groups["runs"].tolist() == [3] and groups["± std"].tolist() == ["0.08165"]


def test_alerts_on_the_run_page(app: AppTest) -> None:
    store = open_store(get_config())
    _, (run_id, *_) = _group(store, [[1.0, 0.5], [0.9, 0.3]])
    open_page(app, "pages/jobs.py", run=run_id)
    assert "Alerts" in [h.value for h in app.subheader]
    [link] = [p for p in app.get("page_link") if "seed group of 2 runs" in p.proto.label]
    assert "group=" in link.proto.page or link.proto.query_string.startswith("group=")
    app.selectbox(key="alert_kind_run").set_value("finished")
    app.button(key="FormSubmitter:alert_form_run-Add alert").click().run()
    [rule] = list_alerts(store, "run", run_id, viewer=SYSTEM)
    assert rule.spec.kind == "finished" and rule.error == ""
    # The app's own evaluator thread checks every 5 s and may fire the rule first: either way it
    # fires once, with the run's final status.
    assert evaluate_alerts(store) in ([rule.id], [])
    [rule] = list_alerts(store, "run", run_id, viewer=SYSTEM)
    assert rule.fired_at is not None and "finished (succeeded)" in rule.message
    assert evaluate_alerts(store) == []
    app.run()
    assert any("Alert fired" in w.value and "finished (succeeded)" in plain(w.value) for w in app.warning)

    app.text_input(key="alert_url_run").set_value("not a url")
    app.button(key="FormSubmitter:alert_form_run-Add alert").click().run()
    assert any("The alert was saved, but its URL cannot be used" in plain(e.value) for e in app.error)
    assert len(list_alerts(store, "run", run_id, viewer=SYSTEM)) == 2
