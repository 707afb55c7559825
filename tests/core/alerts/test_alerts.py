"""Alert rules on real stores: each kind fires once, is recorded as a run event and reaches a
real local webhook receiver through Apprise's json:// URL; a malformed or unreachable URL is
saved with its error and leaves the run alone; two processes evaluating at once fire once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlalchemy import select

from core.alerts import ALERT_URLS_ENV
from core.alerts import RULE_URLS_ENV
from core.alerts import AlertSpec
from core.alerts import add_alert
from core.alerts import check_url
from core.alerts import delete_alert
from core.alerts import evaluate_alerts
from core.alerts import list_alerts
from core.compute import transition
from core.compute._lifecycle import Failed
from core.compute._lifecycle import Started
from core.compute._lifecycle import Succeeded
from core.config import AppConfig
from core.errors import NotFoundError
from core.errors import PermissionDeniedError
from core.errors import SpecError
from core.store import SYSTEM
from core.store import AlertRule
from core.store import Run
from core.store import Store
from core.store import Viewer
from core.store import create_run
from core.store import get_events
from core.store import get_run
from core.store import open_store
from core.store import utcnow
from core.store import write_metrics

ROOT = Path(__file__).resolve().parents[3]


class _Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self) -> None:
        received: list[dict] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    yield r
    r.close()


def _owner(store: Store) -> Viewer:
    return Viewer("ada", ("lab",))


def _run(store: Store, author: str = "ada") -> str:
    return create_run(store, "smoke", {}, name="alerted", author=author, team="lab").id


def _alerts(store: Store, run_id: str) -> list[str]:
    return [e.message for e in get_events(store, run_id, viewer=_owner(store)) if e.kind == "alert"]


def test_a_failed_run_fires_once_into_a_local_webhook(config: AppConfig, receiver: _Receiver) -> None:
    store = open_store(config)
    who = _owner(store)
    run_id = _run(store)
    rule = add_alert(store, "run", run_id, AlertSpec("failed", url=receiver.url), viewer=who)
    assert rule.error == "" and rule.fired_at is None
    transition(store, run_id, Started("tcp://127.0.0.1:1"))
    assert evaluate_alerts(store) == []  # running: nothing yet
    transition(store, run_id, Failed("the loss became NaN"))

    assert evaluate_alerts(store) == [rule.id]
    assert evaluate_alerts(store) == []  # once
    assert len(receiver.received) == 1
    sent = receiver.received[0]
    assert "failed: the loss became NaN" in sent["message"] and sent["title"].startswith("Loom alert")
    assert _alerts(store, run_id) == [sent["message"]]
    [stored] = list_alerts(store, "run", run_id, viewer=who)
    assert stored.fired_at is not None and stored.fired_run_id == run_id and stored.error == ""


def test_operator_urls_receive_every_alert(
    config: AppConfig, receiver: _Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALERT_URLS_ENV, f"  {receiver.url} ,")
    store = open_store(config)
    run_id = _run(store)
    add_alert(store, "run", run_id, AlertSpec("finished"), viewer=_owner(store))
    transition(store, run_id, Started("w"))
    transition(store, run_id, Succeeded())
    evaluate_alerts(store)
    assert [m["message"] for m in receiver.received] == _alerts(store, run_id)
    assert "finished (succeeded)" in receiver.received[0]["message"]


def test_with_no_url_an_alert_shows_in_the_app_only(
    config: AppConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALERT_URLS_ENV, raising=False)
    store = open_store(config)
    run_id = _run(store)
    rule = add_alert(store, "run", run_id, AlertSpec("finished"), viewer=_owner(store))
    transition(store, run_id, Started("w"))
    transition(store, run_id, Succeeded())
    assert evaluate_alerts(store) == [rule.id]
    [stored] = list_alerts(store, "run", run_id, viewer=_owner(store))
    assert stored.error == "" and "finished" in stored.message
    assert len(_alerts(store, run_id)) == 1


VAL_LOSS = [0.9, 0.8, 0.6, 0.45, 0.3, 0.2]


@pytest.mark.parametrize(("op", "threshold", "fires_at"), [("below", 0.45, 4), ("above", 0.95, None)])
def test_a_metric_crossing_a_threshold(
    config: AppConfig, op: str, threshold: float, fires_at: int | None
) -> None:
    store = open_store(config)
    run_id = _run(store)
    rule = add_alert(
        store, "run", run_id, AlertSpec("threshold", "epoch/val_loss", op, threshold), viewer=_owner(store)
    )
    transition(store, run_id, Started("w"))
    now = time.time()
    write_metrics(store, run_id, [("epoch/val_loss", i, VAL_LOSS[i], now) for i in range(3)])
    write_metrics(store, run_id, [("epoch/loss", 9, 0.1, now)])  # another key never counts
    assert evaluate_alerts(store) == []
    write_metrics(store, run_id, [("epoch/val_loss", i, VAL_LOSS[i], now) for i in range(3, 6)])
    fired = evaluate_alerts(store)
    assert fired == ([rule.id] if fires_at is not None else [])
    if fires_at is not None:
        [message] = _alerts(store, run_id)
        # strictly below: 0.45 at step 3 does not count; 0.3 at step 4 fires, and only once
        assert message.endswith(f"epoch/val_loss = 0.3 at step {fires_at}, below 0.45.")
        assert evaluate_alerts(store) == []


def test_no_progress_for_n_minutes(config: AppConfig) -> None:
    store = open_store(config)
    run_id = _run(store)
    rule = add_alert(store, "run", run_id, AlertSpec("stalled", minutes=5), viewer=_owner(store))
    transition(store, run_id, Started("w"))
    write_metrics(store, run_id, [("batch/loss", 1, 0.5, time.time() - 240)])
    assert evaluate_alerts(store) == []  # 4 minutes ago
    assert evaluate_alerts(store, now=utcnow() + timedelta(minutes=2)) == [rule.id]
    [message] = _alerts(store, run_id)
    assert "no new point for 6.0 min (rule: 5 min)" in message


def test_a_malformed_url_is_saved_with_its_error_and_the_run_is_unaffected(config: AppConfig) -> None:
    store = open_store(config)
    run_id = _run(store)
    rule = add_alert(store, "run", run_id, AlertSpec("failed", url="not a url at all"), viewer=_owner(store))
    assert "is not a notification URL" in rule.error and "json://host:port/path" in rule.error
    unknown = add_alert(
        store, "run", run_id, AlertSpec("failed", url="nosuchservice://x"), viewer=_owner(store)
    )
    assert "Apprise does not understand nosuchservice://x" in unknown.error
    transition(store, run_id, Started("w"))
    transition(store, run_id, Failed("boom"))
    assert sorted(evaluate_alerts(store)) == sorted([rule.id, unknown.id])  # fired, shown in the app
    assert get_run(store, run_id, viewer=_owner(store)).status == "failed"
    assert len(_alerts(store, run_id)) == 2


def test_an_unreachable_url_records_the_error(config: AppConfig) -> None:
    store = open_store(config)
    run_id = _run(store)
    # A port nobody listens on: the connection is refused at once.
    rule = add_alert(
        store, "run", run_id, AlertSpec("failed", url="json://127.0.0.1:9/hook"), viewer=_owner(store)
    )
    assert rule.error == ""
    transition(store, run_id, Started("w"))
    transition(store, run_id, Failed("boom"))
    assert evaluate_alerts(store) == [rule.id]
    [stored] = list_alerts(store, "run", run_id, viewer=_owner(store))
    assert "could not deliver to json://127.0.0.1/…" in stored.error
    assert stored.fired_at is not None and len(_alerts(store, run_id)) == 1


def test_bad_rules_and_other_peoples_runs_are_refused(config: AppConfig) -> None:
    store = open_store(config)
    with pytest.raises(SpecError, match="Valid alerts are: failed, finished"):
        AlertSpec("exploded")
    with pytest.raises(SpecError, match="needs a finite value"):
        AlertSpec("threshold", "loss", "above", float("nan"))
    with pytest.raises(SpecError, match="0 < minutes"):
        AlertSpec("stalled", minutes=0)
    assert AlertSpec.from_dict(AlertSpec("threshold", "loss", "below", 0.1).to_dict()) == AlertSpec(
        "threshold", "loss", "below", 0.1
    )
    run_id = _run(store)
    with pytest.raises(SpecError, match="watches a study"):
        add_alert(store, "run", run_id, AlertSpec("best"), viewer=_owner(store))
    with pytest.raises(PermissionDeniedError, match="Only the owner"):  # a teammate sees, not changes
        add_alert(store, "run", run_id, AlertSpec("failed"), viewer=Viewer("bob", ("lab",)))
    with pytest.raises(NotFoundError):
        list_alerts(store, "run", run_id, viewer=Viewer("eve", ("other",)))
    rule = add_alert(store, "run", run_id, AlertSpec("failed"), viewer=_owner(store))
    delete_alert(store, rule.id, viewer=_owner(store))
    assert list_alerts(store, "run", run_id, viewer=_owner(store)) == []


def test_check_url() -> None:
    assert check_url("json://127.0.0.1:8080/hook") == ""
    assert "not a notification URL" in check_url("http//oops")


_EVALUATE = """
import sys
from core.alerts import evaluate_alerts
from core.config import AppConfig
from core.store import open_store
store = open_store(AppConfig.for_data_dir(sys.argv[1]))
fired = []
for _ in range(20):
    fired += evaluate_alerts(store)
