"""Webhook subscriptions in X-Series, and the inbox's status (``greenloop webhooks …``).

Plain functions over ``Settings`` for the CLI (``greenloop webhooks …``) and for
``serve``. Subscriptions use the 2.0 JSON API (``/api/2.0/webhooks``) and fall back to
the 0.9 form API (``/api/webhooks``, a form field ``data`` holding the JSON) where the
2.0 one is missing (reference §8). One subscription is one URL and one type; the URL
names the type (``?type=…``) because deliveries do not (reference §8: "route by the
subscription URL"), and carries the URL token in force: ``webhooks.url_token`` when
configured, else a random one that ``register`` made and keeps in the database, where
``serve`` reads it (``greenloop.web.url_token``).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import Engine

from greenloop.config import Settings
from greenloop.errors import ApiRejected, BadResponse, ConfigError, GreenLoopError, NotFound
from greenloop.lightspeed.client import LightspeedClient
from greenloop.lightspeed.webhook_types import WEBHOOK_TYPES
from greenloop.logs import redact
from greenloop.services.setup import open_engine
from greenloop.services.tokens import lightspeed_client
from greenloop.store import inbox, oauth_repo
from greenloop.store.service_state import WEBHOOK_URL_TOKEN as STORED_NAME
from greenloop.store.service_state import read_value, write_value

__all__ = [
    "Registration",
    "Subscription",
    "delete_webhook",
    "inbox_status",
    "list_webhooks",
    "redact_url",
    "register",
    "register_webhooks",
    "requeue_parked",
    "subscription_url",
]

ClientFactory = Callable[[Settings], LightspeedClient]
_V2 = "/api/2.0/webhooks"
_LEGACY = "/api/webhooks"
_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&#]*")


@dataclass(frozen=True)
class Subscription:
    id: str
    type: str
    url: str
    active: bool
    # created, exists, reactivated (register); listed; deleted
    status: str = "listed"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def redact_url(url: str) -> str:
    """The URL with its ``token`` query value masked, for printing."""
    return _TOKEN_IN_URL.sub(r"\g<1>***", url)


def subscription_url(url: str, type_: str, token: str = "") -> str:
    """``url`` with ``type`` (and ``token``, when given) in its query, each set once."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"'{redact_url(url)}' is not an http(s) URL",
            hint="Give the public address of `greenloop serve`, e.g. "
            "https://greenloop.example.com/webhooks/lightspeed",
        )
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "type"]
    query.append(("type", type_))
    if token and not any(k == "token" for k, _ in query):
        query.append(("token", token))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def _client(settings: Settings, factory: ClientFactory | None) -> LightspeedClient:
    return (factory or (lambda s: lightspeed_client(s)))(settings)


def _subscription(obj: Any, status: str) -> Subscription:
    if not isinstance(obj, dict) or not obj.get("id"):
        raise BadResponse("the webhooks API answered something that is not a webhook")
    return Subscription(
        id=str(obj["id"]),
        type=str(obj.get("type", "")),
        url=str(obj.get("url", "")),
        active=obj.get("active") in (True, "1", 1, "true"),
        status=status,
    )


class _Webhooks:
    """The subscriptions API on one client: 2.0, or 0.9 where 2.0 answers 404."""

    def __init__(self, client: LightspeedClient) -> None:
        self.client = client
        self.legacy = False

    def list(self) -> list[Subscription]:
        try:
            payload = self.client.request("GET", _V2, label="webhooks")
        except ApiRejected as exc:
            if exc.status != 404:
                raise
            self.legacy = True
            payload = self.client.request("GET", _LEGACY, label="webhooks")
        items = payload.get("data") if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            raise BadResponse("GET webhooks: expected a list of webhooks")
        return [_subscription(item, "listed") for item in items]

    def create(self, url: str, type_: str) -> Subscription:
        body = {"url": url, "active": True, "type": type_}
        if self.legacy:
            form = {"data": json.dumps(body)}
            answer = self.client.request("POST", _LEGACY, form=form, label="webhooks")
        else:
            answer = self.client.request("POST", _V2, json=body, label="webhooks")
        data = answer.get("data", answer) if isinstance(answer, dict) else answer
        return _subscription(data, "created")

    def activate(self, hook: Subscription) -> Subscription:
        body = {"url": hook.url, "active": True, "type": hook.type}
        answer = self.client.request("PUT", f"{_V2}/{hook.id}", json=body, label="webhooks")
        data = answer.get("data", answer) if isinstance(answer, dict) else answer
        return _subscription(data, "reactivated")

    def delete(self, webhook_id: str) -> None:
        path = f"{_LEGACY if self.legacy else _V2}/{webhook_id}"
        self.client.request("DELETE", path, label="webhooks")


