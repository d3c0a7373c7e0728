"""What the forked analysis process sends back is what it computed, to the last field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from greenloop.analytics import transfer
from greenloop.analytics.compute import HistoryEntry
from greenloop.analytics.outcome import Outcome
from greenloop.domain.predictions import summarize_purchases
from greenloop.store.analytics_repo import PERSON_COLUMNS, late_row
from greenloop.store.person_inputs import Carried


def _row(pid: str) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(PERSON_COLUMNS)
    row.update(
        id=pid,
        name="Ana Díaz",
        profiles=2,
        profile_ids=["c1", "c2"],
        loyalty_enrolled=True,
        lifetime_value=Decimal("34.725"),
        value_90d=Decimal("0"),
        average_cycle_days=Decimal("41.5"),
        first_purchase=datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        last_purchase=datetime(2026, 10, 1, tzinfo=UTC),
        reasons=["Bloom: spent 1,200.00 in 365 days"],
        to_next={"tier": "Evergreen", "spend": "300.00"},
        keep=[],
        risk="active",
        drop_at_review=False,
        computed_at=datetime(2026, 11, 1, 2, tzinfo=UTC),
    )
    return row


def test_outcomes_and_summaries_come_back_as_they_were_sent() -> None:
    history = HistoryEntry(
        "p1", datetime(2026, 11, 1, 2, tzinfo=UTC), None, "Bloom", "new", "earned", ["why"]
    )
    outcomes = [
        Outcome(_row("p1"), b"digest-1", history, 31, 7, Decimal("41.5")),
        Outcome(_row("p2"), b"digest-2", None, None, 0, None),
        # With the fingerprint kept for carrying the row over (analytics.carry_over).
        Outcome(
            _row("p4"),
            b"d-4",
            None,
            3,
            1,
            None,
            Carried(b"a" * 16, b"d-4", 1_793_498_400_000_000, None, None, 0, None, None, None),
        ),
        Outcome(
            _row("p5"),
            b"d-5",
            None,
            3,
            1,
            None,
            Carried(b"b" * 16, b"d-5", 1, 2, 3, 4, "41.25", (739000, 739005), "12.50"),
        ),
        # A person carried over (analytics.carry_over).
        Outcome(
            late_row("p6", datetime(2026, 11, 1, 2, tzinfo=UTC)),
            b"d-6",
            None,
            9,
            3,
            None,
            None,
            True,
        ),
        # A person stored unchanged but for the late columns travels as its late row.
        Outcome(late_row("p3", datetime(2026, 11, 1, 2, tzinfo=UTC)), b"d-3", None, 400, 2, None),
    ]
    days = [date(2025, 1, 2), date(2025, 6, 1), date(2026, 10, 1)]
    summary = summarize_purchases(
        zip(days, [Decimal("10.005"), Decimal("20"), Decimal("4.72")], strict=True),
        date(2026, 11, 1),
    )
    back, summaries = transfer.unpack(transfer.pack(outcomes, {"p1": summary}))
    assert back == outcomes
    assert summaries == {"p1": summary}
    # Not part of a summary's equality, but the backtest and the seasonal index read them.
    assert summaries["p1"].days == summary.days == tuple(days)
