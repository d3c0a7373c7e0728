"""Hostile eCom exports: any bytes, any cell, any date text gives GreenLoop's own errors.

A bad cell refuses its order by file:line:column and the other orders still read; a
value no store produces (an absurd total, quantity or date, an order number a
spreadsheet rewrote) is refused with the setting that moves the limit. The property
tests read the way the importer does (``read_again`` included) and allow no exception
but a ``GreenLoopError``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenloop.ecom.columns import STANDARD_COLUMNS
from greenloop.ecom.importer import read_again
from greenloop.ecom.records import EcomOrder
from greenloop.ecom.report import ReadAgain, ReadReport
from greenloop.ecom.staging import StageJob
from greenloop.ecom.values import ValueLimits, shown
from greenloop.errors import GreenLoopError
from tests.ecom_files import EXCEL_SAMPLE, sample_rows, with_cells, write_export

TZ = "America/Chicago"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
LIMITS = ValueLimits(latest=NOW + ValueLimits().max_future)


def _read(
    path: Path, limits: ValueLimits = LIMITS, *, timezone: str = TZ, day_first: bool = False
) -> tuple[list[EcomOrder], ReadReport]:
    """Every order of ``path`` read as an import reads it (read again when told to)."""
    job = StageJob.limited(
        limits, path=path, timezone=timezone, now=NOW.isoformat(), day_first=day_first
    )
    while True:
        reader = job.reader()
        try:
            return list(reader.orders(in_memory=job.in_memory)), reader.report
        except ReadAgain as again:
            job = read_again(job, again)


def _two_orders(tmp_path: Path, **cells: str) -> Path:
    """The sample's order 1001 (lines 2 and 4) with ``cells`` set, then order 1002."""
    header, rows = sample_rows()
    data = [with_cells(header, rows[0], **cells), with_cells(header, rows[1], **cells), rows[2]]
    return write_export(tmp_path / "export.csv", header, data)


@pytest.mark.parametrize(
    ("cells", "column", "says"),
    [
        # Longer than the csv module's own limit (131,072), in a stored column.
        ({"shipto_person_name": "y" * 200_000}, "shipto_person_name", "200,000 characters"),
        ({"timestamp": "Dec 31, 9999 11:59 PM"}, "timestamp", "outside the years"),
        ({"timestamp": "Jan 1, 0001 12:00 AM"}, "timestamp", "ecom.earliest_order_date"),
        ({"timestamp": "Dec 31, 2099 11:59 PM"}, "timestamp", "ecom.max_future_days"),
        ({"pickup_time": "Dec 31, 9999 11:59 PM"}, "pickup_time", "outside the years"),
        ({"shipto_person_name": "Bob\0Evil"}, "shipto_person_name", r"'Bob\x00Evil' holds a NUL"),
        ({"sku": "10\x0055"}, "sku", "NUL"),
        ({"order_total": "-500.00"}, "order_total", "negative"),
        ({"order_total": "99999999999999999999.99"}, "order_total", "ecom.max_order_total"),
        ({"order_tax": "1" * 300}, "order_tax", "too long to be an amount"),
        ({"quantity": "-3"}, "quantity", "negative"),
        ({"quantity": "1000000000000"}, "quantity", "ecom.max_quantity"),
        ({"order_number": "9.0007E+5"}, "order_number", "a spreadsheet rewrote"),
        ({"order_number": "1001.0"}, "order_number", "a spreadsheet rewrote"),
        ({"order_number": "7" * 65}, "order_number", "not an order number"),
        ({"order_number": "10 01"}, "order_number", "not an order number"),
    ],
)
def test_a_hostile_value_refuses_its_order_by_line_and_column_and_the_rest_reads(
    tmp_path: Path, cells: dict[str, str], column: str, says: str
) -> None:
    orders, report = _read(_two_orders(tmp_path, **cells))
    assert [o.order_number for o in orders] == ["1002"]
    assert report.rejected, "the order must be refused"
    first = report.rejected[0]
    assert (first.line, first.column) == (2, column)
    assert says in first.one_line()
    assert first.one_line().startswith(f"{tmp_path / 'export.csv'}:2: {column}: ")
    assert all(len(e.one_line()) < 400 for e in report.rejected)  # cells are quoted cut short


