"""The E-Series orders export the simulator writes: exact dialect, Excel damage, CLI."""

from __future__ import annotations

import csv
import io
import random
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from greenloop.cli import app
from greenloop.ecom.columns import STANDARD_COLUMNS, XSERIES_ORDER_ID
from greenloop.simulator.ecom_export import (
    FULFILLMENT_LABELS,
    HEADER,
    PAYMENT_LABELS,
    _excel_number,
    write_ecom_export,
)
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.model import StoreData

Obj = dict[str, Any]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLE = FIXTURES / "eseries_orders_export_sample.csv"
EXCEL_SAMPLE = FIXTURES / "eseries_orders_export_excel_resaved_sample.csv"
ANCHOR = datetime(2026, 1, 15, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")
SYNC_STATES = {"synced", "lagging", "pre_integration", "zero_gift_card", "test_order"}
PAYMENT_CODES = {"ACCEPTED", "QUEUED", "REFUNDED", "PARTIALLY_REFUNDED", "CANCELLED"}
MONEY_COLUMNS = (
    "price",
    "total",
    "order_subtotal",
    "order_tax",
    "order_shipping",
    "order_handling_fee",
    "order_total",
    "coupon_discount",
    "volume_discount",
    "discount",
    "gift_card_redemption",
)
EXACT_TIME = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [1-9]\d?, \d{4} "
    r"(0[1-9]|1[0-2]):[0-5]\d (AM|PM)"
)
EXCEL_TIME = re.compile(r"[1-9]\d?/[1-9]\d?/\d{4} [0-2]\d:[0-5]\d")
runner = CliRunner()


def _export(orders: list[Obj], **options: Any) -> str:
    buffer = io.StringIO(newline="")
    write_ecom_export(orders, buffer, **options)
    return buffer.getvalue()


def _parse(text: str, separator: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=separator)
    header, *rows = list(reader)
    assert all(len(row) == len(header) for row in rows)
    return [dict(zip(header, row, strict=True)) for row in rows]


def _utc_minute(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC).replace(second=0, microsecond=0)


def _from_local(naive: datetime, expected: datetime) -> bool:
    """Whether a local wall time names ``expected`` (either side of a DST fold)."""
    return any(
        naive.replace(tzinfo=CHICAGO, fold=fold).astimezone(UTC) == expected for fold in (0, 1)
    )


@pytest.fixture(scope="module")
def store() -> StoreData:
    return generate_store(GeneratorConfig(anchor=ANCHOR))


@pytest.fixture(scope="module")
def orders(store: StoreData) -> dict[str, Obj]:
    return {o["order_number"]: o for o in store.ecom_orders}


@pytest.fixture(scope="module")
def exact(store: StoreData) -> str:
    return _export(store.ecom_orders)


@pytest.fixture(scope="module")
def excel(store: StoreData) -> str:
    return _export(store.ecom_orders, excel=True)


@pytest.fixture(scope="module")
def exact_rows(exact: str) -> list[dict[str, str]]:
    return _parse(exact, ";")


@pytest.fixture(scope="module")
def excel_rows(excel: str) -> list[dict[str, str]]:
    return _parse(excel, ",")


# -- the reference sample -------------------------------------------------------------------


