"""Identity noise: the duplicates and look-alikes that no exact key can sort out.

The people module plants duplicates an exact email or phone finds. Real customer lists
also hold the messier kinds, each planted here at its own rate (per person, or per eCom
order for guest checkouts):

- ``typo_email``: a second profile whose email has one typo (a misspelt domain, a
  dropped letter, two swapped letters); usually no phone, so only the name ties it.
- ``second_email``: a second profile with another real email (often a work address),
  the same name and address, no shared phone.
- ``other_phone``: a second profile with another phone, no email, same name and address.
- ``nickname``: a second profile under a nickname (Kate for Katherine), sharing the
  email or phone, or only the address.
- ``married_name``: a second profile under another last name, sharing the phone or
  only the address.
- ``name_case``: a second profile whose name is in other case or with(out) accents,
  sharing the email or phone.
- ``household``: a new person sharing an email or a phone (never a placeholder) with an
  earlier one, usually with the same last name and address: two persons.
- ``namesake``: a new person with an earlier person's first and last name, sharing
  nothing else: two persons. (The name lists are short, so chance namesakes occur too;
  only the planted ones are listed in the truth.)
- ``guest_checkout``: an eCom order by a known person under a one-off email. Its
  X-Series twin still lands on the person's profile (the profile count is fixed), as if
  staff had attached it; the order's truth is the person.

A kind rolled for a person it cannot apply to (a nickname for a name without one) is
owed to the next person it fits, so each kind lands at about its rate per person.

Every draw comes from a stream of its own (``{seed}:identity``): with the noise off the
main stream, and so the store, is what it was without this module. Noise profiles use
the room the people builder tracks, so the profile count stays exact.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from greenloop.simulator.generator_people import Person, Profile, Relation, random_address
from greenloop.simulator.names import EMAIL_DOMAINS, FIRST_NAMES_F, FIRST_NAMES_M, LAST_NAMES

if TYPE_CHECKING:
    from greenloop.simulator.generator_people import _Builder

__all__ = ["DUPLICATE_KINDS", "IdentityNoise", "NoiseRates"]

Address = tuple[str, str, str, str]

DUPLICATE_KINDS = (
    "typo_email",
    "second_email",
    "other_phone",
    "nickname",
    "married_name",
    "name_case",
)
RELATION_KINDS = ("household", "namesake")


def _pairs(text: str) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v.split("/")) for k, v in (w.split("=") for w in text.split())}


# The simulator keeps its own tables: the product has its own, and a test that shared
# them would only check a list against itself. Each entry is NAME=VARIANT/VARIANT.
_NICKNAMES = _pairs(
    "Abigail=Abby/Gail Alex=Alexander Amelia=Millie/Amy Andrea=Andie Andrew=Andy/Drew "
    "Angela=Angie Anthony=Tony August=Gus Beatrice=Bea/Trixie Ben=Benjamin Cameron=Cam "
    "Caroline=Carrie/Carol Cassidy=Cass Daniel=Dan/Danny David=Dave/Davey Dominic=Dom/Nick "
    "Eleanor=Ellie/Nell Elena=Lena Elias=Eli Eliza=Elizabeth/Liz Elizabeth=Liz/Beth/Lizzie "
    "Esther=Essie Gabriela=Gabby/Gabi Henry=Hank/Harry Isaac=Ike Isabel=Izzy/Bella Jack=John "
    "James=Jim/Jimmy/Jamie Jasmine=Jas/Jazz Joanna=Jo/Joanne Josie=Josephine Julia=Julie "
    "Julian=Jules Kate=Katherine/Katie Katherine=Kate/Kathy/Katie Laura=Laurie Lucas=Luke "
    "Lucia=Lucy Marcus=Marc Megan=Meg Michael=Mike/Mikey Natalie=Nat Nathan=Nate Olivia=Liv/Livvy "
    "Penelope=Penny Robert=Bob/Rob/Bobby Samuel=Sam/Sammy Sofia=Sophie Theo=Theodore/Teddy "
    "Tobias=Toby Valerie=Val Victor=Vic Wesley=Wes William=Bill/Will/Billy"
)
# The same names as they are often written with accents.
_ACCENTED = {
    plain: variants[0]
    for plain, variants in _pairs(
        "Adrian=Adrián Alvarez=Álvarez Andre=André Angel=Ángel Angela=Ángela Beatrice=Béatrice "
        "Chloe=Chloë Elias=Elías Eric=Éric Felix=Félix Garcia=García Hector=Héctor Joel=Joël "
        "Julian=Julián Lena=Léna Leo=Léo Lucia=Lucía Luis=Luís Nadia=Nádia Nguyen=Nguyễn "
        "Penelope=Penélope Pham=Phạm Rios=Ríos Simon=Simón Sofia=Sofía Theo=Théo Tobias=Tobías "
        "Tran=Trần Valerie=Valérie Victor=Víctor Zoe=Zoë"
    ).items()
}
_DOMAIN_TYPOS = {
    "gmail.com": ("gmial.com", "gmail.co", "gmai.com", "gmil.com", "gmail.con"),
    "yahoo.com": ("yaho.com", "yahooo.com", "yhoo.com"),
    "hotmail.com": ("hotmial.com", "hotmail.co", "hotmal.com"),
    "outlook.com": ("outlok.com", "outloook.com", "outlook.co"),
    "example.com": ("exmaple.com", "example.co", "exampel.com"),
    "example.org": ("exmaple.org", "example.or"),
    "example.net": ("exmaple.net", "example.ne"),
}
_COMPANY_DOMAINS = (
    "cedarworks.example",
    "northfield-health.example",
    "bluepeak-design.example",
    "riverbend-schools.example",
    "harborlogistics.example",
    "sunridge-dental.example",
)
_FEMALE = frozenset(FIRST_NAMES_F)


@dataclass(frozen=True)
class NoiseRates:
    """How often each kind is planted: per person, guest checkouts per eCom order."""

    typo_email: float = 0.0
    second_email: float = 0.0
    other_phone: float = 0.0
    nickname: float = 0.0
    married_name: float = 0.0
    name_case: float = 0.0
    household: float = 0.0
    namesake: float = 0.0
    guest_checkout: float = 0.0

    def any(self) -> bool:
        return any(v > 0 for v in asdict(self).values())


@dataclass
class _Known:
    person: Person
    primary: Profile
    email: str | None  # the person's real email when the primary shows it
    digits: str | None


class IdentityNoise:
    def __init__(self, seed: int, rates: NoiseRates) -> None:
        self.rng = random.Random(f"{seed}:identity")
        self.rates = rates
        self._rate = asdict(rates)
        self.owed: Counter[str] = Counter()
        self.kinds: dict[str, str] = {}
        self.lookalikes: list[list[str]] = []
        self.guest_orders: list[str] = []
        self._known: list[_Known] = []
        self._sharers: list[_Known] = []  # known people with a real email or phone to share
        self._builder: _Builder | None = None

    def attach(self, builder: _Builder) -> None:
        self._builder = builder

    @property
    def builder(self) -> _Builder:
        assert self._builder is not None, "attach the people builder first"
        return self._builder

    def truth(self) -> dict[str, Any]:
        return {
            "kinds": dict(self.kinds),
            "lookalikes": [list(pair) for pair in self.lookalikes],
            "guest_orders": list(self.guest_orders),
            "rates": dict(self._rate),
        }

    def _roll(self, kinds: tuple[str, ...]) -> None:
        roll = self.rng.random()
        for kind in kinds:
            if roll < self._rate[kind]:
                self.owed[kind] += 1
                return
            roll -= self._rate[kind]

    # -- households and namesakes: new persons beside earlier ones ---------------------------

    def relate(self, person: Person, female: bool) -> Relation | None:
        """Maybe make the new person a household member or namesake of an earlier one
        (renaming them before anything is built from the name)."""
        self._roll(RELATION_KINDS)
        if person.role != "regular":
            return None
        rng = self.rng
        if self.owed["household"] and self._sharers:
            self.owed["household"] -= 1
            known = rng.choice(self._sharers)
            partner = known.person
            female = partner.first not in _FEMALE if rng.random() < 0.7 else female
            names = [n for n in (FIRST_NAMES_F if female else FIRST_NAMES_M) if n != partner.first]
            person.first = rng.choice(names)
            if rng.random() < 0.85:
                person.last = partner.last
            relation = Relation("household", partner, known.primary, female)
            if known.email and (known.digits is None or rng.random() < 0.4):
                relation.email = known.primary.email
            else:
                relation.digits = known.digits
        elif self.owed["namesake"] and self._known:
            self.owed["namesake"] -= 1
            known = rng.choice(self._known)
            person.first, person.last = known.person.first, known.person.last
            female = person.first in _FEMALE
            relation = Relation("namesake", known.person, known.primary, female)
        else:
            return None
        person.ecom_name = f"{person.first} {person.last}"
        return relation

    def bind(
        self,
        relation: Relation,
        primary: Profile,
        pos_email: str | None,
        digits: str | None,
    ) -> tuple[str | None, str | None]:
        """Share what the household shares; returns the primary's email and phone digits."""
        self.kinds[primary.id] = relation.kind
        self.lookalikes.append([relation.partner_primary.id, primary.id, relation.kind])
        if relation.kind == "namesake":
            return pos_email, digits
        if self.rng.random() < 0.85:
            primary.address = self._address(relation.partner_primary)
        if relation.email is not None:
            return relation.email, digits
        return pos_email, relation.digits

    # -- second profiles of the same person ---------------------------------------------------

    def after_person(
        self,
        person: Person,
        primary: Profile,
        real_email: str | None,
        digits: str | None,
        room: int,
    ) -> int:
        """Maybe plant one messy second profile; returns how many profiles it added."""
        self._roll(DUPLICATE_KINDS)
        if person.role != "regular" or primary.id in self.kinds:
            return 0
        own = real_email if (primary.email or "").lower() == real_email else None
        known = _Known(person, primary, own, digits)
        self._known.append(known)
        if own or digits:
            self._sharers.append(known)
        if room <= 0:
            return 0
        builder = self.builder
        for kind in DUPLICATE_KINDS:
            if self.owed[kind] <= 0:
                continue
            with builder.drawing_from(self.rng):
                dup = self._plant(kind, known)
                if dup is None:
                    continue
                self.owed[kind] -= 1
                self.kinds[dup.id] = kind
                builder.settle_duplicate(person, primary, dup)
            return 1
        return 0

    def _plant(self, kind: str, known: _Known) -> Profile | None:
        person, primary, email, digits = known.person, known.primary, known.email, known.digits
        rng, builder = self.rng, self.builder
        if kind == "typo_email":
            typo = self._typo(email) if email else None
            if typo is None:
                return None
            dup = builder.profile(person, kind)
            dup.email = typo
            if digits and rng.random() < 0.15:
                builder.set_phone(dup, builder.phone_value(digits))
            if rng.random() < 0.4:
                dup.address = primary.address
        elif kind == "second_email":
            if not email:
                return None
            dup = builder.profile(person, kind)
            dup.email = self._other_email(person)
            dup.address = self._address(primary)
        elif kind == "other_phone":
            dup = builder.profile(person, kind)
            builder.set_phone(dup, builder.phone_value(builder.phone()))
            dup.address = self._address(primary)
        elif kind == "nickname":
            names = _NICKNAMES.get(person.first)
            if not names:
                return None
            nickname = rng.choice(names)
            dup = builder.profile(person, kind, first=nickname)
            dup.first_name = nickname
            self._share_one(dup, primary, email, digits, or_address=0.4)
        elif kind == "married_name":
            dup = builder.profile(person, kind)
            dup.last_name = rng.choice([n for n in LAST_NAMES if n != person.last])
            if digits and rng.random() < 0.6:
                builder.set_phone(dup, builder.phone_value(digits))
                if rng.random() < 0.5:
                    dup.address = primary.address
            else:
                dup.address = self._address(primary)
        else:  # name_case
            if not (email or digits):
                return None
            if not ({person.first, person.last} & _ACCENTED.keys()) and rng.random() < 0.6:
                # Wait for a name that takes accents now and then: few names here do.
                return None
            first, last = self._restyled(primary, person)
            dup = builder.profile(person, kind)  # codes stay plain ASCII
            dup.first_name, dup.last_name = first, last
            self._share_one(dup, primary, email, digits, or_address=0.0)
        return dup

    def _share_one(
        self,
        dup: Profile,
        primary: Profile,
        email: str | None,
        digits: str | None,
        *,
        or_address: float,
    ) -> None:
        """Give ``dup`` the person's email or phone, or (at ``or_address``) only the address."""
        rng, builder = self.rng, self.builder
        if not (email or digits) or rng.random() < or_address:
            dup.address = self._address(primary)
        elif email and (digits is None or rng.random() < 0.5):
            dup.email = email
        else:
            assert digits is not None
            builder.set_phone(dup, builder.phone_value(digits))

    def _restyled(self, primary: Profile, person: Person) -> tuple[str, str]:
        """The name in other case, or with accents where the primary has none (or the
        other way round: then the primary gets them)."""
        rng = self.rng
        first, last = person.first, person.last
        accented = (_ACCENTED.get(first, first), _ACCENTED.get(last, last))
        if accented != (first, last) and rng.random() < 0.85:
            if rng.random() < 0.5:
                return accented
            primary.first_name, primary.last_name = accented
            return first, last
        roll = rng.random()
        if roll < 0.5:
            return first.upper(), last.upper()
        if roll < 0.8:
            return first.lower(), last.lower()
        return first.upper(), last

    def _address(self, primary: Profile) -> Address:
        """The primary's address, giving it one first if it has none."""
        if primary.address is None:
            primary.address = random_address(self.rng)
        return primary.address

    # -- emails ----------------------------------------------------------------------------------

    def _typo(self, email: str) -> str | None:
        """``email`` with one typo nobody uses yet, or None if none could be made."""
        rng = self.rng
        local, domain = email.lower().split("@", 1)
        for _attempt in range(12):
            roll = rng.random()
            new_local, new_domain = local, domain
            if roll < 0.4 and domain in _DOMAIN_TYPOS:
                new_domain = rng.choice(_DOMAIN_TYPOS[domain])
            elif roll < 0.7:
                spots = [i for i, ch in enumerate(local) if ch.isalpha()]
                if len(local) < 4 or not spots:
                    continue
                i = rng.choice(spots)
                new_local = local[:i] + local[i + 1 :]
            else:
                spots = [
                    i
                    for i in range(len(local) - 1)
                    if local[i].isalpha() and local[i + 1].isalpha() and local[i] != local[i + 1]
                ]
                if not spots:
                    continue
                i = rng.choice(spots)
                new_local = local[:i] + local[i + 1] + local[i] + local[i + 2 :]
            if new_local.startswith(".") or new_local.endswith(".") or ".." in new_local:
                continue
            if not self.builder.taken(new_local, new_domain):
                return f"{new_local}@{new_domain}"
        return None

    def _other_email(self, person: Person) -> str:
        """A work address (first.last@company), or else another personal one."""
        rng, builder = self.rng, self.builder
        if rng.random() < 0.5:
            return builder.email(person.first, person.last)
        first, last = person.first.lower(), person.last.lower()
        domain = rng.choice(_COMPANY_DOMAINS)
        local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}"))
        candidate = local
        while builder.taken(candidate, domain):
            candidate = f"{local}{rng.randint(2, 99)}"
        return f"{candidate}@{domain}"

    # -- guest checkouts -------------------------------------------------------------------------

    def guest(
        self, order_number: str, person: Person, allowed: bool
    ) -> tuple[str, str | None] | None:
        """The email and phone of a guest checkout, or None for an ordinary order (always
        when not ``allowed``: a guest checkout rolled then goes to a later order)."""
        rng = self.rng
        self._roll(("guest_checkout",))
        if not allowed or not self.owed["guest_checkout"]:
            return None
        self.owed["guest_checkout"] -= 1
        first, last = person.first.lower(), person.last.lower()
        while True:
            # Always a number in it: the desk's fallback addresses never carry one. The
            # builder's register holds every profile and order address made so far.
            domain = rng.choice(("gmail.com", *EMAIL_DOMAINS))
            local = rng.choice(
                (
                    f"{first[0]}{last}{rng.randint(1955, 2006)}",
                    f"{first}{rng.randint(10, 9999)}",
                    f"{first}.{last}.{rng.randint(10, 999)}",
                    f"{last}{first[0]}{rng.randint(1, 99)}",
                )
            )
            if not self.builder.taken(local, domain):
                break
        self.guest_orders.append(order_number)
        phone = f"+1{person.ecom_phone}" if person.ecom_phone and rng.random() < 0.5 else None
        return f"{local}@{domain}", phone
