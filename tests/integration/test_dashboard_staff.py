"""The staff login (issue 20): a read-only role for the shop floor, on SQLite and
PostgreSQL. Staff land on the lookup, find a person by phone in any format, email, name
or customer code with the tier, the way to the next one and the last purchases, and
read person pages; every export, setting, program preview, push and review action, and
every other page and API route, answers them 403 on the server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from greenloop.analytics.person import person_detail
from greenloop.cli import app as cli_app
from greenloop.services.analysis import analyze_options
from greenloop.store import tables as t
from greenloop.web.dashboard import hash_password, verify_password
from greenloop.web.dashboard.auth import COOKIE_NAME
from tests.integration.test_dashboard import API_TOKEN, PASSWORD, Built, assert_error, csrf_of
from tests.integration.test_dashboard import built as built
from tests.integration.test_dashboard_refusals import app_for, with_dashboard

STAFF_PASSWORD = "the till's own passphrase"
# Hashed once for the module: scrypt takes a while on a shared machine.
STAFF_HASH = hash_password(STAFF_PASSWORD)

# Every page and API route staff may not use, with its method.
REFUSED_PAGES = [
    ("GET", "/at-risk"),
    ("GET", "/at-risk.csv"),
    ("GET", "/exports/customer_analytics_master.csv"),
    ("GET", "/program"),
    ("POST", "/program/preview"),
    ("GET", "/sync"),
    ("GET", "/sync/push-runs/1"),
    ("GET", "/review"),
    ("POST", "/review/decide"),
]
REFUSED_API = [
    ("GET", "/api/overview"),
    ("GET", "/api/tiers/history"),
    ("GET", "/api/movements"),
    ("GET", "/api/revenue"),
    ("GET", "/api/at-risk"),
    ("GET", "/api/at-risk.csv"),
    ("GET", "/api/backtest"),
    ("GET", "/api/exports/master.csv"),
    ("GET", "/api/program"),
    ("POST", "/api/program/preview"),
    ("GET", "/api/sync-health"),
    ("GET", "/api/push-runs"),
    ("GET", "/api/push-runs/1"),
    ("GET", "/api/suggestions"),
    ("POST", "/api/suggestions/decide"),
]


@pytest.fixture
def staffed(built: Built) -> TestClient:
    """A dashboard with a staff password, on the built store (an app of its own)."""
    settings = with_dashboard(built.settings, staff_password_hash=STAFF_HASH)
    return TestClient(app_for(settings, built))


def log_in(client: TestClient, password: str, target: str = "/") -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"password": password, "csrf_token": token, "next": target},
        follow_redirects=False,
    )


def staff_client(staffed: TestClient) -> TestClient:
    response = log_in(staffed, STAFF_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/lookup"
    return staffed


def _other_phone(stored: str) -> str:
    digits = re.sub(r"\D", "", stored)[-10:]
    written = f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return written if written != stored else f"+1 {digits[:3]} {digits[3:6]} {digits[6:]}"


# -- the login ------------------------------------------------------------------------


def test_the_staff_password_opens_a_staff_session_that_lands_on_the_lookup(
    staffed: TestClient,
) -> None:
    client = staff_client(staffed)
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"] == "/lookup"
    page = client.get("/lookup")
    assert page.status_code == 200
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page.text, re.S)
    assert nav is not None
    assert re.findall(r'href="([^"]+)"', nav.group(1)) == ["/lookup", "/customers"]
    assert 'name="q"' in page.text


def test_a_staff_login_asked_for_an_admin_page_lands_on_the_lookup(staffed: TestClient) -> None:
    assert log_in(staffed, STAFF_PASSWORD, "/program").headers["location"] == "/lookup"
    wanted = log_in(TestClient(staffed.app), STAFF_PASSWORD, "/customers?q=a")
    assert wanted.headers["location"] == "/customers?q=a"


def test_the_admin_password_and_the_api_token_still_open_admin_sessions(
    staffed: TestClient,
) -> None:
    for password in (PASSWORD, API_TOKEN):
        client = TestClient(staffed.app)
        assert log_in(client, password).headers["location"] == "/"
        assert client.get("/api/overview").status_code == 200
        assert client.get("/program").status_code == 200
    assert log_in(TestClient(staffed.app), "not a password").status_code == 401


def test_a_changed_staff_password_ends_staff_sessions(staffed: TestClient, built: Built) -> None:
    client = staff_client(staffed)
    cookie = client.cookies[COOKIE_NAME]
    changed = with_dashboard(built.settings, staff_password_hash=hash_password("another"))
    after = TestClient(app_for(changed, built), cookies={COOKIE_NAME: cookie})
    assert after.get("/lookup", follow_redirects=False).status_code == 303  # to /login
    assert_error(after.get("/api/customers"), 401, "unauthorized")


# -- what staff may do ----------------------------------------------------------------


def test_the_lookup_finds_a_person_by_phone_email_name_or_code(
    staffed: TestClient, built: Built
) -> None:
    client = staff_client(staffed)
    person = built.person
    detail = person_detail(built.engine, analyze_options(built.settings), person["id"])
    with built.engine.connect() as conn:
        p = t.persons.c
        code = conn.execute(select(p.customer_code).where(p.id == person["id"])).scalar()
    queries = [_other_phone(person["phone"]), person["email"].upper()]
    if code:
        queries.append(code)
    for query in queries:
        page = client.get("/lookup", params={"q": query})
        assert page.status_code == 200, query
        assert 'id="lookup-person"' in page.text, query
        assert f'href="/customers/{person["id"]}"' in page.text
        tier = re.search(r'id="lookup-tier">([^<]*)<', page.text)
        assert tier is not None
        assert tier.group(1) == (detail["tier"] or "No tier")
        for reason in detail["to_next"]:
            assert reason.replace("'", "&#39;") in page.text
        last = re.search(r'<ul id="lookup-purchases">(.*?)</ul>', page.text, re.S)
        assert last is not None
        assert 1 <= last.group(1).count("<li>") <= 5
        newest = max(p["occurred_at"] for p in detail["purchases"] if p["occurred_at"])
        assert newest[:10] in last.group(1)  # the latest purchase comes first
    by_name = client.get("/lookup", params={"q": person["name"]})
    assert f'href="/customers/{person["id"]}"' in by_name.text
    nobody = client.get("/lookup", params={"q": "no such customer anywhere"})
    assert 'id="lookup-none"' in nobody.text


def test_staff_read_the_customer_list_person_pages_and_their_api(
    staffed: TestClient, built: Built
) -> None:
    client = staff_client(staffed)
    assert client.get("/customers", params={"q": built.person["email"]}).status_code == 200
    page = client.get(f"/customers/{built.person['id']}")
    assert page.status_code == 200
    assert "Tier and why" in page.text
    assert client.get("/api/customers", params={"q": built.person["email"]}).json()["total"] == 1
    assert (
        client.get(f"/api/customers/{built.person['id']}").json()["person_id"]
        == (built.person["id"])
    )


# -- what staff may not do ------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), REFUSED_PAGES)
def test_staff_get_403_on_admin_pages(staffed: TestClient, method: str, path: str) -> None:
    client = staff_client(staffed)
    token = csrf_of(client.get("/lookup").text)
    if method == "POST":
        response = client.post(path, data={"csrf_token": token, "program": "[program]"})
    else:
        response = client.get(path)
    assert response.status_code == 403
    assert 'data-code="forbidden"' in response.text
    assert "text/csv" not in response.headers["content-type"]


@pytest.mark.parametrize(("method", "path"), REFUSED_API)
def test_staff_get_403_on_the_admin_api(staffed: TestClient, method: str, path: str) -> None:
    client = staff_client(staffed)
    token = csrf_of(client.get("/lookup").text)
    if method == "POST":
        response = client.post(path, json={"program": ""}, headers={"X-CSRF-Token": token})
    else:
        response = client.get(path)
    assert_error(response, 403, "forbidden")


def test_staff_refusals_leave_the_data_alone(staffed: TestClient, built: Built) -> None:
    client = staff_client(staffed)
    token = csrf_of(client.get("/lookup").text)
    with built.engine.connect() as conn:
        before = conn.execute(select(t.persons.c.id, t.persons.c.tier)).all()
    response = client.post(
        "/review/decide", data={"csrf_token": token, "a": "x", "b": "y", "action": "accept"}
    )
    assert response.status_code == 403
    with built.engine.connect() as conn:
        assert conn.execute(select(t.persons.c.id, t.persons.c.tier)).all() == before
    # Logging out is the one POST staff make.
    assert client.post("/logout", data={"csrf_token": token}).status_code == 200
    assert client.get("/lookup", follow_redirects=False).status_code == 303


# -- the setting ----------------------------------------------------------------------


def test_hash_password_prints_the_staff_setting() -> None:
    result = CliRunner().invoke(
        cli_app, ["dashboard", "hash-password", "--staff", "--stdin"], input="till pass\n"
    )
    assert result.exit_code == 0, result.output
    found = re.fullmatch(r'staff_password_hash = "([^"]+)"\n', result.output)
    assert found is not None
    assert verify_password("till pass", found.group(1))