def _sample_orders() -> list[Obj]:
    """The reference sample's two orders, in the generator's shape."""
    money = Decimal
    return [
        {
            "order_number": "1001",
            "email": "jane.example@example.com",
            "name": "Jane Example",
            "phone": "+15555550101",
            "created_at": "2026-01-06T02:08:41+00:00",
            "items": [
                {
                    "sku": "012345678905",
                    "name": "Sample Gummies 30ct",
                    "price": money("28.00"),
                    "quantity": 1,
                    "total": money("28.00"),
                },
                {
                    "sku": "10055",
                    "name": "Sample Vape Cart 1G",
                    "price": money("34.00"),
                    "quantity": 1,
                    "total": money("34.00"),
                },
            ],
            "subtotal": money("62.00"),
            "tax": money("8.30"),
            "shipping": money("0.00"),
            "discount": money("0.00"),
            "total": money("70.30"),
            "payment_status_code": "ACCEPTED",
            "fulfillment_status_code": "READY_FOR_PICKUP",
            "payment_method": "Credit or debit card",
            "shipping_method": "Example Store - Main St (pickup)",
            "pickup": True,
            "xseries_order_id": "0a1b2c3d-0000-11f0-aaaa-000000000001",
            "sale_id": "s1",
            "sync_state": "synced",
            "coupon_code": None,
            "loyalty_redemption": money("0.00"),
            "gift_card_redemption": money("0.00"),
            "pickup_time": "2026-01-06T16:00:00+00:00",
            "ship_to": None,
            "comments": None,
            "tracking_number": None,
            "payment_transaction_id": "SYNTHtxn0000000000000000001ZY",
        },
        {
            "order_number": "1002",
            "email": "sam.sample@example.org",
            "name": "Sam Sample",
            "phone": None,
            "created_at": "2026-01-04T23:53:05+00:00",
            "items": [
                {
                    "sku": "041899993349",
                    "name": "Sample Flower 3.5G",
                    "price": money("30.00"),
                    "quantity": 1,
                    "total": money("30.00"),
                },
            ],
            "subtotal": money("30.00"),
            "tax": money("4.72"),
            "shipping": money("4.99"),
            "discount": money("0.00"),
            "total": money("39.71"),
            "payment_status_code": "REFUNDED",
            "fulfillment_status_code": "RETURNED",
            "payment_method": "Credit or debit card",
            "shipping_method": "Standard shipping",
            "pickup": False,
            "xseries_order_id": "",
            "sale_id": None,
            "sync_state": "lagging",
            "coupon_code": None,
            "loyalty_redemption": money("0.00"),
            "gift_card_redemption": money("0.00"),
            "pickup_time": None,
            "ship_to": {
                "name": "Sam Sample",
                "street_1": "100 Example Rd",
                "city": "Exampleville",
                "state_code": "TN",
                "postal_code": "37000",
                "country_code": "US",
            },
            "comments": "Please leave at side door; thanks",
            "tracking_number": "9400100000000000000001",
            "payment_transaction_id": "SYNTHtxn0000000000000000002ZY",
        },
    ]


def _first_line(text: str) -> str:
    return text[: text.index("\n") + 1]


@pytest.mark.parametrize(("fixture", "options"), [(SAMPLE, {}), (EXCEL_SAMPLE, {"excel": True})])
def test_header_is_the_reference_header_byte_for_byte(fixture: Path, options: Obj) -> None:
    reference = fixture.read_bytes().decode("utf-8")  # keeps a BOM, unlike utf-8-sig
    written = _export([], **options)
    assert written == _first_line(reference)
    assert HEADER[: len(STANDARD_COLUMNS)] == STANDARD_COLUMNS
    assert len(HEADER) == 109
    assert HEADER[-2] == XSERIES_ORDER_ID


@pytest.mark.parametrize(("fixture", "options"), [(SAMPLE, {}), (EXCEL_SAMPLE, {"excel": True})])
def test_the_sample_orders_come_out_as_the_reference_rows(fixture: Path, options: Obj) -> None:
    """Byte for byte, except for two cells the generated orders do not carry: the item
    options and the customer's IP address (invented per order)."""
    separator = "," if options else ";"
    written = _export(_sample_orders(), **options)
    reference = fixture.read_bytes().decode("utf-8")
    ips = [row["customer_ipaddress"] for row in _parse(written, separator)]
    for sample_ip, ip in zip(("203.0.113.10", "203.0.113.10", "198.51.100.7"), ips, strict=True):
        reference = reference.replace(
            f"{separator}{sample_ip}{separator}", f"{separator}{ip}{separator}", 1
        )
    for option in ("Strain:Example Kush (H)", "Amount:3.5G"):
        reference = reference.replace(f"{separator}{option}{separator}", separator * 2)
    assert written == reference


# -- the exact dialect ----------------------------------------------------------------------


