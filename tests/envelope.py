"""The one check of GreenLoop's JSON error envelope, for every test that reads an error.

``{"error": {"code": "...", "message": "..."}}`` and nothing else (README, "The JSON
API"; ``greenloop.web.responses``), with ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["assert_error"]


def assert_error(response: Any, status: int, code: str) -> str:
    """Check the status, the envelope's shape and its code; returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert response.headers.get("x-content-type-options") == "nosniff"
    return str(body["error"]["message"])
