from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from greenloop.ecom.values import LocalTime, looks_scientific, parse_local_time, parse_money, to_utc

CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("$1,234.56", "1234.56"),
        ("1234,56", "1234.56"),
        ("(12.00)", "-12.00"),
        ("-3.5", "-3.5"),
        ("70.3", "70.3"),
        ("28", "28"),
        ("1,234,567.8", "1234567.8"),
        ("1.234.567", "1234567"),
        (" 34.725 ", "34.725"),
    ],
)
def test_money_forms(text: str, expected: str) -> None:
    value = parse_money(text)
    assert value == Decimal(expected)
    assert str(value) == expected


@pytest.mark.parametrize("text", ["12,3,4", "abc", "1,23,456.00", "9.4001E+21", "1.2.3", "--5"])
def test_bad_money_says_how_to_write_it(text: str) -> None:
    with pytest.raises(ValueError, match=r"1234\.56|re-export"):
        parse_money(text)


def test_empty_money_is_none() -> None:
    assert parse_money("  ") is None


@pytest.mark.parametrize(
    "text",
    [
        "Jan 5, 2026 08:08 PM",
        "Jan 5, 2026 8:08 PM",
        "2026-01-05 20:08",
        "1/5/2026 20:08",
        "01/05/2026 8:08 PM",
        "2026-01-05 08:08 PM",
        "2026-01-05T20:08:00",
    ],
)
def test_every_listed_time_format_means_the_same_local_time(text: str) -> None:
    local = parse_local_time(text)
    assert local == LocalTime(datetime(2026, 1, 5, 20, 8))
    utc, note = to_utc(local, CHICAGO)
    assert utc == datetime(2026, 1, 6, 2, 8, tzinfo=UTC)
    assert note is None


def test_day_first_setting() -> None:
    assert parse_local_time("5/1/2026 20:08", day_first=True) == LocalTime(
        datetime(2026, 1, 5, 20, 8)
    )


def test_offset_in_the_text_wins_over_the_store_zone() -> None:
    local = parse_local_time("2026-01-05T20:08:00+00:00")
    assert local is not None
    assert to_utc(local, CHICAGO)[0] == datetime(2026, 1, 5, 20, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["Foo 5, 2026 08:08 PM", "2026-13-05 20:08", "13:99", "Jan 5 2026"]
)
def test_bad_times_are_errors(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a date and time|unknown month|hour"):
        parse_local_time(text)


def test_dst_gap_is_read_forward_with_a_note() -> None:
    # 2026-03-08 02:30 never happened in Chicago (clocks jumped 02:00 → 03:00).
    local = parse_local_time("Mar 8, 2026 02:30 AM")
    assert local is not None
    utc, note = to_utc(local, CHICAGO)
    assert utc == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)  # shown as 03:30 CDT
    assert note is not None
    assert "DST gap" in note
    assert "03:30" in note


@pytest.mark.parametrize(("policy", "expected_hour"), [("earlier", 6), ("later", 7)])
def test_dst_overlap_follows_the_policy(policy: str, expected_hour: int) -> None:
    # 2026-11-01 01:30 happened twice in Chicago: CDT (UTC-5), then CST (UTC-6).
    local = parse_local_time("Nov 1, 2026 01:30 AM")
    assert local is not None
    utc, note = to_utc(local, CHICAGO, ambiguous=policy)  # type: ignore[arg-type]
    assert utc == datetime(2026, 11, 1, expected_hour, 30, tzinfo=UTC)
    assert note is not None
    assert "DST overlap" in note


def test_scientific_notation_detection() -> None:
    assert looks_scientific("9.4001E+21")
    assert not looks_scientific("9400100000000000000001")
