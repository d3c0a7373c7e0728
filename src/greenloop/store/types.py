"""Column types that keep GreenLoop's invariants on both SQLite and PostgreSQL.

``Money``: ``Decimal`` in and out. PostgreSQL gets unconstrained ``NUMERIC``, which keeps
the scale the API sent (``34.725`` stays ``34.725``); SQLite has no decimal type and would
round through a float, so it stores the exact text. Sum money in Python, not in SQL.

``UtcDateTime``: aware UTC ``datetime`` in and out. PostgreSQL ``timestamptz``; SQLite a
fixed-width ISO string, which sorts and compares correctly as text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Dialect, Numeric, String
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine

__all__ = ["Money", "UtcDateTime"]


class Money(TypeDecorator[Decimal]):
    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be Decimal, got {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        # The sync binds millions of amounts; skip the generic TypeDecorator wrapper.
        to_text = dialect.name == "sqlite"

        def process(value: Any) -> Any:
            if value is None:
                return None
            if type(value) is not Decimal:
                raise TypeError(f"money must be Decimal, got {type(value).__name__}")
            return str(value) if to_text else value

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise TypeError("datetimes must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.isoformat(timespec="microseconds")
        return value

    def bind_processor(self, dialect: Dialect) -> Any:
        to_text = dialect.name == "sqlite"
        # Bulk writes bind the same instant on many rows (an import's time, a snapshot);
        # remember the last conversion.
        last: list[Any] = [None, None]

        def process(value: Any) -> Any:
            if value is None:
                return None
            if value is last[0]:
                return last[1]
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise TypeError("datetimes must be timezone-aware")
            utc = value if value.tzinfo is UTC else value.astimezone(UTC)
            # Fixed-width ISO text sorts and compares correctly in SQLite.
            out = utc.isoformat(timespec="microseconds") if to_text else utc
            last[0], last[1] = value, out
            return out

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