def test_a_long_comment_is_only_noted_and_its_order_imported(tmp_path: Path) -> None:
    orders, report = _read(_two_orders(tmp_path, order_comments="x" * 200_000))
    assert [o.order_number for o in orders] == ["1001", "1002"]
    assert report.rejected == []
    assert any(
        ":2: order_comments: is 200,000 characters long" in w and "imported" in w
        for w in report.warnings
    )


def test_limits_are_settings(tmp_path: Path) -> None:
    path = _two_orders(tmp_path, order_total="150000.00", quantity="20000")
    assert [o.order_number for o in _read(path)[0]] == ["1002"]
    generous = ValueLimits(
        max_order_total=Decimal("1000000"),
        max_quantity=Decimal("50000"),
        earliest=datetime(2026, 1, 5, tzinfo=UTC),
        latest=LIMITS.latest,
    )
    orders, report = _read(path, generous)
    assert [o.order_number for o in orders] == ["1001"]  # 1002 is dated 2026-01-04
    assert orders[0].total == Decimal("150000.00")
    assert [(e.line, e.column) for e in report.rejected] == [(6, "timestamp")]


def test_the_excel_resave_with_its_numeric_order_numbers_still_reads() -> None:
    orders, report = _read(EXCEL_SAMPLE)
    assert [o.order_number for o in orders] == ["1001", "1002"]
    assert report.rejected == []


def test_a_few_damaged_bytes_in_a_utf8_file_refuse_only_their_order(tmp_path: Path) -> None:
    header, rows = sample_rows()
    # Past the 64 KB head, so the reader starts strict and must read the file again.
    filler = [with_cells(header, rows[2], order_number=str(5000 + n)) for n in range(120)]
    data = [
        with_cells(header, rows[0], shipto_person_name="Renée Exämple"),
        with_cells(header, rows[1], shipto_person_name="Renée Exämple"),
        *filler,
        with_cells(header, rows[2], shipto_person_name="Zoë BADBYTE"),
    ]
    path = write_export(tmp_path / "damaged.csv", header, data)
    raw = path.read_bytes()
    assert len(raw.split(b"BADBYTE")[0]) > 64 * 1024
    path.write_bytes(raw.replace(b"BADBYTE", b"\xff\xfeBAD"))
    orders, report = _read(path)
    names = {o.order_number: o.customer_name for o in orders}
    assert names["1001"] == "Renée Exämple"  # still UTF-8, not cp1252 mojibake
    assert "1002" not in names
    assert len(names) == 121
    assert [(e.column, "not utf-8 text" in e.message) for e in report.rejected] == [
        ("shipto_person_name", True)
    ]


def test_bytes_cp1252_cannot_decode_refuse_their_order(tmp_path: Path) -> None:
    header, rows = sample_rows()
    data = [
        with_cells(header, rows[0], shipto_person_name="Renée"),
        with_cells(header, rows[1], shipto_person_name="Renée"),
        with_cells(header, rows[2], shipto_person_name="Sam UNDEFINED"),
    ]
    path = write_export(tmp_path / "ansi.csv", header, data, encoding="cp1252")
    path.write_bytes(path.read_bytes().replace(b"UNDEFINED", b"\x81"))
    orders, report = _read(path)
    assert [(o.order_number, o.customer_name) for o in orders] == [("1001", "Renée")]
    assert [e.column for e in report.rejected] == ["shipto_person_name"]


def test_shown_cuts_and_escapes() -> None:
    assert shown("Bob\0Evil") == r"'Bob\x00Evil'"
    assert shown("z" * 1000) == "'" + "z" * 40 + "… (1,000 characters)'"


# -- properties ------------------------------------------------------------------------

