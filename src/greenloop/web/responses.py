"""The one JSON error envelope every GreenLoop endpoint answers with.

``{"error": "<code>", "message": "<sentence>"}``: the shape Lightspeed's own API uses
(reference §10), so one reader handles both. Messages never contain a secret.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

__all__ = ["error_response", "json_response"]


def error_response(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def json_response(payload: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(payload, status_code=status)
