"""Identity against the generator's truth: pairwise precision and recall over profiles,
with eCom buyers (email and phone from their orders) taking part in the clustering."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import pytest

from greenloop.domain.identity import (
    IdentityRules,
    Member,
    cluster,
    normalise_email,
    normalise_phone,
)
from greenloop.simulator.generator import GeneratorConfig, generate_store
from tests.simulation import ANCHOR


def _pairs(groups: dict[object, list[str]]) -> set[frozenset[str]]:
    return {frozenset(p) for members in groups.values() for p in combinations(members, 2)}


@pytest.mark.parametrize("seed", [7, 21, 99])
def test_pairwise_precision_and_recall_against_generator_truth(seed: int) -> None:
    # Exact keys only: the messy kinds identity noise plants are scored by their own benchmark.
    config = GeneratorConfig(seed=seed, customers=3000, anchor=ANCHOR, identity_noise=0)
    store = generate_store(config)
    rules = IdentityRules(placeholder_phones=(store.truth["store_phone"],))
    members = []
    for c in store.customers:
        email = normalise_email(c.get("email"), rules)
        phones = {normalise_phone(c.get(k), rules) for k in ("phone", "mobile")} - {None}
        members.append(
            Member(f"customer:{c['id']}", (email,) if email else (), tuple(sorted(phones)))  # type: ignore[arg-type]
        )
    buyers: dict[str, set[str]] = defaultdict(set)
    for order in store.ecom_orders:
        email = normalise_email(order["email"], rules)
        if email:
            phone = normalise_phone(order.get("phone"), rules)
            buyers[email].update({phone} if phone else set())
    members += [Member(f"email:{e}", (e,), tuple(sorted(p))) for e, p in buyers.items()]

    clusters, _links = cluster(members, rules)
    predicted: dict[object, list[str]] = defaultdict(list)
    for index, group in enumerate(clusters):
        for key in group:
            if key.startswith("customer:"):
                predicted[index].append(key)
    truth: dict[object, list[str]] = defaultdict(list)
    for customer_id, person in store.truth["persons"].items():
        truth[person].append(f"customer:{customer_id}")

    true_pairs, predicted_pairs = _pairs(truth), _pairs(predicted)
    hits = len(true_pairs & predicted_pairs)
    precision = hits / len(predicted_pairs) if predicted_pairs else 1.0
    recall = hits / len(true_pairs) if true_pairs else 1.0
    print(
        f"seed {seed}: precision {precision:.4f}, recall {recall:.4f}, {len(true_pairs)} true pairs"
    )
    assert true_pairs, "the generator plants duplicates"
    assert precision >= 0.999
    assert recall >= 0.98
    # Nobody is joined through a placeholder: every predicted pair is a true one.
    assert predicted_pairs <= true_pairs
