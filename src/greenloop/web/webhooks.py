"""Receiving X-Series webhooks: check, store in the inbox, answer 2xx. Nothing else.

A delivery is a ``POST`` of ``application/x-www-form-urlencoded`` with a ``payload``
field holding the object as JSON in the API 1.0 shape, and Lightspeed gives the
receiver 5 seconds (reference §8). The request handler keeps the raw bytes, checks
size, then authenticity (``X-Signature`` over the raw body, or the URL token in force:
``webhooks.url_token``, else the one ``webhooks register`` stored, see
``greenloop.web.url_token``), then parses only enough to know the type and a usable
object id, and writes one inbox row. The worker (``greenloop.runtime.worker``) does the
rest later. A request that fails a check stores nothing and gets a 4xx with the reason
in the common error envelope (``greenloop.web.responses``).

The form carries no documented ``type`` field (reference §8: "route by the subscription
URL"), so the type comes from the URL (``?type=sale.update``, added by ``webhooks
register``), else a ``type`` form field if one is sent, else the path (the retailer's
``/sale-created`` URL only ever received sales), else the payload's shape.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from greenloop.config import WebhookSettings
from greenloop.lightspeed.webhook_signature import SignatureMismatch, verify_signature
from greenloop.lightspeed.webhook_types import WEBHOOK_TYPES
from greenloop.store import inbox, oauth_repo
from greenloop.web.inbox_writer import InboxWriter
from greenloop.web.responses import error_response, json_response
from greenloop.web.url_token import UrlToken

__all__ = [
    "HANDLED_TYPES",
    "LEGACY_PATH",
    "WEBHOOK_PATH",
    "ParsedDelivery",
    "Rejected",
    "WebhookReceiver",
    "object_id_of",
    "parse_delivery",
    "webhook_routes",
]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/lightspeed"
# The URL the retailer's original setup registered for sale.update.
LEGACY_PATH = "/api/webhooks/lightspeed/sale-created"
# Every type X-Series sends (reference §8); only sales and customers are acted on.
HANDLED_TYPES = ("sale.update", "customer.update")
_PATH_TYPES = {LEGACY_PATH: "sale.update"}
# Keys only one of the two 1.0 shapes has (register_sale vs customer).
_SALE_KEYS = ("register_sale_products", "register_sale_payments", "sale_date", "register_id")
_CUSTOMER_KEYS = ("customer_code", "customer_group_id", "first_name", "loyalty_balance")
_MAX_ID = 64
# ASCII only: str.isalnum() would also take other scripts' letters and digits.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab is allowed in a header


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
    return ParsedDelivery(type=kind, object_id=object_id_of(obj), payload=values[0])


def object_id_of(obj: dict[str, Any]) -> str:
    """The payload's ``id`` as stored and later put into an API path, or :class:`Rejected`.

    Sale and customer ids are UUIDs (reference §3, §5); other X-Series objects use
    decimal numbers, so those pass too. Anything else (a NUL or another control
    character, which PostgreSQL cannot store in text; a slash that would change the API
    path the worker reads; an id too long for the column; a number with a fraction; a
    list) is refused here, before storage, so it can never fail a group commit."""
    value = obj.get("id")
    if value is None:
        raise Rejected(400, "malformed_payload", "'payload' has no 'id'")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise Rejected(
            400, "malformed_payload", "'payload' 'id' must be a string or a whole number"
        )
    value = value.strip(" ")
    if not value:
        raise Rejected(400, "malformed_payload", "'payload' has an empty 'id'")
    if len(value) > _MAX_ID:
        raise Rejected(400, "malformed_payload", f"'payload' 'id' is over {_MAX_ID} characters")
    if not _ID.fullmatch(value):
        raise Rejected(
            400,
            "malformed_payload",
            "'payload' 'id' may hold only letters, digits and . _ : - (a UUID or a number)",
        )
    return value


class WebhookReceiver:
    """The request handlers, with the settings and engine they need passed in."""

    def __init__(
        self,
        settings: WebhookSettings,
        engine: Engine,
        *,
        clock: Callable[[], datetime] | None = None,
        oauth_secret: str = "",
    ) -> None:
        self.settings = settings
        self.engine = engine
        # The add-on's client_secret (lightspeed.client_secret): while an OAuth connection
        # is stored, every delivery must carry an X-Signature made with it (reference §8:
        # deliveries to OAuth subscriptions are signed); URL tokens are not accepted.
        self.oauth_secret = oauth_secret
        self._oauth_read_at: float | None = None
        self._oauth_in_use = False
        self._clock = clock or (lambda: datetime.now(UTC))
        self._seen_encodings: set[str] = set()
        self._writer = InboxWriter(engine, self._clock)
        self.url_token = UrlToken(settings.url_token.get_secret_value(), engine)
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
        encoding = await self._authenticate(request, body)
        hint = request.query_params.get("type") or _PATH_TYPES.get(request.url.path)
        if hint is not None and hint not in WEBHOOK_TYPES:
            raise Rejected(400, "unknown_type", "the URL's type is not an X-Series webhook type")
        content_type = request.headers.get("content-type")
        if content_type is not None and _CONTROL.search(content_type):
            # Stored with the delivery; PostgreSQL text cannot hold a NUL.
            raise Rejected(400, "malformed_body", "the Content-Type has control characters")
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
        try:
            stored = await self._writer.store(delivery)
        except Exception as exc:
            # Lightspeed re-sends on any non-2xx; the message names no stored data.
            log.error("webhook delivery not stored: %s", _describe(exc))
            return error_response(500, "not_stored", "the delivery could not be stored")
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

    async def _authenticate(self, request: Request, body: bytes) -> str:
        """How the request proved itself: an X-Signature encoding, or ``url-token``."""
        if await self._oauth_connected():
            return self._signed_by_app(request, body)
        settings = self.settings
        secret = settings.secret.get_secret_value()
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
        given = request.query_params.get("token", "")
        token = await self.url_token.current()
        if not _same(given, token):
            token = await self.url_token.current(missed=True)
        if token:
            if _same(given, token):
                return "url-token"
            raise Rejected(401, "bad_token", "the URL token is missing or wrong")
        if secret:
            raise Rejected(401, "signature_required", "the request has no X-Signature header")
        if settings.allow_unauthenticated:
            return "none"
        raise Rejected(
            503,
            "not_configured",
            "webhooks are refused until webhooks.secret is set or `greenloop webhooks "
            "register` has made a URL token",
        )

    async def _oauth_connected(self) -> bool:
        """Whether an OAuth connection is stored (read again every 5 seconds)."""
        if not self.oauth_secret:
            return False
        now = time.monotonic()
        if self._oauth_read_at is None or now - self._oauth_read_at >= 5.0:
            self._oauth_read_at = now
            self._oauth_in_use = await run_in_threadpool(self._read_oauth)
        return self._oauth_in_use

    def _read_oauth(self) -> bool:
        try:
            with self.engine.connect() as conn:
                return oauth_repo.read_connection(conn) is not None
        except SQLAlchemyError as exc:
            log.warning("cannot read the OAuth connection: %s", type(exc).__name__)
            return self._oauth_in_use

    def _signed_by_app(self, request: Request, body: bytes) -> str:
        header = request.headers.get("x-signature")
        if header is None:
            raise Rejected(
                401,
                "signature_required",
                "a valid X-Signature is required: GreenLoop is connected as an add-on",
            )
        try:
            encoding = verify_signature(self.oauth_secret, body, header)
        except SignatureMismatch as exc:
            raise Rejected(401, "bad_signature", exc.message) from None
        self._note_encoding(encoding)
        return encoding

    def _note_encoding(self, encoding: str) -> None:
        # Lightspeed does not document the digest encoding (reference §8): say once
        # which one real deliveries use.
        if encoding not in self._seen_encodings:
            self._seen_encodings.add(encoding)
            log.info("webhook X-Signature matched as %s", encoding)


def _describe(exc: Exception) -> str:
    """The error's type and the driver's first line, without the SQL and its values."""
    orig = getattr(exc, "orig", None)
    detail = str(orig if orig is not None else exc).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0][:200]}" if detail else type(exc).__name__


def _same(given: str, token: str) -> bool:
    return bool(given and token) and hmac.compare_digest(given.encode(), token.encode())


def webhook_routes(receiver: WebhookReceiver) -> list[BaseRoute]:
    return [
        Route(WEBHOOK_PATH, receiver.handle, methods=["POST"]),
        Route(LEGACY_PATH, receiver.handle, methods=["POST"]),
    ]
