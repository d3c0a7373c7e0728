"""Wrappers that put access checks, CSRF checks and error translation around handlers.

Pages need a logged-in session (else a redirect to /login) and, on POST, the session's
CSRF token in the form. The API takes a session or ``Authorization: Bearer`` with
``dashboard.api_token`` (else 401); a POST on a session also needs ``X-CSRF-Token``.
Errors leave in one JSON shape: ``{"error": {"code": ..., "message": ...}}``.

A ``staff`` session (the read-only shop-floor login) reaches only the routes built with
``staff=True``: the lookup, the customer search and person pages, and logging out.
Every other page and API route answers it 403 (``forbidden``), checked here on the
server whatever the page links to.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from greenloop.errors import ConfigError, GreenLoopError, InputFileError, NotFound
from greenloop.web.dashboard.auth import CSRF_FIELD, CSRF_HEADER, Session
from greenloop.web.dashboard.context import (
    ApiError,
    Dashboard,
    Handler,
    error_response,
    secure_headers,
)

__all__ = [
    "MAX_FORM_BYTES",
    "STAFF_REFUSED",
    "PageHandler",
    "api_endpoint",
    "local_path",
    "page_endpoint",
    "read_body",
    "render",
]

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 256 * 1024
PageHandler = Callable[[Request, Session, dict[str, str]], Awaitable[Response]]


def _translate(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, NotFound):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, ConfigError | InputFileError):
        return ApiError(400, "invalid_input", str(exc))
    if isinstance(exc, GreenLoopError):
        return ApiError(500, "server_error", str(exc))
    log.exception("dashboard handler failed", exc_info=exc)
    return ApiError(500, "server_error", "the server could not answer; see its log")


async def read_body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise ApiError(413, "too_large", f"the request body is over {MAX_FORM_BYTES} bytes")
    return body


async def _read_form(request: Request) -> dict[str, str]:
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise ApiError(415, "unsupported_media_type", "send the form urlencoded")
    parsed = parse_qs((await read_body(request)).decode("utf-8", "replace"))
    return {key: values[-1] for key, values in parsed.items()}


STAFF_REFUSED = "the staff login can look customers up and read their pages, not this"


def api_endpoint(
    dash: Dashboard, handler: Handler, *, public: bool = False, staff: bool = False
) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            if not public and not dash.auth.bearer_ok(request):
                session = await dash.auth.session(request)
                if not session.logged_in:
                    response = error_response(
                        401,
                        "unauthorized",
                        "log in to the dashboard or send Authorization: Bearer <api token>",
                    )
                    response.headers["WWW-Authenticate"] = 'Bearer realm="greenloop"'
                    return response
                if session.staff and not staff:
                    raise ApiError(403, "forbidden", STAFF_REFUSED)
                if request.method not in ("GET", "HEAD") and not dash.auth.csrf_ok(
                    session, request.headers.get(CSRF_HEADER)
                ):
                    raise ApiError(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")
            response = await handler(request)
        except Exception as exc:  # every failure leaves in the one shape
            error = _translate(exc)
            return error_response(error.status, error.code, error.message)
        return secure_headers(response)

    return endpoint


def local_path(request: Request) -> str:
    """The path below the mount point (``/customers`` when mounted at ``/dash``)."""
    root = request.scope.get("root_path", "")
    path = request.url.path
    return path[len(root) :] or "/" if root and path.startswith(root) else path


def render(
    dash: Dashboard,
    request: Request,
    session: Session,
    template: str,
    status: int = 200,
    **context: Any,
) -> Response:
    html = dash.templates.get_template(template).render(
        root=request.scope.get("root_path", ""),
        csrf_token=session.csrf,
        logged_in=session.logged_in,
        staff=session.staff,
        path=local_path(request),
        # Read by page_endpoint before the handler, for the navigation's Review badge.
        suggestions_left=getattr(request.state, "suggestions_left", None),
        **context,
    )
    return HTMLResponse(html, status_code=status)


def page_endpoint(
    dash: Dashboard, handler: PageHandler, *, login: bool = True, staff: bool = False
) -> Handler:
    async def endpoint(request: Request) -> Response:
        session = await dash.auth.session(request)
        response: Response
        if login and not session.logged_in:
            target = local_path(request) + (f"?{request.url.query}" if request.url.query else "")
            root = request.scope.get("root_path", "")
            response = RedirectResponse(f"{root}/login?next={quote(target)}", status_code=303)
        else:
            try:
                form: dict[str, str] = {}
                if login and session.staff and not staff:
                    raise ApiError(403, "forbidden", STAFF_REFUSED)
                if session.logged_in and not session.staff:
                    request.state.suggestions_left = await dash.suggestions_left()
                if request.method == "POST":
                    form = await _read_form(request)
                    if not dash.auth.csrf_ok(session, form.get(CSRF_FIELD)):
                        raise ApiError(
                            403, "csrf_failed", "the form's CSRF token is missing or old"
                        )
                response = await handler(request, session, form)
            except Exception as exc:
                error = _translate(exc)
                response = render(
                    dash,
                    request,
                    session,
                    "error.html",
                    status=error.status,
                    title="Error",
                    code=error.code,
                    message=error.message,
                )
        dash.auth.save(request, response, session)
        return secure_headers(response)

    return endpoint
