"""Sending alerts through Apprise (e-mail, Slack, Matrix, webhooks and more, one URL each).

The operator lists notification URLs in ``LOOM_ALERT_URLS`` (separated by spaces or commas);
every alert goes to them. A rule may add one URL of its own (with accounts on, only where the
operator allows it: ``LOOM_ALERT_RULE_URLS=on``). With none, alerts show in the app only.
Apprise is imported only when a URL is checked or used.
"""

from __future__ import annotations

import os
import re
import warnings

__all__ = [
    "ALERT_URLS_ENV",
    "RULE_URLS_ENV",
    "check_url",
    "operator_urls",
    "redact",
    "rule_urls_allowed",
    "send",
]

ALERT_URLS_ENV = "LOOM_ALERT_URLS"
RULE_URLS_ENV = "LOOM_ALERT_RULE_URLS"
_MAX_URL = 2000


def _apprise():  # type: ignore[no-untyped-def]
    try:
        with warnings.catch_warnings():
            # Apprise 2.3 imports the standard library's imghdr (deprecated in 3.11) for its
            # e-mail plugin: not ours, and harmless until Python 3.13, where Apprise shims it.
            warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
            import apprise
            import apprise.utils.pgp  # noqa: F401 - loads imghdr here, not in a plugin later
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        raise ImportError("Apprise is needed to send alerts: `pip install -r requirements.txt`.") from exc
    return apprise


def redact(url: str) -> str:
    """The URL's scheme and host only: safe to show (tokens and passwords are left out)."""
    m = re.match(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://(?:[^@/\s]*@)?([^/:?\s]*)", url)
    return f"{m.group(1)}://{m.group(2)}/…" if m else "<not a URL>"


def check_url(url: str) -> str:
    """Why Apprise cannot use ``url`` ("" when it can): a malformed URL or an unknown service."""
    if len(url) > _MAX_URL:
        return f"The alert URL is {len(url)} characters long; at most {_MAX_URL} are allowed."
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$", url.strip()):
        return (
            f"{url[:80]!r} is not a notification URL: write it as Apprise does, e.g. "
            "'json://host:port/path' for a webhook, 'mailto://user:password@example.com' or "
            "'slack://TokenA/TokenB/TokenC'."
        )
    apprise = _apprise()
    if not apprise.Apprise().add(url.strip()):
        return (
            f"Apprise does not understand {redact(url)} (unknown service or missing parts): check "
            "the URL against https://github.com/caronc/apprise/wiki for its service."
        )
    return ""


def operator_urls() -> list[str]:
    """The notification URLs the operator configured in ``LOOM_ALERT_URLS`` (may be none)."""
    raw = os.environ.get(ALERT_URLS_ENV, "")
    return [u for u in re.split(r"[\s,]+", raw) if u]


def rule_urls_allowed(auth: bool) -> bool:
    """Whether a rule may carry its own URL. The server posts to it, so where several people
    sign in (``auth``) any of them could aim it at a host inside the network: off there unless
    the operator sets ``LOOM_ALERT_RULE_URLS=on``; on for a single-user Loom unless set ``off``."""
    value = os.environ.get(RULE_URLS_ENV, "").strip().lower()
    if value in ("on", "off"):
        return value == "on"
    return not auth


def send(urls: list[str], title: str, body: str) -> str:
    """Send one notification to each URL; never raises.

    Returns:
        "" when every URL took it, else what failed (URLs redacted), to store with the rule.
    """
    if not urls:
        return ""
    apprise = _apprise()
    failed = []
    for url in urls:
        if problem := check_url(url):
            failed.append(problem)
            continue
        sender = apprise.Apprise()
        sender.add(url.strip())
        try:
            ok = sender.notify(title=title, body=body)
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the evaluator
            ok, why = False, f"{exc.__class__.__name__}: {exc}"
        else:
            why = "unreachable, or it refused the message"
        if not ok:
            failed.append(f"could not deliver to {redact(url)}: {why}")
    return "; ".join(failed)
