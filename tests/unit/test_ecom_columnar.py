"""The columnar reader gives exactly what the row path gives: the same orders, items,
lines, refusals, warnings, counts and file hash, on generated exports in every dialect,
with good, bad and odd cells mixed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenloop.ecom import columnar
from greenloop.ecom.column_checks import WHITESPACE
from greenloop.ecom.reader import ExportReader
from greenloop.ecom.report import ReadAgain
from greenloop.ecom.staging import StageJob, content_hash, stage
from tests.ecom_files import sample_rows, with_cells, write_export

HEADER, TEMPLATE = sample_rows()
ZONES = ["America/Chicago", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe"]


def _export_time(moment: datetime) -> str:
    return moment.strftime("%b ") + str(moment.day) + moment.strftime(", %Y %I:%M %p")


TIME_FORMS = {
    "export": _export_time,
    "export_padded": lambda d: d.strftime("%b %d, %Y %I:%M %p"),
    "iso": lambda d: d.strftime("%Y-%m-%d %H:%M"),
    "excel": lambda d: f"{d.month}/{d.day}/{d.year} {d.hour}:{d.minute:02d}",
}
# Around the DST changes of the zones above, and ordinary times.
moments = st.one_of(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 6, 1)),
    st.sampled_from(
        [
            datetime(2026, 3, 8, 2, 30),  # Chicago: gap
            datetime(2025, 11, 2, 1, 30),  # Chicago: overlap
            datetime(2026, 3, 29, 1, 15),  # London: gap
            datetime(2025, 10, 26, 1, 45),  # London: overlap
            datetime(2026, 4, 5, 1, 45),  # Lord Howe: 30-minute overlap
        ]
    ),
).map(lambda d: d.replace(second=0, microsecond=0))
money = st.one_of(
    st.decimals(min_value=0, max_value=5000, places=2).map(lambda v: f"{v:.2f}"),
    st.sampled_from(["", "0", "0.00", "007.50", "1,234.56", "$12.00", "(3.00)", "12,5"]),
    st.sampled_from(["abc", "1e5", "999999.00", "-5.00", " 4.00 ", "1.2.3"]),
)
texts = st.one_of(
    st.sampled_from(["", "Ann Lee", " Bob ", "ÉMILE", "x" * 2100, "a\nb", "İstanbul", "\x1cz\x1f"]),
    st.text(
        alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\0\r"), max_size=8
    ),
)
numbers = st.one_of(
    st.integers(min_value=1, max_value=99_999).map(str),
    st.sampled_from(["XK45J", "MY-STORE_1", " 77 ", "9.0007E+5", "900070.0", "", "bad number"]),
)
codes = st.sampled_from(["ACCEPTED", "accepted", "QUEUED", "REFUNDED", "", "WHATEVER"])
identifiers = st.sampled_from(["", "041899993349", "9.4001E+21", "12345678901", "4321", "SKU-E1"])


@dataclass
class Order:
    number: str
    when: str
    total: str
    code: str
    email: str
    name: str
    items: list[tuple[str, str, str, str]]  # price, quantity, total, name
    sku: str
    disagree: bool


@st.composite
def orders(draw: st.DrawFn) -> Order:
    form = draw(st.sampled_from(sorted(TIME_FORMS)))
    when = draw(
        st.one_of(
            moments.map(TIME_FORMS[form]),
            st.sampled_from(["", "Feb 30, 2026 01:00 AM", "soon", "Jan 5, 1999 08:08 PM"]),
        )
    )
    return Order(
        number=draw(numbers),
        when=when,
        total=draw(money),
        code=draw(codes),
        email=draw(st.sampled_from(["a@example.com", " B@Example.COM ", "", "É@x.fr"])),
        name=draw(texts),
        items=draw(
            st.lists(
                st.tuples(
                    money, st.sampled_from(["1", "2", "", "-1", "0.5", "20000"]), money, texts
                ),
                min_size=1,
                max_size=3,
            )
        ),
        sku=draw(identifiers),
        disagree=draw(st.booleans()),
    )


def _rows(order_list: list[Order]) -> list[list[str]]:
    rows = []
    for n, order in enumerate(order_list):
        for position, (price, quantity, total, name) in enumerate(order.items):
            template = TEMPLATE[(n + position) % len(TEMPLATE)]
            rows.append(
                with_cells(
                    HEADER,
                    template,
                    order_number=order.number,
                    timestamp=order.when,
                    order_total=order.total if not (order.disagree and position) else "1.00",
                    payment_status_code=order.code,
                    email=order.email,
                    shipto_person_name=order.name,
                    price=price,
                    quantity=quantity,
                    total=total,
                    name=name,
                    sku=order.sku,
                )
            )
    return rows


def _read(path: Path, zone: str, *, columnar: bool) -> tuple[Any, ...]:
    reader = ExportReader(path, timezone=zone, columnar=columnar)
    records: Any = []
    try:
        for chunk, digests in reader.chunks():
            records += chunk
            # A content hash the columnar reader computed by columns is the row path's.
            for (order, _, items), digest in zip(chunk, digests, strict=True):
                assert digest in (None, content_hash(order, items))
    except ReadAgain as again:
        records = type(again).__name__
    report = reader.report
    rejected = [(e.line, e.column, e.message, e.hint) for e in report.rejected]
    return (
        records,
        rejected,
        report.warnings,
        report.warning_count,
        report.rows,
        report.orders,
        report.dialect,
        reader.rows_by_columns,
    )


def _staged(path: Path, zone: str, *, columnar: bool, batch_orders: int) -> Any:
    """The rows an import stores, batch by batch (or how the read stopped)."""
    job = StageJob(
        path=path,
        timezone=zone,
        now="2026-05-01T00:00:00.000000+00:00",
        columnar=columnar,
        batch_orders=batch_orders,
    )
    try:
        return [(b.order_rows(), b.item_rows()) for b in stage(job.reader(), job)]
    except ReadAgain as again:
        return type(again).__name__


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(orders(), min_size=1, max_size=8),
    st.sampled_from([";", ",", "\t"]),
    st.booleans(),
    st.booleans(),
    st.sampled_from(ZONES),
    st.sampled_from(["none", "blank_line", "split", "short_row"]),
    st.booleans(),
    st.integers(min_value=1, max_value=4),
)
def test_columnar_and_row_paths_give_the_same_orders(
    order_list: list[Order],
    separator: str,
    bom: bool,
    crlf: bool,
    zone: str,
    oddity: str,
    small_blocks: bool,
    batch_orders: int,
) -> None:
    """The same records and reports, and the same stored rows in the same batches
    (clean orders stay in columns from the reader to the writer; odd ones are records
    and join them in file order)."""
    rows = _rows(order_list)
    if oddity == "split" and len(rows) > 2:
        rows.append(list(rows[0]))  # an order's rows apart: NotContiguous on both paths
    if oddity == "short_row":
        rows.insert(len(rows) // 2, rows[0][:5])
    with TemporaryDirectory() as tmp:
        path = write_export(
            Path(tmp) / "export.csv", HEADER, rows, separator=separator, bom=bom, crlf=crlf
        )
        if oddity == "blank_line":
            end = b"\r\n" if crlf else b"\n"
            header, rest = path.read_bytes().split(end, 1)
            path.write_bytes(header + end + end + rest)
        # Small blocks and checks: rows gathered from several blocks before they are
        # numbered and checked, an unfinished order carried into the next check.
        sizes = (4096, 3) if small_blocks else (columnar.BLOCK_BYTES, columnar.CHECK_ROWS)
        saved = columnar.BLOCK_BYTES, columnar.CHECK_ROWS
        columnar.BLOCK_BYTES, columnar.CHECK_ROWS = sizes
        try:
            by_columns = _read(path, zone, columnar=True)
            staged_by_columns = _staged(path, zone, columnar=True, batch_orders=batch_orders)
        finally:
            columnar.BLOCK_BYTES, columnar.CHECK_ROWS = saved
        by_rows = _read(path, zone, columnar=False)
        staged_by_rows = _staged(path, zone, columnar=False, batch_orders=batch_orders)
    assert by_columns[:-1] == by_rows[:-1]
    assert by_rows[-1] == 0
    assert staged_by_columns == staged_by_rows


def test_a_plain_export_is_read_by_columns(tmp_path: Path) -> None:
    """Without oddities every row goes the columnar way, in every dialect."""
    start = datetime(2026, 1, 20, 9, 0)
    for separator in (";", ",", "\t"):
        for bom in (False, True):
            rows = [
                with_cells(
                    HEADER,
                    TEMPLATE[(n // 2) % len(TEMPLATE)],
                    order_number=str(5000 - n // 2),
                    timestamp=_export_time(start - timedelta(minutes=9 * (n // 2))),
                )
                for n in range(40)
            ]
            path = write_export(tmp_path / "plain.csv", HEADER, rows, separator=separator, bom=bom)
            columnar = _read(path, "America/Chicago", columnar=True)
            assert columnar[:-1] == _read(path, "America/Chicago", columnar=False)[:-1]
            assert columnar[-1] == 40
            assert len(columnar[0]) == 20


def test_orders_across_blocks_and_checks_are_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tiny blocks and checks: orders straddle blocks, checks gather several blocks and
    carry an unfinished order into the next; nothing is lost, doubled or misnumbered."""
    monkeypatch.setattr(columnar, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(columnar, "CHECK_ROWS", 7)
    start = datetime(2026, 1, 20, 9, 0)
    rows = []
    for n in range(120):
        order = n // 3  # three rows an order
        rows.append(
            with_cells(
                HEADER,
                TEMPLATE[order % len(TEMPLATE)],
                order_number=str(9000 - order),
                timestamp=_export_time(start - timedelta(minutes=9 * order)),
                # A line break inside a cell now and then: rows of two lines.
                name="Seed pack\nheirloom" if n % 5 == 0 else "Seed pack",
            )
        )
    path = write_export(tmp_path / "blocks.csv", HEADER, rows)
    assert path.stat().st_size > 8 * 4096  # many blocks
    by_columns = _read(path, "America/Chicago", columnar=True)
    assert by_columns[:-1] == _read(path, "America/Chicago", columnar=False)[:-1]
    assert by_columns[-1] == 120  # every row went the columnar way
    assert len(by_columns[0]) == 40


def test_an_order_whose_rows_disagree_is_refused_by_columns_as_by_rows(tmp_path: Path) -> None:
    """Later rows that agree with each other but not with the first, or only the last
    row differing: the order goes the row path and is refused with the same message."""
    totals = {"801": ["10.00", "1.00", "1.00"], "802": ["10.00", "10.00", "3.00"]}
    rows = [
        with_cells(HEADER, TEMPLATE[0], order_number=number, order_total=total)
        for number, order_totals in totals.items()
        for total in order_totals
    ]
    rows.append(with_cells(HEADER, TEMPLATE[0], order_number="803", order_total="5.00"))
    path = write_export(tmp_path / "disagree.csv", HEADER, rows)
    by_columns = _read(path, "America/Chicago", columnar=True)
    assert by_columns[:-1] == _read(path, "America/Chicago", columnar=False)[:-1]
    assert [order[0] for order, _, _ in by_columns[0]] == ["803"]
    refused = {message.split("order ")[-1] for _, column, message, _ in by_columns[1]}
    assert refused == {"'801'", "'802'"}
    assert {column for _, column, *_ in by_columns[1]} == {"order_total"}


def test_whitespace_is_what_str_strip_removes() -> None:
    every = "".join(chr(code) for code in range(0x110000) if chr(code).isspace())
    assert every == WHITESPACE