def test_exact_dialect_is_utf8_semicolon_lf_without_bom(exact: str, exact_rows: list[Obj]) -> None:
    assert not exact.startswith("\ufeff")
    assert "\r" not in exact
    assert exact.startswith("order_number;email;sku;")
    assert exact.endswith(";en\n")
    # Each row is one record line, plus one more for the line break inside tax_details.
    assert exact.count("\n") == 1 + 2 * len(exact_rows)
    exact.encode("utf-8")


def test_exact_quoting_of_sku_phone_tax_details_and_extra_fields(
    exact: str, exact_rows: list[dict[str, str]]
) -> None:
    starts = re.findall(r'^(\d+);[^;"\n]+;(.)', exact, flags=re.MULTILINE)
    assert len(starts) == len(exact_rows)
    assert all(first == '"' for _, first in starts), "sku must always be quoted"
    with_phone = [row for row in exact_rows if row["shipto_person_phone"]]
    assert with_phone
    assert all(re.fullmatch(r" \+1\d{10}", row["shipto_person_phone"]) for row in with_phone)
    assert exact.count(';" +1') == len(with_phone)
    for row in exact_rows:
        assert re.fullmatch(
            r"State & Local Tax:\$\d+\.\d\d\nPrivilege Tax:\$\d+\.\d\d", row["tax_details"]
        )
        assert row["detail_discount"].startswith("volume_discount:0.00;")
    assert exact.count(';"State & Local Tax:$') == len(exact_rows)
    assert exact.count(';"volume_discount:0.00;') == len(exact_rows)
    # The five extra-field values are always quoted, "" when empty; language is not (§2.4).
    tails = re.findall(
        r';("[^"\n]*");(""|"[^"\n]+");(""|"[^"\n]+");("[^"\n]*");("[^"\n]*");en\n', exact
    )
    assert len(tails) == len(exact_rows)


def test_exact_values_are_formatted_like_the_admin(exact_rows: list[dict[str, str]]) -> None:
    for row in exact_rows:
        for column in MONEY_COLUMNS:
            assert re.fullmatch(r"-?\d+\.\d\d", row[column]), (column, row[column])
        assert EXACT_TIME.fullmatch(row["timestamp"])
        assert row["pickup_time"] == "" or EXACT_TIME.fullmatch(row["pickup_time"])
        for column in ("customer_tax_exempt", "reversed_tax_applied", "accept_marketing"):
            assert row[column] in ("true", "false")
        assert re.fullmatch(r"(203\.0\.113|198\.51\.100)\.\d{1,3}", row["customer_ipaddress"])
        assert all(row[f"utm_{kind}"] == "" for kind in ("source", "medium", "campaign"))
        assert PAYMENT_LABELS[row["payment_status_code"]] == row["payment_status"]
        assert FULFILLMENT_LABELS[row["fulfillment_status_code"]] == row["fulfillment_status"]
        assert row["language"] == "en"
    leading_zero = [row for row in exact_rows if row["sku"].startswith("0")]
    assert leading_zero, "the catalogue has SKUs with leading zeros; they must survive"


