"""Logging that never prints a secret.

Every handler GreenLoop installs carries :class:`RedactingFilter`, which replaces the
configured secrets and any ``Bearer …`` credential in the final message with ``***``.
Use :func:`redact` too when a secret could reach text that is not logged (an error
message, an export).

Tracebacks never show a database error's statement, parameters or quoted rows: our
handler's formatter, and the process's uncaught-exception hooks that
:func:`configure_logging` installs, tell such errors by class and constraint only
(:mod:`greenloop.store.db_errors`).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from greenloop.store.db_errors import safe_traceback

__all__ = ["RedactingFilter", "SafeFormatter", "configure_logging", "redact", "register_secret"]

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_MASK = "***"


# Secrets learnt while running (the OAuth tokens read from the database), redacted
# everywhere like the configured ones.
_RUNTIME_SECRETS: set[str] = set()


def register_secret(value: str) -> None:
    """Redact ``value`` from every later log line and :func:`redact` call."""
    if value and len(value) >= 4:
        _RUNTIME_SECRETS.add(value)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in (*secrets, *tuple(_RUNTIME_SECRETS)):
        if secret and len(secret) >= 4:
            text = text.replace(secret, _MASK)
    return _BEARER.sub(rf"\g<1>{_MASK}", text)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class SafeFormatter(logging.Formatter):
    """Formats a database error in a traceback by its class and constraint only."""

    def formatException(self, ei: Any) -> str:
        if ei and ei[1] is not None:
            safe = safe_traceback(ei[1])
            if safe is not None:
                return safe
        return super().formatException(ei)


def _safe_excepthook(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    safe = safe_traceback(value)
    if safe is None:
        sys.__excepthook__(kind, value, tb)
    else:
        print(safe, file=sys.stderr)


def _safe_thread_excepthook(args: threading.ExceptHookArgs) -> None:
    safe = safe_traceback(args.exc_value) if args.exc_value is not None else None
    if safe is None:
        threading.__excepthook__(args)
    else:
        name = args.thread.name if args.thread is not None else "a thread"
        print(f"Exception in thread {name}:\n{safe}", file=sys.stderr)


def configure_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Log to stderr with redaction. Safe to call more than once (replaces our handler)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_greenloop", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    handler._greenloop = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # An uncaught database error (a thread of `serve`, a bug) prints no row data either.
    sys.excepthook = _safe_excepthook
    threading.excepthook = _safe_thread_excepthook
    # httpx logs full URLs at INFO; ours are token-free, but keep its chatter down.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # Alembic announces its dialect on every schema check; only problems matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
