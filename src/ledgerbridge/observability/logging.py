"""Structured JSON logs, with secrets redacted wherever they appear."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import httpx
import structlog

REDACTED = "[REDACTED]"
_SECRET_KEY = re.compile(
    r"(authorization|token|secret|password|passwd|api[_-]?key|cookie|client_assertion|"
    r"code_verifier|signature|private|credential)",
    re.IGNORECASE,
)
# Secrets that may sit inside free text: bearer tokens, JWTs, our API keys, key=value pairs.
# A pattern that begins with its literal is searched for that literal, fast; one that
# begins with ``\b`` is tried at every position (50 times slower over a provider's answer
# kept in an audit row), so the word boundary is checked behind the literal instead.
_SECRET_TEXT = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"eyJ(?<=\beyJ)[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"lb_(?<=\blb_)[A-Za-z0-9]{8}_[A-Za-z0-9_-]{16,}"), REDACTED),
    (
        re.compile(
            r"(?i)\b((?:access|refresh|id)_token|token|client_secret|password|code(?:_verifier)?|api_key)"
            r"([\"']?\s*[=:]\s*[\"']?)[^&\s\"',}]+"
        ),
        r"\1\2" + REDACTED,
    ),
]


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys and embedded secrets replaced."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _redact_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return {
        key: item if key in ("timestamp", "level", "logger") else redact(item)
        for key, item in event.items()
    }


class WithoutQuery(logging.Filter):
    """Drops the query string (and fragment) of every URL httpx logs: a provider URL's
    query may carry an account id, a search or a token, none of which belongs in a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg.copy_with(query=None, fragment=None) if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for our logs and for the libraries that use stdlib logging."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _redact_event,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "dbos"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, WithoutQuery) for f in httpx_logger.filters):
        httpx_logger.addFilter(WithoutQuery())
