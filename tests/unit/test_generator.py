"""The store generator: determinism, API 2.0 shapes, money, eCom twins and planted duplicates."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.generator_base import central_offset, new_uuid
from greenloop.simulator.model import StoreData, dumps, loads

ANCHOR = datetime(2026, 1, 15, tzinfo=UTC)
SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "xseries-openapi-2.0.json"
CENTS = Decimal("0.01")
TAX_PLACES = Decimal("0.00001")
CLOSED = {
    "CLOSED",
    "LAYBY_CLOSED",
    "ONACCOUNT_CLOSED",
    "PICKED_UP_CLOSED",
    "DISPATCHED_CLOSED",
    "SERVICE_CLOSED",
}
Obj = dict[str, Any]
_PICKUP_TEXT = (
    r"\n\nPickup time:\n(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [A-Z][a-z]{2} \d{1,2}, \d{4}, "
    r"\d{1,2}:[03]0 (AM|PM)(\n|$)"
)


@pytest.fixture(scope="module")
def store() -> StoreData:
    return generate_store(GeneratorConfig(anchor=ANCHOR))


@pytest.fixture(scope="module")
def small_store() -> StoreData:
    """A year for a few hundred profiles: every kind of object, cheap to validate in full."""
    return generate_store(GeneratorConfig(seed=5, customers=400, anchor=ANCHOR))


@pytest.fixture(scope="module")
def orders(store: StoreData) -> dict[str, Obj]:
    return {o["order_number"]: o for o in store.ecom_orders}


@pytest.fixture(scope="module")
def sales_by_id(store: StoreData) -> dict[str, Obj]:
    return {s["id"]: s for s in store.sales}


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def digits(phone: str | None) -> str:
    d = re.sub(r"\D", "", phone or "")
    return d[1:] if len(d) == 11 and d.startswith("1") else d


def incl(sale: Obj) -> Decimal:
    """The sale's total with tax: ``total_price_incl``, or what a client falls back to."""
    if "total_price_incl" in sale:
        return Decimal(sale["total_price_incl"])
    return Decimal(sale["total_price"] + sale["total_tax"])


def ecom_sales(store: StoreData) -> list[Obj]:
    return [s for s in store.sales if s["source"].startswith("ecw:")]


# -- determinism ------------------------------------------------------------------------------


def test_same_config_gives_identical_bytes() -> None:
    config = GeneratorConfig(seed=3, customers=300, days=60, anchor=ANCHOR)
    first = dumps(generate_store(config).to_json_obj())
    second = dumps(generate_store(config).to_json_obj())
    assert first == second


def test_different_seeds_give_different_stores() -> None:
    one = generate_store(GeneratorConfig(seed=1, customers=200, days=30, anchor=ANCHOR))
    two = generate_store(GeneratorConfig(seed=2, customers=200, days=30, anchor=ANCHOR))
    assert dumps(one.to_json_obj()) != dumps(two.to_json_obj())
    assert {c["id"] for c in one.customers}.isdisjoint(c["id"] for c in two.customers)


def test_anchor_defaults_to_today_midnight_utc() -> None:
    before = datetime.now(UTC).date()
    truth = generate_store(GeneratorConfig(customers=20, days=5)).truth
    after = datetime.now(UTC).date()
    assert truth["anchor"] in {f"{d.isoformat()}T00:00:00+00:00" for d in (before, after)}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"anchor": datetime(2026, 1, 15)},
        {"days": 0},
        {"customers": -1},
        {"sales": -5},
        {"ecom_share": 1.5},
        {"unsynced_recent_orders": -1},
        {"omit_total_price_incl": 1.5},
        {"omit_total_price_incl": -0.1},
    ],
)
def test_bad_config_is_refused(kwargs: Obj) -> None:
    with pytest.raises(ValueError, match="must"):
        GeneratorConfig(**kwargs)


def test_fast_uuid_matches_the_uuid_module() -> None:
    a, b = random.Random(11), random.Random(11)
    for _ in range(200):
        assert new_uuid(a) == str(uuid.UUID(int=b.getrandbits(128), version=4))


def test_store_clock_follows_us_central_time() -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        chicago = zoneinfo.ZoneInfo("America/Chicago")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no tz database on this host")
    start = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp())
    for ts in range(start, start + 3 * 366 * 86_400, 3_600 * 7):
        offset = datetime.fromtimestamp(ts, UTC).astimezone(chicago).utcoffset()
        assert offset is not None
        assert central_offset(ts) == offset.total_seconds(), datetime.fromtimestamp(ts, UTC)


