"""The push plan as pure rules: who moves, who is skipped and why, and the batches."""

from __future__ import annotations

from greenloop.domain.group_plan import (
    PlanInput,
    ProfileState,
    batches,
    minimum_requests,
    plan_moves,
)

RULES = PlanInput(
    tier_groups={"Bloom": "g-bloom", "Seed": "g-seed"},
    default_group_id="g-all",
    managed_group_ids=frozenset({"g-bloom", "g-seed", "g-all", "g-old-vip"}),
)
ORDER = ("Bloom", "Seed", "None")


def profile(cid: str, tier: str | None, group: str | None, **kw: object) -> ProfileState:
    return ProfileState(customer_id=cid, person_id=f"p-{cid}", tier=tier, group_id=group, **kw)  # type: ignore[arg-type]


def test_only_profiles_out_of_their_tier_group_move() -> None:
    plan = plan_moves(
        [
            profile("a", "Bloom", "g-bloom"),
            profile("b", "Bloom", "g-seed"),
            profile("c", "Seed", "g-all"),
            profile("d", None, "g-seed"),
            profile("e", None, None),
            profile("f", "Bloom", "g-old-vip"),
        ],
        RULES,
        tier_order=ORDER,
    )
    assert [(m.customer_id, m.from_group_id, m.to_group_id) for m in plan.moves] == [
        ("b", "g-seed", "g-bloom"),
        ("f", "g-old-vip", "g-bloom"),
        ("c", "g-all", "g-seed"),
        ("d", "g-seed", "g-all"),
    ]
    assert plan.unchanged == 2
    assert plan.by_tier["Bloom"].moves_in == 2
    assert plan.by_tier["Seed"].moves_out == 2  # b and d leave Seed
    assert plan.by_tier["None"].moves_in == 1


def test_protected_placeholder_override_and_deleted_profiles_never_move() -> None:
    plan = plan_moves(
        [
            profile("staff", "Bloom", "g-staff"),
            profile("walkin", "Seed", "g-all", placeholder_only=True),
            profile("kept", "Seed", "g-bloom", override_group_id="g-bloom"),
            profile("stale-override", "Seed", "g-bloom", override_group_id="g-all"),
            profile("gone", "Bloom", "g-all", deleted=True),
        ],
        RULES,
    )
    assert {s.customer_id: s.reason for s in plan.skips} == {
        "staff": "protected",
        "walkin": "placeholder",
        "kept": "override",
    }
    assert [m.customer_id for m in plan.moves] == ["stale-override"]
    assert plan.customers == 4  # the deleted profile is not a customer any more
    assert plan.by_tier["Bloom"].protected == 1


def test_placeholder_profiles_move_when_the_setting_allows_it() -> None:
    rules = PlanInput(**{**RULES.__dict__, "move_placeholder_profiles": True})
    plan = plan_moves([profile("walkin", "Seed", "g-all", placeholder_only=True)], rules)
    assert [m.customer_id for m in plan.moves] == ["walkin"]


def test_limit_keeps_the_highest_tiers_first_and_counts_the_rest_deferred() -> None:
    profiles = [profile(f"s{i}", "Seed", "g-all") for i in range(3)]
    profiles.append(profile("b0", "Bloom", "g-all"))
    plan = plan_moves(profiles, RULES, tier_order=ORDER, limit=2)
    assert [m.customer_id for m in plan.moves] == ["b0", "s0"]
    assert plan.deferred == 2


def test_batches_per_group_and_the_minimum_request_count() -> None:
    plan = plan_moves(
        [profile(f"b{i}", "Bloom", "g-all") for i in range(5)]
        + [profile(f"s{i}", "Seed", "g-all") for i in range(2)],
        RULES,
        tier_order=ORDER,
    )
    cut = batches(plan.moves, 2)
    assert [(g, len(ms)) for g, ms in cut] == [
        ("g-bloom", 2),
        ("g-bloom", 2),
        ("g-bloom", 1),
        ("g-seed", 2),
    ]
    assert minimum_requests(plan.moves, 2) == len(cut) == 4
    assert minimum_requests(plan.moves, 250) == 2
