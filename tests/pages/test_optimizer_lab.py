from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.pages.conftest import open_page
from tests.pages.conftest import plain


def test_lab_draws_paths_and_losses(app: AppTest) -> None:
    open_page(app, "pages/optimizer_lab.py")
    assert len(app.get("plotly_chart")) == 2
    table = app.dataframe[0].value
    assert table["optimizer"].tolist() == ["sgd", "momentum", "adam"]


def test_lab_explains_bad_choices(app: AppTest) -> None:
    open_page(app, "pages/optimizer_lab.py")
    app.multiselect(key="lab_opts").set_value([]).run()
    assert "Pick 1 to 4 optimizers" in plain(app.error[0].value)
    app.multiselect(key="lab_opts").set_value(["sgd"]).run()
    app.number_input(key="lab_lr_bowl").set_value(5.0).run()
    assert any("diverged" in w.value for w in app.warning)
