"""Outgoing tier-change events: an outbox written with the tier history, a signed
payload per change, and a sender that delivers them with retries.

``greenloop serve`` runs the sender continuously; ``greenloop run daily`` and
``greenloop events send`` deliver what is due once.
"""

from greenloop.events.sender import EventSender, SendReport
from greenloop.events.signing import SIGNATURE_HEADER, sign, verify

__all__ = ["SIGNATURE_HEADER", "EventSender", "SendReport", "sign", "verify"]
