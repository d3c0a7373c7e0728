"""What every dashboard handler shares: settings, engine, auth, templates, the clock,
and the small helpers for parsing input and answering (one JSON error shape)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from greenloop.analytics.options import AnalyzeOptions
from greenloop.config import Settings
from greenloop.lightspeed.ratelimit import RateBudget
from greenloop.services.analysis import analyze_options
from greenloop.store.matches_repo import count_suggestions
from greenloop.web.dashboard.auth import Auth, SessionGeneration
from greenloop.web.dashboard.figures import HeavyFigures
from greenloop.web.dashboard.logins import Logins

__all__ = [
    "EARLIEST",
    "LATEST",
    "ApiError",
    "Dashboard",
    "Handler",
    "date_param",
    "error_response",
    "int_param",
    "json_response",
    "key_param",
    "secure_headers",
]

HERE = Path(__file__).resolve().parent
# The calendar's edges, for periods open on one side.
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")

# The pages load scripts and styles only from /static/ and embed chart data as JSON.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class ApiError(Exception):
    """An answer other than success, in the one error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class _Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, default=_default, ensure_ascii=False).encode("utf-8")


def secure_headers(response: Response, *, private: bool = True) -> Response:
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if private:
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def json_response(data: Any, status: int = 200) -> Response:
    return secure_headers(_Json(data, status_code=status))


def error_response(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status)


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be between {low} and {high}")
    return value


def key_param(request: Request, name: str) -> str:
    """A path parameter naming something stored; text no id can have (NUL, which
    PostgreSQL refuses outright) is simply not found."""
    value = str(request.path_params[name])
    if "\x00" in value:
        raise ApiError(404, "not_found", f"no such {name}")
    return value


def date_param(request: Request, name: str) -> datetime | None:
    """A YYYY-MM-DD (midnight UTC) or an ISO datetime; naive means UTC."""
    raw = (request.query_params.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(0), tzinfo=UTC)
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be a date (YYYY-MM-DD)") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # an offset that pushes it past year 1 or 9999
        return EARLIEST if value.year == 1 else LATEST


@dataclass
class Dashboard:
    settings: Settings
    engine: Engine
    options: AnalyzeOptions
    auth: Auth
    templates: jinja2.Environment
    clock: Callable[[], datetime]
    figures: HeavyFigures
    logins: Logins
    # The serving process's own budget (shared by its worker, poll and push), when the
    # dashboard runs inside `greenloop serve`; None elsewhere.
    budget: RateBudget | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        engine: Engine,
        clock: Callable[[], datetime] | None = None,
        budget: RateBudget | None = None,
    ) -> Dashboard:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            # The templates ship with the package: no stat() of each one per page.
            auto_reload=False,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # Chart data is embedded as JSON in the same encoding the API uses.
        env.policies["json.dumps_kwargs"] = {"default": _default, "ensure_ascii": False}
        env.filters["money"] = _money_filter
        env.filters["when"] = _when_filter
        env.filters["day"] = _day_filter
        options = analyze_options(settings)
        now = clock or (lambda: datetime.now(UTC))
        return cls(
            settings=settings,
            engine=engine,
            options=options,
            auth=Auth(settings.dashboard, SessionGeneration(engine)),
            templates=env,
            clock=now,
            figures=HeavyFigures(
                engine, settings, options.counting, options.metrics.store_zone, now
            ),
            logins=Logins(settings.dashboard),
            budget=budget,
        )

    def rate_budget(self) -> dict[str, Any] | None:
        """The live budget: what the last API response said, minus requests in flight."""
        if self.budget is None:
            return None
        return {
            **self.budget.snapshot(),
            "window_seconds": self.budget.window.total_seconds(),
        }

    @property
    def page_size(self) -> int:
        return self.settings.dashboard.page_size

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a connection in the thread pool (the database calls block)."""

        def call() -> T:
            with self.engine.connect() as conn:
                return fn(conn)

        return await run_in_threadpool(call)

    async def suggestions_left(self) -> int:
        """Identity match suggestions waiting for staff (the Review badge)."""
        return await self.read(count_suggestions)


def _money_filter(value: Any) -> str:
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def _when_filter(value: Any) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(str(value)).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _day_filter(value: Any) -> str:
    if not value:
        return "—"
    return str(value)[:10]
