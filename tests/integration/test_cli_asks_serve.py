"""`customers show` asks the running `serve` of its own store over real HTTP, gets the
answer the database gives, and reads the database itself whenever that `serve` is not
there, is another store's, is turned off or cannot answer. The API token goes only to a
process that proved it holds the token and reads this store's database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from greenloop.config import Settings
from greenloop.errors import NotFound
from greenloop.services import analysis, ingest, lookup
from greenloop.services.serve_client import SERVE_PROOF_PATH, ask_serve
from greenloop.simulator.server import start_in_thread
from greenloop.store import tables as t
from greenloop.web.dashboard import dashboard_routes
from tests.integration.test_cli_startup import _RUN
from tests.simulation import ANCHOR, running_simulator, settings_for, small_store

STORE = small_store(seed=5, customers=60, days=120)
API_TOKEN = "cli-asks-serve-0123456789"


class Recorded:
    """The app, noting each path it was asked for."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


def with_section(settings: Settings, section: str, **values: Any) -> Settings:
    part = getattr(settings, section)
    checked = type(part).model_validate({**dict(part), **values})
    return settings.model_copy(update={section: checked})


@pytest.fixture
def analysed(engine: Engine, db_url: str) -> Settings:
    with running_simulator(STORE) as sim:
        settings = settings_for(sim.url, db_url, dashboard={"api_token": API_TOKEN})
        ingest.run_sync(settings)
    analysis.analyze(settings, now=ANCHOR)
    return settings


@contextmanager
def serving(settings: Settings, engine: Engine) -> Iterator[tuple[Settings, Recorded]]:
    """`settings`' dashboard served on a free port, and settings that point there."""
    app = Recorded(Starlette(routes=dashboard_routes(settings, engine)))
    with start_in_thread(app) as server:
        port = int(server.url.rsplit(":", 1)[1])
        yield with_section(settings, "jobs", port=port), app


def some_customers(engine: Engine) -> list[dict[str, Any]]:
    c = t.customers.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.id, c.email, c.phone).where(c.deleted_at.is_(None)).order_by(c.id)
        ).all()
    return [dict(row._mapping) for row in rows if row.email and row.phone][:4]


def test_show_gets_the_database_answer_from_the_serve_of_its_store(
    analysed: Settings, engine: Engine
) -> None:
    with serving(analysed, engine) as (client, app):
        for customer in some_customers(engine):
            for query in (customer["id"], customer["email"].upper(), customer["phone"]):
                asked = len(app.paths)
                try:
                    local = analysis.show_customer(analysed, query)
                except NotFound as exc:  # a phone two persons share: the same refusal
                    refusal = (str(exc), exc.hint)
                    with pytest.raises(NotFound) as refused:
                        lookup.show_customer(client, query)
                    assert (str(refused.value), refused.value.hint) == refusal
                    continue
                served = lookup.show_customer(client, query)
                assert app.paths[asked:] == [SERVE_PROOF_PATH, f"/api/customers/{query}"]
                assert served == json.loads(json.dumps(local))


