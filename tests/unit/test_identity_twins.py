"""An eCom buyer whose order's X-Series twin was sold to a profile is that profile's person,
whatever email the checkout was given; and a household sharing one email stays two people."""

from __future__ import annotations

from greenloop.analytics.facts import Facts, Profile
from greenloop.analytics.people import cluster_people
from greenloop.domain.identity import IdentityRules


def _profile(cid: str, first: str, email: str | None, phone: str | None = None) -> Profile:
    phones = (phone,) if phone else ()
    return Profile(
        cid, None, f"{first} Smith", email, phones, False, False, None, None, None, first, "Smith"
    )


def _together(facts: Facts, a: str, b: str) -> bool:
    people = cluster_people(facts, IdentityRules(suggestions=False), {})
    return people.assignment[a] == people.assignment[b]


def test_a_guest_checkout_joins_the_profile_its_twin_sale_was_sold_to() -> None:
    facts = Facts(profiles={"c1": _profile("c1", "Anna", "anna.smith@example.com")})
    facts.order_contacts = {"anna1987@example.net": set()}
    facts.order_names = {"anna1987@example.net": "Anna Smith"}
    assert not _together(facts, "email:anna1987@example.net", "customer:c1")
    facts.order_twins = {"anna1987@example.net": {"c1"}}
    assert _together(facts, "email:anna1987@example.net", "customer:c1")


def test_a_household_sharing_a_phone_is_two_people_unless_first_names_agree() -> None:
    phone = "(615) 238-4410"
    facts = Facts(
        profiles={
            "c1": _profile("c1", "Zoe", "zoe@example.com", phone),
            "c2": _profile("c2", "Micah", "micah@example.com", phone),
            "c3": _profile("c3", "ZOE", None, phone),
        }
    )
    assert not _together(facts, "customer:c1", "customer:c2")
    assert _together(facts, "customer:c1", "customer:c3")
