"""Sign-in: seconds from pressing "Sign in" to the deep-linked page drawn signed in, beyond that
page's own load, in headless Chromium against the real app with accounts on (``LOOM_AUTH=on``).

    python bench/signin.py [--quick]

Where the time goes, one line each: the password hash (scrypt, as stored), core's ``sign_in``
(rate-limit check, hash, session row), the page's own load when already signed in, and the
whole sign-in (form press to the page drawn, signed in, at the same URL and query). The last
line is the headline, ``signin_s: N`` = sign-in minus the page's own load (median).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEEP_LINK = "/experiments?text=bench-query&sort=name"
USER, PASSWORD = "bench", "bench-password-long"


def _core(data: Path, repeats: int) -> tuple[float, float]:
    from core.config import AppConfig
    from core.sharing import create_user
    from core.sharing import sign_in
    from core.sharing._accounts import hash_password
    from core.sharing._accounts import verify_password
    from core.store import open_store

    store = open_store(AppConfig.for_data_dir(data))
    create_user(store, USER, PASSWORD)
    stored = hash_password(PASSWORD)
    t0 = time.perf_counter()
    for _ in range(repeats):
        verify_password(PASSWORD, stored)
    hash_s = (time.perf_counter() - t0) / repeats
    t0 = time.perf_counter()
    for _ in range(repeats):
        sign_in(store, USER, PASSWORD)
    return hash_s, (time.perf_counter() - t0) / repeats


def _drawn(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_text(f"Signed in as {USER}").wait_for()
    page.get_by_role("heading", name="Experiments").wait_for()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 sign-ins instead of 10")
    args = parser.parse_args()
    repeats = 3 if args.quick else 10

    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM_ARGS
    from tests.e2e.conftest import AppServer
    from tests.e2e.conftest import _chromium
    from tests.waiting import wait_until

    data = Path(tempfile.mkdtemp(prefix="loom-bench-signin-")) / "data"
    hash_s, core_s = _core(data, repeats)
    print(f"password_hash_s: {hash_s:.3f}")
    print(f"core_sign_in_s: {core_s:.3f}")
    server = AppServer(data, LOOM_AUTH="on")
    loads: list[float] = []
    signins: list[float] = []
    cookies: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
            url = server.url + DEEP_LINK
            for i in range(repeats + 1):  # the first round warms the server up: not counted
                context = browser.new_context(viewport={"width": 1300, "height": 900})
                page = context.new_page()
                page.set_default_timeout(60_000)
                page.goto(url)
                page.get_by_label("User name").fill(USER)
                page.get_by_label("Password", exact=True).fill(PASSWORD)
                t0 = time.perf_counter()
                page.get_by_role("button", name="Sign in").click()
                _drawn(page)
                signin = time.perf_counter() - t0
                if not page.url.endswith(DEEP_LINK):
                    raise SystemExit(f"sign-in lost the deep link: {page.url}")
                # The cookie comes from a background request once the page is drawn: a reload
                # (the page's own load, signed in) needs it.
                wait_until(
                    lambda: any(c["name"] == "loom_session" for c in context.cookies()),  # noqa: B023
                    timeout=30,
                    interval=0.05,
                    what="the session cookie",
                )
                cookie = time.perf_counter() - t0
                t0 = time.perf_counter()
                page.reload()
                _drawn(page)
                load = time.perf_counter() - t0
                context.close()
                if i:
                    signins.append(signin)
                    loads.append(load)
                    cookies.append(cookie)
            browser.close()
    finally:
        server.stop()
    print(f"page_load_s (signed in, median of {repeats}): {statistics.median(loads):.3f}")
    print(f"signin_total_s (press to page drawn, median): {statistics.median(signins):.3f}")
    print(f"cookie_set_s (press to cookie stored, median): {statistics.median(cookies):.3f}")
    extra = statistics.median(s - w for s, w in zip(signins, loads, strict=True))
    print(f"signin_s: {extra:.3f}")


if __name__ == "__main__":
    main()
