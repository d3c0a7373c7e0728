"""Everything a simulator's route handlers share, bundled and passed explicitly."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from greenloop.simulator.clock import Clock
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.faults import Faults
from greenloop.simulator.oauth import OAuthServer
from greenloop.simulator.ratelimit import RateLimiter
from greenloop.simulator.state import SimState
from greenloop.simulator.webhook_sender import WebhookSender

__all__ = ["RequestLog", "SimContext"]


class RequestLog:
    """The API requests the simulator answered, oldest first (bounded)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class SimContext:
    state: SimState
    config: SimulatorConfig
    clock: Clock
    limiter: RateLimiter
    faults: Faults
    # Listens from the start but sends only once started (or stepped by a test).
    webhooks: WebhookSender
    # The OAuth authorization server: codes, tokens, the app's webhook subscriptions.
    oauth: OAuthServer
    log: RequestLog = field(default_factory=RequestLog)
