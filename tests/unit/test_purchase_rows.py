"""Purchase rows grouped by customer and attributed to persons (a full analysis' path)
give each person the entries, in the order read, that attributing row by row gives."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from greenloop.analytics.carry_over import Fingerprints, PersonKey
from greenloop.analytics.compute import Context, MemberIndex
from greenloop.analytics.facts import Facts
from greenloop.analytics.outcome import Entry
from greenloop.analytics.purchase_rows import (
    Grouped,
    buyer_of,
    entries_by_person,
    group_rows,
    parse_entries,
)
from greenloop.config import Settings
from greenloop.domain.identity import IdentityRules
from greenloop.domain.purchases import PurchaseRow
from greenloop.services.analysis import analyze_options

RULES = IdentityRules()
START = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
CUSTOMERS = ["c1", "c2", "c3", "c4", "c5"]
EMAILS = ["ann@example.com", "Ann@Example.com", "bob@example.com", "eve@example.com"]
NUMBERS = ["1001", "1002", "1003"]
# Customers c1 and c2 are one person, with Ann's eCom email; c5 and bob's email belong
# to nobody; order 1003 (a placeholder email's order) is a person of its own.
ASSIGNMENT = {
    "customer:c1": "p1",
    "customer:c2": "p1",
    "customer:c3": "p2",
    "customer:c4": "p3",
    "email:ann@example.com": "p1",
    "email:eve@example.com": "p3",
    "order:1003": "p4",
}
INDEX = MemberIndex(email_members={"ann@example.com", "eve@example.com"})

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from([None, *CUSTOMERS]),
        st.sampled_from([None, *EMAILS]),
        st.sampled_from([None, *NUMBERS]),
        # Microseconds or none: ISO-8601 text differs, the instant must come back.
        st.one_of(
            st.none(),
            st.integers(0, 10**6).map(lambda n: START + timedelta(seconds=n * 37.5)),
        ),
        st.booleans(),
        st.integers(0, 3),
        st.sampled_from(["12.5", "12.50", "34.725", "-8", "0"]).map(Decimal),
    ),
    max_size=60,
)


def by_rows(
    rows: Sequence[PurchaseRow], index: MemberIndex, assignment: Mapping[str, str]
) -> tuple[dict[str, list[Entry]], int, int]:
    """Attributing one row at a time, as the analysis did before grouping (whose rule
    for a row without a customer, ``buyer_of``, is not what is tested here)."""
    by_customer = {
        key.removeprefix("customer:"): pid
        for key, pid in assignment.items()
        if key.startswith("customer:")
    }
    entries: dict[str, list[Entry]] = defaultdict(list)
    total = unattributed = 0
    for customer_id, email, number, at, counts, flags, value in rows:
        total += 1
        if customer_id is not None:
            pid = by_customer.get(customer_id)
        else:
            pid = buyer_of(email, number, index, assignment, RULES)
        if pid is None:
            unattributed += 1
        elif counts and at is not None:
            entries[pid].append((at, value, flags))
    return dict(entries), total, unattributed


@settings(max_examples=300, deadline=None)
@given(rows_strategy)
def test_grouped_rows_give_each_person_the_entries_of_row_by_row(
    rows: list[PurchaseRow],
) -> None:
    expected, total, unattributed = by_rows(rows, INDEX, ASSIGNMENT)
    grouped = group_rows(rows)
    sent = Grouped()  # as the forked process sends it, in parts
    for part in grouped.packed(customers=2):
        sent.add(part)
    assert sent == grouped
    for kept in (grouped, sent):
        raw, got_total, got_unattributed = entries_by_person(kept, INDEX, ASSIGNMENT, RULES)
        assert (got_total, got_unattributed) == (total, unattributed)
        parsed = {pid: parse_entries(found) for pid, found in raw.items()}
        assert parsed == expected
        # Exactly as read: the same instants and amounts written the same way.
        for pid, found in parsed.items():
            assert [str(value) for _, value, _ in found] == [
                str(value) for _, value, _ in expected[pid]
            ]


def test_a_person_of_several_members_gets_their_entries_in_the_order_read() -> None:
    at = [START + timedelta(days=n) for n in range(5)]
    rows: list[PurchaseRow] = [
        ("c1", None, None, at[0], True, 0, Decimal("10")),
        (None, "ann@example.com", "1001", at[1], True, 2, Decimal("20")),
        ("c2", None, None, at[2], True, 0, Decimal("30")),
        ("c1", None, None, at[3], True, 1, Decimal("-5")),
        ("c2", None, None, at[4], False, 0, Decimal("40")),  # not counted
        ("c5", None, None, at[4], True, 0, Decimal("50")),  # nobody's
    ]
    raw, total, unattributed = entries_by_person(group_rows(rows), INDEX, ASSIGNMENT, RULES)
    assert (total, unattributed) == (6, 1)
    assert [value for _, value, _ in raw["p1"]] == ["10", "20", "30", "-5"]


def test_a_fingerprint_is_of_the_values_whatever_else_holds_them() -> None:
    """The same inputs give the same fingerprint whether or not another list or tuple
    refers to them (marshal, used before, wrote the two differently)."""
    options = analyze_options(Settings())
    ctx = Context(options.program, options.identity, options.metrics, START, Decimal(90), 3)
    fingerprints = Fingerprints(ctx, {}, predictions=True)
    facts = Facts(profiles={})

    def entries() -> list[tuple[str, str, int]]:
        return [(START.isoformat(), str(Decimal("12.50") + n), 0) for n in range(3)]

    alone = fingerprints.of("p1", ["customer:c1"], entries(), None, None, facts)
    shared = entries()
    also_held = [shared, *shared]  # the list and each entry now have a second holder
    twice = fingerprints.of(*PersonKey("p1", ["customer:c1"], shared, None, None), facts)
    del also_held
    assert twice == alone