@dataclass(frozen=True)
class Registration:
    """What ``webhooks register`` did: the subscriptions, where the URL token came from,
    and the subscriptions it replaced (same URL and type, another token)."""

    webhooks: list[Subscription]
    # configured (webhooks.url_token), stored (made by an earlier register), created,
    # rotated (--rotate-token), none (webhooks.secret alone authenticates), or signed
    # (an OAuth connection: deliveries carry X-Signature made with the client secret)
    url_token: str
    replaced: list[Subscription]

    def as_json(self) -> dict[str, Any]:
        return {
            "webhooks": [h.as_json() for h in self.webhooks],
            "url_token": self.url_token,
            "replaced": [h.as_json() for h in self.replaced],
        }


def register_webhooks(
    settings: Settings,
    url: str,
    *,
    types: Sequence[str] | None = None,
    client_factory: ClientFactory | None = None,
) -> list[Subscription]:
    """:func:`register`'s subscriptions, for callers that need only those."""
    return register(settings, url, types=types, client_factory=client_factory).webhooks


def register(
    settings: Settings,
    url: str,
    *,
    types: Sequence[str] | None = None,
    rotate_token: bool = False,
    client_factory: ClientFactory | None = None,
) -> Registration:
    """Subscribe ``url`` to each type; an existing identical subscription is kept.

    The URL carries the token in force: ``webhooks.url_token`` when configured, else
    the one stored in the database. With neither that nor ``webhooks.secret`` set,
    deliveries could not be told from forgeries, so a random token is made and stored
    (``serve`` reads it there); ``rotate_token`` replaces the stored one. Subscriptions
    of the same URL and type with another token are deleted once the new ones exist
    and the token is stored, so an old token stops reaching GreenLoop.
    """
    wanted = _wanted_types(settings, types)
    subscription_url(url, wanted[0])  # a bad URL fails before anything is made
    if _oauth_connected(settings):
        # Deliveries to an add-on's subscriptions are signed with its client_secret
        # (reference §8), and the receiver then requires that signature: no URL token.
        return _subscribe(settings, url, wanted, "", "signed", None, client_factory)
    configured = settings.webhooks.url_token.get_secret_value()
    if configured and rotate_token:
        raise ConfigError(
            "webhooks.url_token is set in the configuration, so a stored token would not be used",
            hint="Change webhooks.url_token (or GREENLOOP_WEBHOOKS__URL_TOKEN) itself, "
            "then run `greenloop webhooks register` again.",
        )
    if configured:
        return _subscribe(settings, url, wanted, configured, "configured", None, client_factory)
    engine = open_engine(settings)
    try:
        stored = read_value(engine, STORED_NAME) or ""
        if rotate_token or not (stored or settings.webhooks.secret.get_secret_value()):
            source = "rotated" if stored else "created"
            token = secrets.token_urlsafe(32)
            return _subscribe(settings, url, wanted, token, source, engine, client_factory)
        source = "stored" if stored else "none"
        return _subscribe(settings, url, wanted, stored, source, None, client_factory)
    finally:
        engine.dispose()


def _oauth_connected(settings: Settings) -> bool:
    if not settings.lightspeed.oauth_configured():
        return False
    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            return oauth_repo.read_connection(conn) is not None
    finally:
        engine.dispose()


def _wanted_types(settings: Settings, types: Sequence[str] | None) -> list[str]:
    wanted = list(types or settings.webhooks.types)
    unknown = [k for k in wanted if k not in WEBHOOK_TYPES]
    if unknown:
        raise ConfigError(
            f"unknown webhook type(s): {', '.join(unknown)}",
            hint=f"Use any of: {', '.join(WEBHOOK_TYPES)}.",
        )
    if not wanted:
        raise ConfigError("no webhook types to subscribe", hint="Pass --type sale.update.")
    return wanted