def test_json_round_trip_keeps_everything(small_store: StoreData) -> None:
    text = dumps(small_store.to_json_obj())
    again = StoreData.from_json_obj(loads(text))
    assert dumps(again.to_json_obj()) == text


# -- API 2.0 shapes ---------------------------------------------------------------------------


@cache
def schema(name: str) -> jsonschema.Draft7Validator:
    schemas = json.loads(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]

    def convert(node: Any) -> Any:
        # OpenAPI 3.0 → JSON Schema: inline $refs and spell `nullable` as a null type.
        if isinstance(node, list):
            return [convert(x) for x in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return convert(schemas[node["$ref"].rsplit("/", 1)[-1]])
        out = {k: convert(v) for k, v in node.items() if k != "nullable"}
        if node.get("nullable") and "type" in node:
            out["type"] = [node["type"], "null"]
        return out

    return jsonschema.Draft7Validator(convert(schemas[name]))


def assert_valid(name: str, objects: list[Obj], version: Any = 1) -> None:
    validator = schema(name)
    for obj in objects:
        errors = [
            f"{list(e.path)}: {e.message}"
            for e in validator.iter_errors({**obj, "version": version})
        ]
        assert not errors, (obj.get("id"), errors[:3])


COLLECTIONS = [
    ("Sale", "sales"),
    ("Customer", "customers"),
    ("CustomerGroup", "customer_groups"),
    ("Register", "registers"),
    ("Outlet", "outlets"),
    ("User", "users"),
    ("Product", "products"),
]


@pytest.mark.parametrize(("name", "collection"), COLLECTIONS)
def test_objects_validate_against_the_2_0_schema(
    small_store: StoreData, name: str, collection: str
) -> None:
    objects = getattr(small_store, collection)
    assert objects
    assert_valid(name, objects)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "collection"), COLLECTIONS)
def test_default_store_validates_in_full(store: StoreData, name: str, collection: str) -> None:
    assert_valid(name, getattr(store, collection))


def test_retailer_and_pending_twins_validate(store: StoreData) -> None:
    assert store.retailer is not None
    assert_valid("Retailer", [store.retailer], version="1")  # Retailer.version is a string
    assert_valid("Sale", store.truth["pending_twins"])
    assert store.retailer["currency"] == {"code": "USD", "symbol": "$"}
    assert store.retailer["tax_exclusive"] is True


def test_customers_carry_every_schema_field(store: StoreData) -> None:
    fields = set(json.loads(SPEC.read_text())["components"]["schemas"]["Customer"]["properties"])
    fields.discard("version")
    for customer in store.customers:
        assert fields <= customer.keys()


def test_walkins_omit_customer_and_till_sales_omit_source_id(store: StoreData) -> None:
    walkins = [s for s in store.sales if "customer_id" not in s]
    assert len(walkins) > len(store.sales) // 10
    assert all(s["customer_id"] for s in store.sales if "customer_id" in s)
    for sale in store.sales:
        assert ("source_id" in sale) == sale["source"].startswith("ecw:")


def test_every_product_a_sale_names_is_in_the_catalogue(store: StoreData) -> None:
    catalogue = {p["id"]: p for p in store.products}
    assert len(catalogue) == len(store.products)
    named = {
        line["product_id"]
        for sale in [*store.sales, *store.truth["pending_twins"]]
        for line in sale["line_items"]
    }
    assert named <= catalogue.keys()
    assert store.retailer is not None
    assert store.retailer["discount_product_id"] in catalogue
    for key in ("sku", "handle"):
        values = [p[key] for p in store.products]
        assert all(values), key
        assert len(set(values)) == len(values), key


def test_catalogue_prices_match_what_the_till_charges(store: StoreData) -> None:
    catalogue = {p["id"]: p for p in store.products}
    rate = store.truth["tax_rate"]
    for sale in store.sales[:500]:
        for line in sale["line_items"]:
            product = catalogue[line["product_id"]]
            if not line["tax_components"]:  # the untaxed shipping line, priced per order
                continue
            assert product["price_excluding_tax"] == line["price"] + line["discount"]
            assert product["price_including_tax"] == (
                product["price_excluding_tax"] * (1 + rate)
            ).quantize(TAX_PLACES, ROUND_HALF_UP)


