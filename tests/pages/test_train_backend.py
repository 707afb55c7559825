"""The Train page's Keras backend: refused with the install command when no worker has it, and
otherwise carried into the run's spec (a real PyTorch run) and into "Tweak and rerun"."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import ingest_file
from core.store import SYSTEM
from core.store import list_runs
from core.store import open_store
from tests.conftest import wait_until_ended
from tests.pages.conftest import open_page
from tests.pages.conftest import plain

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _iris(store):  # type: ignore[no-untyped-def]
    return ingest_file(store, ASSETS / "iris.csv", "csv", "iris")


# First in the module: the module's cluster has not been asked about its backends yet (the
# answer is kept a minute), so its worker (in this process) reports JAX missing.
def test_a_backend_no_worker_has_is_named_with_its_install_command_and_not_launched(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jax", None)  # Python's own switch: jax cannot be imported
    store = open_store(get_config())
    ds = _iris(store)
    open_page(app, "pages/train.py", dataset=ds.id)
    assert app.selectbox(key="train_backend").value == "tensorflow"
    assert app.selectbox(key="train_backend").options == ["TensorFlow", "JAX", "PyTorch"]
    app.selectbox(key="train_backend").set_value("jax").run()
    errors = [plain(e.value) for e in app.error]
    assert any(
        "The JAX backend is not installed on any worker" in e and "pip install -r requirements-jax.txt" in e
        for e in errors
    ), errors
    before = len(list_runs(store, kind="train", viewer=SYSTEM))
    app.button(key="train_launch").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(list_runs(store, kind="train", viewer=SYSTEM)) == before  # nothing submitted
    assert sum("The JAX backend is not installed" in plain(e.value) for e in app.error) >= 2


@pytest.mark.slow
def test_pytorch_choice_reaches_the_spec_and_tweak_and_rerun_keeps_it(app: AppTest) -> None:
    store = open_store(get_config())
    ds = _iris(store)
    open_page(app, "pages/train.py", dataset=ds.id)
    app.selectbox(key="train_backend").set_value("torch").run()
    assert not app.error, [plain(e.value) for e in app.error]
    app.number_input(key="train_epochs").set_value(2)
    app.button(key="train_launch").click().run()
    assert not app.exception, [e.value for e in app.exception]
    run = next(r for r in list_runs(store, kind="train", viewer=SYSTEM) if r.dataset_id == ds.id)
    assert run.spec["backend"] == "torch"
    run = wait_until_ended(store, run.id, 180)
    assert run.status == "succeeded", run.status_reason
    assert run.result_json["environment"]["backend"] == "torch"

    rerun = AppTest.from_file(app._script_path, default_timeout=60)  # a fresh session
    open_page(rerun, "pages/train.py", from_run=run.id)
    assert rerun.selectbox(key="train_backend").value == "torch"
