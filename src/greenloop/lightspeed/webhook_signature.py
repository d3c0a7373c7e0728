"""Checking the ``X-Signature`` of an X-Series webhook delivery (pure: no I/O).

Lightspeed's recipe is one sentence: hash "the webhook request body" with the algorithm
named in the header, keyed with the app's ``client_secret``, and compare "for an exact
match" (reference §8, Signature). It does not say whether the body is the raw
form-encoded bytes or the decoded ``payload`` value, nor whether the digest is hex or
base64 (the documented sample, ``897hRT893qkA783M093ha903f``, is neither). So every
combination is tried, each with a constant-time compare, and the one that matched is
returned for the caller to log and store: the first real delivery settles the question.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs

from greenloop.errors import FatalError

__all__ = [
    "ENCODINGS",
    "SignatureHeader",
    "SignatureMismatch",
    "parse_signature_header",
    "sign",
    "signature_header",
    "verify_signature",
]

# What the HMAC covers ("body": the raw request bytes, "payload": the decoded form field)
# and how the digest is written. Lightspeed's header names the algorithm; only
# HMAC-SHA256 is documented.
ENCODINGS: tuple[str, ...] = (
    "body:hex",
    "body:base64",
    "body:base64url",
    "payload:hex",
    "payload:base64",
    "payload:base64url",
)
_ALGORITHMS = {"hmac-sha256": hashlib.sha256}


class SignatureMismatch(FatalError):
    """The delivery's signature is missing, unreadable or wrong: refuse it."""

    hint = (
        "Check webhooks.secret is the client_secret of the Lightspeed app the webhook "
        "was created for (GREENLOOP_WEBHOOK_SECRET)."
    )


@dataclass(frozen=True)
class SignatureHeader:
    signature: str
    algorithm: str


def parse_signature_header(value: str) -> SignatureHeader:
    """``signature=…,algorithm=HMAC-SHA256`` → its parts (comma-separated ``key=value``)."""
    parts: dict[str, str] = {}
    for item in value.split(","):
        key, sep, text = item.strip().partition("=")
        if not sep:
            raise SignatureMismatch("the X-Signature header is not key=value pairs")
        # partition keeps base64 padding ("abc==") in the value.
        parts[key.strip().lower()] = text.strip()
    signature = parts.get("signature", "")
    if not signature:
        raise SignatureMismatch("the X-Signature header has no signature")
    algorithm = parts.get("algorithm", "HMAC-SHA256")
    if algorithm.lower() not in _ALGORITHMS:
        raise SignatureMismatch(f"the X-Signature algorithm '{algorithm[:40]}' is not supported")
    return SignatureHeader(signature=signature, algorithm=algorithm)


def _payload_field(body: bytes) -> bytes | None:
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return None
    values = fields.get("payload")
    return values[0].encode("utf-8") if values and len(values) == 1 else None


def _digest(secret: bytes, message: bytes, algorithm: str) -> bytes:
    return hmac.new(secret, message, _ALGORITHMS[algorithm.lower()]).digest()


def _render(digest: bytes, style: str) -> str:
    if style == "hex":
        return digest.hex()
    if style == "base64":
        return base64.b64encode(digest).decode("ascii")
    return base64.urlsafe_b64encode(digest).decode("ascii")


def _candidates(secret: bytes, body: bytes, algorithm: str) -> Iterator[tuple[str, str]]:
    messages = {"body": body}
    payload = _payload_field(body)
    if payload is not None:
        messages["payload"] = payload
    for encoding in ENCODINGS:
        source, style = encoding.split(":")
        message = messages.get(source)
        if message is not None:
            yield encoding, _render(_digest(secret, message, algorithm), style)


def _same(expected: str, given: str, style: str) -> bool:
    if style == "hex":
        expected, given = expected.lower(), given.lower()
    else:
        # Some senders strip base64 padding; the digest length is fixed, so it is safe.
        expected, given = expected.rstrip("="), given.rstrip("=")
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


def verify_signature(secret: str, body: bytes, header: str | None) -> str:
    """Return the encoding (one of :data:`ENCODINGS`) whose signature matches ``header``.

    Raises :class:`SignatureMismatch` when the header is missing, unreadable, or no
    candidate matches. Every candidate is compared, so the time taken does not depend on
    which one matched. Messages never contain the secret or the expected signature.
    """
    if not secret:
        raise SignatureMismatch("no webhook secret is configured to check X-Signature with")
    if header is None or not header.strip():
        raise SignatureMismatch("the request has no X-Signature header")
    parsed = parse_signature_header(header)
    matched: str | None = None
    for encoding, expected in _candidates(secret.encode("utf-8"), body, parsed.algorithm):
        if _same(expected, parsed.signature, encoding.split(":")[1]) and matched is None:
            matched = encoding
    if matched is None:
        raise SignatureMismatch("the X-Signature does not match the request body")
    return matched


def sign(secret: str, body: bytes, encoding: str = "body:hex") -> str:
    """The signature of ``body`` in ``encoding`` (for the simulator and tests)."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown signature encoding {encoding!r}")
    source, style = encoding.split(":")
    message = body if source == "body" else _payload_field(body)
    if message is None:
        raise ValueError("the body has no single 'payload' form field to sign")
    return _render(_digest(secret.encode("utf-8"), message, "HMAC-SHA256"), style)


def signature_header(secret: str, body: bytes, encoding: str = "body:hex") -> str:
    """A complete ``X-Signature`` header value, as Lightspeed formats it."""
    return f"signature={sign(secret, body, encoding)},algorithm=HMAC-SHA256"
