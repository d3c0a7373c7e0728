"""The signature on outgoing events, and how a receiver checks it.

``X-GreenLoop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``, the MAC taken over
``"<t>." + body`` with the configured secret. Putting the time under the MAC lets a
receiver refuse a captured request replayed later (it checks ``t`` is recent); the
event id in the body lets it drop a retry of an event it already handled. This is the
scheme Stripe and others use, so receivers have libraries and habits for it.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-GreenLoop-Signature"


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of
    ``now``. Any ``v1`` entry may match (several appear while a secret is rotated)."""
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            macs.append(value)
    if timestamp is None or not macs or abs(now - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, mac) for mac in macs)
