"""Identity against the generator's truth, messy duplicates included. Prints one JSON object.

A generated store with the default identity noise (typo'd emails, second emails, other
phones, nicknames, married names, households, namesakes, guest eCom checkouts, names in
other case or accents) is loaded the way a retailer's is: its customers parsed from the
API shape and stored, its eCom export imported from CSV. Then `analyze` runs on SQLite
(timed, in this process) and the persons it made are scored pairwise against the
generator's truth (profiles and eCom buyers; a pair is two members of one person).
Identity resolution is then timed on its own (``identity_seconds``: members,
placeholders, exact clusters, scored pairs, clusters again), beside the whole analyze:

* exact keys: the clusters email, phone and code alone make (no match scores);
* auto-links: the persons `analyze` wrote (exact keys plus pairs joined by score);
* with suggestions: as if staff accepted every correct suggestion and rejected the rest.

    .venv/bin/python benchmarks/identity.py [--customers 20000] [--days 730] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from itertools import combinations
from pathlib import Path
from typing import Any

from sqlalchemy import select

from greenloop.analytics.facts import load_people
from greenloop.analytics.people import cluster_people
from greenloop.config import load_settings
from greenloop.domain.identity import normalise_email
from greenloop.lightspeed.models import parse_customer, parse_outlet, parse_sale
from greenloop.services import analysis, ingest
from greenloop.services.setup import open_engine
from greenloop.simulator.ecom_export import write_ecom_export
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.state import SimState
from greenloop.store import tables as t
from greenloop.store.engine import make_engine, migrate
from greenloop.store.repo import upsert_sales, upsert_versioned


def _pairs(groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for members in groups:
        out.update(combinations(sorted(members), 2))
    return out


def _groups(assignment: Mapping[str, str]) -> list[list[str]]:
    by: dict[str, list[str]] = defaultdict(list)
    for key, owner in assignment.items():
        by[owner].append(key)
    return list(by.values())


def _score(predicted: set[tuple[str, str]], true: set[tuple[str, str]]) -> dict[str, Any]:
    hits = len(predicted & true)
    return {
        "pairs": len(predicted),
        "precision": round(hits / len(predicted), 5) if predicted else 1.0,
        "recall": round(hits / len(true), 5) if true else 1.0,
    }


def _truth(store: Any) -> dict[str, str]:
    """Member key → the generator's person, for profiles and eCom buyers."""
    owner = {f"customer:{cid}": person for cid, person in store.truth["persons"].items()}
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for order in store.ecom_orders:
        email = normalise_email(order["email"])
        person = store.truth["ecom_person"].get(order["order_number"])
        if email and person:
            votes[email][person] += 1
    for email, counted in votes.items():
        owner[f"email:{email}"] = counted.most_common(1)[0][0]
    return owner


