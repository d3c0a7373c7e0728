"""The dashboard and its JSON API over a store synced from the simulator, analysed on three
days and pushed by the daily job, on SQLite and PostgreSQL.

The store is built once per database (it takes a few seconds); every test reads it.
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text, update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from greenloop.analytics.lists import LOW_P_ALIVE
from greenloop.config import Settings
from greenloop.lightspeed.ratelimit import RateBudget, RateLimit
from greenloop.runtime.daily import run_daily
from greenloop.services import analysis, ingest
from greenloop.services.analysis import analyze_options
from greenloop.simulator.ecom_export import write_ecom_export
from greenloop.store import tables as t
from greenloop.store.engine import make_engine, migrate, normalise_url
from greenloop.store.inbox import Delivery, store_delivery
from greenloop.web.dashboard import dashboard_routes, hash_password
from greenloop.web.dashboard.figures import HeavyFigures
from tests.conftest import DB_PARAMS, PG_URL, _with_search_path
from tests.simulation import ANCHOR, TOKEN, running_simulator, settings_for, small_store

STORE = small_store(seed=21, customers=160, days=240)
PASSWORD = "a long admin passphrase"
API_TOKEN = "dash-api-token-0123456789abcdef"
PROGRESS_KEY = "progress-key-0123456789abcdef"
WEBHOOK_SECRET = "whsec-0123456789abcdef"
SESSION_SECRET = "session-secret-0123456789abcdef"
SECRETS = (TOKEN, API_TOKEN, PROGRESS_KEY, WEBHOOK_SECRET, SESSION_SECRET, PASSWORD)


@dataclass
class Built:
    settings: Settings
    app: Starlette
    person: dict[str, Any]  # a person with a tier, an email and a phone
    customer_id: str
    engine: Engine


@pytest.fixture(scope="module", params=DB_PARAMS)
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("dashboard")
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'greenloop.db'}"
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _with_search_path(normalise_url(PG_URL), schema)
    engine = make_engine(url)
    migrate(engine)
    inbox = tmp / "inbox"
    inbox.mkdir()
    with (inbox / "orders.csv").open("w", encoding="utf-8", newline="") as out:
        write_ecom_export(STORE.ecom_orders, out, timezone="America/Chicago")
    try:
        with running_simulator(STORE) as sim:
            settings = settings_for(
                sim.url,
                url,
                analytics={
                    "min_customers_for_predictions": 50,
                    "min_repeat_customers_for_predictions": 10,
                },
                jobs={"output_dir": str(tmp / "out"), "ecom_inbox": str(inbox)},
                webhooks={"secret": WEBHOOK_SECRET},
                dashboard={
                    "admin_password_hash": hash_password(PASSWORD),
                    "api_token": API_TOKEN,
                    "progress_api_key": PROGRESS_KEY,
                    "session_secret": SESSION_SECRET,
                    "page_size": 20,
                },
            )
            ingest.run_sync(settings)
            for days in (60, 30):
                analysis.analyze(settings, now=ANCHOR - timedelta(days=days))
            report = run_daily(settings, now=ANCHOR)
            assert report.run_id is not None
        with engine.connect() as conn:
            p, m = t.persons.c, t.identity_members.c
            # Person ids are random, so the person the tests look up changes from run to
            # run: take one whose phone and email no other person has, or a search for
            # them lists two (the generator gives some households one phone).
            row = conn.execute(
                select(p.id, p.name, p.tier, p.email, p.phone)
                .where(p.tier.is_not(None), p.email.is_not(None), p.phone.is_not(None))
                .where(p.phone.not_in(_held_by_several(p.phone)))
                .where(p.email.not_in(_held_by_several(p.email)))
                .order_by(p.id)
                .limit(1)
            ).one()
            customer_id = conn.execute(
                select(m.customer_id).where(m.person_id == row.id, m.customer_id.is_not(None))
            ).scalar()
        app = Starlette(routes=dashboard_routes(settings, engine, clock=lambda: ANCHOR))
        yield Built(settings, app, dict(row._mapping), str(customer_id), engine)
    finally:
        engine.dispose()
        if schema is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _held_by_several(column: Any) -> Any:
    """The values of a persons column that more than one person has."""
    return select(column).where(column.is_not(None)).group_by(column).having(func.count() > 1)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def logged_in(built: Built) -> TestClient:
    client = TestClient(built.app)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    return client


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code


PAGES = ["/", "/customers", "/at-risk", "/program", "/sync", "/sync/push-runs/1"]


# -- access ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/at-risk.csv"])
def test_pages_redirect_to_the_login_without_a_session(built: Built, path: str) -> None:
    response = TestClient(built.app).get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ["/api/overview", "/api/customers", "/api/sync-health"])
def test_the_api_answers_401_without_credentials(built: Built, path: str) -> None:
    client = TestClient(built.app)
    assert_error(client.get(path), 401, "unauthorized")
    assert_error(client.get(path, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert client.get(path, headers={"Authorization": f"Bearer {API_TOKEN}"}).status_code == 200


def test_a_wrong_password_is_refused(built: Built) -> None:
    client = TestClient(built.app)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"password": "guess", "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong password" in response.text
    assert client.get("/", follow_redirects=False).status_code == 303


def test_forms_without_the_csrf_token_are_rejected(built: Built) -> None:
    client = TestClient(built.app)
    client.get("/login")
    refused = client.post("/login", data={"password": PASSWORD}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 303  # not logged in
    client = logged_in(built)
    preview = client.post("/program/preview", data={"program": "[program]", "csrf_token": "x"})
    assert preview.status_code == 403
    api = client.post("/api/program/preview", json={"program": "[program]"})
    assert_error(api, 403, "csrf_failed")


def test_the_session_cookie_is_httponly_and_lax_and_logout_ends_it(built: Built) -> None:
    client = TestClient(built.app)
    cookie = client.get("/login").headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http here; https marks it Secure
    secure = TestClient(built.app, base_url="https://testserver").get("/login")
    assert "secure" in secure.headers["set-cookie"].lower()
    client = logged_in(built)
    page = client.get("/")
    assert page.status_code == 200
    client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert client.get("/", follow_redirects=False).status_code == 303


# -- pages ------------------------------------------------------------------------------


def test_every_page_renders_with_the_stores_numbers(built: Built) -> None:
    client = logged_in(built)
    api = {"Authorization": f"Bearer {API_TOKEN}"}
    overview = client.get("/api/overview", headers=api).json()
    page = client.get("/")
    assert page.status_code == 200
    assert f'id="fig-customers">{overview["customers"]}<' in page.text
    assert f'id="fig-persons">{overview["persons"]}<' in page.text
    assert overview["last_daily_run"]["outcome"] in page.text
    for name in ("chart-tiers", "chart-movements", "chart-revenue"):
        assert f'id="{name}"' in page.text
    for path in PAGES[1:]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
    person = built.person
    found = client.get("/customers", params={"q": person["email"].upper()})
    assert person["name"] in found.text
    shown = client.get(f"/customers/{person['id']}")
    assert shown.status_code == 200
    assert person["name"] in shown.text
    assert f'id="person-tier">{person["tier"]}<' in shown.text
    assert "Group (last read from Lightspeed)" in shown.text
    program = client.get("/program").text
    for tier in ("Evergreen", "Bloom", "Sprout", "Seed", "First Time Buyer"):
        assert tier in program
    assert client.get("/customers/p_nobody").status_code == 404


def test_the_static_chart_library_is_served(built: Built) -> None:
    response = TestClient(built.app).get("/static/vendor/chart-4.6.1.umd.min.js")
    assert response.status_code == 200
    assert "Chart.js v4.6.1" in response.text[:200]
    assert TestClient(built.app).get("/static/dashboard.js").status_code == 200


def test_search_finds_a_phone_written_differently(built: Built) -> None:
    client = logged_in(built)
    digits = re.sub(r"\D", "", built.person["phone"])
    national = digits[-10:]
    written = f"({national[:3]}) {national[3:6]}-{national[6:]}"
    found = client.get("/api/customers", params={"q": written}).json()
    assert built.person["id"] in [p["person_id"] for p in found["data"]]


def test_the_program_preview_shows_moves_and_applies_nothing(built: Built) -> None:
    client = logged_in(built)
    page = client.get("/program")
    program = '[program]\ndowngrade = "immediate"\n\n[[program.tiers]]\nname = "Gold"\n'
    program += 'group = "Gold"\nconditions = [{ kind = "value", at_least = "500" }]\n'
    before = client.get("/api/overview").json()["tiers"]
    shown = client.post(
        "/program/preview", data={"program": program, "csrf_token": csrf_of(page.text)}
    )
    assert shown.status_code == 200
    assert "would move" in shown.text
    assert "Gold" in shown.text
    result = client.post(
        "/api/program/preview",
        json={"program": program},
        headers={"X-CSRF-Token": csrf_of(page.text)},
    ).json()
    assert set(result["counts_with_program"]) <= {"Gold", "(none)"}
    assert result["moves"] > 0
    assert client.get("/api/overview").json()["tiers"] == before
    bad = client.post(
        "/program/preview",
        data={"program": "[program]\ndowngrade = 3", "csrf_token": csrf_of(page.text)},
    )
    assert bad.status_code == 400
    assert "invalid program" in bad.text


def test_at_risk_sorts_and_exports_csv(built: Built) -> None:
    client = logged_in(built)
    rows = client.get("/api/at-risk", params={"page_size": 500}).json()["data"]
    assert rows
    values = [Decimal(r["lifetime_value"]) for r in rows]
    assert values == sorted(values, reverse=True)
    ascending = client.get(
        "/api/at-risk", params={"sort": "lifetime_value", "order": "asc", "page_size": 500}
    ).json()["data"]
    assert [Decimal(r["lifetime_value"]) for r in ascending] == sorted(values)
    assert {r["person_id"] for r in ascending} == {r["person_id"] for r in rows}
    exported = client.get("/at-risk.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["person_id"] for r in table] == [r["person_id"] for r in rows]
    assert_error(client.get("/api/at-risk", params={"sort": "nope"}), 400, "invalid_parameter")
    master = client.get("/exports/customer_analytics_master.csv")
    assert master.status_code == 200
    assert master.text.startswith("\ufeff") or "Customer ID" in master.text[:200]


# -- JSON API ---------------------------------------------------------------------------


def test_api_shapes_and_pagination(built: Built) -> None:
    client = TestClient(built.app, headers={"Authorization": f"Bearer {API_TOKEN}"})
    overview = client.get("/api/overview").json()
    first = client.get("/api/customers", params={"page": 1, "page_size": 7}).json()
    assert set(first) == {"data", "page", "page_size", "total"}
    assert (first["page"], first["page_size"], len(first["data"])) == (1, 7, 7)
    assert first["total"] == overview["persons"]
    second = client.get("/api/customers", params={"page": 2, "page_size": 7}).json()
    assert not {p["person_id"] for p in first["data"]} & {p["person_id"] for p in second["data"]}
    for person in first["data"]:
        assert isinstance(person["lifetime_value"], str)
        Decimal(person["lifetime_value"])
    assert_error(client.get("/api/customers", params={"page": 0}), 400, "invalid_parameter")
    assert_error(client.get("/api/customers/nobody-at-all"), 404, "not_found")

    detail = client.get(f"/api/customers/{built.person['id']}").json()
    assert detail["tier"] == built.person["tier"]
    assert {"profiles", "links", "purchases", "history", "to_next", "keep"} <= set(detail)
    twins = [p for p in detail["purchases"] if p["sale_id"] and p["order_number"]]
    assert all(isinstance(p["value"], str) for p in detail["purchases"])
    assert len({p["key"] for p in detail["purchases"]}) == len(detail["purchases"])
    del twins

    history = client.get("/api/tiers/history").json()
    assert len(history["days"]) == 3
    snapshot_total = sum(series["persons"][-1] for series in history["tiers"])
    assert snapshot_total == overview["persons"]

    moves = client.get("/api/movements", params={"since": "2026-01-01"}).json()
    assert moves["upgrades"] > 0
    assert sum(p["count"] for p in moves["pairs"]) == sum(moves["by_change"].values())
    assert_error(client.get("/api/movements", params={"since": "soon"}), 400, "invalid_parameter")

    revenue = client.get("/api/revenue").json()["data"]
    assert any(Decimal(m["ecom_value"]) > 0 for m in revenue)
    assert any(Decimal(m["instore_value"]) > 0 for m in revenue)

    program = client.get("/api/program").json()
    assert (
        sum(t["persons"] for t in program["tiers"]) + program["no_tier_persons"]
        == (overview["persons"])
    )

    health = client.get("/api/sync-health").json()
    cursors = {r["resource"]: r for r in health["resources"]}
    assert cursors["customers"]["cursor"] is not None
    assert cursors["customers"]["last_success_at"].endswith("+00:00")
    assert health["reconcile"]["matched"] > 0
    inbox = health["webhook_inbox"]
    assert {"by_status", "depth", "poll_catches", "parked", "total"} <= set(inbox)

    runs = client.get("/api/push-runs").json()
    assert runs["total"] >= 1
    run = runs["data"][0]
    assert run["moves_by_status"]
    assert client.get(f"/api/push-runs/{run['id']}").json()["id"] == run["id"]
    assert_error(client.get("/api/push-runs/99999"), 404, "not_found")
    assert_error(client.get("/api/push-runs/99999999999"), 404, "not_found")  # > int32
    assert client.get("/api/customers", params={"q": "a\x00b"}).status_code == 200
    assert_error(client.get("/api/customers/a%00b"), 404, "not_found")


def test_the_webhook_inbox_figures_come_from_its_table(built: Built) -> None:
    delivery = Delivery(
        type="sale.update",
        object_id="sale-1",
        payload='{"id": "sale-1"}',
        body=b"payload=...",
        content_type="application/x-www-form-urlencoded",
        endpoint="/webhooks/lightspeed",
        signature_encoding="none",
        first_seen_by="poll",
    )
    engine = make_engine(built.settings.database_url())
    try:
        with engine.begin() as conn:
            stored = store_delivery(conn, delivery, ANCHOR - timedelta(minutes=5))
        client = TestClient(built.app, headers={"Authorization": f"Bearer {API_TOKEN}"})
        inbox = client.get("/api/sync-health").json()["webhook_inbox"]
        assert (inbox["total"], inbox["depth"], inbox["poll_catches"]) == (1, 1, 1)
        assert inbox["oldest_pending_seconds"] == 300
        page = logged_in(built).get("/sync").text
        assert 'id="fig-inbox-depth">1<' in page
    finally:
        with engine.begin() as conn:
            conn.execute(t.webhook_inbox.delete().where(t.webhook_inbox.c.id == stored.id))
        engine.dispose()


def test_the_progress_endpoint_needs_its_own_key(built: Built) -> None:
    client = TestClient(built.app)
    path = f"/api/progress/{built.customer_id}"
    assert_error(client.get(path), 401, "unauthorized")
    assert_error(client.get(path, headers={"X-API-Key": "wrong"}), 401, "unauthorized")
    # The dashboard's own credentials are not the app's key.
    assert_error(
        client.get(path, headers={"Authorization": f"Bearer {API_TOKEN}"}), 401, "unauthorized"
    )
    answer = client.get(path, headers={"X-API-Key": PROGRESS_KEY})
    assert answer.status_code == 200
    body = answer.json()
    assert body["tier"] == built.person["tier"]
    assert {"to_next", "keep", "reasons", "review_at"} <= set(body)
    assert "email" not in body
    assert "phone" not in body
    missing = client.get("/api/progress/no-such-customer", headers={"X-API-Key": PROGRESS_KEY})
    assert_error(missing, 404, "not_found")


def test_no_secret_appears_on_any_page_or_answer(built: Built) -> None:
    client = logged_in(built)
    person = built.person["id"]
    paths = [
        *PAGES,
        "/login",
        f"/customers/{person}",
        "/at-risk.csv",
        "/api/overview",
        "/api/program",
        "/api/sync-health",
        "/api/push-runs",
        "/api/push-runs/1",
        f"/api/customers/{person}",
        "/api/openapi.json",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        for secret in SECRETS:
            assert secret not in response.text, (path, secret)
        assert "scrypt$" not in response.text, path


def test_the_openapi_document_is_public_and_covers_the_routes(built: Built) -> None:
    doc = TestClient(built.app).get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/api/progress/{customer_id}" in doc["paths"]


def test_routes_work_under_a_prefix(built: Built, tmp_path: Path) -> None:
    from starlette.routing import Mount

    app = Starlette(routes=[Mount("/dash", routes=built.app.routes)])
    client = TestClient(app)
    response = client.get("/dash/customers?q=a", follow_redirects=False)
    assert response.headers["location"] == "/dash/login?next=/customers%3Fq%3Da"
    login = client.get(response.headers["location"])
    assert 'action="/dash/login"' in login.text
    done = client.post(
        "/dash/login",
        data={"password": PASSWORD, "csrf_token": csrf_of(login.text), "next": "/customers?q=a"},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/dash/customers?q=a"
    page = client.get("/dash/customers")
    assert page.status_code == 200
    assert 'href="/dash/static/dashboard.css"' in page.text


# -- what the fixes of the dashboard's first version keep true ------------------------


def test_the_at_risk_list_is_everyone_past_their_cycle_unlikely_active_or_dropping(
    built: Built,
) -> None:
    p = t.persons.c
    with built.engine.connect() as conn:
        rows = conn.execute(select(p.id, p.risk, p.drop_at_review, p.p_alive)).all()
    expected = {
        r.id
        for r in rows
        if r.risk in ("at_risk", "lapsed")
        or r.drop_at_review
        or (r.p_alive is not None and r.p_alive < LOW_P_ALIVE)
    }
    assert any(r.p_alive is not None for r in rows), "the fixture should have predictions"
    client = TestClient(built.app, headers={"Authorization": f"Bearer {API_TOKEN}"})
    listed = client.get("/api/at-risk", params={"page_size": 500}).json()
    assert listed["total"] == len(expected)
    assert {r["person_id"] for r in listed["data"]} == expected
    low = [r for r in listed["data"] if r["p_alive"] and Decimal(r["p_alive"]) < LOW_P_ALIVE]
    assert all(any("probability still active" in w for w in r["why"]) for r in low)
    by_p = client.get(
        "/api/at-risk", params={"sort": "p_alive", "order": "asc", "page_size": 500}
    ).json()["data"]
    known = [Decimal(r["p_alive"]) for r in by_p if r["p_alive"] is not None]
    assert known == sorted(known)
    assert all(r["p_alive"] is None for r in by_p[len(known) :])  # unknown values last
    pages = [
        client.get("/api/at-risk", params={"page": n, "page_size": 7}).json()["data"]
        for n in (1, 2)
    ]
    assert [r["person_id"] for r in pages[0] + pages[1]] == [
        r["person_id"] for r in listed["data"][:14]
    ]


def test_default_movements_cover_the_90_days_up_to_the_last_analysis_inclusive(
    built: Built,
) -> None:
    h = t.tier_history.c
    start = ANCHOR - timedelta(days=89)
    end = ANCHOR + timedelta(days=1)
    with built.engine.connect() as conn:
        expected = conn.execute(select(func.count()).where(h.at >= start, h.at < end)).scalar_one()
        at_anchor = conn.execute(select(func.count()).where(h.at == ANCHOR)).scalar_one()
    assert at_anchor > 0, "the daily run at ANCHOR should have recorded changes"
    client = TestClient(built.app, headers={"Authorization": f"Bearer {API_TOKEN}"})
    moves = client.get("/api/movements").json()
    assert sum(pair["count"] for pair in moves["pairs"]) == expected
    assert moves["until"] == end.isoformat()
    one_day = client.get(
        "/api/movements", params={"since": ANCHOR.date().isoformat(), "until": "2026-11-01"}
    ).json()
    assert sum(pair["count"] for pair in one_day["pairs"]) == at_anchor
    page = logged_in(built).get("/").text
    assert 'name="until" value="2026-11-01"' in page
    backwards = client.get("/api/movements", params={"since": "2026-11-03", "until": "2026-11-01"})
    assert backwards.json()["pairs"] == []  # a period that ends before it starts is empty


def test_revenue_by_month_adds_up_to_the_persons_channel_values(built: Built) -> None:
    client = TestClient(built.app, headers={"Authorization": f"Bearer {API_TOKEN}"})
    months = client.get("/api/revenue").json()["data"]
    p = t.persons.c
    with built.engine.connect() as conn:
        persons = conn.execute(select(p.ecom_value, p.ecom_purchases)).all()
    # Every eCom purchase has a buyer (an email), so the channel's months add up to the
    # persons' eCom figures; in-store also has walk-in sales nobody owns.
    assert sum(Decimal(m["ecom_value"]) for m in months) == sum(r.ecom_value for r in persons)
    assert sum(m["ecom_purchases"] for m in months) == sum(r.ecom_purchases for r in persons)
    page = logged_in(built).get("/").text
    assert months[-1]["month"] in page


def test_heavy_figures_are_recomputed_in_the_background_when_a_sale_changes(
    built: Built,
) -> None:
    options = analyze_options(built.settings)
    figures = HeavyFigures(
        built.engine,
        built.settings,
        options.counting,
        options.metrics.store_zone,
        lambda: ANCHOR,
        check_seconds=0,
        min_refresh_seconds=0,
    )
    first = figures.get()
    assert figures.get() is first  # nothing changed: the same figures, no recomputation
    s = t.sales.c
    with built.engine.connect() as conn:
        sale_id, version = conn.execute(
            select(s.id, s.version).order_by(s.version.desc()).limit(1)
        ).one()
    try:
        with built.engine.begin() as conn:
            conn.execute(update(t.sales).where(s.id == sale_id).values(version=version + 1))
        assert figures.get() is first  # answered at once from memory ...
        deadline = time.monotonic() + 60
        while figures.get() is first and time.monotonic() < deadline:
            time.sleep(0.05)
        fresh = figures.get()
        assert fresh is not first  # ... and recomputed behind it
        assert fresh.revenue == first.revenue  # only the version moved
    finally:
        with built.engine.begin() as conn:
            conn.execute(update(t.sales).where(s.id == sale_id).values(version=version))


def test_a_twin_purchase_is_shown_once_with_both_ids(built: Built) -> None:
    s, o, m = t.sales.c, t.ecom_orders.c, t.identity_members.c
    with built.engine.connect() as conn:
        sale_id, number, person_id = conn.execute(
            select(s.id, o.order_number, m.person_id)
            .join(t.ecom_orders, o.order_number == s.source_id)
            .join(t.identity_members, m.customer_id == s.customer_id)
            .where(s.source.like("ecw:%"), s.return_for.is_(None))
            .order_by(s.id)
            .limit(1)
        ).one()
    client = logged_in(built)
    detail = client.get(f"/api/customers/{person_id}").json()
    rows = [p for p in detail["purchases"] if number in (p["order_number"], p["key"])]
    assert len(rows) == 1
    assert rows[0]["sale_id"] == sale_id
    page = client.get(f"/customers/{person_id}").text
    assert page.count(f"<code>{sale_id}</code>") == 1
    assert page.count(f"<td>{number}</td>") == 1


def test_unknown_api_paths_and_methods_answer_in_the_one_error_shape(built: Built) -> None:
    client = TestClient(built.app, headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert_error(client.get("/api/no-such-thing"), 404, "not_found")
    wrong = client.delete("/api/overview")
    assert_error(wrong, 405, "method_not_allowed")
    assert "GET" in wrong.headers["allow"]


def test_the_api_token_opens_a_session_too(built: Built) -> None:
    client = TestClient(built.app)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"password": API_TOKEN, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 200


def test_sync_health_shows_the_serving_processs_live_rate_budget(built: Built) -> None:
    client = TestClient(built.app, headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert client.get("/api/sync-health").json()["rate_budget"] is None
    budget = RateBudget(window_seconds=300)
    app = Starlette(
        routes=dashboard_routes(built.settings, built.engine, clock=lambda: ANCHOR, budget=budget)
    )
    served = TestClient(app, headers={"Authorization": f"Bearer {API_TOKEN}"})
    budget.acquire()
    budget.observe(RateLimit(limit=350, remaining=342))
    live = served.get("/api/sync-health").json()["rate_budget"]
    assert (live["limit"], live["remaining"], live["requests_sent"]) == (350, 342, 1)
    budget.acquire()  # the next request reserves one: the page shows it at once
    login = served.get("/login")
    served.post("/login", data={"password": PASSWORD, "csrf_token": csrf_of(login.text)})
    page = served.get("/sync").text
    assert 'id="fig-budget-remaining">341<' in page
    assert 'id="fig-budget-limit">350<' in page