# Bounded so that `make test` stays quick; GREENLOOP_HOSTILE_EXAMPLES=5000 digs deeper.
HOSTILE = settings(
    max_examples=int(os.environ.get("GREENLOOP_HOSTILE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_HEADER, _ROWS = sample_rows()
_ANY_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
cell_texts = st.one_of(
    _ANY_TEXT,
    st.sampled_from(
        ["", "0", "-1", "1e999", "NaN", "Infinity", "(1)", "9.4001E+21", "1,2,3", "\0", "\ufffd"]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.builds(lambda c, n: c * n, st.sampled_from('x;"\n\r,\t'), st.integers(0, 140_000)),
)
date_texts = st.one_of(
    _ANY_TEXT,
    st.from_regex(
        r"\A[A-Za-z]{3,9}\.? \d{1,2}, \d{1,5},? \d{1,3}:\d{1,2}(:\d\d)? ?([AaPp][Mm])?\Z"
    ),
    st.from_regex(r"\A\d{1,5}-\d{1,3}-\d{1,3}[ T]\d{1,3}:\d{2}(:\d{2})?( ?[AP]M)?\Z"),
    st.from_regex(r"\A\d{1,3}/\d{1,3}/\d{1,5} \d{1,3}:\d{2}\Z"),
    st.from_regex(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)\Z"),
)


def _read_hostile(path: Path) -> None:
    try:
        orders, report = _read(path)
    except GreenLoopError:
        return  # the whole file refused, with a message: allowed
    for order in orders:  # what was kept is storable
        assert order.placed_at.tzinfo is not None
        assert LIMITS.earliest <= order.placed_at <= (LIMITS.latest or order.placed_at)
        assert Decimal(0) <= order.total <= LIMITS.max_order_total
        for item in order.items:
            assert Decimal(0) <= item.quantity <= LIMITS.max_quantity
    for error in report.rejected:
        assert error.line >= 1
        assert "\0" not in error.one_line()


@HOSTILE
@given(st.binary(max_size=3000), st.booleans())
def test_random_bytes_read_to_orders_or_a_greenloop_error(data: bytes, with_header: bool) -> None:
    head = (";".join(STANDARD_COLUMNS) + "\n").encode() if with_header else b""
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "bytes.csv"
        path.write_bytes(head + data)
        _read_hostile(path)


@HOSTILE
@given(
    st.lists(
        st.tuples(st.sampled_from(range(len(_HEADER))), st.integers(0, 2), cell_texts),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(["utf-8", "cp1252"]),
    st.sampled_from([b"", b"\x81", b"\xff\xfe", b"\x00", b"\xe2\x82"]),
)
def test_random_cells_read_to_orders_or_a_greenloop_error(
    changes: list[tuple[int, int, str]], encoding: str, damage: bytes
) -> None:
    rows = [list(row) for row in _ROWS]
    for column, row, text in changes:
        rows[row][column] = text
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "cells.csv"
        try:
            write_export(path, _HEADER, rows, encoding=encoding)
        except UnicodeEncodeError:  # a character cp1252 has not: the export's UTF-8
            write_export(path, _HEADER, rows)
        # Bytes no encoding (or no text) should hold, in the middle of a name.
        path.write_bytes(path.read_bytes().replace(b"Sam Sample", b"Sam" + damage + b"Sample"))
        _read_hostile(path)


@HOSTILE
@given(date_texts, st.sampled_from(["timestamp", "pickup_time"]), st.booleans())
def test_random_date_texts_read_to_orders_or_a_greenloop_error(
    text: str, column: str, day_first: bool
) -> None:
    with TemporaryDirectory() as tmp:
        path = _two_orders(Path(tmp), **{column: text})
        # A zone with a half-hour offset, so no wall time shares its minute digits in UTC.
        try:
            orders, report = _read(path, timezone="Asia/Kolkata", day_first=day_first)
        except GreenLoopError:
            return
        assert "1002" in [o.order_number for o in orders]
        assert report.rejected or len(orders) == 2
