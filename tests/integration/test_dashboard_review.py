"""The Review page and its JSON API, on SQLite and PostgreSQL, over a store where a full
analysis has suggestions to make.

The store is generated, synced and analysed; then two single-profile persons' profiles
are made into second profiles of two others, the way they turn up in real customer
lists: the same name and address, one typo in the email, no phone. No exact key finds
those, so the next sync and analysis suggest them (beside whatever the generator's own
identity noise yields). Each is chosen so that joined the person reaches a tier neither
side has, so accepting it writes tier history. The simulator keeps running while the
tests do, so an accepted pair's group change is pushed for real.

The store is built once per database; each test decides on pairs no other test touches,
and counts are compared before and after, so the tests run in any order.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import Engine, create_engine, select, text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from greenloop.config import Settings
from greenloop.services import analysis, ingest
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.store import tables as t
from greenloop.store.engine import make_engine, migrate, normalise_url
from greenloop.web.dashboard import dashboard_routes, hash_password
from tests.conftest import DB_PARAMS, PG_URL, _with_search_path
from tests.integration.test_dashboard import assert_error, csrf_of
from tests.simulation import ANCHOR, Sim, running_simulator, settings_for

PASSWORD = "review passphrase for the tests"
API_TOKEN = "review-api-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
JOINED_BY_STAFF = "profiles joined by staff"
BLOOM_VALUE = Decimal(750)  # the default program's Bloom: lifetime value of at least 750
TOP_TIERS = ("Bloom", "Evergreen")


def _typo(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[0]}{local[2:]}@{domain}"  # the second letter dropped


def plant_duplicates(sim: Sim, engine: Engine, count: int = 2) -> list[tuple[str, str]]:
    """Make ``count`` profiles into messy second profiles of other persons, in the
    simulator (sync them afterwards); returns each planted pair's member keys, sorted.

    Each pair joins two single-profile persons below Bloom whose lifetime values add up
    to Bloom or more, so joined they have a tier neither has. Needs an analysed store.
    """
    p, m, c = t.persons.c, t.identity_members.c, t.customers.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.id, p.tier, p.lifetime_value, m.customer_id, c.email, c.first_name)
            .add_columns(c.last_name, c.physical_address_1, c.physical_city)
            .add_columns(c.physical_postcode)
            .join(t.identity_members, m.person_id == p.id)
            .join(t.customers, c.id == m.customer_id)
            .where(p.profiles == 1, c.email.is_not(None), c.first_name.is_not(None))
            .order_by(p.id)
        ).all()
        ph = t.placeholders.c
        fake = set(conn.execute(select(ph.value).where(ph.kind == "email")).scalars())
    # Money is compared here, not in SQL: SQLite stores it as text.
    below = [r for r in rows if 0 < r.lifetime_value < BLOOM_VALUE and r.tier not in TOP_TIERS]
    below.sort(key=lambda r: (-r.lifetime_value, r.id))
    used: set[str] = set()
    pairs: list[tuple[str, str]] = []
    for main in below:
        if len(pairs) == count:
            break
        email = main.email.strip().lower()
        if main.id in used or not main.physical_address_1 or email in fake:
            continue
        if len(email.partition("@")[0]) < 4:  # a typo in "al@" is another name
            continue
        other = next(
            (
                r
                for r in reversed(below)
                if r.id not in used | {main.id}
                and main.lifetime_value + r.lifetime_value >= BLOOM_VALUE
            ),
            None,
        )
        if other is None:
            continue
        used |= {main.id, other.id}
        sim.control(
            "PUT",
            f"customers/{other.customer_id}",
            {
                "first_name": main.first_name,
                "last_name": main.last_name,
                "name": f"{main.first_name} {main.last_name}",
                "email": _typo(main.email),
                "phone": None,
                "mobile": None,
                "date_of_birth": None,
                "physical_address_1": main.physical_address_1,
                "physical_city": main.physical_city,
                "physical_postcode": main.physical_postcode,
            },
        )
        keys = sorted((f"customer:{main.customer_id}", f"customer:{other.customer_id}"))
        pairs.append((keys[0], keys[1]))
    assert len(pairs) == count, "the store has too few persons below Bloom to plant into"
    return pairs


@dataclass
class Store:
    settings: Settings
    app: Starlette
    engine: Engine
    sim: Sim
    planted: list[tuple[str, str]]


@pytest.fixture(scope="module", params=DB_PARAMS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("review")
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
    generated = generate_store(GeneratorConfig(seed=5, customers=90, days=240, anchor=ANCHOR))
    try:
        with running_simulator(generated) as sim:
            settings = settings_for(
                sim.url,
                url,
                # A planted duplicate scores just below the default auto-link line; the
                # line moves as matching is tuned, and here they must stay suggestions.
                identity={"auto_link_probability": 1.0},
                dashboard={
                    "admin_password_hash": hash_password(PASSWORD),
                    "api_token": API_TOKEN,
                    "session_secret": "review-session-secret-0123456789",
                },
            )
            ingest.run_sync(settings)
            analysis.analyze(settings, now=ANCHOR - timedelta(days=1))
            planted = plant_duplicates(sim, engine)
            ingest.run_sync(settings)
            analysis.analyze(settings, now=ANCHOR)
            # A clock that moves on from the anchor, so two skips are never simultaneous.
            started = datetime.now(UTC)
            app = Starlette(
                routes=dashboard_routes(
                    settings, engine, clock=lambda: ANCHOR + (datetime.now(UTC) - started)
                )
            )
            yield Store(settings, app, engine, sim, planted)
    finally:
        engine.dispose()
        if schema is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def logged_in(app: Starlette) -> TestClient:
    client = TestClient(app)
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    return client


def queue(store: Store, limit: int = 50) -> dict[str, Any]:
    response = TestClient(store.app).get(f"/api/suggestions?limit={limit}", headers=BEARER)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def pairs_of(found: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["a"], s["b"]) for s in found["suggestions"]]


def unplanted(store: Store, found: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in found["suggestions"] if (s["a"], s["b"]) not in store.planted]


def left_text(html: str) -> str:
    found = re.search(r'<p id="review-left"><strong>([\d,]+)</strong> (suggestions? left)', html)
    assert found, "no count on the page"
    return f"{found.group(1)} {found.group(2)}"


def result_text(html: str) -> str:
    found = re.search(r'<p class="result" role="status" id="review-result">(.*?)</p>', html, re.S)
    assert found, "no result line on the page"
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


def decide_form(client: TestClient, page: str, a: str, b: str, action: str, **extra: str) -> Any:
    data = {"csrf_token": csrf_of(page), "a": a, "b": b, "action": action, **extra}
    return client.post("/review/decide", data=data)


# -- access -------------------------------------------------------------------------------


def test_the_review_page_and_its_api_need_a_login(store: Store) -> None:
    client = TestClient(store.app)
    page = client.get("/review", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/review"
    assert_error(client.get("/api/suggestions"), 401, "unauthorized")
    a, b = store.planted[0]
    assert_error(
        client.post("/api/suggestions/decide", json={"a": a, "b": b, "action": "accept"}),
        401,
        "unauthorized",
    )
    assert (
        client.post("/review/decide", data={"a": a, "b": b}, follow_redirects=False).status_code
        == 303
    )


def test_decisions_without_the_csrf_proof_are_refused(store: Store) -> None:
    client = logged_in(store.app)
    before = queue(store)
    a, b = unplanted(store, before)[0]["a"], unplanted(store, before)[0]["b"]
    for token in (None, "not-the-token"):
        data = {"a": a, "b": b, "action": "reject"}
        if token:
            data["csrf_token"] = token
        refused = client.post("/review/decide", data=data)
        assert refused.status_code == 403
        assert 'data-code="csrf_failed"' in refused.text
    api = client.post("/api/suggestions/decide", json={"a": a, "b": b, "action": "reject"})
    assert_error(api, 403, "csrf_failed")
    wrong = client.post(
        "/api/suggestions/decide",
        json={"a": a, "b": b, "action": "reject"},
        headers={"X-CSRF-Token": "not-the-token"},
    )
    assert_error(wrong, 403, "csrf_failed")
    # Nothing was decided: the pair waits where it was.
    assert queue(store) == before
    with store.engine.connect() as conn:
        o = t.identity_overrides.c
        assert conn.execute(select(o.a).where(o.a == a, o.b == b)).first() is None
    # With the session's token in the header the same session may decide.
    token = csrf_of(client.get("/review").text)
    skipped = client.post(
        "/api/suggestions/decide",
        json={"a": a, "b": b, "action": "skip"},
        headers={"X-CSRF-Token": token},
    )
    assert skipped.status_code == 200, skipped.text
    assert skipped.json()["action"] == "skip"


# -- the page -----------------------------------------------------------------------------


def test_the_page_shows_the_first_suggestion_side_by_side_with_the_count(store: Store) -> None:
    found = queue(store, limit=1)
    first = found["suggestions"][0]
    client = logged_in(store.app)
    page = client.get("/review")
    assert page.status_code == 200
    html = page.text
    total = found["total"]
    assert left_text(html) == f"{total} suggestion{'' if total == 1 else 's'} left"
    assert f'data-a="{first["a"]}" data-b="{first["b"]}"' in html
    for side in first["sides"]:
        for field in ("name", "email", "phone", "code"):
            if side.get(field):
                assert str(escape(side[field])) in html, (field, side[field])
        assert f"/customers/{side['person']['id']}" in html
        assert (side["person"]["tier"] or "(none)") in html
    for line in first["evidence"]:
        assert str(escape(line)) in html
    shown = re.search(r'<strong id="review-tier-if-joined">([^<]*)</strong>', html)
    assert shown
    assert shown.group(1) == (first["tier_if_joined"] or "(none)")
    for key, label in (("a", "Accept"), ("r", "Reject"), ("s", "Skip")):
        assert f'data-key="{key}" aria-keyshortcuts="{key}"' in html
        assert f"{label} <kbd>{key}</kbd>" in html
    # The navigation carries the count on every page.
    overview = client.get("/").text
    assert f'id="nav-review-left" title="{total} suggestion' in overview


def test_accepting_a_planted_duplicate_joins_it_into_one_person(store: Store) -> None:
    a, b = store.planted[0]
    before = queue(store)
    item = next(s for s in before["suggestions"] if (s["a"], s["b"]) == (a, b))
    expected = item["tier_if_joined"]
    assert expected in TOP_TIERS
    assert expected not in [side["person"]["tier"] for side in item["sides"]]
    assert any("emails differ by one letter" in line for line in item["evidence"]), item

    client = logged_in(store.app)
    after = decide_form(client, client.get("/review").text, a, b, "accept", note="same shopper")
    assert after.status_code == 200
    assert after.url.path == "/review"

    m, p, h, o = t.identity_members.c, t.persons.c, t.tier_history.c, t.identity_overrides.c
    with store.engine.connect() as conn:
        persons = dict(
            conn.execute(select(m.member_key, m.person_id).where(m.member_key.in_([a, b]))).all()
        )
        assert len(set(persons.values())) == 1
        person_id = persons[a]
        joined = conn.execute(select(p.name, p.tier, p.profiles).where(p.id == person_id)).one()
        reasons = conn.execute(select(h.reason).where(h.person_id == person_id)).scalars().all()
        override = conn.execute(select(o.action, o.note).where(o.a == a, o.b == b)).one()
    assert joined.profiles == 2
    assert joined.tier == expected
    assert any(JOINED_BY_STAFF in reason for reason in reasons), reasons
    assert override.action == "link"
    assert override.note.startswith("same shopper")

    assert result_text(after.text).startswith(f"Joined: {joined.name} is now {expected}")
    assert "group change sent to Lightspeed" in result_text(after.text)
    now = queue(store)
    assert now["total"] == before["total"] - 1
    assert (a, b) not in pairs_of(now)
    if now["total"]:
        assert left_text(after.text).startswith(f"{now['total']} suggestion")
    # The group change reached the simulator: both profiles are in the tier's group.
    served = {c["id"]: c for c in store.sim.store()["customers"]}
    groups = {served[key.removeprefix("customer:")]["customer_group_id"] for key in (a, b)}
    assert len(groups) == 1
    detail = client.get(f"/api/customers/{person_id}").json()
    assert {prof["id"] for prof in detail["profiles"]} == {
        a.removeprefix("customer:"),
        b.removeprefix("customer:"),
    }


def test_rejecting_through_the_api_keeps_the_pair_apart_for_good(store: Store) -> None:
    a, b = store.planted[1]
    before = queue(store)
    assert (a, b) in pairs_of(before)
    client = TestClient(store.app, headers=BEARER)
    response = client.post("/api/suggestions/decide", json={"a": b, "b": a, "action": "reject"})
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["action"] == "reject"
    assert (decision["a"], decision["b"]) == (a, b)
    assert decision["remaining"] == before["total"] - 1
    m, o = t.identity_members.c, t.identity_overrides.c
    with store.engine.connect() as conn:
        override = conn.execute(select(o.action).where(o.a == a, o.b == b)).scalar_one()
        persons = dict(
            conn.execute(select(m.member_key, m.person_id).where(m.member_key.in_([a, b]))).all()
        )
    assert override == "unlink"
    assert len(set(persons.values())) == 2
    assert (a, b) not in pairs_of(queue(store))
    # A full analysis scores everything again; the rejected pair is not suggested again.
    analysis.analyze(store.settings, now=ANCHOR + timedelta(hours=1))
    assert (a, b) not in pairs_of(queue(store))


def test_skipping_moves_the_suggestion_to_the_end_of_the_queue(store: Store) -> None:
    before = queue(store)
    waiting = [s for s in unplanted(store, before) if not s["skipped"]]
    if len(before["suggestions"]) < 2 or not waiting:
        pytest.skip("needs two suggestions, one not skipped yet")
    item = waiting[0]
    client = logged_in(store.app)
    after = decide_form(client, client.get("/review").text, item["a"], item["b"], "skip")
    assert after.status_code == 200
    assert result_text(after.text) == "Skipped"
    now = queue(store)
    assert now["total"] == before["total"]
    last = now["suggestions"][-1]
    assert (last["a"], last["b"]) == (item["a"], item["b"])
    assert last["skipped"] is True
    assert left_text(after.text).startswith(f"{now['total']} suggestion")


def test_a_second_decision_on_the_same_pair_is_a_404(store: Store) -> None:
    item = unplanted(store, queue(store))[-1]
    a, b = item["a"], item["b"]
    client = TestClient(store.app, headers=BEARER)
    first = client.post("/api/suggestions/decide", json={"a": a, "b": b, "action": "reject"})
    assert first.status_code == 200, first.text
    again = client.post("/api/suggestions/decide", json={"a": a, "b": b, "action": "accept"})
    assert_error(again, 404, "not_found")
    # The page says so too, and shows what is next.
    browser = logged_in(store.app)
    page = decide_form(browser, browser.get("/review").text, a, b, "accept")
    assert page.status_code == 404
    assert "That suggestion is no longer waiting" in page.text
    with store.engine.connect() as conn:
        o = t.identity_overrides.c
        assert conn.execute(select(o.action).where(o.a == a, o.b == b)).scalar_one() == "unlink"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_input"),
        (b'{"a": "customer:x", "b": "customer:y"}', 400, "invalid_input"),
        (b'{"a": "customer:x", "b": "customer:y", "action": "merge"}', 400, "invalid_input"),
        (b'{"a": "", "b": "customer:y", "action": "skip"}', 400, "invalid_input"),
        (
            b'{"a": "customer:x", "b": "customer:y", "action": "skip", "note": 5}',
            400,
            "invalid_input",
        ),
        (b'{"a": "customer:x\\u0000", "b": "customer:y", "action": "skip"}', 404, "not_found"),
        (b'{"a": "customer:\\ud800", "b": "customer:y", "action": "skip"}', 404, "not_found"),
        (b'{"a": "customer:x", "b": "customer:y", "action": "skip"}', 404, "not_found"),
    ],
)
def test_the_decide_api_refuses_what_it_cannot_use(
    store: Store, body: bytes, status: int, code: str
) -> None:
    before = queue(store)["total"]
    response = TestClient(store.app, headers=BEARER).post(
        "/api/suggestions/decide", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, status, code)
    assert queue(store)["total"] == before


def test_an_empty_queue_says_nothing_to_review(engine: Engine, db_url: str) -> None:
    settings = settings_for(
        "http://127.0.0.1:9",
        db_url,
        dashboard={"admin_password_hash": hash_password(PASSWORD), "api_token": API_TOKEN},
    )
    app = Starlette(routes=dashboard_routes(settings, engine, clock=lambda: ANCHOR))
    client = logged_in(app)
    html = client.get("/review").text
    assert '<p class="empty" id="review-empty">Nothing to review.</p>' in html
    assert "review-decide" not in html
    assert "nav-review-left" not in html
    found = client.get("/api/suggestions", headers=BEARER).json()
    assert found == {"total": 0, "offset": 0, "limit": 20, "suggestions": []}
