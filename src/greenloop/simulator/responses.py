"""Building API responses and reading requests the way the X-Series API does.

Error bodies follow reference §10: ``{"error": "<text>"}`` with an optional
``"message"``. Every body goes through :func:`greenloop.simulator.model.dumps`, so
money keeps its precision (``34.725`` stays a JSON number with three decimals).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from greenloop.simulator.config import EmptyVersionStyle
from greenloop.simulator.model import dumps, loads
from greenloop.simulator.state import Page

__all__ = [
    "JSON_TYPE",
    "ApiError",
    "data_response",
    "json_body",
    "json_response",
    "no_content",
    "not_found",
    "page_response",
    "query_bool",
    "query_int",
    "raw_json",
]

JSON_TYPE = "application/json"


class ApiError(Exception):
    """An error answer: raise it from a handler and the gate renders it."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        body: dict[str, str] = {"error": self.error}
        if self.message is not None:
            body["message"] = self.message
        return json_response(body, status=self.status, headers=self.headers)


def not_found(thing: str) -> ApiError:
    # The spec's own examples read "user not found" / "service not found" (reference §10).
    return ApiError(404, f"{thing} not found")


def raw_json(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(text.encode("utf-8"), status_code=status, headers=headers, media_type=JSON_TYPE)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return raw_json(dumps(obj), status=status, headers=headers)


def data_response(object_json: str, status: int = 200) -> Response:
    """``{"data": <object>}`` around an already serialized object."""
    return raw_json('{"data":' + object_json + "}", status=status)


def no_content() -> Response:
    return Response(status_code=204)


def page_response(page: Page, empty_version: EmptyVersionStyle) -> Response:
    """A version-cursor page: ``{"data": [...], "version": {"min": m, "max": M}}``."""
    parts = ['{"data":[', ",".join(page.items), "]"]
    if page.items:
        parts.append(f',"version":{{"min":{page.min_version},"max":{page.max_version}}}')
    elif empty_version == "null_fields":
        parts.append(',"version":{"min":null,"max":null}')
    elif empty_version == "null":
        parts.append(',"version":null')
    parts.append("}")
    return raw_json("".join(parts))


def query_int(
    request: Request, name: str, default: int | None, *, minimum: int | None = None
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if minimum is not None and value < minimum:
        raise ApiError(400, f"{name} must be at least {minimum}")
    return value


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def query_bool(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ApiError(400, f"{name} must be true or false")


async def json_body(request: Request) -> Any:
    """The request's JSON body (numbers with decimals as ``Decimal``), or a 400."""
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "Request body is empty")
    try:
        return loads(raw)
    except ValueError:
        raise ApiError(400, "Request body is not valid JSON") from None
