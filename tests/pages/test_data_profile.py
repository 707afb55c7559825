"""The Data page never shows an estimate as exact, and names a profile that failed (issue 28)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.store import open_store
from tests.pages.conftest import open_page
from tests.pages.conftest import plain


def _columns_table(at: AppTest):  # type: ignore[no-untyped-def]
    frame = next(d.value for d in at.dataframe if "unique" in d.value.columns)
    return frame.set_index("column")


def test_estimates_are_shown_with_their_bounds(app: AppTest, tmp_path: Path) -> None:
    csv = tmp_path / "wide.csv"
    csv.write_text(
        "id,x,name,group\n" + "".join(f"{i},{i * 0.37 % 11},user{i},g{i % 4}\n" for i in range(6000))
    )
    dataset = ingest_file(open_store(get_config()), csv, "csv", "wide")
    open_page(app, "pages/data.py", dataset=dataset.id)
    assert not app.exception, [e.value for e in app.exception]
    table = _columns_table(app)
    for name in ("id", "name"):  # 6,000 distinct values: a sketch's estimate
        assert table.loc[name, "unique"].startswith("≈ ") and " ± " in table.loc[name, "unique"]
    assert table.loc["group", "unique"] == "4"  # counted exactly
    assert table.loc["x", "median"].startswith("≈ ") and " ± " in table.loc["x", "median"]
    assert not table.loc["id", "mean"].startswith("≈")  # exact figures stay plain


def test_a_failed_profile_is_named_and_the_dataset_stays_usable(
    app: AppTest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ValueError("a column of only NaN")

    csv = tmp_path / "broken.csv"
    csv.write_text("a,b\n1,x\n2,y\n3,z\n")
    with monkeypatch.context() as patch:  # only the ingest (the app's settings are patched too)
        patch.setattr("core.data._sketch._numeric_part", broken)
        dataset = ingest_file(open_store(get_config()), csv, "csv", "broken")
    open_page(app, "pages/data.py", dataset=dataset.id)
    assert not app.exception, [e.value for e in app.exception]
    warnings = [plain(w.value) for w in app.warning]
    assert any("profile of column a failed" in w and "a column of only NaN" in w for w in warnings), warnings
    assert {m.label: m.value for m in app.metric}["Rows"] == "3"
    assert _columns_table(app).loc["b", "unique"] == "3"
