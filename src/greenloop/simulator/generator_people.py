"""People and their customer profiles, the messy way a real store accumulates them.

A *person* is one human; a *profile* is one X-Series customer record. Most people have
one profile, but the generator deliberately plants the duplicates a dedupe engine must
untangle: the same email typed in another letter case, a phone-only second profile, a
second email behind the same phone, a profile the eCom integration created because the
order email matched nothing (sometimes only a Gmail dot variant of a known address),
and shared placeholder emails and phones on unrelated people. The messier kinds no
exact key finds (typos, nicknames, households, ...) come from generator_noise, through
the hooks in ``IdentityHooks``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Protocol

from greenloop.simulator.generator_base import DAY, HOUR, ZERO, code4, new_uuid
from greenloop.simulator.generator_life import season
from greenloop.simulator.names import (
    AREA_CODES,
    CITIES,
    CUSTOMER_NOTES,
    EMAIL_DOMAINS,
    FIRST_NAMES_F,
    FIRST_NAMES_M,
    LAST_NAMES,
    STREETS,
)

__all__ = [
    "NOT_SYNCED_YET",
    "NO_PHONE",
    "PLACEHOLDER_EMAILS",
    "IdentityHooks",
    "People",
    "Person",
    "Profile",
    "Relation",
    "build_people",
    "format_phone",
    "random_address",
]

PLACEHOLDER_EMAILS = ("noemail@greenhaus.example", "none@none.com", "customer@greenhaus.example")
NO_PHONE = "0000000000"
NOT_SYNCED_YET = -2  # ``active_from`` of an eCom profile the integration has not created yet

Address = tuple[str, str, str, str]  # street, city, state, postcode


class Profile:
    """One customer record, plus what the generator learns about it while selling."""

    __slots__ = (
        "active_from",
        "address",
        "code",
        "company",
        "created_ts",
        "deleted_ts",
        "do_not_email",
        "dob",
        "email",
        "enable_loyalty",
        "first_name",
        "first_sale_ts",
        "gender",
        "group",
        "id",
        "kind",
        "last_name",
        "loyalty",
        "merged_into",
        "mobile",
        "note",
        "owed",
        "person",
        "phone",
        "sales",
        "spend",
        "updated_ts",
        "ytd",
    )

    def __init__(self, person: Person, kind: str, pid: str, code: str) -> None:
        self.person = person
        self.kind = kind
        self.id = pid
        self.code = code
        self.first_name: str | None = person.first
        self.last_name: str | None = person.last
        self.email: str | None = None
        self.phone: str | None = None
        self.mobile: str | None = None
        self.address: Address | None = None
        self.company: str | None = None
        self.gender: str | None = None
        self.dob: str | None = None
        self.note: str | None = None
        self.do_not_email = False
        self.enable_loyalty = False
        self.group = "all"
        self.active_from = -1  # when sales may start pointing here; -1 = from the start
        self.created_ts = 0
        self.updated_ts = 0
        self.deleted_ts: int | None = None
        self.merged_into: str | None = None
        self.first_sale_ts: int | None = None
        self.sales = 0
        self.loyalty = ZERO
        self.spend = ZERO
        self.ytd = ZERO
        self.owed = ZERO


class Person:
    __slots__ = (
        "ecom_email",
        "ecom_name",
        "ecom_phone",
        "ecom_profile",
        "ecom_ready",
        "first",
        "home_outlet",
        "key",
        "last",
        "last_ecom_sale",
        "p_online",
        "pos_profiles",
        "role",
        "ship_to",
        "spend",
        "weight",
    )

    def __init__(self, key: str, first: str, last: str, role: str) -> None:
        self.key = key
        self.first = first
        self.last = last
        self.role = role
        self.weight = 1.0  # 0: never buys
        self.spend = 1.0  # basket size multiplier (the lifecycle's spend level)
        self.p_online = 0.0
        self.home_outlet = 0
        self.pos_profiles: list[Profile] = []
        self.ecom_profile: Profile | None = None  # where eCom sales land once it exists
        self.ecom_ready = True  # False until the integration has created the eCom profile
        self.ecom_email: str | None = None
        self.ecom_name = f"{first} {last}"
        self.ecom_phone: str | None = None
        self.ship_to: Address | None = None
        self.last_ecom_sale: str | None = None


@dataclass
class People:
    persons: list[Person]
    profiles: list[Profile]
    staff: list[Person]
    placeholder_phones: list[str]
    instore: list[Person] = field(default_factory=list)
    instore_cum: list[float] = field(default_factory=list)
    online: list[Person] = field(default_factory=list)
    online_cum: list[float] = field(default_factory=list)
    flagged: list[Person] = field(default_factory=list)


@dataclass
class Relation:
    """The earlier person a new one is planted beside, and what they share."""

    kind: str  # household | namesake
    partner: Person
    partner_primary: Profile
    female: bool
    email: str | None = None  # the shared email, if that is what the household shares
    digits: str | None = None  # the shared phone, if that is what the household shares


class IdentityHooks(Protocol):
    """What identity noise (generator_noise) does while people are built; a protocol so
    that this module need not import that one, which builds on it."""

    def attach(self, builder: _Builder) -> None: ...

    def relate(self, person: Person, female: bool) -> Relation | None: ...

    def bind(
        self, relation: Relation, primary: Profile, pos_email: str | None, digits: str | None
    ) -> tuple[str | None, str | None]: ...

    def after_person(
        self,
        person: Person,
        primary: Profile,
        real_email: str | None,
        digits: str | None,
        room: int,
    ) -> int: ...


def format_phone(digits: str, style: int) -> str:
    """The same ten digits the five ways cashiers and customers type them."""
    a, e, n = digits[:3], digits[3:6], digits[6:]
    if style == 0:
        return f"({a}) {e}-{n}"
    if style == 1:
        return f"{a}.{e}.{n}"
    if style == 2:
        return f"+1{digits}"
    if style == 3:
        return digits
    return f"{a}-{e}-{n}"


class _Builder:
    def __init__(
        self, rng: random.Random, start: int, anchor: int, opened: int, store_phone: str
    ) -> None:
        self.rng = rng
        self.start = start
        self.anchor = anchor
        self.opened = opened
        self.store_phone = store_phone
        self.emails: set[str] = set()
        self.phones: set[str] = {store_phone, NO_PHONE}
        self.codes: set[str] = set()
        self.persons: list[Person] = []
        self.profiles: list[Profile] = []
        self.flag_budget = 0
        self.noise: IdentityHooks | None = None

    @contextmanager
    def drawing_from(self, rng: random.Random) -> Iterator[None]:
        """Make the helpers below draw from ``rng``: identity noise builds its profiles
        with them but from its own stream, so turning it off leaves the store unchanged."""
        main, self.rng = self.rng, rng
        try:
            yield
        finally:
            self.rng = main

    # -- identities ---------------------------------------------------------------------------

    def email(self, first: str, last: str) -> str:
        rng = self.rng
        f, surname = first.lower(), last.lower()
        gmail = rng.random() < 0.2
        if gmail:
            local = f"{f}.{surname}" if rng.random() < 0.8 else f"{f}.{surname[0]}.{surname}"
            domain = "gmail.com"
        else:
            local = rng.choice(
                (
                    f"{f}.{surname}",
                    f"{f}{surname}",
                    f"{f[0]}{surname}",
                    f"{f}_{surname}",
                    f"{surname}.{f}",
                )
            )
            domain = rng.choice(EMAIL_DOMAINS)
        candidate = local
        # Gmail ignores dots, so reserve the dotless form too: two different people must never
        # collapse into one address under the Gmail rule.
        while self.taken(candidate, domain):
            candidate = f"{local}{rng.randint(2, 999)}"
        return f"{candidate}@{domain}"

    def taken(self, local: str, domain: str) -> bool:
        """Whether the address is in use already; reserves it when it is not."""
        key = f"{local.replace('.', '')}@{domain}" if domain == "gmail.com" else f"{local}@{domain}"
        if key in self.emails:
            return True
        self.emails.add(key)
        return False

    def phone(self) -> str:
        rng = self.rng
        while True:
            exchange = rng.randint(200, 999)
            # N11 exchanges are service codes and 555 is the fiction exchange: both fail validation.
            if exchange % 100 == 11 or exchange == 555:
                continue
            digits = f"{rng.choice(AREA_CODES)}{exchange}{rng.randint(0, 9999):04d}"
            if digits not in self.phones:
                self.phones.add(digits)
                return digits

    def address(self) -> Address:
        return random_address(self.rng)

    # -- profiles -----------------------------------------------------------------------------

    def profile(self, person: Person, kind: str, first: str | None = None) -> Profile:
        first = first or person.first  # the code starts with the name the cashier typed
        code = f"{first}-{code4(self.rng)}"
        while code in self.codes:
            code = f"{first}-{code4(self.rng)}"
        self.codes.add(code)
        prof = Profile(person, kind, new_uuid(self.rng), code)
        self.profiles.append(prof)
        return prof

    def set_phone(self, prof: Profile, value: str) -> None:
        roll = self.rng.random()
        if roll < 0.55:
            prof.mobile = value
        elif roll < 0.9:
            prof.phone = value
        else:
            prof.phone = value
            prof.mobile = value

    def phone_value(self, digits: str) -> str:
        return format_phone(digits, self.rng.randrange(5))

    def when_first_seen(self) -> int:
        rng = self.rng
        if rng.random() < 0.45:
            return rng.randint(self.opened + 20 * DAY, self.start)
        # More people join in the busy seasons: keep a draw in proportion to how busy.
        for _ in range(20):
            ts = rng.randint(self.start, self.anchor - HOUR)
            if rng.random() * 1.6 < season(ts):
                return ts
        return ts

    def new_person(self, role: str, room: int) -> Person:
        rng = self.rng
        female = rng.random() < 0.52
        first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
        person = Person(f"P{len(self.persons) + 1:06d}", first, rng.choice(LAST_NAMES), role)
        self.persons.append(person)
        relation = self.noise.relate(person, female) if self.noise is not None else None
        if relation is not None:
            female = relation.female
        person.home_outlet = 0 if rng.random() < 0.6 else 1
        person.weight = 0.0 if rng.random() < 0.15 else rng.lognormvariate(0.0, 0.9)
        person.spend = min(3.0, rng.lognormvariate(0.0, 0.4))
        real_email: str | None = self.email(person.first, person.last)
        digits: str | None = self.phone() if rng.random() < 0.8 else None
        primary = self.profile(person, "primary")
        person.pos_profiles.append(primary)
        primary.created_ts = self.when_first_seen()
        primary.gender = ("F" if female else "M") if rng.random() < 0.5 else None
        if rng.random() < 0.4:
            year = rng.randint(1950, 2003)
            primary.dob = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if rng.random() < 0.5:
            primary.address = self.address()
        primary.enable_loyalty = rng.random() < 0.62
        primary.do_not_email = rng.random() < 0.1
        if rng.random() < 0.03:
            primary.note = rng.choice(CUSTOMER_NOTES)

        pos_email: str | None = real_email
        if role.startswith("placeholder_email:"):
            pos_email = role.split(":", 1)[1]
        elif role.startswith("placeholder_phone:"):
            digits = None
            shared = role.split(":", 1)[1]
            # People type the shop's own number in every format; 0000000000 stays as it is.
            self.set_phone(primary, shared if shared == NO_PHONE else self.phone_value(shared))
            if rng.random() < 0.3:
                pos_email = None
        elif role == "staff":
            primary.group = "staff"
            primary.enable_loyalty = True
            person.weight = 1.5
        elif role == "wholesale":
            primary.group = "wholesale"
            primary.company = (
                f"{person.last} {rng.choice(('Wellness', 'Supply', 'Market', 'Co-op'))}"
            )
            primary.address = self.address()
            person.weight = 4.0
        elif rng.random() < 0.08:
            real_email = None
            digits = digits or self.phone()
            pos_email = None
        elif rng.random() < 0.15:
            # Signed up at the till without giving an email.
            pos_email = None
            digits = digits or self.phone()
        if pos_email is not None and pos_email == real_email and rng.random() < 0.08:
            pos_email = _shout(pos_email, rng)
        if relation is not None and self.noise is not None:
            pos_email, digits = self.noise.bind(relation, primary, pos_email, digits)
        primary.email = pos_email
        if digits is not None:
            self.set_phone(primary, self.phone_value(digits))
            person.ecom_phone = digits if rng.random() < 0.7 else None

        room -= 1
        if role == "regular" and room > 0:
            room -= self.plant_duplicate(person, primary, real_email, digits)
        if self.noise is not None:
            room -= self.noise.after_person(person, primary, real_email, digits, room)
        self.plan_online(person, primary, real_email, room, digits)
        return person

    def plant_duplicate(
        self, person: Person, primary: Profile, real_email: str | None, digits: str | None
    ) -> int:
        rng = self.rng
        roll = rng.random()
        if roll < 0.022 and primary.email:
            dup = self.profile(person, "case_email")
            dup.email = _shout(primary.email, rng, avoid=primary.email)
            if digits and rng.random() < 0.5:
                self.set_phone(dup, self.phone_value(digits))
        elif roll < 0.052 and digits:
            dup = self.profile(person, "phone_only")
            self.set_phone(dup, self.phone_value(digits))
        elif roll < 0.067 and digits and primary.email:
            dup = self.profile(person, "alt_email")
            dup.email = self.email(person.first, person.last)
            self.set_phone(dup, self.phone_value(digits))
        else:
            return 0
        self.settle_duplicate(person, primary, dup)
        return 1

    def settle_duplicate(self, person: Person, primary: Profile, dup: Profile) -> None:
        """A second profile appears some time into the history; staff merge a quarter."""
        rng = self.rng
        person.pos_profiles.append(dup)
        dup.enable_loyalty = rng.random() < 0.4
        span = self.anchor - self.start
        dup.active_from = rng.randint(self.start + span // 20, self.anchor - 2 * DAY)
        dup.created_ts = dup.active_from
        if rng.random() < 0.25 and dup.active_from + 3 * DAY < self.anchor - HOUR:
            # Staff merged it: the record is deleted, its older sales still point at it.
            dup.deleted_ts = rng.randint(dup.active_from + 2 * DAY, self.anchor - HOUR)
            dup.merged_into = primary.id

    def plan_online(
        self,
        person: Person,
        primary: Profile,
        real_email: str | None,
        room: int,
        digits: str | None,
    ) -> None:
        rng = self.rng
        if real_email is None or rng.random() >= 0.35:
            return
        person.p_online = rng.uniform(0.2, 0.6) if rng.random() < 0.6 else rng.uniform(0.8, 1.0)
        person.ecom_email = real_email
        person.ecom_profile = primary
        pos_email = (primary.email or "").lower()
        if person.role in ("staff", "wholesale"):
            return
        local = real_email.split("@", 1)[0]
        kind = ""
        if pos_email != real_email:
            kind = "ecom_created"
        elif real_email.endswith("@gmail.com") and "." in local and rng.random() < 0.35:
            kind = "ecom_gmail_dots"
            person.ecom_email = f"{local.replace('.', '')}@gmail.com"
        elif rng.random() < 0.1:
            kind = "ecom_created"
            person.ecom_email = self.email(person.first, person.last)
        if not kind:
            return
        # A profile the eCom integration creates shares no email with the till's profile;
        # only the phone on the person's orders ties the two together. Plant one only when
        # that evidence exists, so the generator's truth stays knowable from the data.
        if digits is None:
            room = 0
        else:
            person.ecom_phone = digits
        if room <= 0 or self.flag_budget <= 0:
            # No room for another profile: this person simply never shops online.
            person.p_online = 0.0
            person.ecom_email = None
            person.ecom_profile = None
            return
        self.flag_budget -= 1
        prof = self.profile(person, kind)
        prof.email = person.ecom_email
        prof.enable_loyalty = rng.random() < 0.3
        if rng.random() < 0.1:
            # Typed by the customer at checkout, not by a cashier.
            person.ecom_name = person.ecom_name.lower()
            prof.first_name = person.first.lower()
            prof.last_name = person.last.lower()
        prof.active_from = NOT_SYNCED_YET  # becomes the first synced order's time
        person.ecom_profile = prof
        person.ecom_ready = False


def random_address(rng: random.Random) -> Address:
    city, state, zip_prefix = rng.choice(CITIES)
    street = f"{rng.randint(100, 9899)} {rng.choice(STREETS)}"
    return street, city, state, f"{zip_prefix}{rng.randint(0, 99):02d}"


def _shout(email: str, rng: random.Random, avoid: str = "") -> str:
    """The same address in other letter case, as a cashier might type it."""
    local, domain = email.split("@", 1)
    options = [
        f"{local.title()}@{domain}",
        f"{local.title()}@{domain.title()}",
        email.upper(),
        f"{local.capitalize()}@{domain}",
    ]
    options = [o for o in options if o != avoid and o != email and o.lower() == email.lower()]
    return rng.choice(options) if options else email.upper()


def build_people(
    rng: random.Random,
    *,
    customers: int,
    flag_budget: int,
    start: int,
    anchor: int,
    opened: int,
    store_phone: str,
    noise: IdentityHooks | None = None,
) -> People:
    """Exactly ``customers`` profiles (eCom-created and noise ones included) spread over
    people."""
    builder = _Builder(rng, start, anchor, opened, store_phone)
    builder.flag_budget = flag_budget
    builder.noise = noise
    if noise is not None:
        noise.attach(builder)
    share = max(1, customers // 25)
    per_placeholder = min(max(12, round(customers * 0.012)), share)
    roles = ["staff"] * min(5, max(1, customers // 400))
    roles += ["wholesale"] * min(share, max(2, round(customers * 0.006)))
    placeholder_phones = [NO_PHONE, store_phone]
    for email in PLACEHOLDER_EMAILS:
        roles += [f"placeholder_email:{email}"] * per_placeholder
    for digits in placeholder_phones:
        roles += [f"placeholder_phone:{digits}"] * per_placeholder
    rng.shuffle(roles)
    while len(builder.profiles) < customers:
        role = roles.pop() if roles else "regular"
        builder.new_person(role, customers - len(builder.profiles))
    people = People(
        persons=builder.persons,
        profiles=builder.profiles,
        staff=[p for p in builder.persons if p.role == "staff"],
        placeholder_phones=placeholder_phones,
    )
    for person in people.persons:
        instore_weight = person.weight * (1.0 - person.p_online)
        if instore_weight > 0:
            people.instore.append(person)
            people.instore_cum.append(instore_weight)
        if person.p_online > 0 and person.weight > 0:
            people.online.append(person)
            people.online_cum.append(person.weight * person.p_online)
        if not person.ecom_ready:
            people.flagged.append(person)
    people.instore_cum = list(accumulate(people.instore_cum))
    people.online_cum = list(accumulate(people.online_cum))
    return people
