"""One table: status, headers and body → the exception the caller acts on."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from greenloop.errors import (
    ApiRejected,
    AuthFailed,
    BadResponse,
    FatalError,
    GarbledResponse,
    RateLimited,
    RetryableError,
    ServerError,
)
from greenloop.lightspeed.client import LightspeedClient
from greenloop.lightspeed.responses import parse_json, raise_for_status

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "headers", "body", "exc", "fragment"),
    [
        (
            429,
            {"retry-after": "Wed, 15 Jul 2020 15:04:05 GMT"},
            b'{"error": "Too Many Requests", "message": "Rate limiting enforced"}',
            RateLimited,
            "Rate limiting enforced",
        ),
        (401, {}, b'{"error": "Access token is not valid"}', AuthFailed, "token was refused"),
        (403, {}, b'{"error": "permission denied"}', AuthFailed, "permission"),
        (404, {}, b'{"error": "customer not found"}', ApiRejected, "customer not found"),
        (400, {}, b"not json at all", ApiRejected, "not json at all"),
        (500, {}, b'{"error": "Internal Server Error"}', ServerError, "HTTP 500"),
        (502, {}, b"<html>bad gateway</html>", ServerError, "HTTP 502"),
        (503, {}, b"", ServerError, "HTTP 503"),
    ],
)
def test_status_classification(
    status: int, headers: dict[str, str], body: bytes, exc: type[Exception], fragment: str
) -> None:
    with pytest.raises(exc, match=fragment) as info:
        raise_for_status(status, headers, body, "GET /api/2.0/sales", NOW)
    assert "GET /api/2.0/sales" in str(info.value)


def test_retryable_and_fatal_branches() -> None:
    assert issubclass(RateLimited, RetryableError)
    assert issubclass(ServerError, RetryableError)
    assert issubclass(AuthFailed, FatalError)
    assert issubclass(ApiRejected, FatalError)


def test_429_carries_the_retry_time() -> None:
    with pytest.raises(RateLimited) as info:
        raise_for_status(429, {"retry-after": "Wed, 15 Jul 2020 15:04:05 GMT"}, b"{}", "x", NOW)
    assert info.value.retry_after == datetime(2020, 7, 15, 15, 4, 5, tzinfo=UTC)


def test_2xx_passes() -> None:
    raise_for_status(204, {}, b"", "x", NOW)


def test_json_money_is_decimal_with_precision() -> None:
    data = parse_json(b'{"total_price_incl": 34.725, "version": 12}', "x")
    assert data["total_price_incl"] == Decimal("34.725")
    assert str(data["total_price_incl"]) == "34.725"
    assert data["version"] == 12
    assert isinstance(data["version"], int)


def test_truncated_json_is_a_garbled_response_worth_retrying() -> None:
    with pytest.raises(GarbledResponse, match="not valid JSON") as raised:
        parse_json(b'{"data": [{"id": "a"', "GET /api/2.0/sales?after=5")
    assert isinstance(raised.value, RetryableError)


def _client_answering(body: bytes) -> tuple[LightspeedClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    http = httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(answer))
    return LightspeedClient(http, sleep=lambda seconds: None), seen


def test_a_body_cut_off_on_the_way_is_retried() -> None:
    client, seen = _client_answering(b'{"data": [')
    with pytest.raises(GarbledResponse):
        client.get_data("/api/2.0/outlets")
    assert len(seen) == client.retry.max_retries + 1


def test_an_answer_of_the_wrong_shape_is_not_retried() -> None:
    """BadResponse says retrying will not help, so the client must not retry it."""
    client, seen = _client_answering(b'{"nodata": 1}')
    with pytest.raises(BadResponse):
        client.get_data("/api/2.0/outlets")
    assert len(seen) == 1
