"""Tier-change event operations over ``Settings``, for the CLI, the daily job and serve."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from greenloop.config import Settings
from greenloop.errors import ConfigError
from greenloop.events.sender import EventSender, SendReport
from greenloop.services.setup import open_engine
from greenloop.store import events_repo

__all__ = ["event_status", "list_events", "retry_parked", "send_events"]


def _require_url(settings: Settings) -> None:
    if not settings.events.enabled:
        raise ConfigError(
            "no events.url is configured",
            hint="Set events.url and events.secret (GREENLOOP_EVENTS_URL, "
            "GREENLOOP_EVENTS_SECRET) to send tier-change events.",
        )


def send_events(settings: Settings) -> SendReport:
    """Deliver every event due now, once each."""
    _require_url(settings)
    engine = open_engine(settings)
    sender = EventSender(settings.events, engine)
    try:
        return sender.send_all()
    finally:
        sender.close()
        engine.dispose()


def event_status(settings: Settings) -> dict[str, int]:
    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            return events_repo.event_counts(conn)
    finally:
        engine.dispose()


def list_events(
    settings: Settings, *, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            return events_repo.list_events(conn, status=status, limit=limit)
    finally:
        engine.dispose()


def retry_parked(settings: Settings) -> int:
    engine = open_engine(settings)
    try:
        with engine.begin() as conn:
            return events_repo.requeue_parked(conn, datetime.now(UTC))
    finally:
        engine.dispose()
