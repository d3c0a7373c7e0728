"""Headless Chromium on the Review page of a running `greenloop serve`.

The store is the other browser tests' one with two planted duplicates (a person's second
profile with the same name and address, a typo in the email and no phone; see
tests/integration/test_dashboard_review.py), which the daily run's analysis suggests.
Staff skip with the keyboard until the first planted pair is shown, accept it with the
``a`` key and see the joined person's new tier on the person page, then reject the
second with a click. The count left goes down with each decision; keys typed into the
note field (Enter included) decide nothing. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from greenloop.config import Settings
from greenloop.store.engine import make_engine
from tests.browser.conftest import Served, serve_store
from tests.browser.test_dashboard_pages import Watched, log_in
from tests.conftest import DB_PARAMS
from tests.integration.test_dashboard_review import plant_duplicates
from tests.simulation import Sim


def _plant(sim: Sim, settings: Settings) -> list[tuple[str, str]]:
    engine = make_engine(settings.database.url)
    try:
        return plant_duplicates(sim, engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=DB_PARAMS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    # The planted pairs score just below the default auto-link line, which moves as
    # matching is tuned; here they must stay suggestions.
    yield from serve_store(
        request,
        tmp_path_factory,
        prepare=_plant,
        sections={"identity": {"auto_link_probability": 1.0}},
    )


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield Watched(context.new_page())
    finally:
        context.close()


def count_left(page: Watched) -> int:
    text = page.page.inner_text("#review-left")
    found = re.fullmatch(r"([\d,]+) suggestions? left", text.strip())
    assert found, text
    return int(found.group(1).replace(",", ""))


def shown_pair(page: Watched) -> tuple[str, str]:
    node = page.page.locator("#suggestion")
    return node.get_attribute("data-a") or "", node.get_attribute("data-b") or ""


def press(page: Watched, key: str) -> None:
    with page.page.expect_navigation():
        page.page.keyboard.press(key)
    page.page.wait_for_load_state("load")


def bring_up(page: Watched, pair: tuple[str, str]) -> None:
    """Skip (key s) until the pair is the one shown; each skip leaves the count alone."""
    for _ in range(count_left(page)):
        if shown_pair(page) == pair:
            return
        before = count_left(page)
        press(page, "s")
        assert page.page.inner_text("#review-result") == "Skipped"
        assert count_left(page) == before
    assert shown_pair(page) == pair, "the planted pair is not in the queue"


def test_staff_accept_with_the_keyboard_and_reject_with_a_click(
    page: Watched, served: Served
) -> None:
    joined_pair, rejected_pair = served.prepared
    log_in(page, served)
    page.visit(served, "/review", "review")
    total = served.api("/api/suggestions", limit=1)["total"]
    assert count_left(page) == total
    assert page.page.inner_text("#nav-review-left") == str(total)
    assert page.page.inner_text("button[data-key=a]") == "Accept a"

    bring_up(page, joined_pair)
    expected = next(
        s
        for s in served.api("/api/suggestions", limit=50)["suggestions"]
        if (s["a"], s["b"]) == joined_pair
    )["tier_if_joined"]
    assert page.page.inner_text("#review-tier-if-joined") == expected
    assert "emails differ by one letter" in page.page.inner_text("#review-evidence")
    page.shoot(served, "review-planted")

    # Keys typed into the note are text, not decisions, and Enter there sends nothing.
    url = page.page.url
    page.page.type("input[name=note]", "same shopper, asked at the till")
    page.page.press("input[name=note]", "Enter")
    page.page.wait_for_timeout(500)
    assert page.page.url == url
    assert shown_pair(page) == joined_pair
    page.page.evaluate("document.activeElement.blur()")
    press(page, "a")
    result = page.page.inner_text("#review-result")
    assert re.match(rf"Joined: .+ is now {re.escape(expected)}", result), result
    assert "group change sent to Lightspeed" in result
    assert count_left(page) == total - 1
    assert page.page.inner_text("#nav-review-left") == str(total - 1)
    page.shoot(served, "review-joined")

    # The person page shows the joined profiles and the tier they reached together.
    with page.page.expect_navigation():
        page.page.click("#review-result a")
    assert page.page.inner_text("#person-tier") == expected
    profiles = page.page.locator("h2:text-is('Profiles') + .scroll table tbody tr")
    assert profiles.count() == 2
    assert "profiles joined by staff" in page.page.inner_text("ol.timeline")
    page.shoot(served, "review-person")

    page.visit(served, "/review", "review-next")
    bring_up(page, rejected_pair)
    with page.page.expect_navigation():
        page.page.click("button[data-key=r]")
    assert page.page.inner_text("#review-result") == "Kept apart"
    assert count_left(page) == total - 2
    assert rejected_pair not in [
        (s["a"], s["b"]) for s in served.api("/api/suggestions", limit=50)["suggestions"]
    ]
    page.shoot(served, "review-rejected")
    assert page.errors == []
