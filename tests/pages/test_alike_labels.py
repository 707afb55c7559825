"""Widgets whose options are IDs keep the one picked even when two are shown alike: a selectbox
keeps its choice by the option's text, so two uploads of the same file (same name, same rows)
used to turn a pick of the second into the first."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.store import open_store
from pages._ui import distinct
from tests.pages.conftest import open_page


def test_distinct_adds_the_id_only_where_texts_are_alike() -> None:
    labels = {"aaaaaaaa1": "iris", "bbbbbbbb2": "iris", "cccccccc3": "wine"}
    assert distinct(labels) == {
        "aaaaaaaa1": "iris · aaaaaaaa",
        "bbbbbbbb2": "iris · bbbbbbbb",
        "cccccccc3": "wine",
    }
    unique = {"a": "x", "b": "y"}
    assert distinct(unique) is unique


def test_picking_the_second_of_two_alike_datasets_keeps_it(app: AppTest, tmp_path: Path) -> None:
    store = open_store(get_config())
    (tmp_path / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "b.csv").write_text("x,y\n3,4\n")  # another file of the same name and size
    first = ingest_file(store, tmp_path / "a.csv", "csv", "export")
    second = ingest_file(store, tmp_path / "b.csv", "csv", "export")
    assert first.id != second.id
    open_page(app, "pages/experiments.py")
    box = app.selectbox(key="exp_dataset")
    box.set_value(second.id).run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="exp_dataset").value == second.id
    assert app.query_params.get("dataset") in (second.id, [second.id])
