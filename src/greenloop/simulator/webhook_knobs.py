"""How the simulator delivers webhooks: signing, Lightspeed's retry policy, and the
knobs that make delivery as unreliable as the docs allow (reference §8: "we can't
guarantee they'll be delivered"; ordering is promised nowhere).

Start-up values come from ``SimulatorConfig.webhooks`` (``greenloop simulator serve
--webhook-…`` flags); ``PUT /_sim/webhooks`` changes them while the simulator runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from greenloop.simulator.webhook_payloads import SIGNATURE_ENCODINGS

__all__ = ["WebhookKnobs"]

_RATES = ("drop_rate", "duplicate_rate")
_NON_NEGATIVE = (
    "delay_min_ms",
    "delay_max_ms",
    "reorder_hold_ms",
    "retry_base_seconds",
    "retry_max_seconds",
    "timeout_seconds",
)
_COUNTS = ("reorder_window", "max_retries", "concurrency")


@dataclass(frozen=True)
class WebhookKnobs:
    # Signs the deliveries of subscriptions made with the personal token (default:
    # unsigned, as only OAuth apps get signed webhooks, reference §8). Subscriptions
    # made with an OAuth access token are always signed with the app's client secret
    # (simulator/oauth.py); ``signature_encoding`` applies to both.
    secret: str = ""
    signature_encoding: str = "body:hex"
    # Share of deliveries never sent, and of deliveries sent twice.
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    # Each delivery (and each copy) waits a uniform time in this range before its
    # first attempt.
    delay_min_ms: float = 0.0
    delay_max_ms: float = 0.0
    # Deliveries are shuffled in groups of this many (0 or 1: in order). A group that
    # does not fill is released after ``reorder_hold_ms``.
    reorder_window: int = 0
    reorder_hold_ms: float = 200.0
    # Lightspeed retries a delivery that is not answered 2xx within 5 s "up to 20 times
    # over 48 h with exponential back-off": 10 s doubling to a 4 h cap spans ~42 h.
    max_retries: int = 20
    retry_base_seconds: float = 10.0
    retry_max_seconds: float = 14_400.0
    timeout_seconds: float = 5.0
    # Deliveries in flight at once when sending in the background.
    concurrency: int = 4

    def __post_init__(self) -> None:
        if not isinstance(self.secret, str):
            raise ValueError("secret must be a string")
        if self.signature_encoding not in SIGNATURE_ENCODINGS:
            raise ValueError(f"signature_encoding must be one of {', '.join(SIGNATURE_ENCODINGS)}")
        for name in _RATES:
            value = getattr(self, name)
            if not _number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        for name in _NON_NEGATIVE:
            value = getattr(self, name)
            if not _number(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        for name in _COUNTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if self.delay_min_ms > self.delay_max_ms:
            raise ValueError("delay_min_ms cannot exceed delay_max_ms")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")

    def updated(self, changes: dict[str, Any]) -> WebhookKnobs:
        """A copy with some knobs changed; unknown names or bad values raise ValueError."""
        known = {f.name for f in fields(WebhookKnobs)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown webhook settings: {', '.join(sorted(unknown))}")
        try:
            return replace(self, **changes)
        except TypeError as error:
            raise ValueError(str(error)) from None

    def shown(self) -> dict[str, Any]:
        """The knobs for display: whether a secret is set, never the secret."""
        out = asdict(self)
        out["secret"] = "***" if self.secret else ""
        return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
