"""Loom's two HTTP routes (pages/_web.py): the session cookie from a one-time code, in the
background (``quiet=1``) or as a redirect to the page the visitor asked for, and never to
another host. The handlers are called with a request built by hand (starlette's TestClient
needs a package Loom does not install)."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from core.config import get_config
from core.sharing import COOKIE_NAME
from core.sharing import issue_handoff
from core.store import open_store
from pages._web import ROUTES


def _get(path: str, query: str):  # type: ignore[no-untyped-def]
    route = next(r for r in ROUTES if r.path == path)
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("127.0.0.1", 8501),
        "path": path,
        "query_string": query.encode(),
        "headers": [],
    }
    return asyncio.run(route.endpoint(Request(scope)))


def test_the_background_request_sets_the_cookie_once(app_env) -> None:  # type: ignore[no-untyped-def]
    code = issue_handoff(open_store(get_config()), "t" * 43)
    first = _get("/_loom/session", f"code={code}&quiet=1")
    assert first.status_code == 204
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=") and "httponly" in cookie.lower()
    again = _get("/_loom/session", f"code={code}&quiet=1")
    assert again.status_code == 403 and "set-cookie" not in again.headers


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("%2Fjobs%3Frun%3Dabc%26share%3Dx", "/jobs?run=abc&share=x"),
        ("%2F%2Fevil.example", "/"),
        ("https%3A%2F%2Fevil.example", "/"),
        ("%2F%5Cevil.example", "/"),
        ("%2F%09%2Fevil.example", "/"),
    ],
)
def test_the_redirect_keeps_the_query_and_stays_on_this_server(app_env, target: str, location: str) -> None:  # type: ignore[no-untyped-def]
    code = issue_handoff(open_store(get_config()), "t" * 43)
    response = _get("/_loom/session", f"code={code}&next={target}")
    assert response.status_code == 303 and response.headers["location"] == location
    assert _get("/_loom/signout", f"next={target}").headers["location"] == location
