from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.sharing import create_team
from core.sharing import create_user
from core.sharing import set_admin
from core.store import SYSTEM
from core.store import Dataset
from core.store import open_store
from tests.pages.conftest import APP
from tests.pages.conftest import open_page


def test_admin_shows_disk_use_per_user_team_and_project(app: AppTest, app_env: Path) -> None:
    store = open_store(get_config())
    with store.session(SYSTEM) as s:
        row = Dataset(name="d", content_hash="2" * 64, author="ann", team="lab", profile_json={})
        s.add(row)
        s.flush()
        dataset_id = row.id
    store.path_for("datasets", dataset_id, ".parquet").write_bytes(b"x" * 3000)
    open_page(app, "pages/admin.py")
    tables = dict(
        zip(
            ("disk_use_user", "disk_use_team", "disk_use_project"),
            (t.value for t in list(app.dataframe)[:3]),  # then the audit log's
            strict=True,
        )
    )
    users = tables["disk_use_user"]
    ann = users[users["user"] == "ann"].iloc[0]
    assert (ann["datasets"], ann["total"]) == ("2.9 KiB", "2.9 KiB")
    teams = tables["disk_use_team"]
    assert teams[teams["team"] == "lab"].iloc[0]["datasets"] == "2.9 KiB"
    assert any("Default (ann)" == name for name in tables["disk_use_project"]["project"])


def test_admin_asks_a_visitor_to_sign_in_with_accounts_on(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_AUTH", "on")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/admin.py")
    at.run()
    assert not at.exception
    assert "Sign in to Loom" in [t.value for t in at.title]
    assert not at.dataframe


def test_the_local_user_reads_the_audit_log(app: AppTest, app_env: Path) -> None:
    """Accounts off: the one user is the site admin."""
    store = open_store(get_config())
    create_team(store, "audited-team", actor="cli:op")
    open_page(app, "pages/admin.py")
    assert not app.exception
    audit = app.dataframe[-1].value
    row = audit[audit["target"] == "team audited-team"].iloc[0]
    assert (row["actor"], row["action"]) == ("cli:op", "team.create")
    app.text_input(key="audit_actor").set_value("nobody").run()
    assert "No audit events match." in [i.value for i in app.info]


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.run()
    at.text_input(key="sign_in_name").set_value(name)
    at.text_input(key="sign_in_password").set_value(password)
    next(b for b in at.button if "sign_in" in (b.key or "")).click().run()
    at.run()
    return at


def test_with_accounts_on_only_site_admins_see_the_admin_page(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_AUTH", "on")
    store = open_store(get_config())
    for name in ("root", "plain"):
        try:
            create_user(store, name, f"{name}-password-123")
        except Exception:  # noqa: BLE001 - made by an earlier test of this module
            pass
    set_admin(store, "root", True)

    plain = _sign_in(AppTest.from_file(APP, default_timeout=60), "plain", "plain-password-123")
    plain.switch_page("pages/admin.py")
    plain.run()
    assert not plain.exception
    assert any("for site admins" in e.value for e in plain.error)
    assert not plain.dataframe and "Disk use" not in [h.value for h in plain.subheader]

    root = _sign_in(AppTest.from_file(APP, default_timeout=60), "root", "root-password-123")
    root.switch_page("pages/admin.py")
    root.run()
    assert not root.exception
    assert {"Disk use", "Audit log"} <= {h.value for h in root.subheader}
    audit = root.dataframe[-1].value
    assert {"user.admin_grant", "signin.success"} <= set(audit["action"])
    root.selectbox(key="audit_action").set_value("signin").run()
    assert set(root.dataframe[-1].value["action"]) <= {"signin.success", "signin.failure", "signin.signout"}


def test_a_restored_store_opens_in_the_app_with_everything_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backed up, restored into a new data directory, then served: the run is on the Jobs page,
    the dataset on the Data page."""
    from core.config import AppConfig
    from core.ops import backup
    from core.ops import restore
    from core.store import create_run
    from core.store import write_metrics
    from tests.pages.conftest import _env
    from tests.pages.conftest import _release

    source = open_store(AppConfig.for_data_dir(tmp_path / "source"))
    with source.session(SYSTEM) as s:
        data = Dataset(name="RESTORED-DATA", content_hash="3" * 64, author="ann", profile_json={})
        s.add(data)
    smoke = {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}
    run = create_run(source, "smoke", smoke, name="RESTORED-RUN", author="ann")
    write_metrics(source, run.id, [("loss", i, 1.0 / (i + 1), 0.0) for i in range(10)])
    made = backup(source, tmp_path / "backup")
    target = tmp_path / "restored"
    restore(made.path, target)
    for name, value in _env(target).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LOOM_DATABASE_URL", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    monkeypatch.setenv("LOOM_USER", "ann")  # the local user, whose Default project the page opens
    try:
        at = AppTest.from_file(APP, default_timeout=60)
        open_page(at, "pages/jobs.py", run=run.id)
        assert "RESTORED-RUN" in _shown(at)
        open_page(at, "pages/data.py")
        assert "RESTORED-DATA" in _shown(at)
    finally:
        _release(target)


def _shown(at: AppTest) -> str:
    out: list[str] = []

    def walk(node) -> None:  # type: ignore[no-untyped-def]
        if (proto := getattr(node, "proto", None)) is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)
