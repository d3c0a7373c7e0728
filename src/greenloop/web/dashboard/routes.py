"""The dashboard's pages (server-rendered, Jinja2) and the factory the web app mounts.

``dashboard_routes(settings, engine)`` returns every route: the pages under ``/``, the
JSON API under ``/api/`` and the static files under ``/static/``. Access checks are
inside each route, so the list needs no middleware around it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from greenloop.analytics.backtest import last_backtest
from greenloop.analytics.person import person_detail
from greenloop.config import Settings
from greenloop.errors import GreenLoopError
from greenloop.lightspeed.ratelimit import RateBudget
from greenloop.web.dashboard import actions, queries, review
from greenloop.web.dashboard import queries_health as health
from greenloop.web.dashboard.api import (
    api_routes,
    csv_response,
    page_params,
    period,
    risk_sort,
    search_text,
    shown_until,
)
from greenloop.web.dashboard.auth import Session
from greenloop.web.dashboard.context import HERE, ApiError, Dashboard, key_param
from greenloop.web.dashboard.guards import PageHandler, page_endpoint, render
from greenloop.web.dashboard.logins import client_address

__all__ = ["CHART_JS", "dashboard_routes"]

CHART_JS = "vendor/chart-4.6.1.umd.min.js"


# Where a staff login may land (the pages routed with staff=True below; the guards
# refuse the rest), and where it lands otherwise.
STAFF_PATHS = ("/lookup", "/customers")
STAFF_HOME = "/lookup"
# People a staff lookup lists; more means the search was too loose to be one person.
LOOKUP_LIMIT = 8
# Purchases the lookup shows for the one person it found.
LOOKUP_PURCHASES = 5


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never "//host" or "https://host".
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _staff_next(target: str) -> str:
    """A staff login goes where it may go: the lookup unless the target is a staff page."""
    path = target.split("?", 1)[0]
    if any(path == p or path.startswith(p + "/") for p in STAFF_PATHS):
        return target
    return STAFF_HOME


def _ago(moment: str | None, now: datetime) -> str:
    """``3 min ago``, ``2 h ago``, ``5 days ago`` (``just now`` under a minute)."""
    if not moment:
        return ""
    seconds = (now - datetime.fromisoformat(moment)).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def last_run_text(
    runs: dict[str, Any] | None, customers: int, *, demo: bool, now: datetime
) -> dict[str, str] | None:
    """The overview's first line: what ran last, when, and what it did."""
    if runs is None:
        return None
    steps = ", ".join(
        step["name"] + (f" ×{step['runs']}" if step["runs"] > 1 else "") for step in runs["steps"]
    )
    if runs["daily"]:
        name = "daily job"
    elif demo and len(runs["steps"]) > 1:
        name = "demo pipeline"
    elif len(runs["steps"]) > 1:
        name = "runs"
    else:
        name = runs["steps"][0]["name"]
    figures = runs["figures"]
    parts = [f"{customers:,} customers"]
    for key, label in (
        ("persons", "persons analysed"),
        ("tier_changes", "tier changes"),
        ("orders", "eCom orders imported"),
        ("changed", "records synced"),
        ("moved", "group moves pushed"),
    ):
        if figures.get(key):
            parts.append(f"{figures[key]:,} {label}")
    return {
        "name": name,
        "steps": steps,
        "ago": _ago(runs["finished_at"] or runs["started_at"], now),
        "at": runs["finished_at"] or runs["started_at"],
        "outcome": runs["outcome"],
        "figures": ", ".join(parts),
    }


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{-(-seconds // 60)} minutes"


def dashboard_routes(
    settings: Settings,
    engine: Engine,
    *,
    clock: Callable[[], datetime] | None = None,
    budget: RateBudget | None = None,
    warm: bool = False,
) -> list[BaseRoute]:
    """Every dashboard route: pages, ``/api/`` and ``/static/``. ``budget`` is the
    serving process's shared rate budget, shown live on Sync health; ``warm`` starts
    computing the figures that read every sale at once (what a long-running server
    wants, not a test)."""
    dash = Dashboard.build(settings, engine, clock, budget)
    if warm:
        dash.figures.warm()
    program = dash.options.program

    def page(
        template: str, title: str, data: Callable[[Request, Connection], dict[str, Any]]
    ) -> PageHandler:
        async def handler(request: Request, session: Session, form: dict[str, str]) -> Response:
            context = await dash.read(lambda conn: data(request, conn))
            return render(dash, request, session, template, title=title, **context)

        return handler

    demo = settings.lightspeed.domain_prefix == "demo"  # what `greenloop demo` writes

    def overview_data(request: Request, conn: Connection) -> dict[str, Any]:
        since, until = period(dash, request, conn)
        found = queries.overview(conn, program)
        return {
            "overview": found,
            "last_run": last_run_text(
                found["last_runs"], found["customers"], demo=demo, now=dash.clock()
            ),
            "distribution": queries.tier_distribution(conn, program),
            "movements": queries.movements(conn, program, since, until),
            "since": since.date().isoformat(),
            "until": shown_until(until),
        }

    async def overview_page(request: Request, session: Session, form: dict[str, str]) -> Response:
        if session.staff:  # the shop floor's landing page is the lookup
            root = request.scope.get("root_path", "")
            return RedirectResponse(f"{root}{STAFF_HOME}", status_code=303)
        context = await dash.read(lambda conn: overview_data(request, conn))
        figures = await run_in_threadpool(dash.figures.get)
        return render(
            dash,
            request,
            session,
            "overview.html",
            title="Overview",
            revenue=figures.revenue_json(),
            **context,
        )

    def customers_data(request: Request, conn: Connection) -> dict[str, Any]:
        number, size = page_params(request, dash.page_size)
        text = search_text(request)
        found = queries.search_persons(conn, text, dash.options.identity, number, size)
        return {"q": text, "found": found}

    async def lookup_page(request: Request, session: Session, form: dict[str, str]) -> Response:
        text = search_text(request).strip()
        found: queries.Page | None = None
        progress: dict[str, dict[str, Any]] = {}
        if text:
            rules = dash.options.identity
            found, progress = await dash.read(
                lambda conn: queries.lookup(conn, text, rules, LOOKUP_LIMIT)
            )
        person = None
        if found is not None and found.total == 1:
            key = found.data[0]["person_id"]
            person = await run_in_threadpool(person_detail, engine, dash.options, key)
            person["recent"] = list(reversed(person["purchases"][-LOOKUP_PURCHASES:]))
        return render(
            dash,
            request,
            session,
            "lookup.html",
            title="Customer lookup",
            q=text,
            found=found,
            progress=progress,
            person=person,
            limit=LOOKUP_LIMIT,
        )

    def risk_data(request: Request, conn: Connection) -> dict[str, Any]:
        number, size = page_params(request, dash.page_size)
        sort, descending = risk_sort(request)
        return {
            "found": queries.risk_page(conn, sort, descending, number, size),
            "sort": sort,
            "order": "desc" if descending else "asc",
            "sorts": list(queries.RISK_SORTS),
            "backtest": last_backtest(conn),
        }

    def program_data(request: Request, conn: Connection) -> dict[str, Any]:
        return {
            "program": queries.program_view(conn, program),
            "toml": actions.program_toml(program),
            "preview": None,
            "preview_error": None,
        }

    def sync_data(request: Request, conn: Connection) -> dict[str, Any]:
        return {
            "health": health.sync_health(conn, settings.sync.resources),
            "inbox": health.webhook_inbox(conn, dash.clock()),
            "runs": health.push_runs(conn, *page_params(request, 20)),
        }

    async def sync_page(request: Request, session: Session, form: dict[str, str]) -> Response:
        context = await dash.read(lambda conn: sync_data(request, conn))
        figures = await run_in_threadpool(dash.figures.get)
        return render(
            dash,
            request,
            session,
            "sync.html",
            title="Sync health",
            reconcile=figures.reconcile,
            reconcile_error=figures.reconcile_error,
            figures_at=figures.computed_at,
            budget=dash.rate_budget(),
            **context,
        )

    async def push_run_page(request: Request, session: Session, form: dict[str, str]) -> Response:
        run_id = int(request.path_params["run_id"])
        detail = await dash.read(lambda conn: health.push_run_detail(conn, run_id))
        if not detail:
            raise ApiError(404, "not_found", f"no push run {run_id}")
        return render(
            dash, request, session, "push_run.html", title=f"Push run {run_id}", run=detail
        )

    async def person_page(request: Request, session: Session, form: dict[str, str]) -> Response:
        key = key_param(request, "person_id")
        person = await run_in_threadpool(person_detail, engine, dash.options, key)
        return render(
            dash,
            request,
            session,
            "person.html",
            title=person["name"] or person["person_id"],
            person=person,
            tier_groups={tier.name: tier.group for tier in program.tiers},
        )

    async def preview_page(request: Request, session: Session, form: dict[str, str]) -> Response:
        text = form.get("program", "")
        context = await dash.read(lambda conn: program_data(request, conn))
        context["toml"] = text
        try:
            context["preview"] = await run_in_threadpool(
                actions.preview_toml, engine, settings, dash.options, text, dash.clock()
            )
        except GreenLoopError as exc:
            context["preview_error"] = str(exc)
        status = 400 if context["preview_error"] else 200
        return render(
            dash, request, session, "program.html", status=status, title="Program", **context
        )

    async def risk_csv_page(request: Request, session: Session, form: dict[str, str]) -> Response:
        sort, descending = risk_sort(request)
        rows = await dash.read(lambda conn: queries.risk_list(conn, sort, descending))
        return csv_response(actions.risk_csv(rows).encode("utf-8"), "at_risk.csv")

    async def master_csv_page(request: Request, session: Session, form: dict[str, str]) -> Response:
        data = await dash.read(lambda conn: actions.master_csv(conn, dash.clock()))
        return csv_response(data, "customer_analytics_master.csv")

    async def login_form(request: Request, session: Session, form: dict[str, str]) -> Response:
        return render(
            dash,
            request,
            session,
            "login.html",
            title="Log in",
            error=None,
            next=_safe_next(request.query_params.get("next")),
            password_configured=dash.auth.password_configured,
        )

    async def login(request: Request, session: Session, form: dict[str, str]) -> Response:
        target = _safe_next(form.get("next"))
        password = form.get("password", "")
        roles: list[str] = []

        def check() -> bool:
            role = dash.auth.password_role(password)
            if role is not None:
                roles.append(role)
            return role is not None

        outcome = await dash.logins.attempt(client_address(request), check)
        if outcome.ok:
            role = roles[0]
            await dash.auth.log_in(session, role)
            if session.staff:
                target = _staff_next(target)
            root = request.scope.get("root_path", "")
            return RedirectResponse(f"{root}{target}", status_code=303)
        if outcome.status == 429:
            error = f"Too many failed logins. Try again in {_wait_text(outcome.retry_after)}."
        elif outcome.status == 503:
            error = "The server is busy checking other logins. Try again in a moment."
        elif dash.auth.password_configured:
            error = "Wrong password."
        else:
            error = "No password is set."
        response = render(
            dash,
            request,
            session,
            "login.html",
            status=outcome.status,
            title="Log in",
            error=error,
            next=target,
            password_configured=dash.auth.password_configured,
        )
        if outcome.retry_after:
            response.headers["Retry-After"] = str(outcome.retry_after)
        return response

    async def logout(request: Request, session: Session, form: dict[str, str]) -> Response:
        await dash.auth.log_out(session)
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/login", status_code=303)

    def route(
        path: str,
        handler: PageHandler,
        method: str = "GET",
        login: bool = True,
        staff: bool = False,
    ) -> Route:
        endpoint = page_endpoint(dash, handler, login=login, staff=staff)
        return Route(path, endpoint, methods=[method])

    pages: list[BaseRoute] = [
        route("/", overview_page, staff=True),  # staff: redirected to the lookup
        route("/lookup", lookup_page, staff=True),
        route("/customers", page("customers.html", "Customers", customers_data), staff=True),
        route("/customers/{person_id}", person_page, staff=True),
        route("/at-risk", page("at_risk.html", "At risk", risk_data)),
        route("/at-risk.csv", risk_csv_page),
        route("/exports/customer_analytics_master.csv", master_csv_page),
        route("/program", page("program.html", "Program", program_data)),
        route("/program/preview", preview_page, "POST"),
        route("/sync", sync_page),
        route("/sync/push-runs/{run_id:int}", push_run_page),
        route("/review", review.review_page(dash)),
        route("/review/decide", review.decide_page(dash), "POST"),
        route("/login", login_form, login=False),
        route("/login", login, "POST", login=False),
        route("/logout", logout, "POST", staff=True),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="dashboard-static"),
    ]
    return [*api_routes(dash), *pages]