# -- total_price_incl, left out of some sales -----------------------------------------------


def _without_incl(store: StoreData) -> str:
    data = loads(dumps(store.to_json_obj()))  # a copy: to_json_obj shares the sale dicts
    for sale in [*data["sales"], *data["truth"]["pending_twins"]]:
        sale.pop("total_price_incl", None)
    return dumps(data)


def test_some_sales_leave_out_total_price_incl_by_default(store: StoreData) -> None:
    without = [s for s in store.sales if "total_price_incl" not in s]
    share = len(without) / len(store.sales)
    assert GeneratorConfig().omit_total_price_incl == 0.1
    assert 0.07 < share < 0.13, share
    # Every kind of sale can lose it, eCom twins and returns included.
    assert any(s["source"].startswith("ecw:") for s in without)
    assert any(s["return_for"] for s in without)


def test_the_share_is_seeded_and_changes_nothing_else() -> None:
    def make(share: float) -> StoreData:
        return generate_store(
            GeneratorConfig(
                seed=3, customers=200, days=60, anchor=ANCHOR, omit_total_price_incl=share
            )
        )

    none, some, every = make(0.0), make(0.5), make(1.0)
    assert all("total_price_incl" in s for s in none.sales)
    assert not any("total_price_incl" in s for s in every.sales)
    assert not any("total_price_incl" in s for s in every.truth["pending_twins"])
    kept = [s["id"] for s in some.sales if "total_price_incl" in s]
    assert 0 < len(kept) < len(some.sales)
    assert kept == [s["id"] for s in make(0.5).sales if "total_price_incl" in s]
    assert _without_incl(none) == _without_incl(some) == _without_incl(every)
    # Where it is left out, the fallback gives exactly the value it would have had.
    full = {s["id"]: s["total_price_incl"] for s in none.sales}
    for sale in every.sales:
        assert sale["total_price"] + sale["total_tax"] == full[sale["id"]]


# -- money ------------------------------------------------------------------------------------


def test_line_and_sale_totals_add_up(store: StoreData) -> None:
    rate = store.truth["tax_rate"]
    for sale in [*store.sales, *store.truth["pending_twins"]]:
        for line in sale["line_items"]:
            assert line["price"] * line["quantity"] == line["price_total"]
            taxed = rate if line["tax_components"] else 0
            assert line["tax_total"] == (line["price_total"] * taxed).quantize(
                TAX_PLACES, ROUND_HALF_UP
            )
            assert -line["tax_total"].as_tuple().exponent <= 5
        lines = sale["line_items"]
        assert sale["total_price"] == sum(li["price_total"] for li in lines)
        assert sale["total_tax"] == sum(li["tax_total"] for li in lines)
        if "total_price_incl" in sale:
            assert sale["total_price_incl"] == sale["total_price"] + sale["total_tax"]
        assert sale["total_loyalty"] == sum(li["loyalty_value"] for li in lines)
        assert sale["taxes"][0]["amount"] == sale["total_tax"]


def test_payments_cover_closed_sales_to_the_cent(store: StoreData) -> None:
    for sale in store.sales:
        paid = sum(p["amount"] for p in sale["payments"])
        due = incl(sale).quantize(CENTS)
        if sale["status"] in CLOSED:
            assert paid == due, sale["id"]
        else:
            assert abs(paid) <= abs(due)
        if sale["status"] in {"VOIDED", "SAVED", "ONACCOUNT"}:
            assert not sale["payments"]


def test_some_totals_carry_a_third_decimal(store: StoreData) -> None:
    assert any(incl(s).as_tuple().exponent == -3 for s in store.sales)


def test_status_mix(store: StoreData) -> None:
    statuses = Counter(s["status"] for s in store.sales)
    assert statuses["CLOSED"] > len(store.sales) // 2
    for status in ("LAYBY_CLOSED", "ONACCOUNT_CLOSED", "LAYBY", "ONACCOUNT", "VOIDED", "SAVED"):
        assert statuses[status] > 0, status
    assert statuses["SERVICE"] + statuses["SERVICE_CLOSED"] > 0
    names = Counter(p["name"] for s in store.sales for p in s["payments"])
    assert {"Cash", "Credit Card", "Loyalty", "Square (Online)"} <= names.keys()


# -- time and order ---------------------------------------------------------------------------