def test_the_proof_names_the_token_and_the_database_without_telling_them(
    analysed: Settings, engine: Engine
) -> None:
    nonce = "ab" * 16
    proof = analysed.store_proof(nonce)
    assert len(proof) == 64
    assert API_TOKEN not in proof
    other_database = with_section(analysed, "database", url=analysed.database_url() + "?x=1")
    other_token = with_section(analysed, "dashboard", api_token="another-token-0123456789")
    assert other_database.store_proof(nonce) != proof
    assert other_token.store_proof(nonce) != proof
    assert analysed.store_proof("cd" * 16) != proof
    with serving(analysed, engine) as (client, _):
        base = f"http://127.0.0.1:{client.jobs.port}{SERVE_PROOF_PATH}"
        answer = httpx.get(f"{base}?nonce={nonce}")  # no credentials needed
        assert answer.status_code == 200
        assert answer.json() == {"proof": proof}
        assert httpx.get(f"{base}?nonce=not-hex").status_code == 400
        # Only to this machine's own commands: not through a proxy, not from elsewhere.
        proxied = httpx.get(f"{base}?nonce={nonce}", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 404
        assert "proof" not in proxied.text
        remote = TestClient(Starlette(routes=dashboard_routes(analysed, engine)))
        assert remote.get(f"{SERVE_PROOF_PATH}?nonce={nonce}").status_code == 404
    without_token = with_section(analysed, "dashboard", api_token="")
    with serving(without_token, engine) as (client, _):
        base = f"http://127.0.0.1:{client.jobs.port}{SERVE_PROOF_PATH}"
        assert httpx.get(f"{base}?nonce={nonce}").status_code == 404


def test_another_program_on_the_port_never_gets_the_token(analysed: Settings) -> None:
    """Whatever listens on jobs.port and answers 200 to anything: no proof, no token."""
    heard: list[dict[str, str]] = []

    async def anything(request: Request) -> Response:
        heard.append(dict(request.headers))
        return JSONResponse({"proof": "0" * 64, "person_id": "p_fake"})

    app = Starlette(routes=[Route("/{path:path}", anything)])
    with start_in_thread(app) as server:
        port = int(server.url.rsplit(":", 1)[1])
        client = with_section(analysed, "jobs", port=port)
        assert ask_serve(client, "/api/customers/anyone") is None
    assert len(heard) == 1
    assert "authorization" not in heard[0]
    assert all(API_TOKEN not in value for value in heard[0].values())


def test_a_serve_of_another_store_is_not_believed(analysed: Settings, engine: Engine) -> None:
    """Same token, same port, another database URL: its answers are not taken, even
    though here they would be right."""
    elsewhere = with_section(analysed, "database", url=analysed.database_url() + "?x=1")
    with serving(elsewhere, engine) as (client_of_elsewhere, app):
        client = with_section(analysed, "jobs", port=client_of_elsewhere.jobs.port)
        person = some_customers(engine)[0]["id"]
        assert ask_serve(client, f"/api/customers/{person}") is None
        assert app.paths == [SERVE_PROOF_PATH]  # the token was never sent
        # The command still answers, from the database.
        assert lookup.show_customer(client, person)["person_id"].startswith("p_")


def test_nothing_is_asked_when_asking_is_off_or_there_is_no_token(
    analysed: Settings, engine: Engine
) -> None:
    with serving(analysed, engine) as (client, app):
        person = some_customers(engine)[0]["id"]
        off = with_section(client, "dashboard", cli_asks_serve=False)
        no_token = with_section(client, "dashboard", api_token="")
        for settings in (off, no_token):
            assert ask_serve(settings, f"/api/customers/{person}") is None
            assert lookup.show_customer(settings, person) == analysis.show_customer(
                analysed, person
            )
        assert app.paths == []


def test_no_serve_or_a_refusal_means_the_database_answers(
    analysed: Settings, engine: Engine
) -> None:
    with serving(analysed, engine) as (client, app):
        person = some_customers(engine)[0]["id"]
        wrong_token = with_section(client, "dashboard", api_token="wrong-token-0123456789")
        assert ask_serve(wrong_token, f"/api/customers/{person}") is None  # no proof
        # Not found by serve: the database path says so, with its hint.
        with pytest.raises(NotFound, match="no customer matches"):
            lookup.show_customer(client, "nobody-at-all@nowhere.example")
        nobody = "/api/customers/nobody-at-all@nowhere.example"
        assert app.paths == [SERVE_PROOF_PATH, SERVE_PROOF_PATH, nobody]
        port = client.jobs.port
    # The server is gone: nothing listens on its port.
    nobody = with_section(analysed, "jobs", port=port)
    assert ask_serve(nobody, f"/api/customers/{person}") is None
    assert (
        lookup.show_customer(nobody, person)["person_id"]
        == lookup.show_customer(analysed, person)["person_id"]
    )


def test_the_command_asking_serve_never_imports_the_database_stack(
    analysed: Settings, engine: Engine, db_url: str
) -> None:
    """The point of asking: `greenloop customers show` prints the database's answer
    without loading SQLAlchemy (benchmarks/startup.py times it)."""
    person = some_customers(engine)[0]["id"]
    local = analysis.show_customer(analysed, person)
    with serving(analysed, engine) as (client, app):
        env = {
            **os.environ,
            "GREENLOOP_DATABASE__URL": db_url,
            "GREENLOOP_DASHBOARD__API_TOKEN": API_TOKEN,
            "GREENLOOP_JOBS__PORT": str(client.jobs.port),
        }
        done = subprocess.run(
            [sys.executable, "-c", _RUN, json.dumps(["customers", "show", person, "--json"])],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["exit_code"] in (0, None), done.stderr
    assert app.paths == [SERVE_PROOF_PATH, f"/api/customers/{person}"]
    assert json.loads(done.stdout) == json.loads(json.dumps(local))
    loaded = set(report["modules"])
    assert "greenloop.services.serve_client" in loaded
    assert [name for name in ("sqlalchemy", "psycopg", "numpy", "scipy") if name in loaded] == []
