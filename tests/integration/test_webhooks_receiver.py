"""The webhook receiver: signed deliveries from the simulator stored once; forged,
unsigned, malformed and oversized requests refused with nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from greenloop.config import Settings
from greenloop.store.service_state import write_value
from greenloop.web.app import create_app
from greenloop.web.url_token import STORED_NAME, UrlToken
from greenloop.web.webhooks import WebhookReceiver
from tests.envelope import assert_error
from tests.integration.test_webhooks_support import (
    SECRET,
    form_body,
    inbox_rows,
    running_receiver,
    sender_for,
    signed_headers,
)
from tests.simulation import running_simulator, settings_for

SALE = {
    "id": "0af7b240-ab83-11e7-eddc-51c4f5d2e1a8",
    "register_id": "reg-1",
    "customer_id": "cus-1",
    "status": "CLOSED",
    "sale_date": "2026-11-01 10:00:00",
    "total_price": "34.725",
    "register_sale_products": [{"id": "li-1", "quantity": "1", "price": "34.725"}],
}
CUSTOMER = {"id": "cus-1", "customer_code": "Customer-JYU2", "first_name": "John"}


def _settings(db_url: str, **webhooks: Any) -> Settings:
    values = {"secret": SECRET, **webhooks}
    return settings_for("http://127.0.0.1:9", db_url, webhooks=values)


@pytest.fixture
def client(engine: Engine, db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(db_url), engine)) as test_client:
        yield test_client


def _post(
    client: TestClient, body: bytes, headers: dict[str, str], path: str = "/webhooks/lightspeed"
) -> Any:
    return client.post(path, content=body, headers=headers)


def test_simulator_deliveries_over_http_are_stored_once(engine: Engine, db_url: str) -> None:
    settings = _settings(db_url)
    with running_simulator() as sim, running_receiver(settings, engine) as url:
        sender = sender_for(sim)
        for kind in ("sale.update", "customer.update"):
            sim.state.insert(
                "webhooks",
                {
                    "id": kind,
                    "type": kind,
                    "url": f"{url}/webhooks/lightspeed?type={kind}",
                    "active": True,
                },
            )
        customer = next(c for c in sim.store()["customers"] if not c.get("deleted_at"))
        register = sim.store()["registers"][0]
        sim.control("PUT", f"customers/{customer['id']}", {"first_name": "Renamed"})
        sale = sim.control(
            "POST",
            "sales",
            {
                "register_id": register["id"],
                "customer_id": customer["id"],
                "status": "CLOSED",
                "line_items": [{"product_id": "p-1", "quantity": 1, "price": Decimal("10.5")}],
            },
        )["data"]
        outgoing = sender.take()
        first = sender.send(outgoing)
        again = sender.send(outgoing)  # Lightspeed re-sends after a timeout
    assert [a.status for a in first + again] == [200] * len(first + again)
    assert {json.loads(a.response)["status"] for a in first} == {"stored"}
    assert {json.loads(a.response)["status"] for a in again} == {"duplicate"}
    rows = inbox_rows(engine)
    assert len(rows) == len(outgoing)
    by_type = {(r["type"], r["object_id"]) for r in rows}
    assert ("customer.update", customer["id"]) in by_type
    assert ("sale.update", sale["id"]) in by_type
    for row, sent in zip(rows, outgoing, strict=True):
        assert row["body"] == sent.body  # the raw bytes the signature covers
        assert row["signature_encoding"] == "body:hex"
        assert row["status"] == "pending"
        assert row["first_seen_by"] == "webhook"
        assert row["duplicates"] == 1


@pytest.mark.parametrize("encoding", ["body:base64", "payload:hex", "payload:base64url"])
def test_other_signature_encodings_are_accepted_and_recorded(
    client: TestClient, engine: Engine, encoding: str
) -> None:
    body = form_body(SALE)
    response = _post(client, body, signed_headers(body, encoding=encoding))
    assert response.status_code == 200, response.text
    assert inbox_rows(engine)[0]["signature_encoding"] == encoding


def test_forged_signature_is_refused_and_nothing_stored(client: TestClient, engine: Engine) -> None:
    body = form_body(SALE)
    response = _post(client, body, signed_headers(body, secret="not-the-secret"))
    assert_error(response, 401, "bad_signature")
    assert SECRET not in response.text
    tampered = body.replace(b"34.725", b"0.01")
    response = _post(client, tampered, signed_headers(body))
    assert response.status_code == 401
    assert inbox_rows(engine) == []


def _refused(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, error: str
) -> None:
    assert_error(_post(client, body, headers), status, error)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (json.dumps({"payload": SALE}).encode(), "application/json", 415, "unsupported_media_type"),
        (b"payload=%7Bnot-json", None, 400, "malformed_payload"),
        (b"payload=%5B1%2C2%5D", None, 400, "malformed_payload"),
        (b"domain_prefix=x", None, 400, "malformed_body"),
        (b"payload=a&payload=b", None, 400, "malformed_body"),
        (b"\xff\xfe=1", None, 400, "malformed_body"),
        (form_body({"status": "CLOSED", "register_id": "r"}), None, 400, "malformed_payload"),
        (form_body({"id": "x", "note": "?"}), None, 422, "unknown_type"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(
    client: TestClient,
    engine: Engine,
    body: bytes,
    content_type: str | None,
    status: int,
    error: str,
) -> None:
    headers = signed_headers(body)
    if content_type:
        headers["Content-Type"] = content_type
    _refused(client, body, headers, status, error)
    assert inbox_rows(engine) == []


def test_oversized_body_is_refused_before_it_is_stored(client: TestClient, engine: Engine) -> None:
    body = form_body({**SALE, "note": "x" * 10_000_000})
    _refused(client, body, signed_headers(body), 413, "too_large")
    assert inbox_rows(engine) == []


def test_unsigned_delivery_needs_the_url_token(engine: Engine, db_url: str) -> None:
    settings = _settings(db_url, secret="", url_token="url-token-5566")
    body = form_body(CUSTOMER)
    headers = signed_headers(body, secret="")
    with TestClient(create_app(settings, engine)) as client:
        _refused(client, body, headers, 401, "bad_token")
        wrong = client.post("/webhooks/lightspeed?token=nope", content=body, headers=headers)
        assert wrong.status_code == 401
        assert "url-token-5566" not in wrong.text
        ok = client.post("/webhooks/lightspeed?token=url-token-5566", content=body, headers=headers)
        assert ok.status_code == 200
    [row] = inbox_rows(engine)
    assert (row["type"], row["object_id"], row["signature_encoding"]) == (
        "customer.update",
        "cus-1",
        "url-token",
    )


def test_unsigned_delivery_is_refused_when_a_signature_is_required(
    engine: Engine, db_url: str
) -> None:
    settings = _settings(db_url, url_token="url-token-5566", require_signature=True)
    body = form_body(SALE)
    with TestClient(create_app(settings, engine)) as client:
        response = client.post(
            "/webhooks/lightspeed?token=url-token-5566",
            content=body,
            headers=signed_headers(body, secret=""),
        )
        assert_error(response, 401, "signature_required")
        signed = client.post("/webhooks/lightspeed", content=body, headers=signed_headers(body))
        assert signed.status_code == 200
    assert len(inbox_rows(engine)) == 1


def test_without_secret_or_token_nothing_is_accepted(engine: Engine, db_url: str) -> None:
    settings = _settings(db_url, secret="")
    body = form_body(SALE)
    with TestClient(create_app(settings, engine)) as client:
        response = client.post("/webhooks/lightspeed", content=body, headers=signed_headers(body))
    assert_error(response, 503, "not_configured")
    assert inbox_rows(engine) == []


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_url_token_register_stored_is_read_and_a_rotation_needs_no_restart(
    engine: Engine, db_url: str
) -> None:
    settings = _settings(db_url, secret="")
    receiver = WebhookReceiver(settings.webhooks, engine)
    clock = FakeMonotonic()
    receiver.url_token = UrlToken("", engine, monotonic=clock)
    body = form_body(CUSTOMER)
    headers = signed_headers(body, secret="")

    def post(token: str | None = None) -> Any:
        query = "" if token is None else f"?token={token}"
        return client.post(f"/webhooks/lightspeed{query}", content=body, headers=headers)

    with TestClient(create_app(settings, engine, receiver=receiver)) as client:
        assert_error(post(), 503, "not_configured")
        write_value(engine, STORED_NAME, "stored-token-A")  # `webhooks register`
        clock.now += 1  # a wrong or missing token re-reads at most once a second
        assert post("stored-token-A").status_code == 200
        assert_error(post(), 401, "bad_token")
        write_value(engine, STORED_NAME, "stored-token-B")  # `register --rotate-token`
        clock.now += 1
        assert post("stored-token-B").status_code == 200  # the new one at once
        assert_error(post("stored-token-A"), 401, "bad_token")
        write_value(engine, STORED_NAME, "stored-token-C")
        assert post("stored-token-B").status_code == 200  # cached for up to 5 s
        clock.now += 5
        assert_error(post("stored-token-B"), 401, "bad_token")
    assert [r["signature_encoding"] for r in inbox_rows(engine)] == ["url-token"]


def test_a_configured_url_token_wins_over_the_stored_one(engine: Engine, db_url: str) -> None:
    write_value(engine, STORED_NAME, "stored-token-A")
    settings = _settings(db_url, secret="", url_token="url-token-5566")
    body = form_body(CUSTOMER)
    headers = signed_headers(body, secret="")
    with TestClient(create_app(settings, engine)) as client:
        stored = client.post(
            "/webhooks/lightspeed?token=stored-token-A", content=body, headers=headers
        )
        assert_error(stored, 401, "bad_token")
        ok = client.post("/webhooks/lightspeed?token=url-token-5566", content=body, headers=headers)
        assert ok.status_code == 200


def test_legacy_path_type_hints_and_ignored_types(client: TestClient, engine: Engine) -> None:
    # The retailer's original URL received sale.update only; the payload shape alone
    # would be ambiguous here.
    bare = form_body({"id": "sale-9"})
    legacy = "/api/webhooks/lightspeed/sale-created"
    assert _post(client, bare, signed_headers(bare), legacy).status_code == 200
    # The type named in the URL wins over the payload's shape.
    customer = form_body(CUSTOMER)
    url = "/webhooks/lightspeed?type=customer.update"
    assert _post(client, customer, signed_headers(customer), url).status_code == 200
    # Shape alone: a register_sale is a sale.
    sale = form_body(SALE)
    assert _post(client, sale, signed_headers(sale)).status_code == 200
    # Types GreenLoop does not act on are acknowledged, not stored.
    product = form_body({"id": "prod-1", "name": "Tea"})
    response = _post(
        client, product, signed_headers(product), "/webhooks/lightspeed?type=product.update"
    )
    assert response.json() == {"status": "ignored"}
    bad = _post(client, sale, signed_headers(sale), "/webhooks/lightspeed?type=sale.created")
    assert bad.status_code == 400
    rows = inbox_rows(engine)
    assert [(r["type"], r["object_id"], r["endpoint"]) for r in rows] == [
        ("sale.update", "sale-9", legacy),
        ("customer.update", "cus-1", "/webhooks/lightspeed"),
        ("sale.update", SALE["id"], "/webhooks/lightspeed"),
    ]


def test_healthz_reports_database_and_inbox(client: TestClient) -> None:
    body = form_body(SALE)
    _post(client, body, signed_headers(body))
    response = client.get("/healthz")
    assert response.status_code == 200
    payload = response.json()
    assert payload["status"] == "ok"
    assert payload["inbox"]["depth"] == 1
