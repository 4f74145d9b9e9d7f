"""Keeping API keys out of every text we produce: messages, logs, exception texts.

Two layers. ``redact_url``/``redact`` replace the value of any key-bearing query parameter (``apikey``,
``apiKey``, ``token``, ...) and any bearer token with ``***``; and every key a client is configured with
is registered (``register_secret``) so that its literal value is replaced wherever it appears, e.g.
inside Alpha Vantage's "We have detected your API key as KEY" body.

urllib3 logs request lines (with the query string) at DEBUG. ``install_log_filter`` attaches a filter to
its loggers that rewrites such records before any handler sees them; the providers package installs it
on import.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"

_PARAM = re.compile(r"(?i)\b(apikey|api_key|token|access_token|key)=([^&\s\"'#]+)")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_AV_DETECTED = re.compile(r"(?i)(api key as\s+)(\S+)")
# Keys shorter than this are not registered: replacing "a" everywhere would garble messages.
_MIN_SECRET_LENGTH = 4

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember ``value`` so that ``redact`` masks it wherever it appears (idempotent)."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with key-bearing parameters, bearer tokens and every registered secret masked."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _AV_DETECTED.sub(lambda m: f"{m.group(1)}{MASK}", text)


def redact_url(url: str) -> str:
    """A URL safe to show: key-bearing query parameters masked (``apikey=***``)."""
    return redact(url)


class RedactingFilter(logging.Filter):
    """Rewrites a log record's message through ``redact`` when it would show a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to logging's own error path
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# urllib3 modules that log URLs; a filter on a parent logger would not see its children's records.
URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.util.retry",
    "urllib3.connection",
    "urllib3.response",
    "urllib3",
)

_installed = False


def install_log_filter(extra_loggers: tuple[str, ...] = ()) -> None:
    """Attach one ``RedactingFilter`` to urllib3's loggers (and ``extra_loggers``); idempotent."""
    global _installed
    names = URLLIB3_LOGGERS + tuple(extra_loggers)
    with _lock:
        if _installed and not extra_loggers:
            return
        for name in names:
            logger = logging.getLogger(name)
            if not any(isinstance(f, RedactingFilter) for f in logger.filters):
                logger.addFilter(RedactingFilter())
        _installed = True
