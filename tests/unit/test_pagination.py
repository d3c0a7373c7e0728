from __future__ import annotations

import pytest

from greenloop.errors import BadResponse
from greenloop.lightspeed.pagination import OffsetPaginator, VersionCursor, parse_version_page


@pytest.mark.parametrize(
    "payload",
    [
        {"data": [], "version": {"min": None, "max": None}},
        {"data": [], "version": None},
        {"data": []},
    ],
)
def test_every_empty_page_style_finishes(payload: dict[str, object]) -> None:
    cursor = VersionCursor(41)
    cursor.advance(parse_version_page(payload, "x"), "x")
    assert cursor.finished
    assert cursor.current == 41


def test_cursor_moves_to_version_max_and_never_trusts_short_pages() -> None:
    cursor = VersionCursor()
    page = parse_version_page({"data": [{"id": "a"}], "version": {"min": 5, "max": 9}}, "x")
    cursor.advance(page, "x")
    assert (cursor.current, cursor.finished) == (9, False)


def test_missing_max_falls_back_to_object_versions() -> None:
    page = parse_version_page({"data": [{"version": 3}, {"version": 8}], "version": None}, "x")
    assert (page.min_version, page.max_version) == (3, 8)


def test_repeated_cursor_is_a_loop() -> None:
    cursor = VersionCursor(9)
    page = parse_version_page({"data": [{"id": "a"}], "version": {"min": 9, "max": 9}}, "x")
    with pytest.raises(BadResponse, match="loop detected"):
        cursor.advance(page, "x")


@pytest.mark.parametrize(
    "payload",
    [[], {"items": []}, {"data": [1]}, {"data": [{}], "version": "7"}, {"data": [{"id": 1}]}],
)
def test_malformed_pages_are_bad_responses(payload: object) -> None:
    with pytest.raises(BadResponse):
        parse_version_page(payload, "GET /x")


def test_offset_paginator_caps_at_1000_and_stops_on_short_page() -> None:
    pager = OffsetPaginator(5000)
    assert pager.page_size == 1000
    pager.advance(1000)
    assert (pager.offset, pager.finished) == (1000, False)
    pager.advance(10)
    assert pager.finished
