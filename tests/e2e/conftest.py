"""End-to-end fixtures: the real app (`streamlit run app.py`) on a free loopback port, driven by
Playwright in Debian's headless Chromium. Screenshots of failures go to ``test-artifacts/``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.config import AppConfig
from tests.conftest import ROOT
from tests.conftest import free_port
from tests.waiting import wait_until

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = os.environ.get("LOOM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.skip("Chromium is not installed: run tests/install_system_deps.sh")
    return path


class AppServer:
    def __init__(self, data_dir: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log = data_dir.parent / "streamlit.log"
        env = {
            **os.environ,
            "LOOM_DATA_DIR": str(data_dir),
            "LOOM_DASK_WORKERS": "1",
            "LOOM_DASK_THREADS": "2",
            "LOOM_HEARTBEAT_SECONDS": "0.5",
            # No warm JAX/PyTorch processes beside every test app (two shared cores): the tests
            # that launch those backends check a new, then a warm process; test_warm_start.py
            # checks the default, every backend warmed as the app starts.
            "LOOM_WARM_BACKENDS": "tensorflow,sklearn",
            **extra_env,
        }
        for name in ("DASK_SCHEDULER_ADDRESS", "LOOM_DATABASE_URL"):
            if name not in extra_env:  # only a test's own scheduler or store (test_replicas.py)
                env.pop(name, None)
        self._log_fh = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                # As deployed: code does not change under a running app (a file edited during a
                # test run would otherwise reload half of core in the server mid-test).
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._healthy, timeout=90, interval=0.2, what="streamlit's health check")
        except (AssertionError, RuntimeError) as e:
            self.stop()
            raise RuntimeError(f"streamlit did not start ({e}): {self.log.read_text()[-3000:]}") from e

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {self.proc.returncode}")
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log_fh.close()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    server = AppServer(tmp_path_factory.mktemp("e2e") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


def flow_canvas(page):  # type: ignore[no-untyped-def]
    """The pipeline canvas's frame (streamlit-flow's iframe). While the page redraws, Streamlit
    holds two of them for a moment, the one going and the one coming (at width -1 until laid
    out): a plain frame locator then fails Playwright's strict mode (once in a full run, stop 36).
    The last is taken; each action finds it again, so the one that stays is the one used."""
    return page.frame_locator("iframe[title='streamlit_flow.streamlit_flow']").last


def open_page(browser, request: pytest.FixtureRequest, url: str = "", user: str | None = None):  # type: ignore[no-untyped-def]
    """A page in a fresh browser context (signed in as ``user`` at ``url`` when given); a
    screenshot goes to ``test-artifacts/`` when the test fails."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    if user:
        pg.goto(f"{url}/")
        pg.get_by_label("User name").fill(user)
        pg.get_by_label("Password", exact=True).fill(f"{user}-password-long")
        pg.get_by_role("button", name="Sign in").click()
        pg.get_by_text(f"Signed in as {user}").wait_for()
        wait_for_session_cookie(context)
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def wait_for_session_cookie(context) -> None:  # type: ignore[no-untyped-def]
    """The page is drawn signed in at once; the session cookie follows from a background request
    (pages/_ui.py). Wait for it before a reload or a typed URL, which need it."""
    wait_until(
        lambda: any(c["name"] == "loom_session" for c in context.cookies()),
        timeout=30,
        interval=0.1,
        what="the session cookie",
    )


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:  # type: ignore[no-untyped-def]
    yield from open_page(browser, request)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


ACCOUNTS = ["accounts off", "accounts on"]

_CURVE = """name => {
    for (const el of document.querySelectorAll('.js-plotly-plot')) {
        const t = (el._fullData || []).find(t => t.name === name);
        if (t) return [Array.from(t.x), Array.from(t.y)];
    }
    return [[], []];
}"""


def drawn_curve(page, name: str) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """The (x, y) of the first Plotly trace called ``name`` as the browser holds it: decoded from
    the typed binary arrays the app sends; empty lists when no chart has it."""
    x, y = page.evaluate(_CURVE, name)
    return x, y


@dataclass
class IrisApp:
    """The app on a fresh store holding the iris sample, with accounts off or on (``user``
    signs in, and owns the dataset)."""

    server: AppServer
    config: AppConfig
    user: str | None
    iris: str


