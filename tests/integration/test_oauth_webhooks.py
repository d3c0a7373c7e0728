"""The receiver once GreenLoop is connected as an add-on: deliveries must carry an
X-Signature made with lightspeed.client_secret; a URL token no longer lets one in, and
before any connection is stored the personal-token modes still work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from starlette.testclient import TestClient

from greenloop.config import Settings
from greenloop.store import oauth_repo
from greenloop.store.service_state import write_value
from greenloop.web.app import create_app
from greenloop.web.url_token import STORED_NAME
from tests.integration.test_webhooks_support import form_body, signed_headers
from tests.simulation import settings_for

CLIENT_SECRET = "oauth-client-secret-for-webhooks"
URL_TOKEN = "url-token-0123456789abcdef"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def add_on(db_url: str) -> Settings:
    ls = {"client_id": "app", "client_secret": CLIENT_SECRET, "token": ""}
    return settings_for("http://127.0.0.1:9", db_url, lightspeed=ls)


def store_connection(engine: Engine) -> None:
    now = datetime.now(UTC)
    tokens = oauth_repo.Tokens(
        access_token="access-0123456789",
        refresh_token="refresh-0123456789",
        expires_at=now + timedelta(hours=1),
        lifetime_seconds=3600,
        domain_prefix="shop",
        scopes=("sales:read",),
    )
    with engine.begin() as conn:
        oauth_repo.save_connection(conn, tokens, now)


def post(client: TestClient, body: bytes, headers: dict[str, str], query: str = "") -> int:
    path = f"/webhooks/lightspeed?type=customer.update{query}"
    return client.post(path, content=body, headers={**FORM, **headers}).status_code


def test_connected_add_on_requires_the_client_secrets_signature(
    engine: Engine, db_url: str
) -> None:
    write_value(engine, STORED_NAME, URL_TOKEN)
    body = form_body({"id": "c-1", "first_name": "Ada", "customer_code": "A1"})
    with TestClient(create_app(add_on(db_url), engine)) as client:
        # No connection yet: the URL token of personal-token subscriptions works.
        assert post(client, body, {}, f"&token={URL_TOKEN}") == 200
    store_connection(engine)
    with TestClient(create_app(add_on(db_url), engine)) as client:
        assert post(client, body, {}, f"&token={URL_TOKEN}") == 401
        assert post(client, body, signed_headers(body, "another-secret")) == 401
        assert post(client, body, signed_headers(body, CLIENT_SECRET)) == 200