def test_sales_ordered_by_update_and_inside_the_history(store: StoreData) -> None:
    updated = [s["updated_at"] for s in store.sales]
    assert updated == sorted(updated)
    anchor = ts(store.truth["anchor"])
    for sale in store.sales:
        assert sale["sale_date"] <= sale["created_at"] <= sale["updated_at"]
        assert ts(sale["updated_at"]) < anchor
        assert sale["sale_date"].endswith("+00:00")
    assert ts(store.sales[0]["sale_date"]) >= anchor - timedelta(days=365)


def test_profiles_exist_before_their_first_sale(store: StoreData) -> None:
    first: dict[str, str] = {}
    for sale in store.sales:
        cid = sale.get("customer_id")
        if cid and (cid not in first or sale["sale_date"] < first[cid]):
            first[cid] = sale["sale_date"]
    customers = {c["id"]: c for c in store.customers}
    assert first.keys() <= customers.keys()
    for cid, when in first.items():
        assert customers[cid]["created_at"] <= when


# -- returns ----------------------------------------------------------------------------------


def test_returns_point_at_real_sales_and_copy_their_note(
    store: StoreData, sales_by_id: dict[str, Obj]
) -> None:
    returns = [s for s in store.sales if s["return_for"]]
    assert len(returns) >= len(store.sales) // 100
    for ret in returns:
        original = sales_by_id[ret["return_for"]]
        assert ret["status"] == "CLOSED"
        assert ret["note"] == original["note"]
        assert ret["total_price"] < 0
        assert all(li["is_return"] and li["quantity"] < 0 for li in ret["line_items"])
        assert ret.get("customer_id") == original.get("customer_id")
        assert ret["source"] == "USER"
        assert original["sale_date"] < ret["sale_date"]
    assert any(sales_by_id[r["return_for"]]["note"].startswith("Order ID:") for r in returns)


# -- eCom -------------------------------------------------------------------------------------


def test_ecom_sales_join_their_orders(store: StoreData, orders: dict[str, Obj]) -> None:
    truth = store.truth
    assert re.fullmatch(r"ecw:[0-9A-F]{16}", truth["ecom_source"])
    twins = ecom_sales(store)
    assert twins
    for sale in twins:
        order = orders[sale["source_id"]]
        assert sale["source"] == truth["ecom_source"]
        assert order["sale_id"] == sale["id"]
        assert sale["invoice_number"] != sale["source_id"]
        assert sale["receipt_number"] == sale["invoice_number"]
        assert sale["register_id"] == truth["online_register_id"]
        assert sale["note"].startswith(f"Order ID:{sale['source_id']}\n\n")
        assert "Total Discount Amount: " in sale["note"]
        if order["pickup"]:
            assert re.search(_PICKUP_TEXT, sale["note"]), sale["note"]
        else:
            assert "\n\nShipping Address:\n" in sale["note"]
        assert sale["customer_id"]
        assert sale["attributes"] == (["pickup"] if order["pickup"] else ["delivery"])
        shipping = len(sale["line_items"]) - len(order["items"])
        assert shipping == (0 if order["pickup"] else 1)
        assert {p["name"] for p in sale["payments"]} <= {"Square (Online)", "Loyalty"}
        assert order["email"] == order["email"].lower()
    statuses = Counter(s["status"] for s in twins)
    assert statuses.keys() == {
        "AWAITING_PICKUP",
        "AWAITING_DISPATCH",
        "PICKED_UP_CLOSED",
        "DISPATCHED_CLOSED",
    }


def test_order_total_is_what_the_card_paid(store: StoreData, orders: dict[str, Obj]) -> None:
    loyalty_orders = 0
    for sale in ecom_sales(store):
        order = orders[sale["source_id"]]
        if order["payment_status_code"] == "QUEUED":
            assert not sale["payments"]
            continue
        card = sum(p["amount"] for p in sale["payments"] if p["name"] != "Loyalty")
        assert order["total"] == card
        assert order["subtotal"] == sum(i["total"] for i in order["items"])
        gross = order["subtotal"] - order["discount"] + order["tax"] + order["shipping"]
        assert gross - order["loyalty_redemption"] == order["total"]
        assert gross == incl(sale).quantize(CENTS)
        loyalty_orders += order["loyalty_redemption"] > 0
    assert loyalty_orders > 0


