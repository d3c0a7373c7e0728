"""Deterministic generator of a whole X-Series store for the simulator.

``generate_store(GeneratorConfig(seed=…))`` builds a retailer with two outlets, four
tills and one online register, a few users, the customer groups the old tier scripts
left behind, customers built from people (with planted duplicates and placeholders),
a year of sales, the products they sell and the eCom orders behind the online ones. One
``random.Random`` drives everything (the dice that leave ``total_price_incl`` out of some
sales have their own, seeded from the same seed), so the same config gives the same
store byte for byte.

Shape of the history, from oldest to newest: the shop opened well before the history
starts; the eCom store goes live on day one (its first few orders are staff tests);
the eCom → X-Series integration goes live a little later (older orders never sync); the
integration starts writing the X-Series sale id back to eCom about halfway through; the
newest few orders have not reached X-Series yet.
"""

from __future__ import annotations

import gc
import random
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

from greenloop.simulator.catalogue import catalogue_product
from greenloop.simulator.generator_base import DAY, HOUR, ZERO, below, central_offset, iso
from greenloop.simulator.generator_customers import finish_customers
from greenloop.simulator.generator_ecom import EcomDesk
from greenloop.simulator.generator_life import LifeParams
from greenloop.simulator.generator_lives import Lives, future_truth, simulate_lives
from greenloop.simulator.generator_noise import DUPLICATE_KINDS, IdentityNoise, NoiseRates
from greenloop.simulator.generator_people import (
    NO_PHONE,
    PLACEHOLDER_EMAILS,
    People,
    Person,
    build_people,
)
from greenloop.simulator.generator_sales import SaleFactory, SaleRec
from greenloop.simulator.generator_shop import STORE_PHONE, Setup, build_setup
from greenloop.simulator.model import StoreData

__all__ = ["GeneratorConfig", "generate_store"]

Obj = dict[str, Any]

