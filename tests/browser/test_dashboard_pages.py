"""Headless Chromium through every dashboard page of a running `greenloop serve`.

Each page loads with no console error; each chart is drawn (pixels on its canvas) from
exactly the figures the JSON API returns; the search finds a person by a phone written
differently from how it was stored; the login is required and a wrong password is
refused. Screenshots of each page go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from greenloop.config import load_settings
from greenloop.services import analysis
from greenloop.store import tables as t
from greenloop.store.engine import make_engine
from tests.browser.conftest import PASSWORD, SCREENSHOTS, Served
from tests.simulation import ANCHOR

CANVAS_INK = """(id) => {
  const canvas = document.getElementById(id);
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) inked++;
  return inked / (canvas.width * canvas.height);
}"""

CHART_DRAWN = f"""(id) => {{
  const chart = Chart.getChart(id);
  return !!chart && !Chart.animator.running(chart) && ({CANVAS_INK})(id) > 0.01;
}}"""

CHART_DATA = """(id) => {
  const chart = Chart.getChart(id);
  return {
    labels: chart.data.labels,
    datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })),
  };
}"""


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def visit(self, served: Served, path: str, shot: str) -> Any:
        response = self.page.goto(f"{served.url}{path}")
        assert response is not None
        assert response.status == 200, (path, response.status)
        self.page.wait_for_load_state("load")
        self.shoot(served, shot)
        assert self.errors == [], (path, self.errors)
        return response

    def shoot(self, served: Served, name: str) -> None:
        self.page.screenshot(path=str(SCREENSHOTS / f"{served.db}-{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        watched = Watched(context.new_page())
        yield watched
    finally:
        context.close()


def log_in(page: Watched, served: Served, password: str = PASSWORD) -> None:
    page.page.goto(f"{served.url}/login")
    page.page.fill("input[name=password]", password)
    page.page.click("form.login button[type=submit]")
    page.page.wait_for_load_state("load")


def drawn(page: Watched, canvas: str) -> dict[str, Any]:
    """Wait until the chart is drawn (animation over, ink on the canvas); return the data
    it was drawn from."""
    page.page.wait_for_function(CHART_DRAWN, arg=canvas, timeout=15_000)
    data: dict[str, Any] = page.page.evaluate(CHART_DATA, canvas)
    return data


# -- access -----------------------------------------------------------------------------


def test_the_login_is_required_and_a_wrong_password_is_refused(
    page: Watched, served: Served
) -> None:
    page.page.goto(f"{served.url}/customers")
    assert page.page.url.startswith(f"{served.url}/login?next=")
    page.shoot(served, "login")
    log_in(page, served, "not the password")
    assert "/login" in page.page.url
    assert page.page.locator("p.error[role=alert]").inner_text() == "Wrong password."
    # The refusal is a 401, which Chromium reports on the console; nothing else may be.
    assert page.errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    page.errors.clear()
    page.page.goto(f"{served.url}/")
    assert "/login" in page.page.url  # still not logged in
    log_in(page, served)
    assert page.page.url == f"{served.url}/"
    assert page.page.locator("h1").inner_text() == "Overview"
    assert page.errors == []


# -- the pages --------------------------------------------------------------------------


def test_the_overview_charts_show_the_apis_figures(page: Watched, served: Served) -> None:
    log_in(page, served)
    page.visit(served, "/", "overview")
    overview = served.api("/api/overview")
    assert page.page.inner_text("#fig-customers") == str(overview["customers"])
    assert page.page.inner_text("#fig-persons") == str(overview["persons"])

    history = served.api("/api/tiers/history")
    tiers = drawn(page, "chart-tiers")
    assert tiers["labels"] == history["days"]
    assert [(d["label"], d["data"]) for d in tiers["datasets"]] == [
        (s["tier"], s["persons"]) for s in history["tiers"]
    ]
    assert sum(sum(d["data"]) for d in tiers["datasets"]) > 0

    moves = served.api("/api/movements")
    shown = drawn(page, "chart-movements")
    assert shown["labels"] == [
        f"{p['from'] or '(none)'} → {p['to'] or '(none)'}" for p in moves["pairs"]
    ]
    assert shown["datasets"][0]["data"] == [p["count"] for p in moves["pairs"]]
    assert sum(shown["datasets"][0]["data"]) > 0

    revenue = served.api("/api/revenue")["data"]
    chart = drawn(page, "chart-revenue")
    assert chart["labels"] == [m["month"] for m in revenue]
    series = {d["label"]: d["data"] for d in chart["datasets"]}
    assert series["eCom value"] == [float(m["ecom_value"]) for m in revenue]
    assert series["In-store value"] == [float(m["instore_value"]) for m in revenue]
    assert series["eCom purchases"] == [m["ecom_purchases"] for m in revenue]
    assert series["In-store purchases"] == [m["instore_purchases"] for m in revenue]
    assert sum(series["eCom value"]) > 0
    assert sum(series["In-store value"]) > 0
    page.shoot(served, "overview")  # again, with every chart drawn
    assert page.errors == []


def _phone_written_differently(served: Served) -> tuple[str, str, str]:
    """A person's phone as stored on a profile, and the same number written otherwise."""
    engine = make_engine(served.database_url)
    c, m, p = t.customers.c, t.identity_members.c, t.persons.c
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(c.phone, m.person_id)
                .join(t.identity_members, m.customer_id == c.id)
                .join(t.persons, p.id == m.person_id)
                .where(c.phone.is_not(None), p.profiles == 1, p.name.is_not(None))
                .order_by(c.id)
            ).all()
    finally:
        engine.dispose()
    for stored, person_id in rows:
        digits = re.sub(r"\D", "", stored)
        if len(digits) not in (10, 11):
            continue
        a, b, n = digits[-10:-7], digits[-7:-4], digits[-4:]
        for written in (f"({a}) {b}-{n}", f"{a}.{b}.{n}", f"+1 {a} {b} {n}"):
            if written != stored:
                return stored, written, person_id
    raise AssertionError("no profile with a North American phone in the store")


