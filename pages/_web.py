"""Loom's two HTTP routes beside Streamlit's own (served by ``app.py``'s ``st.App``).

Streamlit pages run over a WebSocket and cannot set cookies, so signing in ends with a request
to ``/_loom/session``, in the background (``quiet=1``: the page is already drawn signed in) or,
if that fails, as a trip through it: it trades a one-time code (valid a minute, made by the
sign-in form) for the session cookie — ``HttpOnly`` (no script can read it), ``SameSite=Lax``, ``Secure``
behind HTTPS, signed by the server, expiring with the session — and sends the browser back to the
page it came from. ``/_loom/signout`` clears it (the session itself already ended on the server).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["ROUTES"]


def _next(request: Request) -> str:
    """Where to go afterwards: a path on this server only (no open redirect; core.sharing's
    ``safe_next``), with its full query (``/jobs?run=X``)."""
    from core.sharing import safe_next

    return safe_next(request.query_params.get("next"))


async def _session(request: Request) -> Any:
    from core.config import get_config
    from core.sharing import COOKIE_NAME
    from core.sharing import SESSION_DAYS
    from core.sharing import cookie_value
    from core.sharing import redeem_handoff
    from core.store import open_store

    # The code is in the store: a sign-in on the other replica is redeemed here too.
    token = redeem_handoff(open_store(get_config()), request.query_params.get("code"))
    response: Response
    if request.query_params.get("quiet"):
        # The page's background request (pages/_ui.py): the cookie only, no page to go to.
        response = Response(status_code=204 if token is not None else 403)
    else:
        response = RedirectResponse(_next(request), status_code=303)
    if token is not None:
        response.set_cookie(
            COOKIE_NAME,
            cookie_value(get_config(), token),
            max_age=SESSION_DAYS * 86400,
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _signout(request: Request) -> Any:
    from core.sharing import COOKIE_NAME

    response = RedirectResponse(_next(request), status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


ROUTES = [Route("/_loom/session", _session), Route("/_loom/signout", _signout)]
