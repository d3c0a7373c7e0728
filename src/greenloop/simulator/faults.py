"""Fault injection for API requests: server errors, latency, hangs and broken bodies.

Every decision comes from one seeded generator, so a run with the same seed and the
same request sequence fails the same requests.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["FaultPlan", "FaultSettings", "Faults"]

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_RATES = ("error_rate", "write_error_rate", "timeout_rate", "malformed_rate")


@dataclass(frozen=True)
class FaultSettings:
    error_rate: float = 0.0
    write_error_rate: float = 0.0
    latency_ms: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    malformed_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        for name in ("latency_ms", "timeout_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request: wait ``delay_seconds``, then answer 500 instead of
    handling it (``error``) or handle it and break the body (``malformed``)."""

    delay_seconds: float = 0.0
    error: bool = False
    malformed: bool = False
    timed_out: bool = False

    @property
    def label(self) -> str | None:
        if self.error:
            return "error"
        if self.malformed:
            return "malformed"
        if self.timed_out:
            return "timeout"
        return None


class Faults:
    """Current fault settings plus the seeded generator that applies them."""

    def __init__(self, settings: FaultSettings, *, seed: int = 0) -> None:
        self._settings = settings
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        """Change some settings; unknown names or bad values raise ValueError."""
        known = {f.name for f in fields(FaultSettings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
        with self._lock:
            self._settings = replace(self._settings, **changes)
            return self._settings

    def plan(self, method: str) -> FaultPlan:
        s = self._settings
        with self._lock:
            timed_out = s.timeout_rate > 0 and self._rng.random() < s.timeout_rate
            error = s.error_rate > 0 and self._rng.random() < s.error_rate
            if not error and method.upper() in _WRITE_METHODS and s.write_error_rate > 0:
                error = self._rng.random() < s.write_error_rate
            malformed = not error and s.malformed_rate > 0 and self._rng.random() < s.malformed_rate
        delay = s.latency_ms / 1000.0 + (s.timeout_seconds if timed_out else 0.0)
        return FaultPlan(delay_seconds=delay, error=error, malformed=malformed, timed_out=timed_out)