def test_the_search_finds_a_person_by_a_phone_written_differently(
    page: Watched, served: Served
) -> None:
    stored, written, person_id = _phone_written_differently(served)
    assert written != stored
    log_in(page, served)
    page.visit(served, "/customers", "customers")
    page.page.fill("input[name=q]", written)
    page.page.click("form.search button[type=submit]")
    page.page.wait_for_load_state("load")
    page.shoot(served, "customers-search")
    link = page.page.locator(f"table.customers a[href='/customers/{person_id}']")
    assert link.count() == 1
    link.click()
    page.page.wait_for_load_state("load")
    page.shoot(served, "person")
    assert page.page.url == f"{served.url}/customers/{person_id}"
    detail = served.api(f"/api/customers/{person_id}")
    assert page.page.inner_text("#person-tier") == (detail["tier"] or "(none)")
    rows = page.page.locator("table.purchases tbody tr").count()
    assert rows == len(detail["purchases"])
    assert page.errors == []


def test_at_risk_sorts_and_downloads_its_csv(page: Watched, served: Served) -> None:
    log_in(page, served)
    page.visit(served, "/at-risk", "at-risk")
    listed = served.api("/api/at-risk", page_size=500)
    assert listed["total"] > 0
    page.page.click("table.at-risk th a:has-text('Name')")
    page.page.wait_for_load_state("load")
    assert "sort=name" in page.page.url
    first = page.page.locator("table.at-risk tbody tr td a").first.inner_text()
    by_name = served.api("/api/at-risk", sort="name", order="desc", page_size=1)["data"][0]
    assert first == (by_name["name"] or by_name["person_id"])
    with page.page.expect_download() as download:
        page.page.click("a.button:has-text('Download CSV')")
    table = list(csv.DictReader(io.StringIO(download.value.path().read_text("utf-8"))))
    assert len(table) == listed["total"]
    with page.page.expect_download() as master:
        page.page.click("a.button:has-text('customer_analytics_master.csv')")
    assert master.value.suggested_filename == "customer_analytics_master.csv"
    assert "Customer ID" in master.value.path().read_text("utf-8-sig").splitlines()[0]
    assert page.errors == []


