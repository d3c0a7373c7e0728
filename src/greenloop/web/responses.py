"""The one JSON error envelope every GreenLoop endpoint answers with.

``{"error": {"code": "<code>", "message": "<sentence>"}}``, as the README documents and
the dashboard's API answers (``dashboard.context.error_response``): one reader handles
every GreenLoop error, the webhook receiver's and ``/healthz``'s included. Messages
never contain a secret.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

__all__ = ["error_body", "error_response", "json_response"]


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status)


def json_response(payload: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status)