def test_round_trip_recovers_every_order(
    exact_rows: list[dict[str, str]], orders: dict[str, Obj]
) -> None:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in exact_rows:
        grouped[row["order_number"]].append(row)
    assert set(grouped) == set(orders)
    for number, rows in grouped.items():
        order = orders[number]
        first = rows[0]
        items = [
            (r["sku"], r["name"], Decimal(r["price"]), int(r["quantity"]), Decimal(r["total"]))
            for r in rows
        ]
        assert items == [
            (i["sku"], i["name"], i["price"], i["quantity"], i["total"]) for i in order["items"]
        ]
        # Order-level cells are repeated, unchanged, on every item row.
        for column in HEADER[10:]:
            assert {r[column] for r in rows} == {first[column]}, column
        assert Decimal(first["order_subtotal"]) == order["subtotal"]
        assert sum(Decimal(r["total"]) for r in rows) == Decimal(first["order_subtotal"])
        assert Decimal(first["order_tax"]) == order["tax"]
        assert Decimal(first["order_shipping"]) == order["shipping"]
        assert Decimal(first["discount"]) == order["discount"]
        assert Decimal(first["order_total"]) == order["total"]
        assert (
            Decimal(first["order_tax_1_value"] or 0) + Decimal(first["order_tax_2_value"] or 0)
            == order["tax"]
        )
        item_tax = sum(
            Decimal(amount)
            for r in rows
            for amount in re.findall(r"\$(\d+\.\d\d)", r["tax_details"])
        )
        assert item_tax == order["tax"]
        assert first["email"] == order["email"]
        assert first["payment_status_code"] == order["payment_status_code"]
        assert first["fulfillment_status_code"] == order["fulfillment_status_code"]
        assert first[XSERIES_ORDER_ID] == order["xseries_order_id"]
        local = datetime.strptime(first["timestamp"], "%b %d, %Y %I:%M %p")
        assert _from_local(local, _utc_minute(order["created_at"]))
        if order["pickup_time"]:
            pickup = datetime.strptime(first["pickup_time"], "%b %d, %Y %I:%M %p")
            assert _from_local(pickup, _utc_minute(order["pickup_time"]))
            assert first["Pickup date and time"] == f"{pickup:%Y-%m-%d %H:%M:00}"
            assert first["null"] == "DATE_AND_TIME"
        else:
            assert first["pickup_time"] == first["Pickup date and time"] == ""
            assert first["shipto_person_street_1"] == order["ship_to"]["street_1"]
            assert first["shipto_person_state_name"] == "Tennessee"
        if order["tracking_number"]:
            assert re.fullmatch(r"\d{22}", first["order_tracking_number"])
            assert first["order_tracking_number"] == order["tracking_number"]
        phone = f" {order['phone']}" if order["phone"] else ""
        assert first["shipto_person_phone"] == phone


def test_rows_are_newest_first_and_contiguous_per_order(
    exact_rows: list[dict[str, str]], orders: dict[str, Obj]
) -> None:
    sequence: list[str] = []
    for row in exact_rows:
        if not sequence or sequence[-1] != row["order_number"]:
            sequence.append(row["order_number"])
    assert len(sequence) == len(set(sequence)) == len(orders), "an order's rows must be together"
    created = [datetime.fromisoformat(orders[n]["created_at"]) for n in sequence]
    assert created == sorted(created, reverse=True)


def test_every_sync_state_and_payment_status_is_exported(
    exact_rows: list[dict[str, str]], orders: dict[str, Obj]
) -> None:
    exported = {row["order_number"] for row in exact_rows}
    assert {orders[n]["sync_state"] for n in exported} == SYNC_STATES
    assert {row["payment_status_code"] for row in exact_rows} == PAYMENT_CODES
    labels = {(row["payment_status"], row["payment_status_code"]) for row in exact_rows}
    assert labels == {
        ("Paid", "ACCEPTED"),
        ("Awaiting Payment", "QUEUED"),
        ("Refunded", "REFUNDED"),
        ("Partially Refunded", "PARTIALLY_REFUNDED"),
        ("Canceled", "CANCELLED"),
    }
    gift_card = [
        r for r in exact_rows if orders[r["order_number"]]["sync_state"] == "zero_gift_card"
    ]
    assert all(r["order_total"] == "0.00" and r["payment_method"] == "" for r in gift_card)
    assert all(
        r["masked_gift_card_code"] and r["gift_card_redemption"] != "0.00" for r in gift_card
    )


def test_lagging_orders_can_be_left_out(store: StoreData) -> None:
    lagging = [o for o in store.ecom_orders if o["sync_state"] == "lagging"]
    assert lagging
    rows = _parse(_export(store.ecom_orders, include_lagging=False), ";")
    assert {r["order_number"] for r in rows}.isdisjoint(o["order_number"] for o in lagging)
    assert len(rows) == sum(
        len(o["items"]) for o in store.ecom_orders if o["sync_state"] != "lagging"
    )


