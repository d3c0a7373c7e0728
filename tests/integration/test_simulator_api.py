"""The X-Series simulator over real HTTP: cursors, search, writes, auth, rate limit,
faults and the control API.

One uvicorn server serves the whole module; each test swaps in a fresh app over a
fresh store, so tests stay isolated without paying a server start each.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from starlette.types import ASGIApp, Receive, Scope, Send
from typer.testing import CliRunner

from greenloop.simulator import cli
from greenloop.simulator.app import create_app
from greenloop.simulator.clock import Clock
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.model import StoreData, load_store, loads
from greenloop.simulator.server import start_in_thread
from greenloop.simulator.state import SimState

TOKEN = "sim-test-token-5f2c"
API = "/api/2.0"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining")
DOCUMENTED_LIMIT = 300 * 2 + 50  # two live registers in tiny_store (reference §9)


# -- the store ----------------------------------------------------------------------


def _stamp(day: int, hour: int = 10) -> str:
    return datetime(2026, 1, day, hour, tzinfo=UTC).isoformat()


def _line(price: str, qty: int = 1, tax: str = "0") -> dict[str, Any]:
    p, t = Decimal(price), Decimal(tax)
    return {
        "id": f"li-{price}-{qty}",
        "product_id": "p-1",
        "tax_id": "tax-1",
        "quantity": qty,
        "price": p,
        "price_total": p * qty,
        "tax": t,
        "tax_total": t * qty,
        "loyalty_value": Decimal(0),
        "sequence": 0,
        "status": "CONFIRMED",
        "is_return": False,
        "tax_components": [],
    }


def _sale(
    sid: str, status: str, day: int, customer: str | None, register: str = "r-main", **extra: Any
) -> dict[str, Any]:
    lines = [_line("34.725", 1, "2.78")]
    sale: dict[str, Any] = {
        "id": sid,
        "outlet_id": "o-main",
        "register_id": register,
        "user_id": "u-1" if register == "r-main" else "u-2",
        "invoice_number": f"MR-{sid}",
        "invoice_sequence": day,
        "source": "USER",
        "status": status,
        "note": "",
        "short_code": "abcdef",
        "return_for": None,
        "total_price": Decimal("34.725"),
        "total_tax": Decimal("2.78"),
        "total_loyalty": Decimal(0),
        "sale_date": _stamp(day),
        "created_at": _stamp(day),
        "updated_at": _stamp(day),
        "deleted_at": None,
        "line_items": lines,
        "payments": [],
        "adjustments": [],
        "taxes": [],
        "attributes": [],
    }
    if customer is not None:
        # Walk-in sales leave the key out: the 2.0 schema's customer_id is non-nullable.
        sale["customer_id"] = customer
    sale.update(extra)
    return sale


def _customer(cid: str, first: str, last: str, group: str, **extra: Any) -> dict[str, Any]:
    customer = {
        "id": cid,
        "customer_code": f"{first}-{cid[2:].upper()}",
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "email": f"{first.lower()}@example.com",
        "phone": None,
        "mobile": None,
        "company_name": None,
        "customer_group_id": group,
        "enable_loyalty": True,
        "do_not_email": False,
        "loyalty_balance": Decimal("12.50"),
        "year_to_date": Decimal("100.10"),
        "balance": Decimal(0),
        "created_at": _stamp(1),
        "updated_at": _stamp(1),
        "deleted_at": None,
    }
    customer.update(extra)
    return customer


def tiny_store() -> StoreData:
    """Six sales, five customers (one deleted), two live registers and one deleted."""
    stamp = _stamp(1)
    return StoreData(
        retailer={
            "id": "ret-1",
            "name": "Green Corner",
            "domain_prefix": "greencorner",
            "currency": {"code": "USD", "symbol": "$"},
            "loyalty": {"enabled": True, "ratio": 1},
            "version": "ignored",
        },
        outlets=[
            {"id": "o-main", "name": "Main St", "time_zone": "America/Chicago", "deleted_at": None},
            {
                "id": "o-old",
                "name": "Old Mall",
                "time_zone": "America/Chicago",
                "deleted_at": stamp,
            },
        ],
        registers=[
            {
                "id": "r-main",
                "name": "Main",
                "outlet_id": "o-main",
                "invoice_prefix": "MR-",
                "invoice_suffix": "",
                "invoice_sequence": 1000,
                "deleted_at": None,
            },
            {
                "id": "r-web",
                "name": "Online",
                "outlet_id": "o-main",
                "invoice_prefix": "WEB-",
                "invoice_suffix": "",
                "invoice_sequence": 500,
                "deleted_at": None,
            },
            {"id": "r-old", "name": "Old", "outlet_id": "o-old", "deleted_at": stamp},
        ],
        users=[
            {
                "id": f"u-{n}",
                "username": f"user{n}",
                "display_name": f"User {n}",
                "account_type": "admin" if n == 1 else "cashier",
                "is_primary_user": n == 1,
                "created_at": stamp,
                "updated_at": stamp,
                "deleted_at": None,
            }
            for n in (1, 2)
        ],
        customer_groups=[
            {"id": "g-all", "name": "All Customers", "group_id": "1111111111", "deleted_at": None},
            {"id": "g-vip", "name": "VIP", "group_id": "VIP-Y968", "deleted_at": None},
            {"id": "g-staff", "name": "Staff", "group_id": "STAFF-A1B2", "deleted_at": None},
        ],
        customers=[
            _customer("c-jane", "Jane", "Doe", "g-all"),
            _customer("c-bob", "Bob", "Stone", "g-vip"),
            _customer("c-ann", "Ann", "Lee", "g-staff"),
            _customer("c-gone", "Gus", "Gone", "g-all", deleted_at=_stamp(2)),
            _customer("c-zoe", "Zoe", "Park", "g-all", email=None),
        ],
        sales=[
            _sale("s-1", "CLOSED", 5, "c-jane"),
            _sale("s-2", "CLOSED", 6, None),
            _sale("s-3", "LAYBY", 7, "c-bob", attributes=["layby"]),
            _sale("s-4", "VOIDED", 8, "c-jane"),
            _sale("s-5", "AWAITING_DISPATCH", 9, "c-zoe", register="r-web", source_id="1042"),
            _sale("s-6", "CLOSED", 10, "c-bob"),
        ],
    )


# -- the harness --------------------------------------------------------------------


class SwappableApp:
    """An ASGI app that forwards to whichever app a test installed last."""

    def __init__(self) -> None:
        self.current: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.current is not None, "no simulator installed"
        await self.current(scope, receive, send)


@dataclass
class Harness:
    url: str
    state: SimState
    clock: Clock
    client: httpx.Client

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, API + path, **kwargs)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(API + path, params=params)

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.client.request(method, f"/_sim/{path}", json=body)

    def listed(self, path: str, **params: Any) -> dict[str, Any]:
        response = self.get(path, **params)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def ids(self, path: str, **params: Any) -> list[str]:
        return [o["id"] for o in self.listed(path, **params)["data"]]


SimFactory = Callable[..., Harness]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, SwappableApp]]:
    swap = SwappableApp()
    with start_in_thread(swap) as running:
        yield running.url, swap


def build_harness(
    url: str,
    swap: SwappableApp,
    clients: list[httpx.Client],
    store: StoreData | None = None,
    event_hooks: dict[str, list[Callable[..., Any]]] | None = None,
    **config: Any,
) -> Harness:
    state = SimState(store if store is not None else tiny_store(), id_seed=11)
    clock = Clock(source=lambda: T0)
    swap.current = create_app(state, SimulatorConfig(token=TOKEN, **config), clock=clock)
    client = httpx.Client(
        base_url=url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
        event_hooks=event_hooks or {},
    )
    clients.append(client)
    return Harness(url, state, clock, client)


@pytest.fixture
def make_sim(server: tuple[str, SwappableApp]) -> Iterator[SimFactory]:
    url, swap = server
    clients: list[httpx.Client] = []

    def make(store: StoreData | None = None, **config: Any) -> Harness:
        return build_harness(url, swap, clients, store, **config)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def sim(make_sim: SimFactory) -> Harness:
    return make_sim()


# -- auth and headers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", TOKEN],
    ids=["missing", "wrong", "basic-scheme", "empty", "no-scheme"],
)
def test_a_missing_or_wrong_token_is_refused_with_the_spec_body(
    sim: Harness, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.get(f"{sim.url}{API}/customers", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Access token is not valid"}
    assert all(name in response.headers for name in RATE_HEADERS)


def test_the_bearer_scheme_is_case_insensitive(sim: Harness) -> None:
    response = httpx.get(f"{sim.url}{API}/retailer", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200


def test_refused_tokens_spend_no_budget(sim: Harness) -> None:
    before = int(sim.get("/retailer").headers["X-RateLimit-Remaining"])
    for _ in range(3):
        httpx.get(f"{sim.url}{API}/retailer", headers={"Authorization": "Bearer nope"})
    after = int(sim.get("/retailer").headers["X-RateLimit-Remaining"])
    assert after == before - 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/retailer", None, 200),
        ("GET", "/customers", None, 200),
        ("GET", "/customers/nope", None, 404),
        ("GET", "/search?type=sales", None, 200),
        ("GET", "/customers?page_size=abc", None, 400),
        ("POST", "/customers", {"first_name": "A", "last_name": "B"}, 201),
        ("DELETE", "/customers/c-zoe", None, 204),
        ("POST", "/customer_groups/g-vip/customers", {"customer_ids": ["c-jane"]}, 201),
        ("GET", "/consignments", None, 404),
        ("PATCH", "/customers/c-jane", {}, 404),
    ],
)
def test_every_api_response_carries_rate_limit_headers(
    sim: Harness, method: str, path: str, body: Any, status: int
) -> None:
    response = sim.api(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["X-RateLimit-Limit"] == str(DOCUMENTED_LIMIT)
    assert int(response.headers["X-RateLimit-Remaining"]) < DOCUMENTED_LIMIT
    if status != 204:
        assert response.headers["content-type"] == "application/json"


# -- retailer, lists and get-by-id -------------------------------------------------


def test_the_retailer_carries_its_version_as_a_string(sim: Harness) -> None:
    retailer = sim.listed("/retailer")["data"]
    assert retailer["id"] == "ret-1"
    assert retailer["version"] == "1"


def test_versions_follow_file_order_across_collections(sim: Harness) -> None:
    seen: list[int] = []
    for kind in ("outlets", "registers", "users", "customer_groups", "customers", "sales"):
        versions = [o["version"] for o in sim.listed(f"/{kind}", deleted="true")["data"]]
        assert versions == sorted(versions)
        seen.extend(versions)
    assert seen == list(range(2, 2 + len(seen)))


def test_a_page_reports_the_lowest_and_highest_version_on_it(sim: Harness) -> None:
    page = sim.listed("/sales", page_size=2, after=0)
    versions = [o["version"] for o in page["data"]]
    assert page["version"] == {"min": versions[0], "max": versions[-1]}


def test_after_is_exclusive_and_before_is_an_exclusive_upper_bound(sim: Harness) -> None:
    versions = [s["version"] for s in sim.listed("/sales")["data"]]
    after = [s["version"] for s in sim.listed("/sales", after=versions[1])["data"]]
    assert after == versions[2:]
    window = sim.listed("/sales", after=versions[0], before=versions[3])["data"]
    assert [s["version"] for s in window] == versions[1:3]


def test_paging_by_after_visits_every_live_customer_once(sim: Harness) -> None:
    ids, after, pages = [], 0, 0
    while True:
        page = sim.listed("/customers", after=after, page_size=2)
        if not page["data"]:
            break
        ids += [c["id"] for c in page["data"]]
        after = page["version"]["max"]
        pages += 1
    assert ids == ["c-jane", "c-bob", "c-ann", "c-zoe"]
    assert pages == 2


def test_page_size_defaults_and_is_clamped_to_the_configured_maximum(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(default_page_size=2, max_page_size=3)
    assert len(sim.listed("/sales")["data"]) == 2
    assert len(sim.listed("/sales", page_size=100)["data"]) == 3


@pytest.mark.parametrize(
    "query",
    ["page_size=0", "page_size=abc", "after=-1", "after=x", "before=x", "deleted=maybe"],
)
def test_malformed_cursor_parameters_are_a_400(sim: Harness, query: str) -> None:
    response = sim.api("GET", f"/customers?{query}")
    assert response.status_code == 400
    assert isinstance(response.json()["error"], str)


def test_unknown_query_parameters_are_ignored(sim: Harness) -> None:
    assert sim.ids("/sales", colour="green", date_from="2020-01-01") == sim.ids("/sales")


def test_deleted_objects_are_listed_only_when_asked(sim: Harness) -> None:
    assert "c-gone" not in sim.ids("/customers")
    assert "c-gone" in sim.ids("/customers", deleted="true")
    assert sim.ids("/outlets") == ["o-main"]
    assert sim.ids("/registers", deleted="true") == ["r-main", "r-web", "r-old"]


def test_sales_have_no_deleted_filter_and_list_every_sale(sim: Harness) -> None:
    sim.control("PUT", "sales/s-2", {"deleted_at": _stamp(20)})
    assert "s-2" in sim.ids("/sales")
    assert sim.ids("/sales", deleted="false") == sim.ids("/sales")


@pytest.mark.parametrize(
    ("style", "expected"),
    [("null_fields", {"min": None, "max": None}), ("null", None), ("absent", "missing")],
)
def test_an_empty_page_reports_its_version_in_the_configured_style(
    make_sim: SimFactory, style: str, expected: Any
) -> None:
    sim = make_sim(empty_version=style)
    page = sim.listed("/sales", after=10_000)
    assert page["data"] == []
    assert page.get("version", "missing") == expected


def test_a_change_bumps_the_one_global_version(sim: Harness) -> None:
    top = sim.state.version
    assert top == max(p["version"] for p in sim.listed("/products")["data"])
    sim.control("PUT", "customers/c-jane", {"note": "likes kale"})
    changed = sim.listed("/customers", after=top)["data"]
    assert [c["id"] for c in changed] == ["c-jane"]
    assert changed[0]["version"] == top + 1
    assert sim.listed("/sales", after=top)["data"] == []


def test_an_object_changed_while_paging_comes_back_later_with_a_higher_version(
    sim: Harness,
) -> None:
    first = sim.listed("/customers", page_size=2)
    assert [c["id"] for c in first["data"]] == ["c-jane", "c-bob"]
    sim.control("PUT", "customers/c-jane", {"phone": "555-0100"})
    rest = sim.listed("/customers", after=first["version"]["max"], page_size=10)
    assert [c["id"] for c in rest["data"]] == ["c-ann", "c-zoe", "c-jane"]
    assert rest["data"][-1]["phone"] == "555-0100"
    assert rest["data"][-1]["version"] > first["version"]["max"]


@pytest.mark.parametrize(
    ("kind", "object_id", "thing"),
    [
        ("outlets", "o-main", "outlet"),
        ("registers", "r-web", "register"),
        ("users", "u-2", "user"),
        ("customer_groups", "g-vip", "customer group"),
        ("customers", "c-bob", "customer"),
        ("sales", "s-3", "sale"),
    ],
)
def test_get_by_id_answers_the_object_or_a_404(
    sim: Harness, kind: str, object_id: str, thing: str
) -> None:
    assert sim.listed(f"/{kind}/{object_id}")["data"]["id"] == object_id
    missing = sim.get(f"/{kind}/does-not-exist")
    assert missing.status_code == 404
    assert missing.json() == {"error": f"{thing} not found"}


def test_money_keeps_its_precision_and_walk_in_sales_have_no_customer_key(sim: Harness) -> None:
    response = sim.get("/sales/s-2")
    assert '"total_price": 34.725' in response.text
    assert "customer_id" not in response.json()["data"]
    assert loads(response.content)["data"]["total_price"] == Decimal("34.725")


def test_a_deleted_customer_is_still_readable_by_id(sim: Harness) -> None:
    assert sim.listed("/customers/c-gone")["data"]["deleted_at"] == _stamp(2)


# -- customers ----------------------------------------------------------------------


def test_creating_a_customer_fills_code_group_timestamps_and_version(sim: Harness) -> None:
    top = sim.state.version
    response = sim.api("POST", "/customers", json={"first_name": "Mary Ann", "last_name": None})
    assert response.status_code == 201
    customer = response.json()["data"]
    assert re.fullmatch(r"MaryAnn-[A-Z0-9]{4}", customer["customer_code"])
    assert customer["customer_group_id"] == "g-all"
    assert customer["created_at"] == customer["updated_at"] == "2026-03-01T12:00:00+00:00"
    assert customer["version"] == top + 1
    assert (customer["loyalty_balance"], customer["year_to_date"], customer["balance"]) == (0, 0, 0)
    assert sim.ids("/customers", after=top) == [customer["id"]]


def test_a_created_customer_keeps_given_fields_and_ignores_read_only_ones(sim: Harness) -> None:
    body = {
        "first_name": "Kim",
        "last_name": "Ng",
        "email": "kim@example.com",
        "customer_code": "KIM-0001",
        "customer_group_id": "g-vip",
        "loyalty_balance": 999,
        "on_account_limit": 250.5,
    }
    customer = sim.api("POST", "/customers", json=body).json()["data"]
    assert customer["customer_code"] == "KIM-0001"
    assert customer["customer_group_id"] == "g-vip"
    assert customer["loyalty_balance"] == 0
    assert customer["on_account_limit"] == 250.5


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"first_name": "A"}, "first_name and last_name are required"),
        ({"last_name": "A"}, "first_name and last_name are required"),
        ([1, 2], "Request body must be a JSON object"),
        ({"first_name": "A", "last_name": "B", "email": 5}, "email has the wrong type"),
        ({"first_name": "A", "last_name": "B", "gender": "X"}, "gender has the wrong type"),
        ({"first_name": "A", "last_name": "B", "do_not_email": "yes"}, None),
        ({"first_name": "A", "last_name": "B", "customer_group_id": "g-nope"}, None),
        ({"first_name": "A", "last_name": "B", "customer_code": "jane-JANE"}, None),
    ],
)
def test_a_bad_customer_body_is_a_400_and_creates_nothing(
    sim: Harness, body: Any, error: str | None
) -> None:
    top = sim.state.version
    response = sim.api("POST", "/customers", json=body)
    assert response.status_code == 400
    if error is not None:
        assert response.json() == {"error": error}
    assert sim.state.version == top


def test_a_body_that_is_not_json_is_a_400(sim: Harness) -> None:
    response = sim.api("POST", "/customers", content=b"{nope", headers={"Content-Type": "x"})
    assert response.status_code == 400
    assert response.json() == {"error": "Request body is not valid JSON"}


def test_put_is_a_full_update_that_resets_omitted_fields_and_the_group(sim: Harness) -> None:
    before = sim.listed("/customers/c-bob")["data"]
    assert before["customer_group_id"] == "g-vip"
    response = sim.api("PUT", "/customers/c-bob", json={"first_name": "Robert", "last_name": "S"})
    assert response.status_code == 200
    after = response.json()["data"]
    assert after["first_name"] == "Robert"
    assert after["email"] is None
    assert after["customer_group_id"] == "g-all"
    assert after["customer_code"] == before["customer_code"]
    assert after["loyalty_balance"] == before["loyalty_balance"]
    assert after["version"] > before["version"]
    assert after["name"] == "Robert S"


def test_put_can_set_the_group(sim: Harness) -> None:
    body = {"first_name": "Jane", "last_name": "Doe", "customer_group_id": "g-staff"}
    customer = sim.api("PUT", "/customers/c-jane", json=body).json()["data"]
    assert customer["customer_group_id"] == "g-staff"


def test_delete_is_a_soft_delete_that_bumps_the_version(sim: Harness) -> None:
    top = sim.state.version
    response = sim.api("DELETE", "/customers/c-zoe")
    assert response.status_code == 204
    assert response.content == b""
    assert "c-zoe" not in sim.ids("/customers")
    deleted = sim.listed("/customers", after=top, deleted="true")["data"]
    assert [(c["id"], c["version"]) for c in deleted] == [("c-zoe", top + 1)]
    assert deleted[0]["deleted_at"] == "2026-03-01T12:00:00+00:00"
    assert sim.api("DELETE", "/customers/c-zoe").status_code == 404
    assert sim.api(
        "PUT", "/customers/c-zoe", json={"first_name": "Z", "last_name": "P"}
    ).json() == {"error": "customer not found"}


# -- customer groups ----------------------------------------------------------------


def test_creating_renaming_and_listing_groups(sim: Harness) -> None:
    created = sim.api("POST", "/customer_groups", json={"name": "Gold"})
    assert created.status_code == 201
    group = created.json()["data"]
    assert re.fullmatch(r"Gold-[A-Z0-9]{4}", group["group_id"])
    assert group["retailer_id"] == "ret-1"
    renamed = sim.api("PUT", f"/customer_groups/{group['id']}", json={"name": "Gold+"})
    assert renamed.json()["data"]["name"] == "Gold+"
    assert renamed.json()["data"]["version"] > group["version"]
    assert sim.api("POST", "/customer_groups", json={"group_id": "x"}).status_code == 400


def test_adding_customers_to_a_group_moves_them_and_bumps_only_the_moved(sim: Harness) -> None:
    top = sim.state.version
    body = {"customer_ids": ["c-jane", "c-zoe", "c-bob", "c-jane"]}
    response = sim.api("POST", "/customer_groups/g-vip/customers", json=body)
    assert response.status_code == 201
    assert response.json() is True
    moved = sim.listed("/customers", after=top)["data"]
    assert [(c["id"], c["customer_group_id"]) for c in moved] == [
        ("c-jane", "g-vip"),
        ("c-zoe", "g-vip"),
    ]
    members = sim.ids("/customer_groups/g-vip/customers")
    assert members == ["c-bob", "c-jane", "c-zoe"]


def test_an_unknown_customer_id_fails_the_whole_batch(sim: Harness) -> None:
    top = sim.state.version
    body = {"customer_ids": ["c-jane", "c-ghost", "c-gone"]}
    response = sim.api("POST", "/customer_groups/g-vip/customers", json=body)
    assert response.status_code == 404
    assert response.json() == {"error": "customer not found", "message": "c-ghost, c-gone"}
    assert sim.state.version == top
    assert sim.listed("/customers/c-jane")["data"]["customer_group_id"] == "g-all"


@pytest.mark.parametrize(
    "body", [{}, {"customer_ids": []}, {"customer_ids": "c-jane"}, {"customer_ids": [1]}, [1]]
)
def test_a_malformed_membership_body_is_a_400(sim: Harness, body: Any) -> None:
    response = sim.api("POST", "/customer_groups/g-vip/customers", json=body)
    assert response.status_code == 400


def test_the_membership_batch_size_is_bounded(make_sim: SimFactory) -> None:
    sim = make_sim(max_group_batch=2)
    body = {"customer_ids": ["c-jane", "c-zoe", "c-ann"]}
    response = sim.api("POST", "/customer_groups/g-vip/customers", json=body)
    assert response.status_code == 400
    assert "at most 2" in response.json()["error"]


def test_membership_of_an_unknown_group_is_a_404(sim: Harness) -> None:
    body = {"customer_ids": ["c-jane"]}
    response = sim.api("POST", "/customer_groups/g-nope/customers", json=body)
    assert response.json() == {"error": "customer group not found"}
    assert sim.get("/customer_groups/g-nope/customers").status_code == 404


def test_removing_members_sends_them_back_to_the_default_group(sim: Harness) -> None:
    top = sim.state.version
    body = {"customer_ids": ["c-bob", "c-jane"]}
    response = sim.api("DELETE", "/customer_groups/g-vip/customers", json=body)
    assert response.status_code == 204
    changed = sim.listed("/customers", after=top)["data"]
    assert [(c["id"], c["customer_group_id"]) for c in changed] == [("c-bob", "g-all")]


def test_deleting_a_group_moves_its_customers_to_the_default_group(sim: Harness) -> None:
    assert sim.api("DELETE", "/customer_groups/g-staff").status_code == 204
    assert sim.listed("/customers/c-ann")["data"]["customer_group_id"] == "g-all"
    assert "g-staff" not in sim.ids("/customer_groups")
    assert "g-staff" in sim.ids("/customer_groups", deleted="true")
    refused = sim.api("DELETE", "/customer_groups/g-all")
    assert refused.status_code == 400


def test_group_members_page_by_version(sim: Harness) -> None:
    first = sim.listed("/customer_groups/g-all/customers", page_size=1)
    assert [c["id"] for c in first["data"]] == ["c-jane"]
    rest = sim.ids("/customer_groups/g-all/customers", after=first["version"]["max"])
    assert rest == ["c-zoe"]


# -- sales and search ---------------------------------------------------------------


def test_get_sale_by_id_works_for_any_status(sim: Harness) -> None:
    for sale_id, status in (("s-3", "LAYBY"), ("s-4", "VOIDED"), ("s-5", "AWAITING_DISPATCH")):
        assert sim.listed(f"/sales/{sale_id}")["data"]["status"] == status


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"type": ""},
        {"type": "bogus"},
        {"type": "Sales"},
        {"type": "sale"},
        {"type": "sales", "order_by": "bogus"},
        {"type": "sales", "order_by": "first_name"},  # a customer attribute
        {"type": "sales", "order_by": "total_price"},  # not a search attribute
        {"type": "customers", "order_by": "sale_date"},
        {"type": "products", "order_by": "email"},
    ],
)
def test_search_refuses_a_missing_or_unknown_type_or_order_by(
    sim: Harness, params: dict[str, str]
) -> None:
    response = sim.get("/search", **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]
    assert body.keys() == sim.get("/search").json().keys()


def test_search_knows_sales_customers_and_products(sim: Harness) -> None:
    assert sim.get("/search").json() == {"error": "type is required"}
    assert sim.ids("/search", type="products") == ["p-1"]
    for kind, attribute in (
        ("sales", "outlet_id"),
        ("customers", "email"),
        ("products", "sku"),
        ("products", "tag_id"),
    ):
        assert sim.get("/search", type=kind, order_by=attribute).status_code == 200


def test_search_pages_by_offset_in_version_order_without_a_version_block(sim: Harness) -> None:
    everything = sim.listed("/search", type="sales")
    assert set(everything) == {"data"}
    ids = [s["id"] for s in everything["data"]]
    assert ids == ["s-1", "s-2", "s-3", "s-4", "s-5", "s-6"]
    assert sim.ids("/search", type="sales", offset=2, page_size=3) == ids[2:5]
    assert sim.ids("/search", type="sales", offset=6) == []


def test_search_orders_by_any_attribute_either_way(sim: Harness) -> None:
    newest = sim.ids("/search", type="sales", order_by="sale_date", order_direction="desc")
    assert newest == ["s-6", "s-5", "s-4", "s-3", "s-2", "s-1"]
    by_name = sim.ids("/search", type="customers", order_by="first_name")
    assert by_name == ["c-ann", "c-bob", "c-jane", "c-zoe"]
    assert sim.get("/search", type="sales", order_direction="sideways").status_code == 400


def test_search_page_size_is_capped_at_1000(make_sim: SimFactory) -> None:
    store = tiny_store()
    base = store.sales[0]
    store.sales = [{**base, "id": f"bulk-{n}"} for n in range(1003)]
    sim = make_sim(store)
    assert len(sim.listed("/search", type="sales", page_size=5000)["data"]) == 1000
    assert len(sim.listed("/search", type="sales", offset=1000, page_size=5000)["data"]) == 3


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": ["CLOSED", "LAYBY"]}, ["s-1", "s-2", "s-3", "s-6"]),
        ({"state": "pending"}, ["s-3", "s-5"]),
        ({"customer_id": "c-jane"}, ["s-1", "s-4"]),
        ({"register_id": "r-web"}, ["s-5"]),
        ({"user_id": "u-2"}, ["s-5"]),
        ({"outlet_id": "o-old"}, []),
        ({"invoice_number": "MR-s-4"}, ["s-4"]),
        ({"date_from": "2026-01-07T10:00:00Z", "date_to": "2026-01-09T10:00:00Z"}, ["s-3", "s-4"]),
        ({"date_from": "2026-01-09T00:00:00Z", "customer_id": "c-bob"}, ["s-6"]),
    ],
)
def test_search_filters_sales(sim: Harness, params: dict[str, Any], expected: list[str]) -> None:
    assert sim.ids("/search", type="sales", **params) == expected


def test_search_rejects_a_malformed_date(sim: Harness) -> None:
    response = sim.get("/search", type="sales", date_from="last tuesday")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"email": "JANE@Example.com"}, ["c-jane"]),
        ({"first_name": "bob"}, ["c-bob"]),
        ({"last_name": "Lee"}, ["c-ann"]),
        ({"customer_code": "zoe-zoe"}, ["c-zoe"]),
        ({"first_name": "Gus"}, []),
        ({"first_name": "Gus", "deleted": "true"}, ["c-gone"]),
    ],
)
def test_search_filters_customers(
    sim: Harness, params: dict[str, Any], expected: list[str]
) -> None:
    assert sim.ids("/search", type="customers", **params) == expected


# -- webhooks -----------------------------------------------------------------------


def test_webhook_subscriptions_through_the_2_0_api(sim: Harness) -> None:
    body = {"url": "https://hooks.example/sales", "active": True, "type": "sale.update"}
    created = sim.api("POST", "/webhooks", json=body)
    assert created.status_code == 201
    hook = created.json()["data"]
    assert hook == {**body, "id": hook["id"], "retailer_id": "ret-1"}
    duplicate = sim.api("POST", "/webhooks", json=body)
    assert duplicate.status_code == 409
    assert duplicate.json() == {"error": "A webhook with this type and URL already exists."}
    same_url = sim.api("POST", "/webhooks", json={**body, "type": "customer.update"})
    assert same_url.status_code == 201
    assert [h["id"] for h in sim.listed("/webhooks")["data"]] == [
        hook["id"],
        same_url.json()["data"]["id"],
    ]
    updated = sim.api("PUT", f"/webhooks/{hook['id']}", json={**body, "active": False})
    assert updated.json()["data"]["active"] is False
    assert sim.listed(f"/webhooks/{hook['id']}")["data"]["active"] is False
    assert sim.api("DELETE", f"/webhooks/{hook['id']}").status_code == 200
    assert sim.get(f"/webhooks/{hook['id']}").json() == {"error": "webhook not found"}


@pytest.mark.parametrize(
    "body",
    [
        {"url": "https://x.example", "active": True, "type": "sale.created"},
        {"url": "x", "active": True, "type": "sale.update"},
        {"url": "https://x.example", "type": "sale.update"},
    ],
)
def test_an_invalid_webhook_is_a_400(sim: Harness, body: dict[str, Any]) -> None:
    assert sim.api("POST", "/webhooks", json=body).status_code == 400


def test_webhook_subscriptions_through_the_0_9_form_api(sim: Harness) -> None:
    data = json.dumps(
        {"url": "https://hooks.example/c", "active": "true", "type": "customer.update"}
    )
    created = sim.client.post("/api/webhooks", data={"data": data})
    assert created.status_code == 200
    hook = created.json()
    assert hook["type"] == "customer.update"
    assert hook["active"] is True
    assert [h["id"] for h in sim.client.get("/api/webhooks").json()] == [hook["id"]]
    assert [h["id"] for h in sim.listed("/webhooks")["data"]] == [hook["id"]]
    assert sim.client.post("/api/webhooks", data={"nodata": "1"}).status_code == 400
    assert sim.client.delete(f"/api/webhooks/{hook['id']}").status_code == 200
    assert sim.client.delete(f"/api/webhooks/{hook['id']}").status_code == 404


# -- rate limit ---------------------------------------------------------------------


def test_the_default_limit_is_300_per_live_register_plus_50(sim: Harness) -> None:
    response = sim.get("/retailer")
    assert response.headers["X-RateLimit-Limit"] == str(DOCUMENTED_LIMIT)
    assert response.headers["X-RateLimit-Remaining"] == str(DOCUMENTED_LIMIT - 1)


def test_over_the_limit_is_a_429_with_an_http_date_retry_after(sim: Harness) -> None:
    sim.control("PUT", "rate_limit", {"limit": 3, "window_seconds": 60})
    remaining = [sim.get("/retailer").headers["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = sim.get("/retailer")
    assert refused.status_code == 429
    assert refused.json() == {"error": "Too Many Requests", "message": "Rate limiting enforced"}
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    retry_at = parsedate_to_datetime(refused.headers["Retry-After"])
    assert retry_at == datetime.fromtimestamp(T0, UTC) + timedelta(seconds=60)
    assert sim.get("/customers").status_code == 429


def test_retry_after_rounds_the_window_end_up_to_a_whole_second(make_sim: SimFactory) -> None:
    sim = make_sim(rate_limit=1, rate_window_seconds=10.25)
    assert sim.get("/retailer").status_code == 200
    refused = sim.get("/retailer")
    assert parsedate_to_datetime(refused.headers["Retry-After"]).timestamp() == T0 + 11


def test_refused_requests_spend_nothing_and_the_window_reopens(sim: Harness) -> None:
    sim.control("PUT", "rate_limit", {"limit": 2, "window_seconds": 300, "remaining": 0})
    assert [sim.get("/retailer").status_code for _ in range(3)] == [429, 429, 429]
    sim.control("POST", "clock", {"advance_seconds": 299})
    assert sim.get("/retailer").status_code == 429
    sim.control("POST", "clock", {"advance_seconds": 1})
    reopened = sim.get("/retailer")
    assert reopened.status_code == 200
    assert reopened.headers["X-RateLimit-Remaining"] == "1"


def test_the_limit_returns_to_the_documented_formula(sim: Harness) -> None:
    sim.control("PUT", "rate_limit", {"limit": 5})
    assert sim.get("/retailer").headers["X-RateLimit-Limit"] == "5"
    settings = sim.control("PUT", "rate_limit", {"limit": None}).json()["data"]
    assert settings["documented_formula"] is True
    assert sim.get("/retailer").headers["X-RateLimit-Limit"] == str(DOCUMENTED_LIMIT)
    assert sim.control("PUT", "rate_limit", {"limit": "many"}).status_code == 400
    assert sim.control("PUT", "rate_limit", {"burst": 1}).status_code == 400


# -- faults -------------------------------------------------------------------------


def test_error_rate_answers_500_and_applies_nothing(sim: Harness) -> None:
    sim.control("PUT", "faults", {"error_rate": 1})
    top = sim.state.version
    response = sim.api("POST", "/customers", json={"first_name": "A", "last_name": "B"})
    assert response.status_code == 500
    assert response.json() == {"error": "Internal Server Error"}
    assert all(name in response.headers for name in RATE_HEADERS)
    assert sim.get("/retailer").status_code == 500
    assert sim.state.version == top
    assert sim.control("GET", "info").status_code == 200


def test_write_error_rate_fails_only_writes(sim: Harness) -> None:
    sim.control("PUT", "faults", {"write_error_rate": 1.0})
    assert sim.get("/customers").status_code == 200
    assert (
        sim.api("PUT", "/customers/c-jane", json={"first_name": "J", "last_name": "D"}).status_code
        == 500
    )
    assert sim.api("DELETE", "/customers/c-jane").status_code == 500


def test_latency_delays_every_api_answer(sim: Harness) -> None:
    sim.control("PUT", "faults", {"latency_ms": 150})
    started = time.perf_counter()
    assert sim.get("/retailer").status_code == 200
    assert time.perf_counter() - started >= 0.15


def test_a_timeout_fault_hangs_long_enough_to_trip_a_client_timeout(sim: Harness) -> None:
    sim.control("PUT", "faults", {"timeout_rate": 1, "timeout_seconds": 0.6})
    with pytest.raises(httpx.ReadTimeout):
        sim.client.get(f"{API}/retailer", timeout=0.1)
    sim.control("PUT", "faults", {"timeout_rate": 0})
    assert sim.get("/retailer").status_code == 200


def test_malformed_rate_answers_200_with_broken_json(sim: Harness) -> None:
    sim.control("PUT", "faults", {"malformed_rate": 1})
    response = sim.get("/sales")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    log = sim.control("GET", "requests").json()["data"]
    assert log[-1]["fault"] == "malformed"


def test_faults_repeat_for_the_same_seed(make_sim: SimFactory) -> None:
    runs = []
    for _ in range(2):
        sim = make_sim(error_rate=0.5, fault_seed=3)
        runs.append([sim.get("/retailer").status_code for _ in range(12)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500}


def test_bad_fault_settings_are_refused(sim: Harness) -> None:
    assert sim.control("PUT", "faults", {"error_rate": 2}).status_code == 400
    assert sim.control("PUT", "faults", {"gremlins": 1}).status_code == 400
    assert sim.control("GET", "faults").json()["data"]["error_rate"] == 0


# -- control API --------------------------------------------------------------------


def test_a_posted_sale_is_completed_like_a_register_would(sim: Harness) -> None:
    register_version = sim.listed("/registers/r-main")["data"]["version"]
    body = {"line_items": [{"product_id": "p-1", "price": 10.5, "quantity": 2, "tax": 1.05}]}
    response = sim.control("POST", "sales", body)
    assert response.status_code == 201
    sale = loads(response.content)["data"]
    assert sale["invoice_number"] == sale["receipt_number"] == "MR-1001"
    assert sale["invoice_sequence"] == 1001
    assert (sale["register_id"], sale["outlet_id"]) == ("r-main", "o-main")
    assert sale["sale_date"] == "2026-03-01T12:00:00+00:00"
    assert (sale["total_price"], sale["total_tax"]) == (Decimal("21.0"), Decimal("2.10"))
    assert "customer_id" not in sale
    register = sim.listed("/registers/r-main")["data"]
    assert register["invoice_sequence"] == 1001
    assert register_version < register["version"] < sale["version"]
    assert sim.ids("/sales", after=register["version"]) == [sale["id"]]


def test_a_posted_sale_must_name_known_things(sim: Harness) -> None:
    assert sim.control("POST", "sales", {"customer_id": "c-ghost"}).status_code == 400
    assert sim.control("POST", "sales", {"register_id": "r-ghost"}).status_code == 400
    assert sim.control("POST", "sales", {"status": "OPEN"}).status_code == 400
    assert sim.control("POST", "sales", {"id": "s-1"}).status_code == 409


def test_changing_a_sale_bumps_version_and_updated_at(sim: Harness) -> None:
    sim.control("POST", "clock", {"advance_seconds": 3600})
    sale = sim.control("PUT", "sales/s-3", {"status": "LAYBY_CLOSED"}).json()["data"]
    assert sale["updated_at"] == "2026-03-01T13:00:00+00:00"
    assert sale["attributes"] == ["layby"]
    assert sale["version"] == sim.state.version
    assert sim.control("PUT", "sales/s-nope", {}).status_code == 404


def test_control_customer_edits_merge_unlike_the_api_put(sim: Harness) -> None:
    edited = sim.control("PUT", "customers/c-jane", {"customer_group_id": "g-staff"})
    customer = edited.json()["data"]
    assert customer["customer_group_id"] == "g-staff"
    assert customer["email"] == "jane@example.com"
    created = sim.control("POST", "customers", {"first_name": "Lu", "loyalty_balance": 5})
    assert created.status_code == 201
    assert created.json()["data"]["loyalty_balance"] == 5
    deleted = sim.control("DELETE", f"customers/{created.json()['data']['id']}")
    assert deleted.json()["data"]["deleted_at"] == "2026-03-01T12:00:00+00:00"
    assert sim.control("PUT", "customers/c-jane", {"customer_group_id": "g-x"}).status_code == 404


def test_the_request_log_records_api_calls_only(sim: Harness) -> None:
    sim.get("/customers", page_size=2)
    sim.get("/nope")
    sim.control("GET", "info")
    log = sim.control("GET", "requests").json()["data"]
    assert [(e["method"], e["path"], e["query"], e["status"]) for e in log] == [
        ("GET", f"{API}/customers", "page_size=2", 200),
        ("GET", f"{API}/nope", "", 404),
    ]
    assert [e["rate_limit_remaining"] for e in log] == [DOCUMENTED_LIMIT - 1, DOCUMENTED_LIMIT - 2]
    assert log[0]["time"] == "2026-03-01T12:00:00+00:00"
    assert sim.control("DELETE", "requests").status_code == 204
    assert sim.control("GET", "requests").json()["data"] == []


def test_the_store_dump_holds_every_object_with_versions(sim: Harness) -> None:
    sim.api(
        "POST",
        "/webhooks",
        json={"url": "https://h.example", "active": True, "type": "sale.update"},
    )
    store = sim.control("GET", "store").json()
    assert {c["id"] for c in store["customers"]} == {"c-jane", "c-bob", "c-ann", "c-gone", "c-zoe"}
    assert all(isinstance(o["version"], int) for o in store["sales"])
    assert len(store["webhooks"]) == 1
    assert store["retailer"]["version"] == "1"
    assert store["version"] == sim.state.version


def test_info_counts_objects_and_never_shows_the_token(sim: Harness) -> None:
    response = sim.control("GET", "info")
    info = response.json()
    assert info["counts"]["customers"] == {"total": 5, "live": 4}
    assert info["version"] == sim.state.version
    assert TOKEN not in response.text


def test_the_clock_moves_only_when_told(sim: Harness) -> None:
    assert sim.control("GET", "clock").json()["now"] == "2026-03-01T12:00:00+00:00"
    moved = sim.control("POST", "clock", {"advance_seconds": 86400}).json()
    assert moved["now"] == "2026-03-02T12:00:00+00:00"
    assert sim.control("POST", "clock", {"advance_seconds": "soon"}).status_code == 400


# -- the server itself --------------------------------------------------------------


def test_start_in_thread_picks_a_free_port_and_stops() -> None:
    app = create_app(SimState(tiny_store()), SimulatorConfig(token=TOKEN))
    with start_in_thread(app) as running:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", running.url)
        assert int(running.url.rsplit(":", 1)[1]) > 0
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{running.url}{API}/retailer", headers=headers).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.url}{API}/retailer", timeout=1)


# -- the command line ---------------------------------------------------------------


def test_every_simulator_command_and_option_has_help() -> None:
    # Typer ships its own copy of click, so commands and options are recognised by shape.
    commands: dict[str, Any] = typer.main.get_command(cli.app).commands  # type: ignore[attr-defined]
    assert set(commands) == {"serve", "dump", "export-ecom"}
    for name, command in commands.items():
        assert command.help, name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts}"
        assert CliRunner().invoke(cli.app, [name, "--help"]).exit_code == 0


def test_dump_writes_a_store_the_simulator_serves(tmp_path: Path) -> None:
    out = tmp_path / "store.json"
    args = ["dump", "--out", str(out), "--customers", "15", "--days", "20"]
    args += ["--anchor", "2026-02-01T00:00:00"]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    store = load_store(out)
    assert len(store.customers) >= 15
    assert SimState(store).count("customers") == len(store.customers)


def test_dump_takes_generator_knobs_and_names_the_bad_ones(tmp_path: Path) -> None:
    base = ["dump", "--customers", "300", "--days", "200", "--anchor", "2026-02-01T00:00:00"]
    counts = []
    for churn in ("0", "3"):
        out = tmp_path / f"store-{churn}.json"
        args = [*base, "--out", str(out), "--set", f"churn_per_year={churn}"]
        args += ["--set", "future_days=30"]
        result = CliRunner().invoke(cli.app, args)
        assert result.exit_code == 0, result.output
        lifecycle = load_store(out).truth["lifecycle"]["persons"]
        counts.append(sum(1 for entry in lifecycle.values() if entry["active_at_anchor"]))
    assert counts[0] > counts[1]  # a higher churn leaves fewer people active at the anchor
    for bad, said in (("nope=1", "churn_per_year"), ("churn_per_year=x", "needs a number")):
        result = CliRunner().invoke(cli.app, [*base, "--out", str(tmp_path / "x"), "--set", bad])
        assert result.exit_code == 2
        assert said in " ".join(result.output.split())


def test_serve_prints_its_url_and_token_and_answers(tmp_path: Path) -> None:
    out = tmp_path / "store.json"
    args = ["dump", "--out", str(out), "--customers", "10", "--days", "10"]
    assert CliRunner().invoke(cli.app, args).exit_code == 0
    command = [sys.executable, "-c", "from greenloop.simulator.cli import app; app()"]
    command += ["serve", "--port", "0", "--store", str(out), "--rate-limit", "7"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url_line, token_line = process.stdout.readline(), process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/api/2\.0", url_line)
        assert match, url_line
        token = token_line.strip().rsplit(" ", 1)[-1]
        assert len(token) >= 20
        response = httpx.get(
            f"{match.group(1)}{API}/retailer", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "7"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