def _subscribe(
    settings: Settings,
    url: str,
    wanted: list[str],
    token: str,
    source: str,
    store_in: Engine | None,
    client_factory: ClientFactory | None,
) -> Registration:
    """Create what is missing, store a new token (``store_in``), then delete the
    subscriptions the token made stale. Creating first means no delivery is refused
    for want of a subscription; a failure before the token is stored leaves the old
    token working, and running register again cleans up."""
    client = _client(settings, client_factory)
    try:
        api = _Webhooks(client)
        existing = api.list()
        if source == "rotated":
            # Every type this URL receives moves to the new token, not only --type's.
            more = {h.type for h in existing if _same_target(h.url, url)} - set(wanted)
            wanted = [*wanted, *sorted(more)]
        targets = {kind: subscription_url(url, kind, token) for kind in wanted}
        out = [_ensure(api, existing, kind, target) for kind, target in targets.items()]
        if store_in is not None:
            write_value(store_in, STORED_NAME, token)
        stale = [
            h
            for h in existing
            if h.type in targets and h.url != targets[h.type] and _same_target(h.url, url)
        ]
        for hook in stale:
            api.delete(hook.id)
        replaced = [Subscription(h.id, h.type, h.url, h.active, "replaced") for h in stale]
        return Registration([_shown(h) for h in out], source, [_shown(h) for h in replaced])
    except GreenLoopError as exc:
        # An API answer may quote the subscription URL back, token and all.
        exc.message = redact(exc.message, [token])
        exc.args = (exc.message,)
        raise
    finally:
        client.close()


def _ensure(api: _Webhooks, existing: list[Subscription], kind: str, target: str) -> Subscription:
    """The subscription of ``kind`` to ``target``: kept, reactivated or created."""
    hook = next((h for h in existing if (h.type, h.url) == (kind, target)), None)
    if hook is None:
        try:
            return api.create(target, kind)
        except ApiRejected as exc:
            # 409: "A webhook with this type and URL already exists." (2026-07 spec) -
            # made by someone else since we listed.
            if exc.status != 409:
                raise
            found = [h for h in api.list() if (h.type, h.url) == (kind, target)]
            if not found:
                raise
            return Subscription(found[0].id, kind, target, found[0].active, "exists")
    if not hook.active and not api.legacy:
        return api.activate(hook)
    return Subscription(hook.id, hook.type, hook.url, hook.active, "exists")


def _same_target(hook_url: str, url: str) -> bool:
    """Whether a subscription's URL is ``url`` apart from its ``type`` and ``token``."""

    def base(value: str) -> tuple[str, str, str, list[tuple[str, str]]]:
        parts = urlsplit(value.strip())
        query = parse_qsl(parts.query, keep_blank_values=True)
        return (
            parts.scheme,
            parts.netloc,
            parts.path,
            sorted((k, v) for k, v in query if k not in ("type", "token")),
        )

    return base(hook_url) == base(url)


def _shown(hook: Subscription) -> Subscription:
    return Subscription(hook.id, hook.type, redact_url(hook.url), hook.active, hook.status)


def list_webhooks(
    settings: Settings, *, client_factory: ClientFactory | None = None
) -> list[Subscription]:
    """Every subscription of the retailer (URL tokens masked)."""
    client = _client(settings, client_factory)
    try:
        return [_shown(h) for h in _Webhooks(client).list()]
    finally:
        client.close()


def delete_webhook(
    settings: Settings, webhook_id: str, *, client_factory: ClientFactory | None = None
) -> Subscription:
    """Remove one subscription by id."""
    client = _client(settings, client_factory)
    try:
        api = _Webhooks(client)
        hook = next((h for h in api.list() if h.id == webhook_id), None)
        if hook is None:
            raise NotFound(
                f"no webhook subscription with id {webhook_id}",
                hint="See the ids with `greenloop webhooks list`.",
            )
        api.delete(webhook_id)
        return _shown(Subscription(hook.id, hook.type, hook.url, hook.active, "deleted"))
    finally:
        client.close()


def inbox_status(settings: Settings, *, limit: int = 20) -> dict[str, Any]:
    """Inbox depth per status, the oldest unprocessed age, and the parked deliveries."""
    engine = open_engine(settings)
    try:
        with engine.connect() as conn:
            stats = inbox.inbox_stats(conn, datetime.now(UTC))
            parked = inbox.list_rows(conn, statuses=("parked",), limit=limit)
        return {**stats.as_json(), "parked_rows": parked}
    finally:
        engine.dispose()


def requeue_parked(settings: Settings, ids: Sequence[int] | None = None) -> int:
    """Send parked deliveries (all, or these ids) back to the queue."""
    engine = open_engine(settings)
    try:
        with engine.begin() as conn:
            return inbox.requeue_parked(conn, datetime.now(UTC), ids)
    finally:
        engine.dispose()
