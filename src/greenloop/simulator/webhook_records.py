"""What the simulator's webhook sender keeps per change, delivery and attempt."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from typing import Any

from greenloop.simulator.state import Obj

__all__ = ["Attempt", "Change", "Delivery", "Queued", "Stats", "mask_token", "record"]

_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&#]*")


@dataclass(frozen=True)
class Delivery:
    """One request to send: the ``seq``-th change, ``copy`` 0 (or 1.. for duplicates)."""

    seq: int
    copy: int
    type: str
    object_id: str
    version: int | None
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Attempt:
    """What became of one attempt (``attempt`` 0 marks a delivery the dice dropped)."""

    seq: int
    copy: int
    type: str
    object_id: str
    version: int | None
    url: str  # the subscription URL with its token masked
    body_sha256: str  # ties the attempt to what the receiver stored
    attempt: int
    status: int | None
    error: str | None
    at: float
    elapsed_ms: float
    response: str = ""  # the start of the receiver's answer

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass
class Change:
    kind: str
    obj: Obj
    customer: Obj | None
    # Each active subscription's URL and the key its deliveries are signed with (an
    # OAuth app's client secret; None: the sender's own ``secret`` knob, if any).
    targets: list[tuple[str, str | None]]


@dataclass
class Queued:
    delivery: Delivery
    delay: float
    attempts: int = 0


@dataclass
class Stats:
    changes: int = 0
    deliveries: int = 0
    dropped: int = 0
    duplicated: int = 0
    attempts: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    gave_up: int = 0
    out_of_order: int = 0


def mask_token(url: str) -> str:
    return _TOKEN_IN_URL.sub(r"\g<1>***", url)


def record(
    delivery: Delivery,
    attempt: int,
    status: int | None,
    error: str | None,
    ms: float,
    answer: str,
    *,
    at: float,
) -> Attempt:
    """The log entry of one attempt (``attempt`` 0: dropped by the dice)."""
    return Attempt(
        delivery.seq,
        delivery.copy,
        delivery.type,
        delivery.object_id,
        delivery.version,
        mask_token(delivery.url),
        hashlib.sha256(delivery.body).hexdigest(),
        attempt,
        status,
        error,
        at,
        round(ms, 3),
        answer,
    )