def test_an_order_without_items_still_gets_a_row() -> None:
    order = dict(_sample_orders()[0], items=[], tax=Decimal("-1.00"))
    (row,) = _parse(_export([order]), ";")
    assert row["order_number"] == "1001"
    assert all(row[column] == "" for column in ("sku", "name", "price", "tax_details"))
    assert row["order_tax"] == "-1.00"
    assert row["order_total"] == "70.30"


def test_timestamps_follow_the_store_time_zone() -> None:
    sample = _sample_orders()
    rows = _parse(_export(sample, timezone="UTC"), ";")
    assert rows[0]["timestamp"] == "Jan 6, 2026 02:08 AM"
    assert rows[0]["pickup_time"] == "Jan 6, 2026 04:00 PM"
    rows = _parse(_export(sample), ";")
    assert rows[0]["timestamp"] == "Jan 5, 2026 08:08 PM"
    summer = [dict(sample[1], created_at="2025-07-04T17:05:00+00:00")]
    assert _parse(_export(summer), ";")[0]["timestamp"] == "Jul 4, 2025 12:05 PM"


def test_same_store_gives_the_same_bytes(store: StoreData, exact: str, tmp_path: Path) -> None:
    assert _export(store.ecom_orders) == exact
    shuffled = list(store.ecom_orders)
    random.Random(3).shuffle(shuffled)
    assert _export(shuffled) == exact
    again = generate_store(GeneratorConfig(anchor=ANCHOR))
    assert _export(again.ecom_orders) == exact
    path = tmp_path / "orders.csv"
    rows = write_ecom_export(store.ecom_orders, path)
    assert rows == sum(len(o["items"]) for o in store.ecom_orders)
    assert path.read_bytes() == exact.encode("utf-8")


# -- the Excel re-saved variant -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "excel"),
    [
        ("012345678905", "12345678905"),
        ("041899993349", "41899993349"),
        ("10055", "10055"),
        ("28.00", "28"),
        ("8.30", "8.3"),
        ("0.00", "0"),
        ("0.0", "0"),
        ("-5.50", "-5.5"),
        ("9400100000000000000001", "9.4001E+21"),
        ("1682465494582969317584", "1.68247E+21"),
        (" +15555550101", "15555550101"),
        ("37205", "37205"),
        ("SYNTHtxn0000000000000000001ZY", "SYNTHtxn0000000000000000001ZY"),
        ("203.0.113.10", "203.0.113.10"),
        ("", ""),
    ],
)
def test_excel_rewrites_what_it_takes_for_numbers(text: str, excel: str) -> None:
    assert _excel_number(text) == excel


def test_excel_variant_has_bom_commas_and_crlf(excel: str, excel_rows: list[Obj]) -> None:
    assert excel.startswith("\ufefforder_number,email,sku,")
    # Records end in CRLF; the break inside tax_details stays a bare LF, as in §3.
    assert excel.count("\r\n") == 1 + len(excel_rows)
    assert excel.count("\n") == 1 + 2 * len(excel_rows)
    assert excel.endswith(",en\r\n")
    # Only cells that need quotes keep them: no empty "" cells, no quoted SKU.
    assert ',""' not in excel
    assert ',"0' not in excel


