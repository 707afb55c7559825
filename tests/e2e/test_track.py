"""Runs from a script (core.track) in a real browser, accounts off and on: a script in its own
process logs 10,000 points while the Jobs page draws them, listed in Experiments as external;
Stop pressed on the page ends another script's ``model.fit``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from core.config import AppConfig
from core.sharing import create_user
from core.store import SYSTEM
from core.store import get_metrics
from core.store import get_run
from core.store import open_store
from tests.conftest import ROOT
from tests.e2e.conftest import AppServer
from tests.e2e.conftest import open_page
from tests.e2e.test_smoke_job import _wait_points_above
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@dataclass
class Seeded:
    server: AppServer
    config: AppConfig
    user: str | None


@pytest.fixture(scope="module", params=["accounts off", "accounts on"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    on = request.param == "accounts on"
    root = tmp_path_factory.mktemp("e2e-track")
    config = AppConfig.for_data_dir(root / "data")
    store = open_store(config)
    user = "ann" if on else None
    if on:
        create_user(store, "ann", "ann-password-long")
    store.engine.dispose()
    server = AppServer(root / "data", **({"LOOM_AUTH": "on"} if on else {}))
    yield Seeded(server, config, user)
    server.stop()


@pytest.fixture
def pg(browser, seeded: Seeded, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from open_page(browser, request, seeded.server.url, seeded.user)


def _script(seeded: Seeded, body: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOOM_DATA_DIR": str(seeded.config.data_dir)}
    env.pop("LOOM_DATABASE_URL", None)
    if seeded.user:
        env |= {"LOOM_AUTH": "on", "LOOM_USER": seeded.user}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(body)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _run_id(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if len(line) != 32:
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"the script printed {line!r}; stderr: {err[-3000:]}")
    return line


LOOP = """
    import time
    from core import track
    with track.run("script loop", {"lr": 0.01}) as run:
        print(run.id, flush=True)
        for step in range(10_000):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
            if step % 100 == 99:
                time.sleep(0.4)
"""


def test_a_script_run_is_drawn_live_and_listed_as_external(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    url = seeded.server.url
    proc = _script(seeded, LOOP)
    try:
        run_id = _run_id(proc)
        pg.goto(f"{url}/jobs?run={run_id}")
        pg.get_by_text("external: logged by a script").wait_for()
        first = _wait_points_above(pg, 0, timeout=60)
        assert first < 10_000
        _wait_points_above(pg, first + 500, timeout=60)  # the curve grows while the script logs
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
    _wait_points_above(pg, 9_999, timeout=60)
    pg.get_by_text("succeeded").first.wait_for()
    store = open_store(seeded.config)
    assert get_metrics(store, run_id, viewer=SYSTEM)["loss"].steps == list(range(10_000))
    if seeded.user:  # with accounts on, LOOM_USER says whose run it is
        assert get_run(store, run_id, viewer=SYSTEM).author == seeded.user
    pg.get_by_test_id("stPlotlyChart").first.wait_for()

    pg.goto(f"{url}/experiments")
    pg.get_by_text(re.compile(r"1 run\(s\)")).first.wait_for()
    grid = pg.get_by_test_id("stDataFrame")
    # The grid draws on a canvas; its cells are also in an off-screen table for accessibility.
    grid.get_by_text("script loop", exact=True).first.wait_for(state="attached")
    grid.get_by_text("external", exact=True).first.wait_for(state="attached")
    assert "Traceback" not in pg.content()


FIT = """
    import numpy as np, keras
    from core import track
    x = np.random.default_rng(0).standard_normal((256, 8)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int64")
    layers = [keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)]
    model = keras.Sequential(layers)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=loss)
    with track.run("script fit", {"epochs": 5000}) as run:
        print(run.id, flush=True)
        history = model.fit(x, y, epochs=5000, batch_size=16, verbose=0, callbacks=[track.KerasCallback(run)])
        print(len(history.history["loss"]), flush=True)
"""


def _click_until_stored(pg, config: AppConfig, run_id: str) -> None:  # type: ignore[no-untyped-def]
    """Click Stop until its request is in the store, at most three times; a click that never
    arrived is warned about (it shows in the test summary). This test is about the script taking
    the Stop; that every click arrives, at any moment, is test_twenty_stops_at_random_moments'."""
    from core.compute import control_log

    store = open_store(config)
    try:
        for attempt in range(3):
            pg.get_by_role("button", name="Stop").click()
            try:
                wait_until(
                    lambda: control_log(store, run_id, viewer=SYSTEM),
                    timeout=20,
                    what="the Stop request in the store",
                )
            except AssertionError:
                if attempt == 2:
                    raise
                warnings.warn(
                    f"a Stop click on run {run_id} was not stored in 20 s; clicked again", stacklevel=1
                )
            else:
                return
    finally:
        store.engine.dispose()


def test_stop_on_the_page_ends_the_scripts_fit(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    proc = _script(seeded, FIT)
    try:
        run_id = _run_id(proc)
        pg.goto(f"{seeded.server.url}/jobs?run={run_id}")
        _wait_points_above(pg, 20, timeout=120)
        _click_until_stored(pg, seeded.config, run_id)
        pg.get_by_text("Stop requested at").first.wait_for()
        out, err = proc.communicate(timeout=180)  # generous: two shared cores under a full test run
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert int(out.split()[-1]) < 5000  # the fit ended early
    pg.get_by_text("stopped on request").wait_for()
    store = open_store(seeded.config)
    assert get_run(store, run_id, viewer=SYSTEM).status == "stopped"


TWENTY = """
    import threading, time
    from core import track

    def one(i):
        with track.run(f"stop me {i}", {"i": i}) as run:
            print(run.id, flush=True)
            step = 0
            while not run.should_stop and step < 200_000:
                run.log({"loss": 1.0 / (step + 1)}, step=step)
                step += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
"""


def test_twenty_stops_at_random_moments_are_all_taken(seeded: Seeded, pg) -> None:  # type: ignore[no-untyped-def]
    """Twenty script runs, each stopped by one click that lands at a random moment of the live
    view's half-second redraw: every click is stored, shown, and ends its run."""
    import random

    from core.compute import control_log

    if seeded.user is None:
        pytest.skip("clicked with accounts on; accounts off clicks twenty controls in test_backends")
    proc = _script(seeded, TWENTY)
    store = open_store(seeded.config)
    rng = random.Random(25)
    try:
        ids = [_run_id(proc) for _ in range(20)]
        for run_id in ids:
            pg.goto(f"{seeded.server.url}/jobs?run={run_id}")
            _wait_points_above(pg, 0, timeout=60)
            pg.wait_for_timeout(rng.uniform(0, 1000))  # the scenario: any moment of the redraw
            pg.get_by_role("button", name="Stop").click()
            # Stored before the page redraws, then shown as requested (or already taken).
            wait_until(
                lambda run_id=run_id: len(control_log(store, run_id, viewer=SYSTEM)) == 1,
                timeout=10,
                interval=0.1,
                what=f"the Stop of run {run_id} in the store",
            )
            pg.get_by_text("Stop requested at").first.wait_for(timeout=10_000)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    for run_id in ids:
        assert get_run(store, run_id, viewer=SYSTEM).status == "stopped"
        (req,) = control_log(store, run_id, viewer=SYSTEM)
        assert req.state == "taken", req
    pg.goto(f"{seeded.server.url}/jobs?run={ids[-1]}")
    pg.get_by_text("the run ended: stopped").first.wait_for()
