"""Version-cursor and offset paging, as pure state machines over parsed JSON.

X-Series 2.0 collections page by a global ``version``: ask with ``after=<cursor>``,
take ``version.max`` of the answer as the next cursor, and stop only when ``data`` comes
back empty (https://x-series-api.lightspeedhq.com/docs/pagination). A short page is not
the last page: the page-size limit is undocumented and may be lower than asked.
How an empty page states its version varies (``{"min": null, "max": null}`` in the dated
API docs, and in the wild also ``null`` or no key at all), so all three are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenloop.errors import BadResponse

__all__ = ["OffsetPaginator", "Page", "VersionCursor", "parse_version_page"]


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    min_version: int | None
    max_version: int | None


def _int_or_none(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        # Some APIs send numbers as strings; a version is an integer either way.
        if isinstance(value, str) and value.isdigit():
            return int(value)
        raise BadResponse(f"{where}: 'version' bound is not an integer ({value!r})")
    return value


def parse_version_page(payload: Any, where: str) -> Page:
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise BadResponse(f"{where}: expected an object with a 'data' list")
    items = payload["data"]
    if not all(isinstance(item, dict) for item in items):
        raise BadResponse(f"{where}: 'data' holds something other than objects")
    block = payload.get("version")
    if block is None:
        low = high = None
    elif isinstance(block, dict):
        low, high = _int_or_none(block.get("min"), where), _int_or_none(block.get("max"), where)
    else:
        raise BadResponse(f"{where}: 'version' is neither an object nor null")
    if items and high is None:
        # Fall back to the objects' own versions rather than loop forever.
        versions = [_int_or_none(item.get("version"), where) for item in items]
        known = [v for v in versions if v is not None]
        if not known:
            raise BadResponse(f"{where}: a non-empty page carries no version to continue from")
        low, high = min(known), max(known)
    return Page(items=items, min_version=low, max_version=high)


class VersionCursor:
    """Where a version-paged read stands: ``current`` (the ``after`` to send) and ``finished``."""

    def __init__(self, start: int = 0) -> None:
        self.current = start
        self.finished = False
        self.pages = 0

    def advance(self, page: Page, where: str) -> None:
        self.pages += 1
        if not page.items:
            self.finished = True
            return
        assert page.max_version is not None  # parse_version_page guarantees it
        if page.max_version <= self.current:
            raise BadResponse(
                f"{where}: loop detected, the API returned version {page.max_version} "
                f"again after {self.current}"
            )
        self.current = page.max_version


class OffsetPaginator:
    """``/search`` paging: ``offset`` grows by the page length; a short page ends it.

    Search has no version block; the documented cap is 1000 per page, so a page shorter
    than what we asked for (or than 1000) is the last one.
    """

    MAX_PAGE = 1000

    def __init__(self, page_size: int) -> None:
        self.page_size = min(page_size, self.MAX_PAGE)
        self.offset = 0
        self.finished = False

    def advance(self, count: int) -> None:
        self.offset += count
        if count < self.page_size or count == 0:
            self.finished = True