def test_excel_variant_shows_the_damage(
    excel_rows: list[dict[str, str]], exact_rows: list[dict[str, str]]
) -> None:
    assert len(excel_rows) == len(exact_rows)
    saw_sci = saw_zero_sku = saw_phone = False
    for damaged, row in zip(excel_rows, exact_rows, strict=True):
        assert damaged["order_number"] == row["order_number"]
        if row["sku"].startswith("0"):
            assert damaged["sku"] == row["sku"].lstrip("0")
            saw_zero_sku = True
        for column in MONEY_COLUMNS:
            assert Decimal(damaged[column]) == Decimal(row[column])
            assert not re.search(r"\.\d*0$", damaged[column]), (column, damaged[column])
        assert damaged["order_handling_fee"] == "0"
        assert damaged["order_weight"] == damaged["weight"] == "0"
        for column in ("customer_tax_exempt", "reversed_tax_applied", "accept_marketing"):
            assert damaged[column] == row[column].upper()
        local = datetime.strptime(row["timestamp"], "%b %d, %Y %I:%M %p")
        assert EXCEL_TIME.fullmatch(damaged["timestamp"])
        assert datetime.strptime(damaged["timestamp"], "%m/%d/%Y %H:%M") == local
        if row["Pickup date and time"]:
            pickup = datetime.strptime(row["Pickup date and time"], "%Y-%m-%d %H:%M:%S")
            assert datetime.strptime(damaged["Pickup date and time"], "%m/%d/%Y %H:%M") == pickup
        if row["shipto_person_phone"]:
            assert damaged["shipto_person_phone"] == row["shipto_person_phone"].strip(" +")
            saw_phone = True
        if row["order_tracking_number"]:
            # Six significant digits survive, the rest is gone for good (§3).
            shown = damaged["order_tracking_number"]
            assert re.fullmatch(r"[1-9](\.\d{1,5})?E\+\d\d", shown), shown
            assert abs(float(shown) / float(row["order_tracking_number"]) - 1) < 1e-5
            saw_sci = True
        assert damaged["tax_details"] == row["tax_details"]
        assert damaged["detail_discount"] == row["detail_discount"]
        assert damaged[XSERIES_ORDER_ID] == row[XSERIES_ORDER_ID]
    assert saw_sci
    assert saw_zero_sku
    assert saw_phone


# -- CLI ------------------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    return runner.invoke(app, ["simulator", "export-ecom", *args])


def test_cli_writes_the_export(tmp_path: Path) -> None:
    out = tmp_path / "orders.csv"
    result = _cli("--customers", "200", "--anchor", "2026-01-15T00:00:00", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("utf-8")
    rows = _parse(text, ";")
    orders = {row["order_number"] for row in rows}
    assert f"Wrote {len(orders)} eCom orders ({len(rows)} rows) to {out}" in result.output
    assert text.startswith(_first_line(SAMPLE.read_bytes().decode("utf-8")))

    dumped = tmp_path / "store.json"
    dump = runner.invoke(
        app,
        [
            "simulator",
            "dump",
            "--customers",
            "200",
            "--anchor",
            "2026-01-15T00:00:00",
            "--out",
            str(dumped),
        ],
    )
    assert dump.exit_code == 0, dump.output
    from_file = tmp_path / "from-file.csv"
    result = _cli("--store", str(dumped), "--out", str(from_file))
    assert result.exit_code == 0, result.output
    assert from_file.read_bytes() == out.read_bytes()


def test_cli_excel_and_time_zone(tmp_path: Path) -> None:
    out = tmp_path / "excel.csv"
    args = ("--customers", "100", "--days", "60", "--anchor", "2026-01-15T00:00:00")
    result = _cli(*args, "--excel", "--timezone", "UTC", "--out", str(out))
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbforder_number,email,")
    assert raw.endswith(b"\r\n")
    result = _cli(*args, "--timezone", "Nowhere/Special", "--out", str(out))
    assert result.exit_code == 2
    assert "time zone" in result.output


def test_cli_help_names_every_option() -> None:
    result = _cli("--help")
    assert result.exit_code == 0
    for option in (
        "--seed",
        "--customers",
        "--days",
        "--sales",
        "--anchor",
        "--store",
        "--out",
        "--excel",
        "--timezone",
    ):
        assert option in result.output


def test_dst_fold_prints_the_same_wall_time_twice() -> None:
    # 01:30 on the fall-back Sunday happens twice in Chicago; both instants must print it.
    first = datetime(2025, 11, 2, 6, 30, tzinfo=UTC)
    second = first + timedelta(hours=1)
    sample = _sample_orders()[1]
    rows = _parse(
        _export(
            [
                dict(sample, created_at=first.isoformat(), order_number="1"),
                dict(sample, created_at=second.isoformat(), order_number="2"),
            ]
        ),
        ";",
    )
    assert [r["order_number"] for r in rows] == ["2", "1"]
    assert {r["timestamp"] for r in rows} == {"Nov 2, 2025 01:30 AM"}
