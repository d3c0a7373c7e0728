"""A member's values digest (``analytics_repo.values_digest``) is written from the member
itself, beside the rows ``member_values`` gives it: the two must never drift apart, or a
full analysis would miss a member whose values changed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from greenloop.domain.identity import Member
from greenloop.store.analytics_repo import member_values, values_digest

_VALUES = st.sampled_from(["a@x.com", "b@x.com", "+15550001", "+15550002", "C1"])
_MEMBERS = st.builds(
    Member,
    st.just("customer:1"),
    st.lists(_VALUES, max_size=3).map(tuple),
    st.lists(_VALUES, max_size=3).map(tuple),
    st.one_of(st.none(), st.just(""), _VALUES),
)
_RAWS = st.one_of(st.none(), st.lists(st.sampled_from(["A@x.com", "a@X.com"]), max_size=3))


@given(_MEMBERS, _RAWS, _MEMBERS, _RAWS)
def test_equal_digests_exactly_when_the_value_rows_are_equal(
    one: Member, one_raws: list[str] | None, other: Member, other_raws: list[str] | None
) -> None:
    def rows(member: Member, raws: list[str] | None) -> set[tuple[str, str]]:
        assignments = {member.key: "P1"}
        found = member_values([member], assignments, {member.key: raws} if raws else {})
        return found.get(member.key, set())

    same_rows = rows(one, one_raws) == rows(other, other_raws)
    assert (values_digest(one, one_raws) == values_digest(other, other_raws)) == same_rows