def test_the_program_page_previews_an_edited_program(page: Watched, served: Served) -> None:
    log_in(page, served)
    page.visit(served, "/program", "program")
    program = served.api("/api/program")
    for tier in program["tiers"]:
        row = page.page.locator("table.program tr", has_text=tier["group"])
        assert row.locator("td.num").inner_text() == str(tier["persons"])
    edited = program["toml"].replace('at_least = "1500"', 'at_least = "300"')
    assert edited != program["toml"]
    page.page.fill("form.preview textarea", edited)
    page.page.click("form.preview button[type=submit]")
    page.page.wait_for_load_state("load")
    page.shoot(served, "program-preview")
    heading = page.page.locator("h3", has_text="would move").inner_text()
    moves = int(re.search(r"(\d+) of", heading).group(1))  # type: ignore[union-attr]
    assert moves > 0
    assert served.api("/api/program")["tiers"] == program["tiers"]  # nothing applied
    assert page.errors == []


def test_sync_health_and_a_push_runs_log(page: Watched, served: Served) -> None:
    log_in(page, served)
    page.visit(served, "/sync", "sync-health")
    health = served.api("/api/sync-health")
    assert health["rate_budget"] is not None  # the serving process's own budget
    assert page.page.locator("#rate-budget table").count() == 1
    assert page.page.inner_text("#fig-matched") == str(health["reconcile"]["matched"])
    runs = served.api("/api/push-runs")
    run_id = runs["data"][0]["id"]
    page.page.click(f"table.push-runs a[href='/sync/push-runs/{run_id}']")
    page.page.wait_for_load_state("load")
    page.shoot(served, "push-run")
    assert page.page.locator("h1").inner_text() == f"Push run {run_id}"
    assert page.errors == []


def test_at_risk_shows_p_active_and_the_last_backtest(page: Watched, served: Served) -> None:
    """Issue 16's acceptance: numbers in the P(active) column; and the backtest's figures
    once one has run (here on the served database, as `greenloop backtest` would)."""
    log_in(page, served)
    page.visit(served, "/at-risk?sort=p_alive&order=desc", "at-risk-p-active")
    listed = served.api("/api/at-risk", sort="p_alive", order="desc", page_size=20)["data"]
    expected = [row["p_alive"] for row in listed]
    assert any(value is not None for value in expected), "the fixture's store fits no model"
    headers = page.page.locator("table.at-risk thead th").all_inner_texts()
    column = next(i for i, text in enumerate(headers) if text.startswith("P(active)"))
    cells = page.page.locator(f"table.at-risk tbody tr td:nth-child({column + 1})")
    shown = cells.all_inner_texts()[: len(expected)]
    assert shown == [value if value is not None else "—" for value in expected]
    assert all(re.fullmatch(r"[01]\.\d{4}", text) for text in shown if text != "—")
    assert page.page.inner_text("#bt-none").startswith("No backtest yet")

    settings = load_settings(
        None,
        env={},
        overrides={
            "database": {"url": served.database_url},
            "analytics": {
                "min_customers_for_predictions": 50,
                "min_repeat_customers_for_predictions": 10,
                "min_history_days_for_predictions": 120,
            },
        },
    )
    result = analysis.backtest(settings, ANCHOR - timedelta(days=90), horizon_days=60)
    page.visit(served, "/at-risk", "at-risk-backtest")
    assert page.page.inner_text("#bt-auc") == f"{result['auc']:.2f}"
    assert result["model"] in page.page.inner_text("#bt-model")
    assert page.errors == []
