"""Typed, lenient access to one X-Series API object, with errors naming the object and field.

Parsing is strict about what GreenLoop relies on (ids, versions, dates, money) and
lenient about the rest: the 2.0 schema declares ``customer_id`` and ``source_id`` as
non-nullable strings although walk-in and in-store sales have neither, so absent, null
and empty all mean "none". Money becomes ``Decimal`` (the JSON was parsed with
``parse_float=Decimal``; integers are converted here). Times become aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from greenloop.errors import BadResponse

__all__ = ["FieldReader", "Obj", "column_names", "parse_api_time"]

Obj = dict[str, Any]


class FieldReader:
    """Typed access to one API object, with errors that name the object and field."""

    def __init__(self, obj: Obj, kind: str) -> None:
        self.obj = obj
        self.kind = kind

    def fail(self, key: str, why: str) -> BadResponse:
        ident = self.obj.get("id", "?")
        return BadResponse(f"{self.kind} {ident}: field '{key}' {why}")

    def req_str(self, key: str) -> str:
        value = self.obj.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(key, "is missing or not a string")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.obj.get(key)
        if type(value) is str:
            return value or None
        if value is None:
            return None
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise self.fail(key, f"is not a string ({type(value).__name__})")
        return value

    def text(self, key: str) -> str:
        return self.opt_str(key) or ""

    def version(self) -> int:
        value = self.obj.get("version")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise self.fail("version", "is missing or not an integer")
        try:
            return int(value)
        except ValueError:
            raise self.fail("version", "is not an integer") from None

    def money(self, key: str) -> Decimal | None:
        value = self.obj.get(key)
        if type(value) is Decimal:  # the common case: JSON parsed with parse_float=Decimal
            return value
        if type(value) is int:
            return Decimal(value)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise self.fail(key, "is a boolean, not an amount")
        if isinstance(value, Decimal):
            return value
        try:
            return Decimal(str(value)) if isinstance(value, (int, str)) else Decimal(repr(value))
        except InvalidOperation:
            raise self.fail(key, f"is not a number ({value!r})") from None

    def money0(self, key: str) -> Decimal:
        return self.money(key) or Decimal(0)

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.obj.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, Decimal)):
            return bool(value)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes")
        raise self.fail(key, "is not a boolean")

    def opt_int(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None or value == "" or isinstance(value, bool):
            return None
        try:
            return int(value)
        except (TypeError, ValueError, InvalidOperation):
            raise self.fail(key, "is not an integer") from None

    def time(self, key: str) -> datetime | None:
        value = self.obj.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.fail(key, "is not a timestamp string")
        return parse_api_time(value, lambda why: self.fail(key, why))

    def req_time(self, key: str) -> datetime:
        value = self.time(key)
        if value is None:
            raise self.fail(key, "is missing")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.obj.get(key) or []
        if not isinstance(value, list):
            raise self.fail(key, "is not a list")
        return tuple(str(v) for v in value)


def parse_api_time(value: str, fail: Any = None) -> datetime:
    """ISO-8601 (2.0: ``2014-09-18T01:37:56+00:00``) or the 0.9/1.0 ``2016-07-18 08:04:05``.

    Lightspeed documents every API time as UTC, so a time without an offset is UTC.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.tzinfo is UTC:
        return parsed  # the 2.0 shape, "+00:00": nothing to convert
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        if fail is not None:
            raise fail(f"is not an ISO timestamp ({value!r})") from None
        raise
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def column_names(model: type[Any]) -> tuple[str, ...]:
    """The flat (non-collection) field names of a model, which are its table's columns."""
    return tuple(f.name for f in fields(model) if f.name not in ("line_items", "payments"))
