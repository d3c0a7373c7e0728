"""Identity noise in the generated store: the messy duplicates and look-alikes, each at
about its rate, with a truth that says who is who."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import fields
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest

from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.model import StoreData, dumps

Obj = dict[str, Any]
ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)
# dumps(store.to_json_obj()) of GeneratorConfig(seed=7, customers=2000, anchor=ANCHOR), taken
# from the generator before identity noise existed: with the noise off nothing may change.
BEFORE_NOISE = "450576ae17f66e74a8f48c385fd797a3160ce2f785c47f893107ce31aac8166a"
CUSTOMERS = 5000
DUPLICATE_KINDS = (
    "typo_email",
    "second_email",
    "other_phone",
    "nickname",
    "married_name",
    "name_case",
)


@cache
def _store(seed: int = 7, customers: int = CUSTOMERS, **knobs: float) -> StoreData:
    return generate_store(GeneratorConfig(seed=seed, customers=customers, anchor=ANCHOR, **knobs))


@pytest.fixture(scope="module")
def store() -> StoreData:
    return _store()


def _hash(store: StoreData) -> str:
    return hashlib.sha256(dumps(store.to_json_obj()).encode()).hexdigest()


def digits(phone: str | None) -> str | None:
    d = re.sub(r"\D", "", phone or "")
    d = d[1:] if len(d) == 11 and d.startswith("1") else d
    return d or None


def phones(c: Obj) -> set[str]:
    return {d for d in (digits(c["phone"]), digits(c["mobile"])) if d}


def address(c: Obj) -> tuple[Any, ...] | None:
    parts = tuple(c[f"physical_{k}"] for k in ("address_1", "city", "state", "postcode"))
    return parts if parts[0] else None


def plain(name: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", name or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


class _View:
    """The store's profiles by person, with each person's primary."""

    def __init__(self, store: StoreData) -> None:
        truth = store.truth
        self.persons: dict[str, str] = truth["persons"]
        self.noise = truth["identity"]
        self.customers = {c["id"]: c for c in store.customers}
        self.by_person: dict[str, list[Obj]] = defaultdict(list)
        for c in store.customers:
            self.by_person[self.persons[c["id"]]].append(c)
        self.primary = {
            self.persons[cid]: self.customers[cid]
            for cid, kind in truth["profile_kinds"].items()
            if kind == "primary"
        }

    def siblings(self, cid: str) -> list[Obj]:
        return [c for c in self.by_person[self.persons[cid]] if c["id"] != cid]

    def of_kind(self, kind: str) -> list[Obj]:
        return [self.customers[cid] for cid, k in self.noise["kinds"].items() if k == kind]


# -- determinism and the switch ---------------------------------------------------------------


def test_noise_off_leaves_the_store_as_it_was_before_noise() -> None:
    store = _store(customers=2000, identity_noise=0)
    assert "identity" not in store.truth
    assert _hash(store) == BEFORE_NOISE


def test_every_rate_at_zero_turns_the_noise_off_too() -> None:
    rates = {f.name: 0.0 for f in fields(GeneratorConfig) if f.name.endswith("_rate")}
    assert _hash(_store(customers=2000, **rates)) == BEFORE_NOISE


def test_same_seed_same_noise_other_seed_other_noise() -> None:
    first = generate_store(GeneratorConfig(seed=11, customers=1500, anchor=ANCHOR))
    again = generate_store(GeneratorConfig(seed=11, customers=1500, anchor=ANCHOR))
    other = generate_store(GeneratorConfig(seed=12, customers=1500, anchor=ANCHOR))
    assert _hash(first) == _hash(again)
    assert first.truth["identity"] == again.truth["identity"]
    assert first.truth["identity"]["kinds"] != other.truth["identity"]["kinds"]


@pytest.mark.parametrize(("customers", "noise"), [(CUSTOMERS, 1.0), (300, 8.0), (1234, 20.0)])
def test_the_customer_count_is_exact(customers: int, noise: float) -> None:
    store = _store(customers=customers, identity_noise=noise)
    assert len(store.customers) == customers
    assert store.truth["persons"].keys() == {c["id"] for c in store.customers}
    assert store.truth["ecom_person"].keys() == {o["order_number"] for o in store.ecom_orders}
    assert store.truth["identity"]["kinds"].keys() <= store.truth["persons"].keys()


def test_rates_are_scaled_and_checked() -> None:
    store = _store(customers=300, identity_noise=8.0)
    config = GeneratorConfig()
    assert store.truth["identity"]["rates"]["typo_email"] == pytest.approx(
        config.typo_email_rate * 8
    )
    with pytest.raises(ValueError, match="identity_noise"):
        GeneratorConfig(identity_noise=-1)
    with pytest.raises(ValueError, match="household_rate"):
        GeneratorConfig(household_rate=1.5)
    with pytest.raises(ValueError, match="at most 1"):
        GeneratorConfig(identity_noise=40)


# -- each kind at about its rate ----------------------------------------------------------------


def test_each_kind_is_planted_at_about_its_rate(store: StoreData) -> None:
    noise = store.truth["identity"]
    persons = len(set(store.truth["persons"].values()))
    counts = Counter(noise["kinds"].values())
    for kind in (*DUPLICATE_KINDS, "household", "namesake"):
        expected = noise["rates"][kind] * persons
        assert 0.4 * expected <= counts[kind] <= 2.0 * expected, (kind, counts[kind], expected)
    pairs = Counter(kind for _a, _b, kind in noise["lookalikes"])
    assert pairs == {"household": counts["household"], "namesake": counts["namesake"]}
    expected = noise["rates"]["guest_checkout"] * len(store.ecom_orders)
    assert 0.4 * expected <= len(noise["guest_orders"]) <= 2.0 * expected
    # Most duplicates stay ones an exact key finds.
    exact = sum(
        k not in ("primary", *DUPLICATE_KINDS) for k in store.truth["profile_kinds"].values()
    )
    assert exact > 2 * sum(counts[k] for k in DUPLICATE_KINDS)


def test_noise_kinds_are_the_profiles_kinds(store: StoreData) -> None:
    kinds = store.truth["profile_kinds"]
    for cid, kind in store.truth["identity"]["kinds"].items():
        assert kinds[cid] == ("primary" if kind in ("household", "namesake") else kind)


# -- second profiles of the same person -----------------------------------------------------------


def test_typo_emails_are_a_typo_away_from_the_persons_email(store: StoreData) -> None:
    view = _View(store)
    typos = view.of_kind("typo_email")
    assert typos
    for dup in typos:
        email = dup["email"].lower()
        others = {c["email"].lower() for c in view.siblings(dup["id"]) if c["email"]}
        assert email not in others
        assert any(edit_distance(email, e) <= 2 for e in others), (email, others)
        primary = view.primary[view.persons[dup["id"]]]
        assert (dup["first_name"], dup["last_name"]) == (
            primary["first_name"],
            primary["last_name"],
        )
    assert sum(bool(phones(c)) for c in typos) < len(typos) / 2


def test_second_emails_and_other_phones_share_only_name_and_address(store: StoreData) -> None:
    view = _View(store)
    for kind in ("second_email", "other_phone"):
        dups = view.of_kind(kind)
        assert dups, kind
        for dup in dups:
            siblings = view.siblings(dup["id"])
            primary = view.primary[view.persons[dup["id"]]]
            assert (dup["first_name"], dup["last_name"]) == (
                primary["first_name"],
                primary["last_name"],
            )
            assert address(dup) is not None
            assert address(dup) == address(primary)
            assert not phones(dup) & set().union(*(phones(c) for c in siblings))
            emails = {(c["email"] or "").lower() for c in siblings}
            if kind == "second_email":
                assert dup["email"]
                assert dup["email"].lower() not in emails
                assert not phones(dup)
            else:
                assert dup["email"] is None
                assert phones(dup)


def _shares(dup: Obj, other: Obj) -> set[str]:
    shared = set()
    if dup["email"] and (other["email"] or "").lower() == dup["email"].lower():
        shared.add("email")
    if phones(dup) & phones(other):
        shared.add("phone")
    if address(dup) and address(dup) == address(other):
        shared.add("address")
    return shared


def test_nicknames_married_names_and_restyled_names(store: StoreData) -> None:
    view = _View(store)
    for kind in ("nickname", "married_name", "name_case"):
        dups = view.of_kind(kind)
        assert dups, kind
        for dup in dups:
            primary = view.primary[view.persons[dup["id"]]]
            shared = _shares(dup, primary)
            first, last = dup["first_name"], dup["last_name"]
            if kind == "nickname":
                assert first != primary["first_name"]
                assert last == primary["last_name"]
                assert shared
            elif kind == "married_name":
                assert first == primary["first_name"]
                assert last != primary["last_name"]
                assert shared & {"phone", "address"}
            else:
                assert (first, last) != (primary["first_name"], primary["last_name"])
                assert (plain(first), plain(last)) == (
                    plain(primary["first_name"]),
                    plain(primary["last_name"]),
                )
                assert shared & {"email", "phone"}
    restyled = view.of_kind("name_case")
    assert any(c["first_name"].isupper() for c in restyled)
    # With accents on one profile and none on the other, either way round.
    accents = [
        c["first_name"] + c["last_name"]
        for d in restyled
        for c in (d, view.primary[view.persons[d["id"]]])
        if plain(c["first_name"] + c["last_name"]) != (c["first_name"] + c["last_name"]).casefold()
    ]
    assert accents
    # Some nicknames an exact key finds, some only the address ties.
    nick = [_shares(d, view.primary[view.persons[d["id"]]]) for d in view.of_kind("nickname")]
    assert any(s & {"email", "phone"} for s in nick)
    assert any(s == {"address"} for s in nick)


# -- two persons who look alike -------------------------------------------------------------------


def test_households_share_an_email_or_phone_but_are_two_persons(store: StoreData) -> None:
    view = _View(store)
    truth = store.truth
    placeholders = set(truth["placeholder_emails"])
    placeholder_phones = set(truth["placeholder_phones"])
    households = [p for p in view.noise["lookalikes"] if p[2] == "household"]
    shared_kinds: Counter[str] = Counter()
    same_last = 0
    for a_id, b_id, _kind in households:
        a, b = view.customers[a_id], view.customers[b_id]
        assert view.persons[a_id] != view.persons[b_id]
        assert a["first_name"] != b["first_name"]
        shared = _shares(a, b)
        assert shared & {"email", "phone"}, (a, b)
        shared_kinds.update(shared)
        if "email" in shared:
            assert a["email"].lower() not in placeholders
        assert not phones(a) & phones(b) & placeholder_phones
        same_last += a["last_name"] == b["last_name"]
    assert shared_kinds["email"]
    assert shared_kinds["phone"]
    assert shared_kinds["address"] > len(households) / 2
    assert same_last > len(households) / 2


def test_namesakes_share_the_name_and_nothing_else(store: StoreData) -> None:
    view = _View(store)
    namesakes = [p for p in view.noise["lookalikes"] if p[2] == "namesake"]
    assert namesakes
    for a_id, b_id, _kind in namesakes:
        a, b = view.customers[a_id], view.customers[b_id]
        assert view.persons[a_id] != view.persons[b_id]
        assert (a["first_name"], a["last_name"]) == (b["first_name"], b["last_name"])
        assert not _shares(a, b)


# -- guest checkouts ----------------------------------------------------------------------------


def test_guest_checkouts_use_a_one_off_email_of_a_known_person(store: StoreData) -> None:
    view = _View(store)
    guests = set(view.noise["guest_orders"])
    assert guests
    orders = {o["order_number"]: o for o in store.ecom_orders}
    used = Counter(o["email"] for o in store.ecom_orders)
    on_profiles = {c["email"].lower() for c in store.customers if c["email"]}
    with_phone = 0
    for number in guests:
        order = orders[number]
        person = store.truth["ecom_person"][number]
        assert used[order["email"]] == 1
        assert order["email"] not in on_profiles
        names = {plain(c["name"]) for c in view.by_person[person]}
        assert plain(order["name"]) in names
        if order["phone"]:
            with_phone += 1
            assert digits(order["phone"]) in set().union(
                *(phones(c) for c in view.by_person[person])
            )
        assert order["sync_state"] != "test_order"
    assert 0 < with_phone < len(guests)