def test_sync_states(store: StoreData) -> None:
    truth = store.truth
    by_state: dict[str, list[Obj]] = defaultdict(list)
    for order in store.ecom_orders:
        by_state[order["sync_state"]].append(order)
    assert by_state.keys() == {
        "synced",
        "lagging",
        "pre_integration",
        "zero_gift_card",
        "test_order",
    }
    numbers = [int(o["order_number"]) for o in store.ecom_orders]
    assert numbers == sorted(numbers)
    assert numbers[0] == 1001
    assert [o["order_number"] for o in store.ecom_orders[:4]] == [
        o["order_number"] for o in by_state["test_order"]
    ]
    for order in by_state["test_order"]:
        assert order["payment_method"] == "Pay by cash"
        assert order["payment_status_code"] in {"CANCELLED", "REFUNDED"}
    for order in by_state["pre_integration"]:
        assert order["created_at"] < truth["integration_start"]
        assert order["sale_id"] is None
    for order in by_state["zero_gift_card"]:
        assert order["total"] == 0
        assert order["payment_method"] == ""
        assert order["sale_id"] is None
    eligible = [o for o in store.ecom_orders if o["sync_state"] in {"synced", "lagging"}]
    assert [o["sync_state"] for o in eligible[-3:]] == ["lagging"] * 3
    pending = {s["id"]: s for s in truth["pending_twins"]}
    assert {o["sale_id"] for o in by_state["lagging"]} == pending.keys()
    served = {s["id"] for s in store.sales}
    assert served.isdisjoint(pending)
    assert all(o["sale_id"] in served for o in by_state["synced"])
    assert {o["payment_status_code"] for o in by_state["synced"]} >= {
        "ACCEPTED",
        "QUEUED",
        "REFUNDED",
        "CANCELLED",
    }
    assert set(truth["ecom_person"]) == {o["order_number"] for o in store.ecom_orders}


def test_refunds_in_ecom_leave_the_twin_alone(
    store: StoreData, sales_by_id: dict[str, Obj]
) -> None:
    refunded = [
        o
        for o in store.ecom_orders
        if o["sync_state"] == "synced" and o["payment_status_code"] in {"REFUNDED", "CANCELLED"}
    ]
    assert refunded
    for order in refunded:
        twin = sales_by_id[order["sale_id"]]
        assert twin["payments"]
        assert twin["status"] != "VOIDED"


def test_xseries_order_id_hints(store: StoreData, sales_by_id: dict[str, Obj]) -> None:
    hint_start = store.truth["hint_start"]
    person = store.truth["ecom_person"]
    stale = 0
    for order in store.ecom_orders:
        hint = order["xseries_order_id"]
        if order["created_at"] < hint_start or order["sync_state"] != "synced":
            assert hint == ""
        elif hint and hint != order["sale_id"]:
            earlier = sales_by_id[hint]
            assert earlier["sale_date"] < sales_by_id[order["sale_id"]]["sale_date"]
            assert person[earlier["source_id"]] == person[order["order_number"]]
            stale += 1
    assert stale > 0
    assert store.ecom_orders[-1]["xseries_order_id"] == ""
    synced = [o for o in store.ecom_orders if o["sync_state"] == "synced"]
    assert synced[-1]["xseries_order_id"] == ""
    assert sum(o["xseries_order_id"] == o["sale_id"] for o in synced) > len(synced) // 3


def test_sync_delay_is_short_with_rare_stragglers(store: StoreData) -> None:
    delays = [(ts(s["created_at"]) - ts(s["sale_date"])).total_seconds() for s in ecom_sales(store)]
    assert sum(d <= 120 for d in delays) / len(delays) > 0.93
    assert sum(d <= 3600 for d in delays) / len(delays) > 0.99
    assert max(delays) > 250 * 86_400


# -- customers --------------------------------------------------------------------------------


def test_placeholders_are_shared_by_many_people(store: StoreData) -> None:
    truth = store.truth
    by_email: dict[str, set[str]] = defaultdict(set)
    by_phone: dict[str, set[str]] = defaultdict(set)
    for c in store.customers:
        person = truth["persons"][c["id"]]
        by_email[(c["email"] or "").lower()].add(person)
        for value in (c["phone"], c["mobile"]):
            by_phone[digits(value)].add(person)
    for email in truth["placeholder_emails"]:
        assert len(by_email[email]) >= 20, email
    for phone in truth["placeholder_phones"]:
        assert len(by_phone[phone]) >= 20, phone
    store_phone_spellings = {
        c["phone"] or c["mobile"]
        for c in store.customers
        if digits(c["phone"] or c["mobile"]) == truth["store_phone"]
    }
    assert len(store_phone_spellings) > 2


