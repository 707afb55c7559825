"""Accounts (LOOM_AUTH=on), page by page: signing in, every page working for a signed-in user,
others' things answering as missing, and share parameters never standing in for a sign-in."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.sharing import NOT_FOUND
from core.sharing import add_member
from core.sharing import create_link
from core.sharing import create_team
from core.sharing import create_user
from core.store import SYSTEM
from core.store import Dataset
from core.store import Study
from core.store import Viewer
from core.store import create_run
from core.store import open_store
from tests.conftest import ROOT
from tests.pages.conftest import APP

PAGES = sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_"))
SMOKE = {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}


def _ensure(store, fn, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        fn(store, *args)
    except Exception:  # noqa: BLE001 - already there from another test of the module
        pass


@pytest.fixture
def auth_app(app_env, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOOM_AUTH", "on")
    store = open_store(get_config())
    for name in ("ada", "bob", "cyd"):
        _ensure(store, create_user, name, f"{name}-password-123")
    _ensure(store, create_team, "lab")
    _ensure(store, add_member, "lab", "ada")
    return AppTest.from_file(APP, default_timeout=60)


@pytest.fixture
def adas_things(auth_app):  # type: ignore[no-untyped-def]
    """A private run, dataset and study of ada's, with names nobody else may see."""
    store = open_store(get_config())
    run = create_run(store, "smoke", SMOKE, name="ADA-SECRET-RUN", author="ada")
    with store.session(SYSTEM) as s:
        dataset = Dataset(name="ADA-SECRET-DATA", content_hash="1" * 64, author="ada", profile_json={})
        study = Study(name="ADA-SECRET-STUDY", optuna_study_name=f"o-{run.id}", author="ada")
        s.add_all([dataset, study])
        s.flush()
        ids = {"run": run.id, "dataset": dataset.id, "study": study.id}
    return ids


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.run()
    at.text_input(key="sign_in_name").set_value(name)
    at.text_input(key="sign_in_password").set_value(password)
    next(b for b in at.button if "sign_in" in (b.key or "")).click().run()
    if not at.error:
        at.run()  # the browser comes back from /_loom/session; here the tab keeps the session
    return at


def _everything_shown(at: AppTest) -> str:
    """Every element's content (labels, options, values, tables), as one text."""
    out: list[str] = []

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def test_everyone_signs_in_and_a_wrong_password_says_only_that(auth_app) -> None:  # type: ignore[no-untyped-def]
    auth_app.run()
    assert "Sign in to Loom" in [t.value for t in auth_app.title]
    _sign_in(auth_app, "cyd", "not-her-password")
    assert [e.value for e in auth_app.error] == ["Wrong user name or password."]
    _sign_in(auth_app, "nobody", "whatever-password")
    assert [e.value for e in auth_app.error] == ["Wrong user name or password."]
    _sign_in(auth_app, "cyd", "cyd-password-123")
    assert not auth_app.exception and "Sign in to Loom" not in [t.value for t in auth_app.title]
    assert any("Signed in as" in c.value and "cyd" in c.value for c in auth_app.sidebar.caption)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_signed_in_with_one_account_box(auth_app, page: str) -> None:  # type: ignore[no-untyped-def]
    _sign_in(auth_app, "ada", "ada-password-123")
    auth_app.switch_page(page)
    auth_app.run()
    assert not auth_app.exception, [e.value for e in auth_app.exception]
    assert [b.key for b in auth_app.sidebar.button].count("sign_out") == 1
    assert sum("Signed in as" in c.value for c in auth_app.sidebar.caption) == 1
    assert "Sign in to Loom" not in [t.value for t in auth_app.title]


@pytest.mark.parametrize("param", ["share", "token"])
@pytest.mark.parametrize("page", PAGES)
def test_share_parameters_never_replace_signing_in(auth_app, adas_things, page: str, param: str) -> None:  # type: ignore[no-untyped-def]
    """An anonymous visitor with a bogus ?share= or ?token= gets the sign-in form (or the
    not-found of a link), and not one name, ID or count of anyone's things."""
    auth_app.run()
    auth_app.switch_page(page)
    auth_app.query_params[param] = "x" * 43
    for key, value in adas_things.items():  # A's IDs in the URL too
        auth_app.query_params[key] = value
    auth_app.run()
    assert not auth_app.exception, [e.value for e in auth_app.exception]
    titles = [t.value for t in auth_app.title]
    errors = [e.value for e in auth_app.error]
    assert "Sign in to Loom" in titles or NOT_FOUND in errors, (titles, errors)
    shown = _everything_shown(auth_app)
    for name in ("ADA-SECRET-RUN", "ADA-SECRET-DATA", "ADA-SECRET-STUDY"):
        assert name not in shown
    assert not auth_app.file_uploader if hasattr(auth_app, "file_uploader") else True


