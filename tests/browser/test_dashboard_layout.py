"""Every dashboard page on a phone (390×844) and a desktop (1400×1000), issue 20:

- nothing is wider than the window (``scrollWidth <= innerWidth``): tables that stay
  tables scroll in their own box, lists become cards, the navigation folds into a menu;
- axe-core (bundled by axe-playwright-python, nothing downloaded) finds no serious or
  critical violation on any page, logged in as admin or as staff, or logged out;
- every navigation link can be reached (the menu opened on a phone) and works;
- the whole page works by keyboard: the skip link comes first, focus is visible, the
  menu opens with Enter and closes with Escape;
- screenshots of every page at both sizes go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import PASSWORD, SCREENSHOTS, STAFF_PASSWORD, Served
from tests.browser.test_dashboard_pages import Watched, _phone_written_differently, drawn

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 1000}
SIZES = [pytest.param(PHONE, id="390"), pytest.param(DESKTOP, id="1400")]
ADMIN_LINKS = ["/", "/lookup", "/customers", "/at-risk", "/review", "/program", "/sync"]
STAFF_LINKS = ["/lookup", "/customers"]
AXE = Axe()

# Layout, keyboard and accessibility come from the same templates and stylesheet whichever
# database answered, so this module runs on SQLite only; what each database shows is
# checked on both by test_dashboard_pages and the API's schema test.
pytestmark = pytest.mark.parametrize("served", ["sqlite"], indirect=True)


def check_accessible(page: Any, where: str) -> None:
    """axe-core on the page as it is now; fails on serious or critical violations."""
    results = AXE.run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    report = [
        f"{v['impact']} {v['id']}: {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in bad
    ]
    assert report == [], f"{where}: axe found\n" + "\n".join(report)


# The elements that reach past the window's right edge (for the failure message).
_TOO_WIDE = """() => Array.from(document.querySelectorAll("body *"))
  .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
  .slice(0, 8)
  .map((el) => el.tagName.toLowerCase() + (el.className ? "." + el.className : "")
    + " " + Math.round(el.getBoundingClientRect().right))"""


def check_fits(page: Any, where: str) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        wide = page.evaluate(_TOO_WIDE)
        raise AssertionError(f"{where}: the page is {widths[0]} px wide in {widths[1]}: {wide}")


@pytest.fixture
def sized(request: pytest.FixtureRequest, browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport=request.param)
    try:
        yield Watched(context.new_page())
    finally:
        context.close()


def log_in(page: Watched, served: Served, password: str) -> None:
    page.page.goto(f"{served.url}/login")
    page.page.fill("input[name=password]", password)
    page.page.click("form.login button[type=submit]")
    page.page.wait_for_load_state("load")


def look(page: Watched, served: Served, path: str, name: str, width: int) -> None:
    """Open ``path``: 200, no console error, fits the window, passes axe, screenshot."""
    response = page.page.goto(f"{served.url}{path}")
    assert response is not None
    assert response.status == 200, (path, response.status)
    page.page.wait_for_load_state("load")
    if path == "/":
        for chart in ("chart-tiers", "chart-movements", "chart-revenue"):
            drawn(page, chart)
    check_fits(page.page, f"{name} at {width}")
    check_accessible(page.page, f"{name} at {width}")
    page.shoot(served, f"{name}-{width}")
    assert page.errors == [], (path, page.errors)


def open_menu(page: Any) -> None:
    """On a phone the navigation is behind the Menu button: open it."""
    toggle = page.locator("button.nav-toggle")
    if toggle.is_visible():
        assert toggle.get_attribute("aria-expanded") == "false"
        assert not page.locator("#menu nav").is_visible()
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true"


def _some_person(served: Served) -> str:
    person_id: str = served.api("/api/customers", page_size=1)["data"][0]["person_id"]
    return person_id


@pytest.mark.parametrize("sized", SIZES, indirect=True)
def test_every_page_fits_the_window_and_passes_axe(sized: Watched, served: Served) -> None:
    width = sized.page.viewport_size["width"]
    look(sized, served, "/login", "login", width)
    log_in(sized, served, PASSWORD)
    runs = served.api("/api/push-runs")["data"]
    _, phone, _ = _phone_written_differently(served)
    pages = [
        ("/", "overview"),
        ("/customers", "customers"),
        (f"/customers/{_some_person(served)}", "person"),
        ("/at-risk", "at-risk"),
        ("/review", "review"),
        ("/program", "program"),
        ("/sync", "sync-health"),
        (f"/sync/push-runs/{runs[0]['id']}", "push-run"),
        (f"/lookup?q={phone}", "lookup"),
    ]
    for path, name in pages:
        look(sized, served, path, name, width)


@pytest.mark.parametrize("sized", SIZES, indirect=True)
def test_every_navigation_link_is_reachable_and_works(sized: Watched, served: Served) -> None:
    log_in(sized, served, PASSWORD)
    page = sized.page
    for number, href in enumerate(ADMIN_LINKS):
        page.goto(f"{served.url}/")
        open_menu(page)
        if number == 0:  # the open menu passes axe too
            check_accessible(page, f"the open menu at {page.viewport_size['width']}")
        link = page.locator(f"nav[aria-label=Main] a[href='{href}']")
        assert link.is_visible(), href
        box = link.bounding_box()
        assert box is not None
        assert box["height"] >= 44, (href, box)  # a finger's target
        link.click()
        page.wait_for_load_state("load")
        assert re.sub(r"\?.*", "", page.url) == f"{served.url}{href}", href
        assert page.locator("h1").count() == 1
        check_fits(page, href)
    open_menu(page)
    logout = page.locator("form.logout button")
    assert logout.is_visible()
    logout.click()
    page.wait_for_load_state("load")
    assert "/login" in page.url
    assert sized.errors == []


def test_the_phone_list_pages_are_cards_with_the_same_sorting_and_paging(
    browser: Any, served: Served
) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        watched = Watched(context.new_page())
        page = watched.page
        log_in(watched, served, PASSWORD)
        page.goto(f"{served.url}/at-risk")
        row = page.locator("table.at-risk tbody tr").first
        assert row.evaluate("(tr) => getComputedStyle(tr).display") == "block"
        labels = row.locator("td[data-label]").evaluate_all(
            "(cells) => cells.filter((td) => getComputedStyle(td).display !== 'none')"
            ".map((td) => getComputedStyle(td, '::before').content)"
        )
        for label in ("Tier", "Lifetime value", "Last purchase", "Risk"):
            assert f'"{label}: "' in labels, labels
        page.click("table.at-risk thead a:has-text('Name')")  # the sort links stay
        page.wait_for_load_state("load")
        assert "sort=name" in page.url
        by_name = served.api("/api/at-risk", sort="name", order="desc", page_size=1)["data"][0]
        first = page.locator("table.at-risk tbody tr td a").first.inner_text()
        assert first == (by_name["name"] or by_name["person_id"])
        page.goto(f"{served.url}/customers")
        next_page = page.locator("nav.pager a:has-text('Next')")
        if next_page.count():
            next_page.click()
            page.wait_for_load_state("load")
            assert "page=2" in page.url
        check_fits(page, "customers page 2")
        assert watched.errors == []
    finally:
        context.close()


def test_the_dashboard_works_by_keyboard(browser: Any, served: Served) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        watched = Watched(context.new_page())
        page = watched.page
        log_in(watched, served, PASSWORD)
        page.goto(f"{served.url}/customers")
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.className") == "skip"
        assert page.locator("a.skip").is_visible()  # shown once focused
        page.keyboard.press("Tab")  # the brand
        page.keyboard.press("Tab")  # the menu button
        focused = page.evaluate("() => document.activeElement.className")
        assert focused == "nav-toggle"
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # a visible focus
        page.keyboard.press("Enter")
        assert page.locator("button.nav-toggle").get_attribute("aria-expanded") == "true"
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.getAttribute('href')") == "/"
        page.keyboard.press("Escape")
        assert page.locator("button.nav-toggle").get_attribute("aria-expanded") == "false"
        assert page.evaluate("() => document.activeElement.className") == "nav-toggle"
        # The search: typed and sent with Enter, the first result opened with the keyboard.
        page.focus("input[name=q]")
        page.keyboard.type(served.api("/api/customers", page_size=1)["data"][0]["name"])
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.focus("table.customers tbody a")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "/customers/" in page.url
        assert watched.errors == []
    finally:
        context.close()


def test_without_script_the_menu_is_a_visible_list(browser: Any, served: Served) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{served.url}/login")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_load_state("load")
        assert not page.locator("button.nav-toggle").is_visible()
        for href in ADMIN_LINKS:
            assert page.locator(f"nav[aria-label=Main] a[href='{href}']").is_visible()
        check_fits(page, "no script")
    finally:
        context.close()


@pytest.mark.parametrize("sized", SIZES, indirect=True)
def test_staff_look_a_customer_up_on_the_shop_floor(sized: Watched, served: Served) -> None:
    width = sized.page.viewport_size["width"]
    _, written, person_id = _phone_written_differently(served)
    log_in(sized, served, STAFF_PASSWORD)
    page = sized.page
    assert page.url == f"{served.url}/lookup"
    page.fill("input[name=q]", written)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    detail = served.api(f"/api/customers/{person_id}")
    assert page.inner_text("#lookup-tier") == (detail["tier"] or "No tier")
    assert page.locator("#lookup-purchases li").count() == min(5, len(detail["purchases"]))
    check_fits(page, f"staff lookup at {width}")
    check_accessible(page, f"staff lookup at {width}")
    sized.shoot(served, f"staff-lookup-{width}")
    open_menu(page)
    links = page.locator("nav[aria-label=Main] a").evaluate_all(
        "(links) => links.map((a) => a.getAttribute('href'))"
    )
    assert links == STAFF_LINKS
    page.click("#lookup-name a")
    page.wait_for_load_state("load")
    assert page.url == f"{served.url}/customers/{person_id}"
    check_fits(page, f"staff person at {width}")
    check_accessible(page, f"staff person at {width}")
    sized.shoot(served, f"staff-person-{width}")
    refused = page.goto(f"{served.url}/at-risk")
    assert refused is not None
    assert refused.status == 403
    check_accessible(page, f"the staff refusal at {width}")
    # Chromium reports the 403 on the console; nothing else may be there.
    assert [e for e in sized.errors if "403" not in e] == []
    assert SCREENSHOTS.is_dir()


_LEGEND_FONT = """(id) => {
  const chart = document.getElementById(id).chart;
  return [chart.options.plugins.legend.labels.font.size, chart.width];
}"""


def test_charts_are_drawn_again_for_the_new_width_when_a_tablet_turns(
    browser: Any, served: Served
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    try:
        watched = Watched(context.new_page())
        log_in(watched, served, PASSWORD)
        watched.page.goto(f"{served.url}/")
        drawn(watched, "chart-tiers")
        wide_font, wide_width = watched.page.evaluate(_LEGEND_FONT, "chart-tiers")
        watched.page.set_viewport_size(PHONE)
        watched.page.wait_for_function(
            "(id) => document.getElementById(id).chart.options.plugins.legend.labels.font.size"
            " !== " + str(wide_font),
            arg="chart-tiers",
            timeout=10_000,
        )
        drawn(watched, "chart-tiers")
        narrow_font, narrow_width = watched.page.evaluate(_LEGEND_FONT, "chart-tiers")
        assert (wide_font, narrow_font) == (12, 11)
        assert narrow_width < wide_width <= DESKTOP["width"]
        check_fits(watched.page, "overview turned to 390")
        assert watched.errors == []
    finally:
        context.close()
