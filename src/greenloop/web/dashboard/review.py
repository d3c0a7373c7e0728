"""The Review page and its JSON API: suggested identity matches one at a time, and
staff's word on each (accept, reject, skip). :mod:`greenloop.services.review` does the
work; this module parses, calls it off the event loop and answers.

A decision on the page is a form POST answered with a redirect to ``/review`` (so a
reload never sends it twice); the redirect names what was done and, after an accept,
the joined person, whose name and tier the page then reads from the store.
"""

from __future__ import annotations

import json
from typing import Any, Literal, cast
from urllib.parse import urlencode

from sqlalchemy import Connection, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from greenloop.errors import NotFound
from greenloop.services import review
from greenloop.store import tables as t
from greenloop.web.dashboard.auth import Session
from greenloop.web.dashboard.context import ApiError, Dashboard, Handler, int_param, json_response
from greenloop.web.dashboard.guards import PageHandler, read_body, render

__all__ = [
    "ACTIONS",
    "MAX_KEY_CHARS",
    "MAX_LIMIT",
    "MAX_NOTE_CHARS",
    "decide_api",
    "decide_page",
    "review_page",
    "suggestions_api",
]

Action = Literal["accept", "reject", "skip"]
ACTIONS: tuple[Action, ...] = ("accept", "reject", "skip")
MAX_KEY_CHARS = 200  # identity_matches.a and .b
MAX_NOTE_CHARS = 500
# Each suggestion listed costs a what-if recompute ("tier if joined").
MAX_LIMIT = 50
_GONE = (
    "That suggestion is no longer waiting: it was decided already, or a newer analysis dropped it."
)


def _not_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _decision_input(a: Any, b: Any, action: Any, note: Any) -> tuple[str, str, Action, str]:
    if action not in ACTIONS:
        raise ApiError(400, "invalid_input", "action must be accept, reject or skip")
    for name, value in (("a", a), ("b", b)):
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_KEY_CHARS:
            raise ApiError(
                400, "invalid_input", f"{name} must be a member key of 1 to {MAX_KEY_CHARS} chars"
            )
    if note is None:
        note = ""
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise ApiError(400, "invalid_input", f"note must be text of at most {MAX_NOTE_CHARS} chars")
    for value in (a, b, note):
        # Text no stored key can hold, which the database would refuse rather than not
        # find: NUL (PostgreSQL) and lone surrogates from JSON escapes (not UTF-8).
        if "\x00" in value or _not_utf8(value):
            raise NotFound(f"no suggestion for {a!r} and {b!r}")
    return a, b, cast(Action, action), note.strip()


async def _queue(dash: Dashboard, limit: int, offset: int) -> dict[str, Any]:
    return await run_in_threadpool(
        lambda: review.review_queue(
            dash.settings, limit=limit, offset=offset, engine=dash.engine, now=dash.clock()
        )
    )


async def _decide(dash: Dashboard, a: str, b: str, action: Action, note: str) -> review.Decision:
    return await run_in_threadpool(
        lambda: review.decide(
            dash.settings, a, b, action, note=note, engine=dash.engine, now=dash.clock()
        )
    )


def _evidence(lines: list[str]) -> list[dict[str, Any]]:
    # The service lists agreements before disagreements without marking where one ends;
    # its disagreements all read "different …".
    return [{"text": line, "against": line.startswith("different ")} for line in lines]


def _joined(conn: Connection, person_id: str) -> dict[str, Any] | None:
    p = t.persons.c
    row = conn.execute(select(p.id, p.name, p.tier).where(p.id == person_id)).first()
    return None if row is None else dict(row._mapping)


async def _result(dash: Dashboard, request: Request) -> dict[str, Any] | None:
    """What the last decision did, from the redirect's query (see the module docstring)."""
    done = request.query_params.get("done")
    if done not in ACTIONS:
        return None
    result: dict[str, Any] = {"action": done, "person": None, "push": None}
    person_id = request.query_params.get("person", "")
    # Longer than any person id, or holding NUL (which PostgreSQL refuses): nobody.
    if done == "accept" and person_id and len(person_id) <= 40 and "\x00" not in person_id:
        result["person"] = await dash.read(lambda conn: _joined(conn, person_id))
    push = request.query_params.get("push")
    result["push"] = push if push in ("sent", "later") else None
    return result


def review_page(dash: Dashboard) -> PageHandler:
    async def handler(request: Request, session: Session, form: dict[str, str]) -> Response:
        return await _render(dash, request, session, result=await _result(dash, request))

    return handler


async def _render(
    dash: Dashboard,
    request: Request,
    session: Session,
    *,
    result: dict[str, Any] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    queue = await _queue(dash, 1, 0)
    item = queue["suggestions"][0] if queue["suggestions"] else None
    if item is not None:
        item = {**item, "evidence": _evidence(item["evidence"])}
    return render(
        dash,
        request,
        session,
        "review.html",
        status=status,
        title="Review",
        total=queue["total"],
        item=item,
        result=result,
        notice=notice,
        max_note=MAX_NOTE_CHARS,
    )


def decide_page(dash: Dashboard) -> PageHandler:
    async def handler(request: Request, session: Session, form: dict[str, str]) -> Response:
        a, b, action, note = _decision_input(
            form.get("a"), form.get("b"), form.get("action"), form.get("note")
        )
        try:
            decision = await _decide(dash, a, b, action, note)
        except NotFound:
            return await _render(dash, request, session, notice=_GONE, status=404)
        params: dict[str, str] = {"done": action}
        # Only an accept moves anyone's group; a reject leaves both persons as they were.
        if action == "accept" and decision.recomputed is not None:
            person = decision.recomputed.assignment.get(decision.a)
            if person:
                params["person"] = person
            if decision.pushed:
                params["push"] = "sent"
            elif decision.push_note:
                params["push"] = "later"
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/review?{urlencode(params)}", status_code=303)

    return handler


def suggestions_api(dash: Dashboard) -> Handler:
    async def handler(request: Request) -> Response:
        limit = int_param(request, "limit", 20, 1, MAX_LIMIT)
        offset = int_param(request, "offset", 0, 0, 1_000_000)
        queue = await _queue(dash, limit, offset)
        return json_response({**queue, "limit": limit})

    return handler


def decide_api(dash: Dashboard) -> Handler:
    async def handler(request: Request) -> Response:
        try:
            body = json.loads(await read_body(request) or b"null")
        except ValueError:
            raise ApiError(400, "invalid_json", "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(
                400, "invalid_input", 'send {"a": KEY, "b": KEY, "action": "accept|reject|skip"}'
            )
        a, b, action, note = _decision_input(
            body.get("a"), body.get("b"), body.get("action"), body.get("note")
        )
        decision = await _decide(dash, a, b, action, note)
        return json_response(decision.as_json())

    return handler
