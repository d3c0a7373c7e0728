"""Everyone's lifecycle, fitted to the store's volume, and the truth after the anchor.

:func:`simulate_lives` runs :func:`~greenloop.simulator.generator_life.lifecycle` for
every buying person and calibrates one speed (a multiplier of every purchase rate) so
that the visits before the anchor cover the store's volume of sales (``sales`` or the
default per-profile rate) with a little to spare; it then keeps exactly that many,
chosen uniformly at random per channel. A uniform thinning keeps each person's rhythm,
seasonality and end; the visits after the anchor are thinned with the same share, so
the truth and the served history come from one process.

:func:`future_truth` prices the visits after the anchor with a generator of their own
(pricing them changes nothing in the served store) and counts them as GreenLoop does by
default: closed sales at their total including tax, and paid or partly refunded eCom
orders at their total with tax and shipping; layby, on-account, saved and voided sales
and unpaid orders do not count.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from greenloop.simulator.generator_base import CENTS, DAY, ZERO, iso, local_parts
from greenloop.simulator.generator_ecom import EcomDesk
from greenloop.simulator.generator_life import LifeParams, Visit, Visits, lifecycle
from greenloop.simulator.generator_sales import CLOSED_STATUSES, SaleFactory

if TYPE_CHECKING:
    from greenloop.simulator.generator_people import People, Person
    from greenloop.simulator.generator_shop import Setup

__all__ = ["HORIZONS", "Lives", "future_truth", "simulate_lives"]

Obj = dict[str, Any]
HORIZONS = (90, 365)
# The calibration aims to keep this share of the simulated visits, and accepts a share
# between the bounds (fewer than the volume needs, or far more, means another run).
_AIM, _LOW = 0.8, 0.6
_ATTEMPTS = 5


@dataclass
class Lives:
    """The visits the served history is built from, and what the process holds after."""

    walkins: int
    instore: int
    synced: int
    lagging: int
    instore_visits: list[tuple[int, Person]] = field(default_factory=list)
    pre_visits: list[tuple[int, Person]] = field(default_factory=list)  # before the integration
    post_visits: list[tuple[int, Person]] = field(default_factory=list)  # synced, then lagging
    states: dict[Person, Visits] = field(default_factory=dict)
    future: dict[Person, list[Visit]] = field(default_factory=dict)
    speed: float = 1.0
    keep_instore: float = 1.0
    keep_online: float = 1.0


def _pick(
    rng: random.Random, pool: list[tuple[int, Person]], need: int, lo: int, hi: int
) -> list[tuple[int, Person]]:
    """Exactly ``need`` visits from ``pool``: a uniform sample, or all of it and repeats
    moved by a few days when the pool is short (only tiny or oddly set-up stores)."""
    if need <= len(pool):
        return rng.sample(pool, need)
    if not pool:
        return []
    extra = []
    for ts, person in rng.choices(pool, k=need - len(pool)):
        moved = ts + int(rng.uniform(-3, 3) * DAY)
        extra.append((min(max(moved, lo), hi - 1), person))
    return pool + extra


def simulate_lives(
    rng: random.Random,
    params: LifeParams,
    people: People,
    volumes: tuple[int, int, int, int],
    window: tuple[int, int, int, int],
) -> Lives:
    """Lifecycles for everyone who buys, and the visits that make the store's volume.

    ``volumes``: walk-ins, in-store sales, synced and lagging eCom orders; ``window``:
    the history's start, the integration's start, the anchor and the process's end.
    """
    walkins, instore, synced, lagging = volumes
    start, integration_start, anchor, until = window
    last = anchor - 120  # leaves room for the sync delay before the snapshot
    if not people.instore:
        walkins, instore = walkins + instore, 0
    if not people.online:
        # Nobody in this (tiny) store shops online: those purchases happen at the till.
        if people.instore:
            instore += synced
        else:
            walkins += synced
        synced = lagging = 0
    online_need = synced + lagging
    buyers = [p for p in people.persons if p.weight > 0]
    speed = 1.0
    states: dict[Person, Visits] = {}
    pool_in: list[tuple[int, Person]] = []
    pool_pre: list[tuple[int, Person]] = []
    pool_post: list[tuple[int, Person]] = []
    for attempt in range(_ATTEMPTS):
        states = {
            p: lifecycle(
                rng,
                params,
                role=p.role,
                arrival=p.pos_profiles[0].created_ts,
                anchor=anchor,
                until=until,
                p_online=p.p_online if people.online else 0.0,
                speed=speed,
            )
            for p in buyers
        }
        pool_in, pool_pre, pool_post = [], [], []
        for person, life in states.items():
            for visit in life.visits:
                ts = visit.ts
                if ts < start or ts >= anchor:
                    continue
                if not visit.online:
                    pool_in.append((ts, person))
                elif ts < integration_start:
                    pool_pre.append((ts, person))
                elif ts < last:
                    pool_post.append((ts, person))
        shares = [
            need / len(pool) if pool else 10.0
            for need, pool in ((instore, pool_in), (online_need, pool_post))
            if need
        ]
        worst = min(max(shares, default=0.0), 10.0)
        if worst == 0.0 or _LOW <= worst <= 1.0 or attempt == _ATTEMPTS - 1:
            break
        speed *= worst / _AIM
    keep_in = min(1.0, instore / len(pool_in)) if pool_in else 0.0
    keep_on = min(1.0, online_need / len(pool_post)) if pool_post else 0.0
    lives = Lives(walkins, instore, synced, lagging, states=states, speed=speed)
    lives.keep_instore, lives.keep_online = keep_in, keep_on
    pool_in.sort(key=lambda v: v[0])
    pool_post.sort(key=lambda v: v[0])
    pool_pre.sort(key=lambda v: v[0])
    lives.instore_visits = _pick(rng, pool_in, instore, start, anchor)
    lives.post_visits = sorted(
        _pick(rng, pool_post, online_need, integration_start, last), key=lambda v: v[0]
    )
    lives.pre_visits = [v for v in pool_pre if rng.random() < keep_on]
    for person, life in states.items():
        kept = [
            v
            for v in life.visits
            if anchor <= v.ts < until and rng.random() < (keep_on if v.online else keep_in)
        ]
        if kept:
            lives.future[person] = kept
    return lives


def future_truth(
    seed: int,
    lives: Lives,
    people: People,
    setup: Setup,
    anchor: int,
    year_start: int,
) -> Obj:
    """Per person: customer ids, whether active at the anchor, and what they bought after.

    Call it after the customers are finished: pricing a future sale books it on the
    (by then written-out) profile."""
    rng = random.Random(f"{seed}:future")
    # Far enough out that every future layby and account sale has had time to close.
    factory = SaleFactory(rng, setup.shop, setup.catalog, anchor + 800 * DAY, year_start)
    desk = EcomDesk(rng, factory, setup.catalog, anchor=anchor + 800 * DAY, hint_start=anchor)
    ids: dict[Person, list[str]] = {}
    for profile in people.profiles:
        ids.setdefault(profile.person, []).append(profile.id)
    persons: Obj = {}
    for person in people.persons:
        life = lives.states.get(person)
        counts = dict.fromkeys(HORIZONS, 0)
        days: dict[int, set[date]] = {h: set() for h in HORIZONS}
        values = dict.fromkeys(HORIZONS, ZERO)
        for visit in lives.future.get(person, ()):
            value: Decimal | None
            if visit.online:
                value = desk.future_value(person)
            else:
                sale = factory.instore(visit.ts, person).sale
                value = sale["total_price_incl"] if sale["status"] in CLOSED_STATUSES else None
            if value is None:
                continue
            day = local_parts(visit.ts)[0]
            for horizon in HORIZONS:
                if visit.ts < anchor + horizon * DAY:
                    counts[horizon] += 1
                    days[horizon].add(day)
                    values[horizon] += value
        entry: Obj = {
            "customer_ids": ids.get(person, []),
            "segment": life.segment if life is not None else "never",
            "active_at_anchor": bool(life is not None and life.active_at_anchor),
        }
        for horizon in HORIZONS:
            entry[f"purchases_{horizon}d"] = counts[horizon]
            entry[f"purchase_days_{horizon}d"] = len(days[horizon])
            entry[f"value_{horizon}d"] = str(values[horizon].quantize(CENTS))
        persons[person.key] = entry
    return {
        "anchor": iso(anchor),
        "horizons_days": list(HORIZONS),
        "speed": round(lives.speed, 4),
        "kept_instore": round(lives.keep_instore, 4),
        "kept_online": round(lives.keep_online, 4),
        "persons": persons,
    }
