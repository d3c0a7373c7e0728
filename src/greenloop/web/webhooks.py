"""Receiving X-Series webhooks: check, store in the inbox, answer 2xx. Nothing else.

A delivery is a ``POST`` of ``application/x-www-form-urlencoded`` with a ``payload``
field holding the object as JSON in the API 1.0 shape, and Lightspeed gives the
receiver 5 seconds (reference §8). The request handler keeps the raw bytes, checks
size, then authenticity (``X-Signature`` over the raw body, or the URL token), then
parses only enough to know the type and the object id, and writes one inbox row. The
worker (``greenloop.sync.worker``) does the rest later. A request that fails a check
stores nothing and gets a 4xx with the reason in the common error envelope.

The form carries no documented ``type`` field (reference §8: "route by the subscription
URL"), so the type comes from the URL (``?type=sale.update``, added by ``webhooks
register``), else a ``type`` form field if one is sent, else the path (the retailer's
``/sale-created`` URL only ever received sales), else the payload's shape.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from greenloop.config import WebhookSettings
from greenloop.lightspeed.webhook_signature import SignatureMismatch, verify_signature
from greenloop.sync import inbox
from greenloop.web.inbox_writer import InboxWriter
from greenloop.web.responses import error_response, json_response

__all__ = [
    "HANDLED_TYPES",
    "LEGACY_PATH",
    "WEBHOOK_PATH",
    "WEBHOOK_TYPES",
    "ParsedDelivery",
    "Rejected",
    "WebhookReceiver",
    "parse_delivery",
    "webhook_routes",
]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/lightspeed"
# The URL the retailer's original setup registered for sale.update.
LEGACY_PATH = "/api/webhooks/lightspeed/sale-created"
# Every type X-Series sends (reference §8); only sales and customers are acted on.
WEBHOOK_TYPES = (
    "sale.update",
    "product.update",
    "customer.update",
    "inventory.update",
    "register_closure.create",
    "consignment.send",
    "consignment.receive",
)
HANDLED_TYPES = ("sale.update", "customer.update")
_PATH_TYPES = {LEGACY_PATH: "sale.update"}
# Keys only one of the two 1.0 shapes has (register_sale vs customer).
_SALE_KEYS = ("register_sale_products", "register_sale_payments", "sale_date", "register_id")
_CUSTOMER_KEYS = ("customer_code", "customer_group_id", "first_name", "loyalty_balance")
_MAX_ID = 64


class Rejected(Exception):
    """A request that must not be stored: its status, error code and reason."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


@dataclass(frozen=True)
class ParsedDelivery:
    type: str
    object_id: str
    payload: str


def _form(body: bytes) -> dict[str, list[str]]:
    try:
        text = body.decode("utf-8")
        return parse_qs(text, keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "malformed_body", "the body is not a UTF-8 form") from None


def _infer_type(obj: dict[str, Any]) -> str | None:
    if any(k in obj for k in _SALE_KEYS):
        return "sale.update"
    if any(k in obj for k in _CUSTOMER_KEYS):
        return "customer.update"
    return None


def parse_delivery(
    body: bytes, content_type: str | None, *, type_hint: str | None
) -> ParsedDelivery | None:
    """The type, object id and ``payload`` text of a delivery, or :class:`Rejected`.

    Returns ``None`` for a well-formed delivery of a type GreenLoop does not act on.
    """
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise Rejected(
            415,
            "unsupported_media_type",
            "expected application/x-www-form-urlencoded with a 'payload' field",
        )
    fields = _form(body)
    values = fields.get("payload", [])
    if len(values) != 1:
        raise Rejected(400, "malformed_body", "the form must have exactly one 'payload' field")
    try:
        obj = json.loads(values[0])
    except ValueError:
        raise Rejected(400, "malformed_payload", "'payload' is not JSON") from None
    if not isinstance(obj, dict):
        raise Rejected(400, "malformed_payload", "'payload' is not a JSON object")
    kind = type_hint
    if kind is None:
        sent = fields.get("type", [])
        kind = sent[0] if len(sent) == 1 and sent[0] in WEBHOOK_TYPES else None
    kind = kind or _infer_type(obj)
    if kind is None:
        raise Rejected(
            422,
            "unknown_type",
            "cannot tell the webhook type; register the URL with ?type=sale.update "
            "or ?type=customer.update",
        )
    if kind not in HANDLED_TYPES:
        return None
    object_id = obj.get("id")
    if isinstance(object_id, int) and not isinstance(object_id, bool):
        object_id = str(object_id)
    if not isinstance(object_id, str) or not object_id.strip() or len(object_id) > _MAX_ID:
        raise Rejected(400, "malformed_payload", "'payload' has no usable 'id'")
    return ParsedDelivery(type=kind, object_id=object_id.strip(), payload=values[0])