@pytest.mark.parametrize("page", PAGES)
def test_another_user_sees_nothing_of_adas_even_at_her_urls(auth_app, adas_things, page: str) -> None:  # type: ignore[no-untyped-def]
    _sign_in(auth_app, "bob", "bob-password-123")
    auth_app.switch_page(page)
    params = {"run": adas_things["run"], "dataset": adas_things["dataset"], "study": adas_things["study"]}
    params |= {"from_run": adas_things["run"], "base": adas_things["run"], "model": adas_things["run"]}
    params |= {"runs": f"{adas_things['run']},{'e' * 32}", "ingest": adas_things["run"]}
    for key, value in params.items():
        auth_app.query_params[key] = value
    auth_app.run()
    assert not auth_app.exception, [e.value for e in auth_app.exception]
    shown = _everything_shown(auth_app)
    for name in ("ADA-SECRET-RUN", "ADA-SECRET-DATA", "ADA-SECRET-STUDY"):
        assert name not in shown, f"{page} shows {name} to bob"


def test_others_runs_are_not_found_but_a_share_link_opens_them(auth_app) -> None:  # type: ignore[no-untyped-def]
    store = open_store(get_config())
    bobs = create_run(store, "smoke", SMOKE, author="bob", name="BOBS-RUN")
    other = create_run(store, "smoke", SMOKE, author="bob", name="BOBS-OTHER-RUN")
    _sign_in(auth_app, "ada", "ada-password-123")
    auth_app.switch_page("pages/jobs.py")
    auth_app.query_params["run"] = bobs.id
    auth_app.run()
    assert not auth_app.exception
    assert "BOBS-RUN" not in _everything_shown(auth_app), "ada must not see bob's run"
    token = create_link(store, "run", bobs.id, viewer=Viewer(name="bob"))
    anonymous = AppTest.from_file(APP, default_timeout=60)
    anonymous.run()
    anonymous.switch_page("pages/share.py")
    anonymous.query_params["token"] = token
    anonymous.run()
    assert not anonymous.exception
    assert any(f"run `{bobs.id}`" in c.value for c in anonymous.caption)
    shown = _everything_shown(anonymous)
    assert "BOBS-OTHER-RUN" not in shown  # exactly what was shared
    # The same token on another page, or for another run, opens nothing.
    anonymous.switch_page("pages/jobs.py")
    anonymous.query_params.clear()
    anonymous.query_params["share"] = token
    anonymous.query_params["run"] = other.id
    anonymous.run()
    assert NOT_FOUND in [e.value for e in anonymous.error]
    assert "BOBS-OTHER-RUN" not in _everything_shown(anonymous)
    anonymous.switch_page("pages/data.py")
    anonymous.run()
    assert "Sign in to Loom" in [t.value for t in anonymous.title]


def test_a_member_removed_from_a_team_is_told_at_the_next_page(auth_app) -> None:  # type: ignore[no-untyped-def]
    from core.sharing import remove_member

    store = open_store(get_config())
    at = _sign_in(auth_app, "ada", "ada-password-123")
    at.switch_page("pages/experiments.py").run()
    assert not at.exception and not at.info or all("no longer" not in i.value for i in at.info)
    remove_member(store, "lab", "ada")
    try:
        at.switch_page("pages/jobs.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("no longer a member of team lab" in i.value for i in at.info)
    finally:
        add_member(store, "lab", "ada")


def test_a_dataset_owner_changes_who_sees_it_and_is_told(auth_app) -> None:  # type: ignore[no-untyped-def]
    store = open_store(get_config())
    with store.session(SYSTEM) as s:
        row = Dataset(
            name="ADA-TEAM-LATER", content_hash="2" * 64, author="ada", profile_json={"columns": []}
        )
        s.add(row)
        s.flush()
        dataset_id = row.id
    at = _sign_in(auth_app, "ada", "ada-password-123")
    at.switch_page("pages/data.py")
    at.query_params["dataset"] = dataset_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key=f"team_dataset_{dataset_id}").set_value("lab").run()
    at.button(key=f"team_apply_dataset_{dataset_id}").click().run()
    assert any("now visible to team lab" in m.value for m in at.success)
    with store.session(SYSTEM) as s:
        assert s.get(Dataset, dataset_id).team == "lab"


def test_a_single_sign_on_is_one_audited_sign_in_per_browser_session(auth_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Streamlit's OIDC identity (``st.user``, stood in for by ``_sso_email``: no identity
    provider runs here) signs its account in: the first run of the session records the sign-in,
    every rerun after it resolves the same person and records nothing."""
    import pages._ui as ui
    from core.ops import read_audit

    store = open_store(get_config())
    _ensure(store, create_user, "eve", "eve-password-123", "eve@example.org")
    monkeypatch.setattr(ui, "_sso_email", lambda: "eve@example.org")

    def sign_ins() -> int:
        return sum(
            1 for e in read_audit(store, limit=10_000) if (e.actor, e.action) == ("eve", "signin.success")
        )

    before = sign_ins()
    auth_app.run()
    auth_app.run()
    auth_app.run()
    assert not auth_app.exception
    assert any("Signed in as **eve**" in c.value for c in auth_app.sidebar.caption)
    assert sign_ins() == before + 1
