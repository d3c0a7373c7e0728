"""Building identity members from facts (no database): eCom buyers and placeholders."""

from __future__ import annotations

from greenloop.analytics.compute import build_members
from greenloop.analytics.facts import Facts, Profile
from greenloop.domain.identity import IdentityRules, Placeholders, cluster


def profile(cid: str, email: str | None, phone: str | None = None) -> Profile:
    return Profile(
        id=cid,
        code=None,
        name=cid,
        email=email,
        phones=(phone,) if phone else (),
        enable_loyalty=False,
        deleted=False,
        group_id=None,
        created_at=None,
        updated_at=None,
    )


def test_an_ecom_buyer_joins_the_profile_with_the_same_email() -> None:
    facts = Facts(
        profiles={"c1": profile("c1", "Jane@Example.com ")},
        order_contacts={"jane@example.COM": set()},
        order_email={"1001": ("jane@example.COM", None)},
    )
    index = build_members(facts, IdentityRules())
    clusters, links = cluster(index.members, IdentityRules(), placeholders=index.placeholders)
    assert clusters == [["customer:c1", "email:jane@example.com"]]
    assert links[0].reason == "email jane@example.com"
    assert index.raw_emails["email:jane@example.com"] == {"jane@example.COM"}


def test_orders_with_a_placeholder_email_stay_separate_people() -> None:
    facts = Facts(
        profiles={"c1": profile("c1", "ann@example.com", "(615) 555-0101")},
        order_contacts={"noemail@shop.example": {"615-555-0101", "615-555-0199"}},
        order_email={
            "2001": ("noemail@shop.example", "615-555-0101"),
            "2002": ("noemail@shop.example", "615-555-0199"),
        },
    )
    index = build_members(facts, IdentityRules())
    keys = {m.key for m in index.members}
    assert "email:noemail@shop.example" not in keys
    assert {"order:2001", "order:2002"} <= keys
    clusters, _ = cluster(index.members, IdentityRules(), placeholders=index.placeholders)
    # The first order's phone is Ann's; the second is a stranger's.
    assert ["customer:c1", "order:2001"] in clusters
    assert ["order:2002"] in clusters


def test_the_stores_own_email_and_known_placeholders_link_nobody() -> None:
    facts = Facts(
        profiles={
            "c1": profile("c1", "hello@greenhaus.example"),
            "c2": profile("c2", "hello@greenhaus.example"),
            "c3": profile("c3", "a@x.example", "+1 615 555 0142"),
            "c4": profile("c4", "b@x.example", "+1 615 555 0142"),
        },
        store_emails=["Hello@GreenHaus.example"],
    )
    known = Placeholders(phones={"+16155550142": "shared by 40 profiles"})
    index = build_members(facts, IdentityRules(), known)
    clusters, _ = cluster(index.members, IdentityRules(), placeholders=index.placeholders)
    assert len(clusters) == 4
