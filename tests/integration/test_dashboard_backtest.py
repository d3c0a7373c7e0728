"""The at-risk page and /api/backtest show the last backtest, or say there is none."""

from __future__ import annotations

import re
from datetime import timedelta

from greenloop.services import analysis
from tests.integration.test_dashboard import Built, assert_error, logged_in
from tests.integration.test_dashboard import built as built
from tests.simulation import ANCHOR


def test_the_at_risk_page_shows_the_last_backtest_or_how_to_run_one(built: Built) -> None:
    client = logged_in(built)
    before = client.get("/at-risk")
    assert before.status_code == 200
    assert "No backtest yet: run greenloop backtest --as-of DATE" in before.text
    assert_error(client.get("/api/backtest"), 404, "not_found")

    as_of = ANCHOR - timedelta(days=90)
    # The fixture's store has 240 days: less than the 180 before as_of the retailer needs.
    lowered = built.settings.analytics.model_copy(update={"min_history_days_for_predictions": 120})
    settings = built.settings.model_copy(update={"analytics": lowered})
    result = analysis.backtest(settings, as_of, horizon_days=60)
    page = client.get("/at-risk")
    assert page.status_code == 200
    assert "No backtest yet" not in page.text
    assert as_of.date().isoformat() in page.text
    shown = re.search(r'id="bt-auc">([^<]+)<', page.text)
    assert shown is not None
    assert shown.group(1) == f"{result['auc']:.2f}"
    assert f"<strong>{result['model']}</strong>" in page.text
    risk, base = result["at_risk"], result["recency_baseline"]
    assert f"{risk['precision']:.2f} / {base['precision']:.2f}" in page.text
    assert "the 60 days after it" in page.text

    api = client.get("/api/backtest")
    assert api.status_code == 200
    kept = api.json()
    assert kept["as_of"] == result["as_of"]
    assert kept["auc"] == result["auc"]
    assert kept["at_risk"] == risk
