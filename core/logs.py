"""JSON log lines (``LOOM_LOG_FORMAT=json``) for a log shipper (Loki, Elasticsearch, journald):
one object per line with ``ts``, ``level``, ``logger``, ``message`` and any ``extra=`` fields.
The default (``text``) leaves logging as Python and Streamlit set it up."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC
from datetime import datetime
from typing import Any

from core.config import LOOM_LOG_FORMAT
from core.errors import ConfigError

__all__ = ["LOG_FORMATS", "JsonFormatter", "configure_logging"]

LOG_FORMATS = ("text", "json")
# Loom's own loggers: core.* (modules use logging.getLogger(__name__)) and loom.* (pages).
_LOGGERS = ("core", "loom")
# What every LogRecord carries; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """A record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(fmt: str | None = None) -> str:
    """Sets Loom's loggers' format, once per process (a second call with the same format does
    nothing). With ``json``, the ``core`` and ``loom`` loggers write JSON lines to stderr at
    INFO and above, and no longer pass records up to the root logger's text handlers.

    Args:
        fmt: ``text`` or ``json``. Defaults to ``LOOM_LOG_FORMAT``, else ``text``.

    Returns:
        The format in effect.

    Raises:
        ConfigError: An unknown format.
    """
    fmt = (fmt if fmt is not None else LOOM_LOG_FORMAT.get() or "").strip().lower() or "text"
    if fmt not in LOG_FORMATS:
        raise ConfigError(
            f"LOOM_LOG_FORMAT={fmt[:20]!r} is not a log format. Use one of: {', '.join(LOG_FORMATS)}."
        )
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        ours = [h for h in logger.handlers if getattr(h, "_loom_json", False)]
        if fmt == "text":
            for handler in ours:
                logger.removeHandler(handler)
            logger.propagate = True
            continue
        if ours:
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._loom_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        logger.propagate = False
    return fmt
