"""Identity rules: normalisation, placeholders, clustering with reasons, manual overrides,
stable person ids."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenloop.domain.identity import (
    IdentityRules,
    Member,
    cluster,
    find_placeholders,
    normalise_email,
    normalise_phone,
    stable_person_ids,
)

RULES = IdentityRules(placeholder_phones=("615-294-7730",))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ruby.Porter@GMAIL.com ", "ruby.porter@gmail.com"),
        ("no-at-sign", None),
        ("a@b@c.com", None),
        ("x@localhost", None),
        ("", None),
        (None, None),
    ],
)
def test_email_normalisation(raw: str | None, expected: str | None) -> None:
    assert normalise_email(raw) == expected


def test_gmail_and_plus_rules_are_opt_in() -> None:
    assert normalise_email("Andrew.N.Nash+shop@gmail.com") == "andrew.n.nash+shop@gmail.com"
    rules = IdentityRules(gmail_ignore_dots=True, ignore_plus_tags=True)
    assert normalise_email("Andrew.N.Nash+shop@googlemail.com", rules) == "andrewnnash@gmail.com"
    assert normalise_email("a.b@example.com", rules) == "a.b@example.com"


@pytest.mark.parametrize(
    "raw", ["(615) 238-4410", "615.238.4410", "+16152384410", "6152384410", " +1 615 238 4410"]
)
def test_phone_formats_meet_in_e164(raw: str) -> None:
    assert normalise_phone(raw) == "+16152384410"


@pytest.mark.parametrize("raw", ["0000000000", "555", "", None, "call me"])
def test_invalid_phones_link_nothing(raw: str | None) -> None:
    assert normalise_phone(raw) is None


def _m(key: str, email: str | None = None, phone: str | None = None) -> Member:
    return Member(
        key,
        emails=(normalise_email(email),) if email else (),  # type: ignore[arg-type]
        phones=(normalise_phone(phone),) if phone else (),  # type: ignore[arg-type]
    )


def test_placeholders_never_join_people() -> None:
    shared_phone = [_m(f"c{i}", f"p{i}@example.com", "615-294-7730") for i in range(3)]
    denylisted = [_m(f"d{i}", "noemail@greenhaus.example") for i in range(2)]
    crowd = [_m(f"e{i}", "family@example.com") for i in range(6)]  # more than 5 profiles
    members = shared_phone + denylisted + crowd
    found = find_placeholders(members, RULES)
    assert found.phones == {"+16152947730": "configured placeholder"}
    assert found.emails["noemail@greenhaus.example"] == "looks like a placeholder"
    assert found.emails["family@example.com"] == "shared by 6 profiles"
    clusters, links = cluster(members, RULES)
    assert all(len(c) == 1 for c in clusters)
    assert links == []


def test_links_are_transitive_and_each_keeps_its_reason() -> None:
    members = [
        _m("customer:a", "ann@example.com"),
        _m("customer:b", "ANN@example.com", "(615) 238-4410"),
        _m("customer:c", None, "615.238.4410"),
        _m("email:ann@example.com", "ann@example.com"),
        _m("customer:z", "zed@example.com"),
    ]
    clusters, links = cluster(members, RULES)
    assert clusters == [
        ["customer:a", "customer:b", "customer:c", "email:ann@example.com"],
        ["customer:z"],
    ]
    reasons = sorted(link.reason for link in links)
    assert reasons == ["email ann@example.com", "email ann@example.com", "phone +16152384410"]


def test_customer_code_links() -> None:
    members = [Member("customer:a", code="ANN-1"), Member("customer:b", code="ANN-1")]
    _, links = cluster(members, RULES)
    assert [link.reason for link in links] == ["code ANN-1"]


def test_manual_link_and_unlink_win_over_rules() -> None:
    members = [
        _m("customer:a", "ann@example.com"),
        _m("customer:b", "ann@example.com", "(615) 238-4410"),
        _m("customer:c", None, "615.238.4410"),
        _m("customer:d", "dee@example.com"),
    ]
    clusters, links = cluster(
        members,
        RULES,
        manual_links=[("customer:a", "customer:d")],
        manual_unlinks=[("customer:a", "customer:c")],
    )
    # a-c may not meet, even through b; the manual a-d link holds.
    assert clusters == [["customer:a", "customer:b", "customer:d"], ["customer:c"]]
    assert links[0].reason == "manual"


def test_clustering_is_order_independent() -> None:
    members = [
        _m("customer:a", "ann@example.com"),
        _m("customer:b", "ANN@example.com", "(615) 238-4410"),
        _m("customer:c", None, "615.238.4410"),
        _m("customer:d", "dee@example.com", "615.238.4410"),
    ]
    expected, _ = cluster(members, RULES)
    for permutation in itertools.permutations(members):
        assert cluster(list(permutation), RULES)[0] == expected


def test_person_ids_survive_growth_splits_and_merges() -> None:
    counter = itertools.count(1)

    def new_id() -> str:
        return f"new{next(counter)}"

    first = stable_person_ids([["a", "b"], ["c"]], {}, new_id)
    assert first == {"a": "new1", "b": "new1", "c": "new2"}
    grown = stable_person_ids([["a", "b", "x"], ["c"]], first, new_id)
    assert grown == {"a": "new1", "b": "new1", "x": "new1", "c": "new2"}
    split = stable_person_ids([["a"], ["b", "x"], ["c"]], grown, new_id)
    assert split["b"] == split["x"] == "new1"  # the larger part keeps the id
    assert split["a"] == "new3"
    merged = stable_person_ids([["a", "b", "x", "c"]], split, new_id)
    assert set(merged.values()) == {"new1"}


def _ids_by_votes(
    clusters: list[list[str]], previous: dict[str, str], new_id: Callable[[], str]
) -> dict[str, str]:
    """stable_person_ids' rule, every cluster's votes counted alike."""
    claims = sorted(
        (-count, pid, index)
        for index, members in enumerate(clusters)
        for pid, count in Counter(previous[m] for m in members if m in previous).items()
    )
    assigned: dict[int, str] = {}
    for _votes, pid, index in claims:
        if index not in assigned and pid not in assigned.values():
            assigned[index] = pid
    ids = [assigned.get(i) or new_id() for i in range(len(clusters))]
    return {m: ids[i] for i, c in enumerate(clusters) for m in c}


@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=40),
    st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=40, max_size=40),
)
def test_person_ids_of_single_members_follow_the_same_votes(
    cluster_of: list[int], held: list[int | None]
) -> None:
    # Clusters of one take the quick path; the ids must be those of counting every vote.
    grouped: dict[int, list[str]] = {}
    for n, c in enumerate(cluster_of):
        grouped.setdefault(c, []).append(f"m{n:02d}")
    clusters = sorted(grouped.values())
    previous = {f"m{n:02d}": f"p{h}" for n, h in enumerate(held) if h is not None}
    counters = [itertools.count(), itertools.count()]
    quick = stable_person_ids(clusters, previous, lambda: f"new{next(counters[0])}")
    assert quick == _ids_by_votes(clusters, previous, lambda: f"new{next(counters[1])}")


def test_placeholder_patterns_match_as_one_alternation_or_one_by_one() -> None:
    emails = ["noemail@shop.com", "anna@shop.com", "x@example.invalid", "NA@shop.com"]
    members = [Member(f"customer:{n}", emails=(e,)) for n, e in enumerate(emails)]
    found = find_placeholders(members, IdentityRules())
    assert set(found.emails) == {"noemail@shop.com", "x@example.invalid"}
    # A global flag in a later pattern cannot join an alternation: each is searched alone.
    flagged = IdentityRules(placeholder_email_patterns=(r"^noemail", r"(?i)^na@"))
    assert set(find_placeholders(members, flagged).emails) == {"noemail@shop.com", "NA@shop.com"}
    assert find_placeholders(members, IdentityRules(placeholder_email_patterns=())).emails == {}


FRAGMENTS = ("no", "-", "email", "@", "a", "n/", "x", "placeholder", "shop.org", "example.invalid")
PATTERNS = (r"^no-?email@", r"placeholder", r"^n/?a@", r"@example\.invalid$", r"^a|shop\.org$")


@given(
    st.lists(st.lists(st.sampled_from(FRAGMENTS), max_size=5).map("".join), max_size=30),
    st.lists(st.sampled_from(PATTERNS), unique=True),
)
def test_placeholder_patterns_find_what_each_pattern_searched_alone_finds(
    texts: list[str], patterns: list[str]
) -> None:
    """Anchored patterns are matched apart from the others (``domain.identity``): the
    verdicts are still those of searching every pattern on its own, mid-text hits and an
    alternation that is only partly anchored included."""
    members = [Member(f"customer:{n}", emails=(t,)) for n, t in enumerate(texts)]
    found = find_placeholders(members, IdentityRules(placeholder_email_patterns=tuple(patterns)))
    expected = {t for t in texts if any(re.search(p, t) for p in patterns)}
    assert {e for e, why in found.emails.items() if why == "looks like a placeholder"} == expected