print(len(fired))
"""


def test_two_processes_evaluating_at_once_fire_once(config: AppConfig, receiver: _Receiver) -> None:
    store = open_store(config)
    run_ids = [_run(store) for _ in range(5)]
    for run_id in run_ids:
        add_alert(store, "run", run_id, AlertSpec("failed", url=receiver.url), viewer=_owner(store))
        transition(store, run_id, Started("w"))
        transition(store, run_id, Failed("boom"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _EVALUATE, str(config.data_dir)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    counts = [int(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert sum(counts) == 5
    assert all(len(_alerts(store, r)) == 1 for r in run_ids)
    assert len(receiver.received) == 5


def test_rules_on_a_deleted_run_go_with_it(config: AppConfig) -> None:
    store = open_store(config)
    run_id = _run(store)
    add_alert(store, "run", run_id, AlertSpec("failed"), viewer=_owner(store))
    with store.session(SYSTEM) as s:
        s.delete(s.get(Run, run_id))
    assert evaluate_alerts(store) == []
    with store.session(SYSTEM) as s:
        assert s.scalar(select(func.count()).select_from(AlertRule)) == 0


def test_with_accounts_on_a_rules_own_url_needs_the_operator(
    tmp_path: Path, receiver: _Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(RULE_URLS_ENV, raising=False)
    store = open_store(AppConfig.for_data_dir(tmp_path / "data", auth=True))
    run_id = _run(store)
    rule = add_alert(store, "run", run_id, AlertSpec("failed", url=receiver.url), viewer=_owner(store))
    assert f"a rule's own URL is off ({RULE_URLS_ENV})" in rule.error
    transition(store, run_id, Started("w"))
    transition(store, run_id, Failed("boom"))
    assert evaluate_alerts(store) == [rule.id]  # fired in the app, not posted
    assert receiver.received == [] and len(_alerts(store, run_id)) == 1

    monkeypatch.setenv(RULE_URLS_ENV, "on")  # the operator allows them
    allowed = add_alert(store, "run", run_id, AlertSpec("failed", url=receiver.url), viewer=_owner(store))
    assert allowed.error == ""
    assert evaluate_alerts(store) == [allowed.id] and len(receiver.received) == 1


def test_threads_evaluating_at_once_fire_once_on_each_backend(store: Store) -> None:
    """The fired marker on SQLite and PostgreSQL: four evaluators racing over the same rules."""
    run_ids = [_run(store) for _ in range(6)]
    for run_id in run_ids:
        add_alert(store, "run", run_id, AlertSpec("failed"), viewer=_owner(store))
        transition(store, run_id, Started("w"))
        transition(store, run_id, Failed("boom"))
    fired: list[str] = []
    start = threading.Barrier(4)

    def evaluate() -> None:
        start.wait()
        for _ in range(3):
            fired.extend(evaluate_alerts(store))

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(fired) == len(set(fired)) == 6
    assert all(len(_alerts(store, r)) == 1 for r in run_ids)
