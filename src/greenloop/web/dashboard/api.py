"""The JSON API under ``/api/``: everything the pages show, described at
``/api/openapi.json``. Lists are paginated (``{"data", "page", "page_size", "total"}``),
errors have one shape, money is a string, datetimes are ISO 8601 in UTC."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from greenloop.analytics.backtest import last_backtest
from greenloop.analytics.person import person_detail
from greenloop.services.serve_client import NONCE, SERVE_PROOF_PATH
from greenloop.web.dashboard import actions, queries, review
from greenloop.web.dashboard import queries_health as health
from greenloop.web.dashboard.context import (
    EARLIEST,
    LATEST,
    ApiError,
    Dashboard,
    date_param,
    error_response,
    int_param,
    json_response,
    key_param,
)
from greenloop.web.dashboard.guards import api_endpoint, read_body
from greenloop.web.dashboard.logins import client_address
from greenloop.web.dashboard.openapi import openapi_document

__all__ = [
    "FALLBACK",
    "api_routes",
    "csv_response",
    "page_params",
    "period",
    "risk_sort",
    "search_text",
    "shown_until",
]

MAX_PAGE_SIZE = 500
DEFAULT_PERIOD_DAYS = 90
FALLBACK = "api-fallback"
_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _from_this_machine(request: Request) -> bool:
    """A loopback client that came straight in, not through a proxy (which may be on
    loopback itself, passing on a remote client)."""
    if "x-forwarded-for" in request.headers or "forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False


def page_params(request: Request, default_size: int) -> tuple[int, int]:
    page = int_param(request, "page", 1, 1, 1_000_000)
    size = int_param(request, "page_size", default_size, 1, MAX_PAGE_SIZE)
    return page, size


def search_text(request: Request) -> str:
    """The ``q`` search text, refused when longer than anything it could match."""
    text = request.query_params.get("q", "")
    if len(text) > queries.MAX_SEARCH_CHARS:
        raise ApiError(
            400, "invalid_parameter", f"q must be at most {queries.MAX_SEARCH_CHARS} characters"
        )
    return text


def risk_sort(request: Request) -> tuple[str, bool]:
    sort = request.query_params.get("sort", "lifetime_value")
    if sort not in queries.RISK_SORTS:
        raise ApiError(
            400, "invalid_parameter", f"sort must be one of {sorted(queries.RISK_SORTS)}"
        )
    order = request.query_params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, "invalid_parameter", "order must be asc or desc")
    return sort, order == "desc"


def _shift(moment: datetime, days: int) -> datetime:
    try:
        return moment + timedelta(days=days)
    except OverflowError:  # a date at the calendar's edge: the period is open that way
        return LATEST if days > 0 else EARLIEST


def period(dash: Dashboard, request: Request, conn: Connection) -> tuple[datetime, datetime]:
    """The movements period as [start, end). A date means that whole day (UTC), so
    ``until=2026-10-31`` includes the 31st. By default the 90 days up to and including
    the day of the last full analysis (or today). A period ending before it starts is
    empty, not an error."""
    since, until = date_param(request, "since"), date_param(request, "until")
    if until is None:
        last = queries.overview(conn, dash.options.program)["last_analysis"]
        moment = datetime.fromisoformat(last["as_of"]) if last else dash.clock()
        until = datetime.combine(moment.astimezone(UTC).date(), time(0), tzinfo=UTC)
        end = _shift(until, 1)
    else:
        raw = request.query_params.get("until", "").strip()
        end = _shift(until, 1) if len(raw) == 10 else until
    start = since or _shift(end, -DEFAULT_PERIOD_DAYS)
    return start, max(start, end)


def shown_until(end: datetime) -> str:
    """The last day a period [start, end) covers, for the page's date field."""
    try:
        return (end - timedelta(microseconds=1)).date().isoformat()
    except OverflowError:
        return end.date().isoformat()


