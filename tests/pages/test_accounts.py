"""Accounts (LOOM_AUTH=on): sign-in, own runs only, share links still open without signing in."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.sharing import NOT_FOUND
from core.sharing import create_link
from core.sharing import create_user
from core.store import create_run
from core.store import open_store
from tests.pages.conftest import APP


@pytest.fixture
def auth_app(app_env, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOOM_AUTH", "on")
    store = open_store(get_config())
    for name in ("ada", "bob"):
        try:
            create_user(store, name, f"{name}-password-123")
        except Exception:  # noqa: BLE001 - already there from another test of the session
            pass
    return AppTest.from_file(APP, default_timeout=60)


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.run()
    at.text_input(key="sign_in_name").set_value(name)
    at.text_input(key="sign_in_password").set_value(password)
    next(b for b in at.button if "sign_in" in (b.key or "")).click().run()
    return at


def test_everyone_signs_in_and_a_wrong_password_says_only_that(auth_app) -> None:  # type: ignore[no-untyped-def]
    auth_app.run()
    assert "Sign in to Loom" in [t.value for t in auth_app.title]
    _sign_in(auth_app, "ada", "not-her-password")
    assert [e.value for e in auth_app.error] == ["Wrong user name or password."]
    _sign_in(auth_app, "nobody", "whatever-password")
    assert [e.value for e in auth_app.error] == ["Wrong user name or password."]
    _sign_in(auth_app, "ada", "ada-password-123")
    assert not auth_app.exception and "Sign in to Loom" not in [t.value for t in auth_app.title]


def test_others_runs_are_not_found_but_a_share_link_opens_them(auth_app) -> None:  # type: ignore[no-untyped-def]
    store = open_store(get_config())
    bobs = create_run(
        store, "smoke", {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}, author="bob"
    )
    _sign_in(auth_app, "ada", "ada-password-123")
    auth_app.switch_page("pages/jobs.py")
    auth_app.query_params["run"] = bobs.id
    auth_app.run()
    assert not auth_app.exception
    assert not any(bobs.id in c.value for c in auth_app.caption), "ada must not see bob's run"
    assert NOT_FOUND in [e.value for e in auth_app.error] or any(
        "No runs yet" in i.value for i in auth_app.info
    )
    token = create_link(store, "run", bobs.id, owner="bob")
    anonymous = AppTest.from_file(APP, default_timeout=60)
    anonymous.run()
    anonymous.switch_page("pages/share.py")
    anonymous.query_params["token"] = token
    anonymous.run()
    assert not anonymous.exception
    assert any(f"run `{bobs.id}`" in c.value for c in anonymous.caption)