def iris_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str, **env: str
) -> Iterator[IrisApp]:
    """Body of a module-scoped fixture parametrized over :data:`ACCOUNTS`; ``env``: more of the
    app's settings (``LOOM_...``)."""
    from core.data import ingest_file
    from core.sharing import create_user
    from core.store import open_store

    on = request.param == "accounts on"
    root = tmp_path_factory.mktemp(name)
    config = AppConfig.for_data_dir(root / "data")
    store = open_store(config)
    user = "ann" if on else None
    if on:
        create_user(store, "ann", "ann-password-long")
    iris = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris.csv", author=user or "")
    store.engine.dispose()
    server = AppServer(root / "data", **env, **({"LOOM_AUTH": "on"} if on else {}))
    yield IrisApp(server, config, user, iris.id)
    server.stop()


def pick(page, label: str, option: str, *, exact: bool = True, multi: bool = False, tries: int = 4) -> None:  # type: ignore[no-untyped-def]
    """Choose ``option`` in the Streamlit selectbox (``multi``: multiselect) labelled ``label``.

    Types the option to filter the list (a long list is virtual: an option scrolled out of it is
    not in the page), then clicks it. A rerun that lands while the list is open closes it, so
    an attempt whose option does not show within a few seconds is dismissed and made again; so
    is one whose choice the box does not show afterwards.
    """
    from playwright.sync_api import Error as PlaywrightError

    box = page.get_by_role("combobox", name=label, exact=True)

    def shows() -> bool:
        # One box, showing the option: while a rerun draws, a box that moved is on the page
        # twice for a moment (the old one stale), and which one the run keeps is not yet known.
        try:
            values = [b.input_value() for b in box.all()]
        except PlaywrightError:  # detached as the rerun redrew it
            return False
        return len(values) == 1 and (values[0] == option if exact else option in values[0])

    choice = page.get_by_role("option", name=option, exact=exact).first
    chips = page.locator('[data-testid="stMultiSelectTagsContainer"]', has_text=option)
    for attempt in range(tries):
        # A rerun that lands with the click can drop or undo the choice (CI saw no multiselect tag
        # for 30 s; the journey's Optimizer went back to adam while the pipeline's rerun probed
        # it, stop 36): the attempt is then made again, as a person seeing it would. Chosen is a
        # tag under a multiselect (Escape closes its list), the option in a selectbox's box.
        if multi:
            chosen, timeout = (lambda: chips.count() > 0), 10
        else:
            chosen, timeout = shows, (15 if attempt < tries - 1 else 30)
        try:
            box.click()
            box.fill(option)
            choice.click(timeout=5_000)
            wait_until(chosen, timeout=timeout, interval=0.2, what=f"{option!r} chosen in {label!r}")
        except (PlaywrightError, AssertionError):  # a timeout, or two boxes for a moment
            if attempt == tries - 1:
                raise
            page.keyboard.press("Escape")
            page.wait_for_timeout(500)
            continue
        return


def open_add_dataset(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    """Open the Data page with its "Add a dataset" form unfolded, as a person would.

    The form is open on a store without datasets and folded once there are some (a module's
    earlier test, or a first try, may have added one). Which it is comes from what the page says,
    not from the form's visibility, which lags while the expander draws.
    """
    page.goto(f"{base_url}/data")
    empty = page.get_by_text("No datasets yet")
    empty.or_(page.get_by_role("heading", name="Datasets")).first.wait_for()  # drawn past the form
    if not empty.count():
        page.get_by_text("Add a dataset", exact=True).first.click()


def add_sample(page, base_url: str) -> str:  # type: ignore[no-untyped-def]
    """Add the default sample (iris) through the Data page by clicking; returns its dataset ID."""
    open_add_dataset(page, base_url)
    page.get_by_role("tab", name="Samples").click()
    page.get_by_role("button", name="Add sample").click()
    page.wait_for_url("**/data?dataset=*")
    return page.url.split("dataset=")[1][:32]


def launch_training(page, base_url: str, dataset: str, epochs: int) -> str:  # type: ignore[no-untyped-def]
    """Launch a training run from the Train page (defaults but the epochs); returns its run ID."""
    import re

    page.goto(f"{base_url}/train?dataset={dataset}")
    page.get_by_text(re.compile(r"Input \(.*\) · [0-9,]+ parameters")).wait_for()
    box = page.get_by_label("Epochs")
    box.fill(str(epochs))
    box.press("Enter")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"/jobs\?run=[0-9a-f]{32}"))
    return page.url.split("run=")[1][:32]