def api_routes(dash: Dashboard) -> list[BaseRoute]:
    program = dash.options.program

    async def overview(request: Request) -> Response:
        return json_response(await dash.read(lambda c: queries.overview(c, program)))

    async def tier_history(request: Request) -> Response:
        return json_response(await dash.read(lambda c: queries.tier_distribution(c, program)))

    async def movements(request: Request) -> Response:
        def run(conn: Connection) -> dict[str, Any]:
            since, until = period(dash, request, conn)
            return queries.movements(conn, program, since, until)

        return json_response(await dash.read(run))

    async def revenue(request: Request) -> Response:
        figures = await run_in_threadpool(dash.figures.get)
        return json_response(figures.revenue_json())

    async def customers(request: Request) -> Response:
        page, size = page_params(request, dash.page_size)
        text = search_text(request)
        rules = dash.options.identity
        found = await dash.read(lambda c: queries.search_persons(c, text, rules, page, size))
        return json_response(found.as_json())

    async def customer(request: Request) -> Response:
        key = key_param(request, "id")
        detail = await run_in_threadpool(person_detail, dash.engine, dash.options, key)
        return json_response(detail)

    async def risk(request: Request) -> Response:
        page, size = page_params(request, dash.page_size)
        sort, descending = risk_sort(request)
        found = await dash.read(lambda c: queries.risk_page(c, sort, descending, page, size))
        return json_response(found.as_json())

    async def risk_csv(request: Request) -> Response:
        sort, descending = risk_sort(request)
        rows = await dash.read(lambda c: queries.risk_list(c, sort, descending))
        return csv_response(actions.risk_csv(rows).encode("utf-8"), "at_risk.csv")

    async def last_backtest_result(request: Request) -> Response:
        found = await dash.read(last_backtest)
        if found is None:
            raise ApiError(404, "not_found", "no backtest yet: run greenloop backtest --as-of DATE")
        return json_response(found)

    async def master(request: Request) -> Response:
        data = await dash.read(lambda c: actions.master_csv(c, dash.clock()))
        return csv_response(data, "customer_analytics_master.csv")

    async def program_info(request: Request) -> Response:
        view = await dash.read(lambda c: queries.program_view(c, program))
        view["toml"] = actions.program_toml(program)
        return json_response(view)

    async def preview(request: Request) -> Response:
        try:
            body = json.loads(await read_body(request) or b"null")
        except ValueError:
            raise ApiError(400, "invalid_json", "the body is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("program"), str):
            raise ApiError(400, "invalid_input", 'send {"program": "<[program] TOML>"}')
        result = await run_in_threadpool(
            actions.preview_toml,
            dash.engine,
            dash.settings,
            dash.options,
            body["program"],
            dash.clock(),
        )
        return json_response(result)

    async def sync_health(request: Request) -> Response:
        resources = dash.settings.sync.resources
        data = await dash.read(
            lambda c: {
                **health.sync_health(c, resources),
                "webhook_inbox": health.webhook_inbox(c, dash.clock()),
            }
        )
        figures = await run_in_threadpool(dash.figures.get)
        data["reconcile"] = figures.reconcile
        data["reconcile_error"] = figures.reconcile_error
        data["figures_computed_at"] = figures.computed_at
        data["rate_budget"] = dash.rate_budget()
        return json_response(data)

    async def push_runs(request: Request) -> Response:
        page, size = page_params(request, dash.page_size)
        found = await dash.read(lambda c: health.push_runs(c, page, size))
        return json_response(found.as_json())

    async def push_run(request: Request) -> Response:
        run_id = int(request.path_params["run_id"])
        detail = await dash.read(lambda c: health.push_run_detail(c, run_id))
        if not detail:
            raise ApiError(404, "not_found", f"no push run {run_id}")
        return json_response(detail)

    async def progress(request: Request) -> Response:
        if not dash.auth.progress_enabled:
            raise ApiError(404, "not_enabled", "set dashboard.progress_api_key to enable this")
        if not dash.auth.progress_key_ok(request):
            raise ApiError(401, "unauthorized", "send the progress API key as X-API-Key")
        customer_id = key_param(request, "customer_id")
        found = await dash.read(lambda c: queries.person_progress(c, customer_id))
        if found is None:
            raise ApiError(404, "not_found", "no such customer, or not analysed yet")
        return json_response(found)

    async def openapi(request: Request) -> Response:
        return json_response(openapi_document())

    async def serve_proof(request: Request) -> Response:
        # A command asking this process checks the proof before it sends the API token
        # (services/serve_client.py), so the token never reaches another program
        # listening on the port. Without credentials, so only for this machine: from
        # elsewhere, proofs for chosen nonces would let a weak token be guessed offline.
        if not dash.settings.dashboard.api_token:
            raise ApiError(404, "not_enabled", "set dashboard.api_token to enable this")
        if not _from_this_machine(request):
            raise ApiError(404, "not_found", "answered to this machine's own commands only")
        nonce = request.query_params.get("nonce", "")
        if not NONCE.fullmatch(nonce):
            raise ApiError(400, "invalid_parameter", "nonce must be 32 to 128 hex digits")
        return json_response({"proof": dash.settings.store_proof(nonce)})

    def route(path: str, handler: Any, methods: tuple[str, ...] = ("GET",), **kw: Any) -> Route:
        return Route(path, api_endpoint(dash, handler, **kw), methods=list(methods))

    routes = [
        route("/api/openapi.json", openapi, public=True),
        route(SERVE_PROOF_PATH, serve_proof, public=True),
        route("/api/overview", overview),
        route("/api/tiers/history", tier_history),
        route("/api/movements", movements),
        route("/api/revenue", revenue),
        route("/api/customers", customers, staff=True),
        route("/api/customers/{id}", customer, staff=True),
        route("/api/at-risk", risk),
        route("/api/at-risk.csv", risk_csv),
        route("/api/backtest", last_backtest_result),
        route("/api/exports/master.csv", master),
        route("/api/program", program_info),
        route("/api/program/preview", preview, ("POST",)),
        route("/api/sync-health", sync_health),
        route("/api/push-runs", push_runs),
        route("/api/push-runs/{run_id:int}", push_run),
        route("/api/suggestions", review.suggestions_api(dash)),
        route("/api/suggestions/decide", review.decide_api(dash), ("POST",)),
        route("/api/progress/{customer_id}", progress, public=True),
    ]

    async def unknown(request: Request) -> Response:
        # Unknown paths and methods answer in the one error shape too.
        allowed = sorted(
            {
                method
                for r in routes
                if r.matches(request.scope)[0] is Match.PARTIAL
                for method in r.methods or ()
            }
        )
        if allowed:
            response = error_response(
                405, "method_not_allowed", f"use {', '.join(allowed)} on this path"
            )
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return error_response(404, "not_found", "no such API route; see /api/openapi.json")

    fallback = Route("/api/{rest:path}", unknown, methods=list(_ALL_METHODS), name=FALLBACK)
    return [*routes, fallback]


def csv_response(data: bytes, filename: str) -> Response:
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
