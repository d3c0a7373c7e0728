"""Customer lifecycles: when each person buys, from their first visit to their last.

Each buying person gets, from the generator's one ``random.Random``:

* an **arrival**: their profile's first-seen time (customers join throughout the
  history, more in the busy seasons; some joined before it starts);
* a **segment** and a **rhythm**: the gaps between their visits are a renewal process
  with gamma-distributed gaps around their own mean gap. Regulars come about weekly
  with gaps far more regular than a Poisson process (gamma shape 4, coefficient of
  variation 0.5); occasional buyers about monthly (shape 1.8); the long tail a few times
  a year (shape 1.2). Gaps shrink in the busy seasons (late November to Christmas,
  mid-April) and shrink less in January's lull; each visit lands on a day near its
  nominal time weighted by the weekday (weekends are busier);
* a **spend level** (a lognormal multiplier of basket size; regulars buy smaller
  baskets, so spend and frequency are not independent);
* a **channel preference** (the person's ``p_online``, set with their identities);
* an **end**: a share of new customers never come back after their first visit; after
  that a time-based hazard of stopping applies between visits, higher in the first
  120 days of a spell and several times higher after a bad experience (about one visit
  in twenty), and a few who stop come back after a long gap (six to eighteen months)
  and start a new spell.

None of this is the BG/NBD or Pareto/NBD story (Poisson purchases with gamma
heterogeneity and a constant per-purchase or exponential dropout), nor Gamma-Gamma's
spend independent of frequency: the models are judged on data they were not drawn from.

The process runs ``future_days`` past the anchor. Only the history up to the anchor is
served; the rest is the truth a backtest is scored against.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from greenloop.simulator.generator_base import DAY, HOUR

__all__ = ["LifeParams", "Visit", "Visits", "lifecycle", "season"]

# Monday to Sunday, as the calendar weighs walk-ins.
_WEEKDAY_WEIGHT = (0.85, 0.8, 0.9, 1.0, 1.25, 1.35, 1.0)
_SEASON_CACHE: dict[int, float] = {}


@dataclass(frozen=True)
class LifeParams:
    """The lifecycle process's main knobs (GeneratorConfig carries them)."""

    regular_share: float = 0.1  # buyers who come about weekly
    occasional_share: float = 0.34  # buyers who come about monthly; the rest are the tail
    regular_gap_days: float = 8.0
    occasional_gap_days: float = 30.0
    tail_gap_days: float = 150.0
    one_time_share: float = 0.45  # new occasional/tail customers who never come back
    churn_per_year: float = 0.35  # settled customers' hazard of stopping, per year
    bad_experience: float = 0.05  # share of visits after which stopping is 4x likelier
    comeback_share: float = 0.12  # of those who stop, share who return after a long gap


@dataclass(slots=True)
class Visit:
    ts: int
    online: bool


@dataclass(slots=True)
class Visits:
    """One person's visits over history and future, and their state at the anchor."""

    segment: str
    visits: list[Visit]
    active_at_anchor: bool


def season(ts: int) -> float:
    """How busy the store is on this day relative to an ordinary one."""
    day = ts // DAY
    factor = _SEASON_CACHE.get(day)
    if factor is None:
        moment = datetime.fromtimestamp(day * DAY, UTC)
        month, dom = moment.month, moment.day
        if (month == 11 and dom >= 24) or (month == 12 and dom <= 24):
            factor = 1.6
        elif month == 4 and 14 <= dom <= 21:
            factor = 1.35
        elif month == 1:
            factor = 0.8
        else:
            factor = 1.0
        _SEASON_CACHE[day] = factor
    return factor


def _gap(rng: random.Random, mean_days: float, shape: float, at: int, speed: float) -> int:
    days = rng.gammavariate(shape, mean_days / shape) / (season(at) * speed)
    return max(HOUR * 6, int(days * DAY))


def _place(rng: random.Random, ts: int, online: bool) -> int:
    """A visit near ``ts``: a nearby day weighted by weekday, within opening hours."""
    day = ts // DAY
    options = (day - 1, day, day + 1)
    weights = [_WEEKDAY_WEIGHT[(d + 3) % 7] for d in options]  # 1970-01-01: a Thursday
    roll = rng.random() * sum(weights)
    chosen = options[2]
    for d, w in zip(options, weights, strict=True):
        if roll < w:
            chosen = d
            break
        roll -= w
    # Store hours in UTC (the shop keeps Central time): 10:00-21:00 local, online 7-24.
    opens, hours = (13, 17) if online else (16, 11)
    return chosen * DAY + opens * HOUR + int(rng.random() * hours * HOUR)


def lifecycle(
    rng: random.Random,
    params: LifeParams,
    *,
    role: str,
    arrival: int,
    anchor: int,
    until: int,
    p_online: float,
    speed: float,
) -> Visits:
    """Simulate one person's visits from ``arrival`` to ``until``.

    ``speed`` multiplies every rate (the generator calibrates it to the store's volume);
    hazards are per unit of calendar time and do not scale with it.
    """
    roll = rng.random()
    if role == "staff":
        segment, mean, shape = "regular", params.regular_gap_days * 1.5, 4.0
    elif role == "wholesale":
        segment, mean, shape = "regular", 14.0, 3.0
    elif roll < params.regular_share:
        segment, mean, shape = "regular", params.regular_gap_days, 4.0
    elif roll < params.regular_share + params.occasional_share:
        segment, mean, shape = "occasional", params.occasional_gap_days, 1.8
    else:
        segment, mean, shape = "tail", params.tail_gap_days, 1.2
    mean *= rng.lognormvariate(0.0, 0.3 if segment == "regular" else 0.45)
    # one_time_share is of all buyers, and regulars are never one-time buyers.
    non_regular = 1.0 - params.regular_share
    one_time = (
        0.0
        if segment == "regular" or non_regular <= 0
        else min(1.0, params.one_time_share / non_regular)
    )
    settled = params.churn_per_year / 365.0 / DAY  # per second
    visits: list[Visit] = []
    active_at_anchor = False
    t = arrival
    spell_start = arrival
    bad = False
    first_of_spell = True
    while t < until:
        online = rng.random() < p_online
        visits.append(Visit(_place(rng, t, online), online))
        if first_of_spell and rng.random() < one_time:
            stop = t + HOUR
        else:
            tenure_factor = 2.5 if t - spell_start < 120 * DAY else 1.0
            hazard = settled * tenure_factor * (4.0 if bad else 1.0)
            gap = _gap(rng, mean, shape, t, speed)
            stop_after = rng.expovariate(hazard) if hazard > 0 else math.inf
            if stop_after >= gap:
                bad = rng.random() < params.bad_experience
                first_of_spell = False
                t += gap
                continue
            stop = t + int(stop_after)
        # The spell ends at ``stop``.
        if spell_start <= anchor < stop:
            active_at_anchor = True
        if rng.random() >= params.comeback_share:
            break
        t = stop + int(rng.uniform(180, 540) * DAY)
        spell_start = t
        bad = False
        first_of_spell = True
    else:
        if spell_start <= anchor:
            active_at_anchor = True
    return Visits(segment, visits, active_at_anchor)
