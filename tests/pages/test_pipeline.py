from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.pipeline import get_draft
from core.pipeline import list_versions
from core.store import SYSTEM
from core.store import open_store
from tests.pages.conftest import open_page
from tests.pages.conftest import plain

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _param(at: AppTest, key: str) -> str | None:
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def _new_pipeline(at: AppTest, name: str) -> str:
    store = open_store(get_config())
    housing = ingest_file(store, ASSETS / "housing.csv", "csv", "housing")
    open_page(at, "pages/pipeline.py")
    at.selectbox(key="new_dataset").set_value(housing.id)
    at.text_input(key="new_name").set_value(name).run()
    at.button(key="new_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    draft_id = _param(at, "pipeline")
    assert draft_id
    return draft_id


def _add(at: AppTest, step_type: str) -> None:
    at.selectbox(key="add_type").set_value(step_type)
    at.button(key="add_go").click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_build_edit_preview_and_version(app: AppTest) -> None:
    draft_id = _new_pipeline(app, "prep one")
    store = open_store(get_config())
    assert get_draft(store, draft_id, viewer=SYSTEM).spec.target == "price"
    _add(app, "fill_missing")
    assert _param(app, "node") == "s2"
    app.multiselect(
        key=next(w.key for w in app.multiselect if w.key.startswith("param_s2_columns"))
    ).set_value(["rooms", "age_years"])
    app.button(
        key=next(b.key for b in app.button if "FormSubmitter" in (b.key or "") or b.label == "Apply")
    ).click().run()
    assert not app.exception, [e.value for e in app.exception]
    step = get_draft(store, draft_id, viewer=SYSTEM).spec.nodes[1].step
    assert step.columns == ["rooms", "age_years"]
    counts = next(d.value for d in app.dataframe if "rows after" in d.value.columns)
    assert counts["node"].tolist() == ["s1", "s2"]
    app.button(key="save_version").click().run()
    assert [v.version for v in list_versions(store, draft_id, viewer=SYSTEM)] == [1]


def test_invalid_step_is_pinned_to_its_node(app: AppTest) -> None:
    _new_pipeline(app, "prep two")
    _add(app, "standardize")
    key = next(w.key for w in app.multiselect if w.key.startswith("param_s2_columns"))
    app.multiselect(key=key).set_value(["neighbourhood"])
    app.button(key=next(b.key for b in app.button if b.label == "Apply")).click().run()
    messages = [plain(e.value) for e in app.error]
    assert any("Node 's2' (Standardize (z-score))" in m and "not numeric" in m for m in messages), messages


def test_bad_import_is_explained(app: AppTest) -> None:
    _new_pipeline(app, "prep three")
    app.text_area(key="import_text").set_value(
        '{"type": "pipeline", "nodes": [{"id": "x", "type": "rm"}]}'
    ).run()
    app.button(key="import_go").click().run()
    assert not app.exception
    assert any("Unknown step 'rm'. Valid steps are" in plain(e.value) for e in app.error)


def test_move_and_delete_answer_in_one_run(app: AppTest) -> None:
    """Buttons edit the draft in a callback before the script runs: the run that follows the
    click already shows the result."""
    draft_id = _new_pipeline(app, "prep moves")
    store = open_store(get_config())
    _add(app, "fill_missing")
    _add(app, "drop_duplicates")
    assert _param(app, "node") == "s3"

    def order() -> list[str]:
        return [n.id for n in get_draft(store, draft_id, viewer=SYSTEM).spec.ordered()]

    assert order() == ["s1", "s2", "s3"]
    app.button(key="up_s3").click().run()
    assert order() == ["s1", "s3", "s2"]
    assert app.subheader[0].value.endswith("(s3)")
    app.button(key="del_s3").click().run()
    assert order() == ["s1", "s2"]
    assert _param(app, "node") is None
    assert not [b for b in app.button if b.key == "del_s3"]  # the page already drew the result