_WALKIN, _INSTORE = 0, 1
# eCom event kinds, named as the order's ``sync_state``
_ECOM_KINDS = ("test_order", "pre_integration", "synced", "zero_gift_card", "lagging")
_RETURN_SHARE = 0.02
_WALKIN_SHARE = 0.18
_SALES_PER_PROFILE_YEAR = 3
_TEST_ORDERS = 4
# Busier at the weekend; Monday to Sunday.
_WEEKDAY_WEIGHT = (0.85, 0.8, 0.9, 1.0, 1.25, 1.35, 1.0)


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 7
    customers: int = 2000  # number of X-Series customer profiles (approximately, ±2%)
    days: int = 365  # length of the sales history
    # Total X-Series sales; None: about 3 per profile per 365 days, scaled by days, plus walk-ins.
    sales: int | None = None
    anchor: datetime | None = None  # tz-aware UTC end of the history; None: today 00:00 UTC
    ecom_share: float = 0.2  # share of purchases made online
    # The N most recent synced-eligible eCom orders have no X-Series twin yet.
    unsynced_recent_orders: int = 3
    # Share of sales served without ``total_price_incl``, which is in neither the 2.0 Sale
    # schema nor the reference, so clients must fall back to total_price + total_tax. The
    # field always equals that sum here, so leaving it out changes no total.
    omit_total_price_incl: float = 0.1
    # Customer lifecycles (generator_life): who buys when, and for how long. The volume
    # above sets how many sales there are; these set their shape.
    future_days: int = 365  # the process runs this far past the anchor: the truth
    regular_share: float = 0.1  # buyers who come about weekly
    occasional_share: float = 0.34  # buyers who come about monthly; the rest: the long tail
    regular_gap_days: float = 8.0
    occasional_gap_days: float = 30.0
    tail_gap_days: float = 150.0
    one_time_share: float = 0.45  # buyers whose first visit is their last
    churn_per_year: float = 0.35  # hazard of stopping per year, once settled
    bad_experience: float = 0.05  # visits after which stopping is four times likelier
    comeback_share: float = 0.12  # of those who stop, share who return after a long gap
    # Identity noise (generator_noise): duplicates and look-alikes no exact key sorts out.
    # Per person, each a person's second profile; most duplicates above stay exact ones.
    typo_email_rate: float = 0.008  # one typo in the email, usually no phone
    second_email_rate: float = 0.006  # another real email (often work), same name and address
    other_phone_rate: float = 0.006  # another phone, no email, same name and address
    nickname_rate: float = 0.005  # Kate for Katherine, with the email, phone or address
    married_name_rate: float = 0.004  # another last name, with the phone or address
    name_case_rate: float = 0.005  # ANNA, anna, José/Jose, with the email or phone
    # Per person, a new person beside an earlier one: two persons who look alike.
    household_rate: float = 0.01  # shares an email or phone, usually the last name, address
    namesake_rate: float = 0.003  # the same first and last name, nothing else shared
    guest_checkout_rate: float = 0.02  # per eCom order: a one-off email of a known person
    identity_noise: float = 1.0  # scales every rate above; 0 turns the noise off

    @property
    def noise_rates(self) -> NoiseRates:
        """The identity noise rates in use, ``identity_noise`` applied."""
        scale = self.identity_noise
        return NoiseRates(
            typo_email=self.typo_email_rate * scale,
            second_email=self.second_email_rate * scale,
            other_phone=self.other_phone_rate * scale,
            nickname=self.nickname_rate * scale,
            married_name=self.married_name_rate * scale,
            name_case=self.name_case_rate * scale,
            household=self.household_rate * scale,
            namesake=self.namesake_rate * scale,
            guest_checkout=self.guest_checkout_rate * scale,
        )

    @property
    def life(self) -> LifeParams:
        return LifeParams(
            regular_share=self.regular_share,
            occasional_share=self.occasional_share,
            regular_gap_days=self.regular_gap_days,
            occasional_gap_days=self.occasional_gap_days,
            tail_gap_days=self.tail_gap_days,
            one_time_share=self.one_time_share,
            churn_per_year=self.churn_per_year,
            bad_experience=self.bad_experience,
            comeback_share=self.comeback_share,
        )

    def __post_init__(self) -> None:
        if self.customers < 0:
            raise ValueError("customers must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.sales is not None and self.sales < 0:
            raise ValueError("sales must be >= 0")
        if not 0.0 <= self.ecom_share <= 1.0:
            raise ValueError("ecom_share must be between 0 and 1")
        if not 0.0 <= self.omit_total_price_incl <= 1.0:
            raise ValueError("omit_total_price_incl must be between 0 and 1")
        if self.unsynced_recent_orders < 0:
            raise ValueError("unsynced_recent_orders must be >= 0")
        if self.anchor is not None and self.anchor.utcoffset() is None:
            raise ValueError("anchor must be timezone-aware")
        if self.future_days < 0:
            raise ValueError("future_days must be >= 0")
        shares = ("regular_share", "occasional_share", "one_time_share", "bad_experience")
        for name in (*shares, "comeback_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.regular_share + self.occasional_share > 1.0:
            raise ValueError("regular_share + occasional_share must be at most 1")
        for name in ("regular_gap_days", "occasional_gap_days", "tail_gap_days"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.churn_per_year < 0:
            raise ValueError("churn_per_year must be >= 0")
        self._check_noise()

    def _check_noise(self) -> None:
        if self.identity_noise < 0:
            raise ValueError("identity_noise must be >= 0")
        rates = self.noise_rates
        for kind in (*DUPLICATE_KINDS, "household", "namesake", "guest_checkout"):
            if not 0.0 <= getattr(self, f"{kind}_rate") <= 1.0:
                raise ValueError(f"{kind}_rate must be between 0 and 1")
        # One roll per person picks at most one kind of each group, so a group's scaled
        # rates must fit in one.
        groups = {
            "the duplicate rates": [getattr(rates, k) for k in DUPLICATE_KINDS],
            "household_rate + namesake_rate": [rates.household, rates.namesake],
            "guest_checkout_rate": [rates.guest_checkout],
        }
        for name, values in groups.items():
            if sum(values) > 1.0:
                raise ValueError(f"identity_noise × {name} must add up to at most 1")


@dataclass(frozen=True)
class _Volumes:
    walkins: int
    instore: int
    synced: int
    returns: int
    lagging: int


def _volumes(config: GeneratorConfig) -> _Volumes:
    total = config.sales
    if total is None:
        per_profile = config.customers * _SALES_PER_PROFILE_YEAR * config.days / 365
        total = round(per_profile / (1 - _WALKIN_SHARE) / (1 - _RETURN_SHARE))
    returns = round(total * _RETURN_SHARE)
    base = total - returns
    walkins = round(base * _WALKIN_SHARE)
    synced = round((base - walkins) * config.ecom_share)
    lagging = config.unsynced_recent_orders if config.ecom_share > 0 else 0
    return _Volumes(walkins, base - walkins - synced, synced, returns, lagging)


class _Calendar:
    """Picks sale times: busier days weigh more, and times fall within given local hours."""

    def __init__(self, rng: random.Random, start: int, anchor: int) -> None:
        self.rng = rng
        self.first_day = start // DAY
        last_day = (anchor - 1) // DAY
        span = max(1, last_day - self.first_day)
        weights = []
        for i in range(last_day - self.first_day + 1):
            weekday = (self.first_day + i + 3) % 7  # 1970-01-01 was a Thursday
            weights.append(_WEEKDAY_WEIGHT[weekday] * (1.0 + 0.3 * i / span))
        self.cum = list(accumulate(weights))
        self._midnights: dict[int, int] = {}

    def local_midnight(self, day: int) -> int:
        ts = self._midnights.get(day)
        if ts is None:
            ts = day * DAY - central_offset(day * DAY + 12 * HOUR)
            self._midnights[day] = ts
        return ts

    def times(self, n: int, lo: int, hi: int, opens: int, closes: int) -> list[int]:
        """``n`` times in [lo, hi), each within opening hours [opens, closes) store time."""
        if n <= 0:
            return []
        hi = max(hi, lo + 1)
        rng, cum = self.rng, self.cum
        i0 = max(0, lo // DAY - 1 - self.first_day)
        i1 = min(len(cum) - 1, (hi - 1) // DAY - self.first_day)
        base = cum[i0 - 1] if i0 > 0 else 0.0
        width = cum[i1] - base
        out = []
        for _ in range(n):
            for _attempt in range(30):
                idx = bisect_right(cum, base + rng.random() * width, i0, i1 + 1)
                midnight = self.local_midnight(self.first_day + min(idx, i1))
                ts = midnight + opens * HOUR + below(rng, (closes - opens) * HOUR)
                if lo <= ts < hi:
                    break
            else:
                ts = rng.randint(lo, hi - 1)
            out.append(ts)
        return out


def _anchor_ts(anchor: datetime | None) -> int:
    if anchor is None:
        anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(anchor.timestamp())


@contextmanager
def _collector_paused() -> Iterator[None]:
    # Building millions of small acyclic dicts sets off full garbage collections that free
    # nothing and more than double the run time; pause the collector while building.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def generate_store(config: GeneratorConfig) -> StoreData:
    """A complete, internally consistent store; same config, same store."""
    with _collector_paused():
        return _generate(config)


def _generate(config: GeneratorConfig) -> StoreData:
    rng = random.Random(config.seed)
    anchor = _anchor_ts(config.anchor)
    start = anchor - config.days * DAY
    span = anchor - start
    opened = start - 420 * DAY
    integration_start = start + min(
        max(DAY, round(span * 0.12) // DAY * DAY) + 15 * HOUR, span // 2
    )
    hint_start = start + round(span * 0.55)
    year_start = int(
        datetime(datetime.fromtimestamp(anchor - 1, UTC).year, 1, 1, tzinfo=UTC).timestamp()
    )

    setup = build_setup(rng, opened=opened, start=start, anchor=anchor)
    volumes = _volumes(config)
    rates = config.noise_rates
    noise = IdentityNoise(config.seed, rates) if rates.any() else None
    people = build_people(
        rng,
        customers=config.customers,
        flag_budget=volumes.synced // 2,
        start=start,
        anchor=anchor,
        opened=opened,
        store_phone=STORE_PHONE,
        noise=noise,
    )
    calendar = _Calendar(rng, start, anchor)
    until = anchor + config.future_days * DAY
    lives = simulate_lives(
        rng,
        config.life,
        people,
        (volumes.walkins, volumes.instore, volumes.synced, volumes.lagging),
        (start, integration_start, anchor, until),
    )
    events = _schedule(rng, calendar, people, volumes, lives, start, anchor, integration_start)

    factory = SaleFactory(rng, setup.shop, setup.catalog, anchor, year_start)
    desk = EcomDesk(rng, factory, setup.catalog, anchor=anchor, hint_start=hint_start)
    desk.guest = noise.guest if noise is not None else None
    for ts, _seq, kind, person in events:
        if kind == _WALKIN:
            factory.instore(ts, None)
        elif kind == _INSTORE and person is not None:
            factory.instore(ts, person)
        elif person is not None:
            desk.order(ts, person, _ECOM_KINDS[kind - 2])
    # The integration writes the sale id back a little after the sale exists, so the newest
    # orders in an export never carry it yet.
    for orders in (desk.orders, [o for o in desk.orders if o["sync_state"] == "synced"]):
        if orders:
            orders[-1]["xseries_order_id"] = ""
    _sync_one_a_year_late(rng, desk.synced, anchor)
    made = factory.add_returns(volumes.returns)
    for ts in calendar.times(volumes.returns - made, start, anchor, 10, 21):
        factory.instore(ts, None)

    _number_invoices(rng, setup, factory.records, desk.pending)
    customers = finish_customers(rng, people, setup.group_ids, start, anchor)
    records = sorted(factory.records, key=lambda r: (r.updated_ts, r.created_ts, r.seq))
    _omit_total_price_incl(
        [*(r.sale for r in records), *(r.sale for r in desk.pending)],
        config.omit_total_price_incl,
        config.seed,
    )
    lifecycle = future_truth(config.seed, lives, people, setup, anchor, year_start)
    truth: Obj = {
        "lifecycle": lifecycle,
        "persons": {p.id: p.person.key for p in people.profiles},
        "ecom_person": desk.ecom_person,
        "placeholder_emails": list(PLACEHOLDER_EMAILS),
        "placeholder_phones": [NO_PHONE, STORE_PHONE],
        "ecom_source": setup.shop.ecom_source,
        "online_register_id": setup.shop.online_register_id,
        "integration_start": iso(integration_start),
        "hint_start": iso(hint_start),
        "anchor": iso(anchor),
        "pending_twins": [r.sale for r in desk.pending],
        "profile_kinds": {p.id: p.kind for p in people.profiles},
        "merged_into": {p.id: p.merged_into for p in people.profiles if p.merged_into},
        "store_phone": STORE_PHONE,
        "tax_rate": setup.catalog.tax_rate,
    }
    if noise is not None:
        # Absent with the noise off, so that store is byte for byte the one before noise.
        truth["identity"] = noise.truth()
    return StoreData(
        retailer=setup.retailer,
        outlets=setup.outlets,
        registers=setup.registers,
        users=setup.users,
        customer_groups=setup.groups,
        customers=customers,
        sales=[r.sale for r in records],
        products=_catalogue(setup, opened),
        ecom_orders=desk.orders,
        truth=truth,
    )


def _catalogue(setup: Setup, opened: int) -> list[Obj]:
    """Every product a sale names (the shelf, the eCom shipping line) and the retailer's
    discount product, on sale since the shop opened."""
    catalog, created = setup.catalog, iso(opened)
    products = [
        catalogue_product(
            product_id=p.id,
            name=p.name,
            sku=p.sku,
            price=p.price,
            tax_rate=catalog.tax_rate,
            supply_price=p.cost,
            created_at=created,
        )
        for p in catalog.products
    ]
    # Untaxed lines with a price set at the till, like the shipping product eCom creates.
    products.append(
        catalogue_product(
            product_id=catalog.shipping.id,
            name=catalog.shipping.name,
            sku="shipping",
            price=ZERO,
            tax_rate=ZERO,
            supply_price=ZERO,
            created_at=created,
            has_inventory=False,
        )
    )
    # [INF] X-Series keeps a product for whole-sale discounts; its handle is Vend's.
    products.append(
        catalogue_product(
            product_id=str(setup.retailer["discount_product_id"]),
            name="Discount",
            sku="vend-discount",
            price=ZERO,
            tax_rate=ZERO,
            supply_price=ZERO,
            created_at=created,
            has_inventory=False,
        )
    )
    products[-1]["handle"] = "vend-discount"
    return products


def _omit_total_price_incl(sales: list[Obj], share: float, seed: int) -> None:
    """Leave ``total_price_incl`` out of about ``share`` of the sales.

    The dice have their own generator (seeded from ``seed``), so the share changes
    nothing else in the store."""
    if share <= 0:
        return
    rng = random.Random(f"{seed}:total_price_incl")
    for sale in sales:
        if rng.random() < share:
            del sale["total_price_incl"]


def _schedule(
    rng: random.Random,
    calendar: _Calendar,
    people: People,
    volumes: _Volumes,
    lives: Lives,
    start: int,
    anchor: int,
    integration_start: int,
) -> list[tuple[int, int, int, Person | None]]:
    """Every purchase as (time, tie-breaker, kind, person), sorted by time: the people's
    visits from their lifecycles, walk-ins and the eCom store's own test orders."""
    walkins, synced, lagging = lives.walkins, lives.synced, lives.lagging
    events: list[tuple[int, int, int, Person | None]] = []

    def add(times: list[int], kind: int, persons: list[Person] | None) -> None:
        for i, ts in enumerate(times):
            events.append((ts, len(events), kind, persons[i] if persons else None))

    add(calendar.times(walkins, start, anchor, 10, 21), _WALKIN, None)
    add([ts for ts, _ in lives.instore_visits], _INSTORE, [p for _, p in lives.instore_visits])
    if not (synced or lagging):
        events.sort()
        return events

    online, cum = people.online, people.online_cum
    last = anchor - 120  # leaves room for the sync delay before the snapshot
    staff = people.staff[0] if people.staff else online[0]
    tests = [start + HOUR + i * 1_100 + rng.randint(0, 600) for i in range(_TEST_ORDERS)]
    add(tests, 2, [staff] * len(tests))
    pre_visits = [(ts, p) for ts, p in lives.pre_visits if ts >= tests[-1] + 600]
    add([ts for ts, _ in pre_visits], 3, [p for _, p in pre_visits])
    post = [ts for ts, _ in lives.post_visits]
    buyers = [p for _, p in lives.post_visits]
    # Everyone the integration must create a profile for gets at least one synced order:
    # one of their own visits if they made one, else someone else's online visit.
    flagged = set(people.flagged)
    seen = {p for p in buyers[:synced] if p in flagged}
    missing = [p for p in people.flagged if p not in seen]
    free = [i for i in range(synced) if buyers[i] not in flagged]
    for slot, person in zip(rng.sample(free, len(missing)), missing, strict=True):
        buyers[slot] = person
    add(post[:synced], 4, buyers[:synced])
    add(post[synced:], 6, buyers[synced:])
    zero = max(1, round(synced * 0.003)) if synced else 0
    add(
        calendar.times(zero, integration_start, last, 7, 24),
        5,
        rng.choices(online, cum_weights=cum, k=zero),
    )
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def _sync_one_a_year_late(rng: random.Random, synced: list[SaleRec], anchor: int) -> None:
    """One old order reached X-Series about a year after it was placed (a late re-sync)."""
    early = [r for r in synced[: max(1, len(synced) // 50)] if anchor - r.ts > 30 * DAY]
    if not early:
        return
    rec = rng.choice(early)
    rec.created_ts = rec.ts + min(365 * DAY, anchor - rec.ts - DAY) - rng.randint(0, 6 * HOUR)
    rec.updated_ts = max(rec.updated_ts, rec.created_ts)
    rec.sale["created_at"] = iso(rec.created_ts)
    rec.sale["updated_at"] = iso(rec.updated_ts)
    rec.returnable = False


def _number_invoices(
    rng: random.Random, setup: Setup, records: list[SaleRec], pending: list[SaleRec]
) -> None:
    """Each register numbers its sales in the order they were created."""
    by_register: dict[str, list[SaleRec]] = {r["id"]: [] for r in setup.registers}
    for rec in records:
        by_register[rec.sale["register_id"]].append(rec)
    online_id = setup.shop.online_register_id
    for register in setup.registers:
        recs = by_register[register["id"]]
        recs.sort(key=lambda r: (r.created_ts, r.seq))
        if register["id"] == online_id:
            numbers = [int(r.sale["source_id"]) for r in (*recs, *pending)]
            number = (min(numbers) if numbers else 1000) - rng.randint(3, 8)
        else:
            number = register["invoice_sequence"]
        served = len(recs)
        if register["id"] == online_id:
            recs += sorted(pending, key=lambda r: (r.created_ts, r.seq))
        last_issued = number
        for i, rec in enumerate(recs):
            number += 1
            if rec.sale.get("source_id") == str(number):
                number += 1  # never let the online counter coincide with the order number
            text = f"{register['invoice_prefix']}{number}{register['invoice_suffix']}"
            rec.sale["invoice_number"] = text
            rec.sale["receipt_number"] = text
            rec.sale["invoice_sequence"] = number
            if i < served:
                last_issued = number
        # Pending twins take later numbers when they arrive; the register shows what is issued.
        register["invoice_sequence"] = last_issued