def test_every_duplicate_kind_is_planted(store: StoreData) -> None:
    truth = store.truth
    kinds = truth["profile_kinds"]
    customers = {c["id"]: c for c in store.customers}
    by_person: dict[str, list[Obj]] = defaultdict(list)
    for c in store.customers:
        by_person[truth["persons"][c["id"]]].append(c)
    # Identity noise (its own test file) adds kinds no exact key finds; these are the rest.
    noise = store.truth["identity"]["kinds"]
    assert Counter(k for cid, k in kinds.items() if cid not in noise).keys() == {
        "primary",
        "case_email",
        "phone_only",
        "alt_email",
        "ecom_created",
        "ecom_gmail_dots",
    }
    for cid, kind in kinds.items():
        dup = customers[cid]
        siblings = [c for c in by_person[truth["persons"][cid]] if c["id"] != cid]
        phones = {digits(c["phone"] or c["mobile"]) for c in siblings}
        emails = {c["email"] for c in siblings if c["email"]}
        if kind == "case_email":
            assert any(e != dup["email"] and e.lower() == dup["email"].lower() for e in emails)
        elif kind == "phone_only":
            assert dup["email"] is None
            assert digits(dup["phone"] or dup["mobile"]) in phones
        elif kind == "alt_email":
            assert dup["email"].lower() not in {e.lower() for e in emails}
            assert digits(dup["phone"] or dup["mobile"]) in phones
        elif kind.startswith("ecom_"):
            assert dup["email"]
            assert not (dup["phone"])
            assert not (dup["mobile"])
            assert dup["email"].lower() not in {e.lower() for e in emails}
        if kind == "ecom_gmail_dots":
            plain = {e.lower().replace(".", "") for e in emails if e.lower().endswith("@gmail.com")}
            assert dup["email"].replace(".", "") in plain


def test_merged_profiles_are_soft_deleted_with_their_old_sales(
    store: StoreData, small_store: StoreData
) -> None:
    kept = 0
    for data in (store, small_store):
        merged = data.truth["merged_into"]
        deleted = {c["id"]: c for c in data.customers if c["deleted_at"]}
        assert deleted
        assert deleted.keys() == merged.keys()
        kept += len(deleted.keys() & {s.get("customer_id") for s in data.sales})
        for sale in data.sales:
            gone = deleted.get(sale.get("customer_id", ""))
            if gone:
                assert sale["sale_date"] < gone["deleted_at"]
    # Only a few merged profiles ever had a sale (identity noise moves which), so look at both.
    assert kept


def test_phones_look_valid_and_vary_in_format(store: StoreData) -> None:
    placeholders = set(store.truth["placeholder_phones"])
    spellings: set[str] = set()
    for c in store.customers:
        for value in (c["phone"], c["mobile"]):
            if value is None or digits(value) in placeholders:
                continue
            number = digits(value)
            assert re.fullmatch(r"[2-9]\d\d[2-9]\d{6}", number), value
            assert number[3:6] != "555"
            assert number[4:6] != "11"
            spellings.add(re.sub(r"\d", "9", value))
    assert len(spellings) == 5


def test_gmail_addresses_with_and_without_dots(store: StoreData) -> None:
    gmail = [c["email"] for c in store.customers if (c["email"] or "").endswith("@gmail.com")]
    assert any("." in e.split("@")[0] for e in gmail)
    assert any("." not in e.split("@")[0] for e in gmail)
    assert {e.split("@")[1] for c in store.customers if (e := c["email"])} >= {
        "example.com",
        "example.org",
        "example.net",
        "gmail.com",
    }