def _union(assignment: dict[str, str], joins: Iterable[tuple[str, str]]) -> dict[str, str]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for a, b in joins:
        ra, rb = find(assignment[a]), find(assignment[b])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {key: find(owner) for key, owner in assignment.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", action="store_true", help="list every scored pair first")
    parser.add_argument("--auto-link-probability", type=float, help="instead of the setting")
    parser.add_argument("--suggest-probability", type=float, help="instead of the setting")
    args = parser.parse_args()

    began = time.perf_counter()
    store = generate_store(
        GeneratorConfig(seed=args.seed, customers=args.customers, days=args.days)
    )
    generated = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            None,
            env={},
            overrides={
                "database": {"url": f"sqlite:///{tmp}/identity.db"},
                "identity": {
                    name: value
                    for name, value in (
                        ("auto_link_probability", args.auto_link_probability),
                        ("suggest_probability", args.suggest_probability),
                    )
                    if value is not None
                },
            },
        )
        fresh = make_engine(settings.database_url())
        migrate(fresh)
        fresh.dispose()
        engine = open_engine(settings)
        began = time.perf_counter()
        with engine.begin() as conn:
            # As the API serves them (with versions), parsed as the sync parses them.
            served = SimState(store)
            outlets = served.snapshot("outlets")
            upsert_versioned(conn, t.outlets, [parse_outlet(o) for o in outlets])
            customers = served.snapshot("customers")
            upsert_versioned(conn, t.customers, [parse_customer(c) for c in customers])
            # Sales too: an eCom order's X-Series twin says whose purchase it was.
            upsert_sales(conn, [parse_sale(x) for x in served.snapshot("sales")])
        export = Path(tmp) / "orders.csv"
        write_ecom_export(store.ecom_orders, export, timezone="America/Chicago")
        ingest.import_ecom(settings, [export])
        loaded = time.perf_counter() - began

        began = time.perf_counter()
        report = analysis.analyze(settings)
        analyze_seconds = time.perf_counter() - began

        m, x = t.identity_members.c, t.identity_matches.c
        with engine.connect() as conn:
            written = dict(conn.execute(select(m.member_key, m.person_id)).all())
            scored = list(conn.execute(select(x.a, x.b, x.kind, x.probability, x.evidence)))
            suggestions = [(r.a, r.b) for r in scored if r.kind == "suggested"]
            placeholders = {v for (v,) in conn.execute(select(t.placeholders.c.value))}
            evidence = [e for (e,) in conn.execute(select(x.evidence).where(x.kind == "suggested"))]
            facts, _orders = load_people(conn)
        facts.matched_links = []
        rules = analysis.analyze_options(settings).identity
        # Identity resolution on its own, as analyze runs it: members, placeholders, the
        # exact clusters, the scored pairs and the clusters again with the auto-links.
        began = time.perf_counter()
        cluster_people(facts, rules, {}, match=True)
        identity_seconds = time.perf_counter() - began
        exact = cluster_people(facts, rules, {}).assignment
        engine.dispose()

    owner = _truth(store)
    keys = [k for k in written if k in owner]
    true_pairs = _pairs(_groups({k: owner[k] for k in keys}))
    auto = {k: written[k] for k in keys}

    def right(pair: tuple[str, str]) -> bool:
        return owner.get(pair[0]) is not None and owner.get(pair[0]) == owner.get(pair[1])

    accepted = [pair for pair in suggestions if right(pair)]
    joined = [(r.a, r.b) for r in scored if r.kind == "auto"]
    reviewed = _union(auto, [(a, b) for a, b in accepted if a in auto and b in auto])
    exact_pairs = _pairs(_groups({k: exact[k] for k in keys if k in exact}))
    auto_pairs = _pairs(_groups(auto))
    reviewed_pairs = _pairs(_groups(reviewed))
    profiles = sum(1 for k in keys if k.startswith("customer:"))
    found_by_review = len((reviewed_pairs - auto_pairs) & true_pairs)
    on_placeholder = sum(1 for words in evidence if any(p in " ".join(words) for p in placeholders))
    result = {
        "benchmark": "identity",
        "database": "sqlite",
        "seed": args.seed,
        "profiles": profiles,
        "ecom_buyers": len(keys) - profiles,
        "true_pairs": len(true_pairs),
        "noise": {
            kind: count
            for kind, count in sorted(
                Counter(store.truth.get("identity", {}).get("kinds", {}).values()).items()
            )
        },
        "exact_keys": _score(exact_pairs, true_pairs),
        "auto_links": _score(auto_pairs, true_pairs),
        # The pairs joined by score alone (not by an exact key): the threshold's own precision.
        "joined_by_score": {
            "pairs": len(joined),
            "precision": round(sum(map(right, joined)) / len(joined), 5) if joined else 1.0,
        },
        "with_suggestions": _score(reviewed_pairs, true_pairs),
        "suggestions": len(suggestions),
        "suggestions_per_profile": round(len(suggestions) / profiles, 5) if profiles else 0,
        "suggestions_correct": len(accepted),
        "suggestions_on_placeholders": on_placeholder,
        "true_pairs_found_only_by_suggestions": round(found_by_review / len(true_pairs), 5)
        if true_pairs
        else 0,
        "matching": report.matches,
        "generate_seconds": round(generated, 1),
        "load_seconds": round(loaded, 1),
        "identity_seconds": round(identity_seconds, 2),
        "analyze_seconds": round(analyze_seconds, 2),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "targets": {
            "auto_link_precision": 0.999,
            "recall_with_suggestions": 0.98,
            "suggestions_per_profile_at_most": 0.02,
            "identity_seconds_at_200000_profiles": 60,
        },
    }
    if args.show:
        for r in sorted(scored, key=lambda r: -r.probability):
            kinds = store.truth.get("identity", {}).get("kinds", {})
            why = [kinds.get(k.removeprefix("customer:"), "") for k in (r.a, r.b)]
            verdict = "OK " if right((r.a, r.b)) else "NO "
            print(f"{r.kind:9} {r.probability:.4f} {verdict} {why} {r.evidence}")
    if args.show:
        _show_missed(store, true_pairs - reviewed_pairs, reviewed)
    print(json.dumps(result, indent=1))


def _show_missed(store: Any, missed: set[tuple[str, str]], held: Mapping[str, str]) -> None:
    """Each true link still apart after review, with what the generator planted there."""
    identity = store.truth.get("identity", {})
    kinds = identity.get("kinds", {})
    guests = {
        normalise_email(o["email"])
        for o in store.ecom_orders
        if o["order_number"] in set(identity.get("guest_orders", ()))
    }

    def kind(key: str) -> str:
        if key.startswith("email:"):
            return "guest checkout" if key.removeprefix("email:") in guests else "eCom buyer"
        return str(kinds.get(key.removeprefix("customer:"), "profile"))

    # Counted once per pair of persons GreenLoop kept apart, by what each member is.
    apart: dict[tuple[str, str], tuple[str, str]] = {}
    for a, b in sorted(missed):
        persons = (min(held[a], held[b]), max(held[a], held[b]))
        left, right = sorted((kind(a), kind(b)))
        apart.setdefault(persons, (left, right))
    for (left, right), count in Counter(apart.values()).most_common():
        print(f"missed    {count:5} {left} / {right}")


if __name__ == "__main__":
    main()