class WebhookReceiver:
    """The request handlers, with the settings and engine they need passed in."""

    def __init__(
        self,
        settings: WebhookSettings,
        engine: Engine,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self._clock = clock or (lambda: datetime.now(UTC))
        self._seen_encodings: set[str] = set()
        self._writer = InboxWriter(engine, self._clock)
        # When the last delivery arrived (monotonic seconds): serve's worker gives way
        # to the receiver while deliveries are coming in.
        self.last_request = 0.0

    async def handle(self, request: Request) -> Response:
        self.last_request = time.monotonic()
        try:
            return await self._handle(request)
        except Rejected as exc:
            log.warning("webhook refused (%d %s): %s", exc.status, exc.error, exc.message)
            return error_response(exc.status, exc.error, exc.message)

    async def _handle(self, request: Request) -> Response:
        body = await self._read_body(request)
        encoding = self._authenticate(request, body)
        hint = request.query_params.get("type") or _PATH_TYPES.get(request.url.path)
        if hint is not None and hint not in WEBHOOK_TYPES:
            raise Rejected(400, "unknown_type", "the URL's type is not an X-Series webhook type")
        content_type = request.headers.get("content-type")
        parsed = parse_delivery(body, content_type, type_hint=hint)
        if parsed is None:
            return json_response({"status": "ignored"})
        delivery = inbox.Delivery(
            type=parsed.type,
            object_id=parsed.object_id,
            payload=parsed.payload,
            body=body,
            content_type=content_type,
            endpoint=request.url.path[:100],
            signature_encoding=encoding,
        )
        stored = await self._writer.store(delivery)
        status = "duplicate" if stored.duplicate else "stored"
        return json_response({"status": status, "id": stored.id})

    async def _read_body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Rejected(413, "too_large", f"the body is over {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Rejected(413, "too_large", f"the body is over {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _authenticate(self, request: Request, body: bytes) -> str:
        """How the request proved itself: an X-Signature encoding, or ``url-token``."""
        settings = self.settings
        secret = settings.secret.get_secret_value()
        token = settings.url_token.get_secret_value()
        header = request.headers.get("x-signature")
        if secret and header is not None:
            try:
                encoding = verify_signature(secret, body, header)
            except SignatureMismatch as exc:
                raise Rejected(401, "bad_signature", exc.message) from None
            self._note_encoding(encoding)
            return encoding
        if settings.require_signature:
            why = "the request has no X-Signature header" if secret else "no secret is set"
            raise Rejected(401, "signature_required", f"a valid X-Signature is required: {why}")
        if token:
            given = request.query_params.get("token", "")
            if given and hmac.compare_digest(given.encode(), token.encode()):
                return "url-token"
            raise Rejected(401, "bad_token", "the URL token is missing or wrong")
        if secret:
            raise Rejected(401, "signature_required", "the request has no X-Signature header")
        if settings.allow_unauthenticated:
            return "none"
        raise Rejected(
            503,
            "not_configured",
            "webhooks are refused until webhooks.secret or webhooks.url_token is set",
        )

    def _note_encoding(self, encoding: str) -> None:
        # Lightspeed does not document the digest encoding (reference §8): say once
        # which one real deliveries use.
        if encoding not in self._seen_encodings:
            self._seen_encodings.add(encoding)
            log.info("webhook X-Signature matched as %s", encoding)


def webhook_routes(receiver: WebhookReceiver) -> list[BaseRoute]:
    return [
        Route(WEBHOOK_PATH, receiver.handle, methods=["POST"]),
        Route(LEGACY_PATH, receiver.handle, methods=["POST"]),
    ]