def test_groups_and_memberships(store: StoreData) -> None:
    groups = {g["name"]: g for g in store.customer_groups}
    assert set(groups) == {
        "All Customers",
        "Staff",
        "Wholesale",
        "First Time Buyer",
        "GreenHaus Crew - Seed",
        "GreenHaus Crew - Sprout",
        "GreenHaus Crew - Bloom",
    }
    assert groups["All Customers"]["group_id"] == "1111111111"
    assert all(
        re.fullmatch(r"[A-Za-z]+-[A-Z0-9]{4}", g["group_id"])
        for n, g in groups.items()
        if n != "All Customers"
    )
    members = Counter(c["customer_group_id"] for c in store.customers)
    assert members[groups["All Customers"]["id"]] > len(store.customers) // 2
    for name in groups:
        assert members[groups[name]["id"]] > 0, name
    assert 0 < members[groups["Staff"]["id"]] < 10
    loyalty = Counter(c["enable_loyalty"] for c in store.customers)
    assert loyalty[True]
    assert loyalty[False]
    assert all(re.fullmatch(r"[A-Za-z]+-[A-Z0-9]{4}", c["customer_code"]) for c in store.customers)


# -- registers, users -------------------------------------------------------------------------


def test_registers_and_their_counters(store: StoreData) -> None:
    outlets = [o["id"] for o in store.outlets]
    assert len(outlets) == 2
    assert all(o["time_zone"] == "America/Chicago" for o in store.outlets)
    registers = {r["id"]: r for r in store.registers}
    online = registers[store.truth["online_register_id"]]
    assert online["outlet_id"] == outlets[0]
    assert "Online" in online["name"]
    assert Counter(r["outlet_id"] for r in store.registers) == {outlets[0]: 3, outlets[1]: 2}
    issued: dict[str, list[int]] = defaultdict(list)
    for sale in store.sales:
        issued[sale["register_id"]].append(int(sale["invoice_sequence"]))
        register = registers[sale["register_id"]]
        expected = (
            f"{register['invoice_prefix']}{sale['invoice_sequence']}{register['invoice_suffix']}"
        )
        assert sale["invoice_number"] == expected
    for register_id, numbers in issued.items():
        assert len(set(numbers)) == len(numbers)
        assert registers[register_id]["invoice_sequence"] == max(numbers)
    assert len({r["invoice_prefix"] for r in store.registers}) == 5
    assert {u["account_type"] for u in store.users} == {"admin", "manager", "cashier"}


# -- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("customers", "days"), [(150, 30), (1_000, 120), (2_000, 200)])
def test_sizes_scale(customers: int, days: int) -> None:
    store = generate_store(GeneratorConfig(customers=customers, days=days, anchor=ANCHOR))
    assert abs(len(store.customers) - customers) <= customers * 0.02
    expected = customers * 3 * days / 365 / 0.82 / 0.98
    assert abs(len(store.sales) - expected) <= 1


def test_explicit_sales_count_is_exact() -> None:
    store = generate_store(GeneratorConfig(customers=500, sales=4_321, anchor=ANCHOR))
    assert len(store.sales) == 4_321


@pytest.mark.parametrize(
    "kwargs",
    [
        {"customers": 0, "days": 10},
        {"customers": 1, "days": 1},
        {"customers": 5, "days": 3, "sales": 40},
        {"customers": 30, "days": 7, "ecom_share": 1.0, "unsynced_recent_orders": 10},
        {"customers": 200, "days": 30, "sales": 0},
        {"customers": 200, "days": 30, "ecom_share": 0.0},
        {"customers": 300, "days": 90, "unsynced_recent_orders": 0},
    ],
)
def test_small_and_odd_configs_still_work(kwargs: Obj) -> None:
    config = GeneratorConfig(anchor=datetime(2026, 3, 8, 9, 45, tzinfo=UTC), **kwargs)
    store = generate_store(config)
    assert len(store.customers) == config.customers
    if config.sales is not None:
        assert len(store.sales) == config.sales
    lagging = [o for o in store.ecom_orders if o["sync_state"] == "lagging"]
    assert len(lagging) == len(store.truth["pending_twins"])


@pytest.mark.slow
def test_large_store() -> None:
    # Its speed is the benchmarks' to measure, not a test's (the machine is shared).
    store = generate_store(GeneratorConfig(customers=10_000, sales=50_000, anchor=ANCHOR))
    assert len(store.sales) == 50_000
    assert abs(len(store.customers) - 10_000) <= 200
    updated = [s["updated_at"] for s in store.sales]
    assert updated == sorted(updated)
    ids = {s["id"] for s in store.sales}
    assert len(ids) == len(store.sales)
    assert all(s["return_for"] in ids for s in store.sales if s["return_for"])
    assert len({s["short_code"] for s in store.sales}) == len(store.sales)
