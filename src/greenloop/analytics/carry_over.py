"""A person's last computed row, carried over while nothing it rests on has moved.

Most persons are the same from one analysis to the next: no purchase, no profile edit,
no change of tier. Computing them again (metrics, the tier rules, the reasons) was most
of a full analysis' per-person stage. Each computed person leaves a fingerprint of what
``compute_person`` read (the members and their profiles, the timeline, the previous
state and lock, the settings, the code) and the span its row holds while only the clock
moves (:func:`~greenloop.domain.stability.stable_until`). The next full analysis takes
the stored row as it is, and fills in only the columns computed once everyone is known
(risk and the predictions), when the fingerprint is the same, its moment is inside the
span, and the stored row is still the one the fingerprint was taken with.

Turned off with ``analytics.carry_over = false``: every person is then computed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import msgspec

from greenloop.analytics.compute import Context, PersonResult
from greenloop.analytics.facts import Facts
from greenloop.analytics.outcome import Outcome, RawEntry
from greenloop.analytics.predict import summary_carried
from greenloop.domain.replay import Lock
from greenloop.domain.tiers import TierState
from greenloop.store.analytics_repo import Stored, early_unchanged, late_row
from greenloop.store.person_inputs import Carried, micros, unpack

__all__ = ["Carry", "Fingerprints", "PersonKey", "code_digest", "reusable"]

if TYPE_CHECKING:
    from greenloop.domain.predictions import CustomerSummary


@cache
def code_digest() -> str:
    """The rules' own fingerprint: another version of them computes everyone again."""
    analytics = Path(__file__).resolve().parent
    files = sorted((analytics.parent / "domain").glob("*.py"))
    files += [analytics / "compute.py", analytics / "carry_over.py", analytics / "facts.py"]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# MessagePack writes values only. marshal, used before, also marks each object that has
# another reference somewhere, so the same inputs could pack differently depending on
# what else happened to hold them.
_pack = msgspec.msgpack.Encoder().encode


def _moment(value: datetime | None) -> float | None:
    # An instant as a float resolves microseconds until 2106.
    return None if value is None else value.timestamp()


class Fingerprints:
    """Fingerprints of ``compute_person``'s inputs, for one analysis."""

    def __init__(
        self, ctx: Context, placeholder_emails: Mapping[str, str], predictions: bool
    ) -> None:
        # Everything shared by all persons of this run but the clock: the settings, the
        # code, the store-wide placeholders (which decide the email shown) and whether
        # the prediction summaries are kept.
        shared = repr(
            (
                code_digest(),
                predictions,
                ctx.program,
                ctx.identity,
                ctx.metrics,
                ctx.min_visits_for_own_cycle,
                sorted(placeholder_emails),
            )
        )
        self._base = hashlib.md5(shared.encode(), usedforsecurity=False).digest()

    def of(
        self,
        person_id: str,
        members: Sequence[str],
        entries: Sequence[RawEntry],
        previous: TierState | None,
        lock: Lock | None,
        facts: Facts,
    ) -> bytes:
        profiles = []
        for key in sorted(members):
            if key.startswith("customer:"):
                p = facts.profiles.get(key.removeprefix("customer:"))
                if p is not None:
                    # All but group_id, which compute_person never reads and GreenLoop
                    # itself changes when it moves the customer.
                    profiles.append(
                        (
                            p.id,
                            p.code,
                            p.name,
                            p.email,
                            p.phones,
                            p.enable_loyalty,
                            p.deleted,
                            _moment(p.created_at),
                            _moment(p.updated_at),
                            p.first_name,
                            p.last_name,
                            p.street,
                            p.postcode,
                            p.birth_date,
                        )
                    )
        state = None
        if previous is not None:
            state = (
                previous.tier,
                _moment(previous.since),
                _moment(previous.review_at),
                previous.locked_tier,
                _moment(previous.locked_until),
                previous.reason,
            )
        held = None if lock is None else (lock.tier, _moment(lock.since), _moment(lock.until))
        packed = _pack(
            (
                person_id,
                sorted(members),
                profiles,
                # The timeline's entries in the order read (a fixed order: by sale
                # date and id), as read: moments as ISO-8601 UTC text, money as its
                # text. 12.5 and 12.50 differ here (an unneeded recompute, never a
                # wrong row).
                entries,
                state,
                held,
            )
        )
        return hashlib.md5(self._base + packed, usedforsecurity=False).digest()


def reusable(carried: Carried, inputs: bytes, now: int, row_hash: str | None) -> bool:
    """Whether ``carried`` stands for this person at ``now`` (micros), whose stored row
    has the digest ``row_hash``."""
    if carried.inputs != inputs or row_hash is None:
        return False
    if now < carried.valid_from:
        return False  # an analysis dated before the one that computed them
    if carried.stable_until is not None and now >= carried.stable_until:
        return False
    # The stored row must be the one computed then (a one-person recompute may have
    # rewritten it since).
    return early_unchanged(row_hash, carried.early)


class Carry:
    """Carrying persons over in one process' share of a full analysis."""

    def __init__(
        self,
        fingerprints: Fingerprints,
        carried: Mapping[str, bytes],
        stored: Mapping[str, Stored],
        facts: Facts,
        ctx: Context,
        predictions: bool,
    ) -> None:
        self._fingerprints = fingerprints
        self._carried = carried  # packed (person_inputs.unpack)
        self._stored = stored
        self._facts = facts
        self._now = ctx.now
        self._zone = ctx.metrics.store_zone
        self._micros = micros(ctx.now)
        self._predictions = predictions

    def take(self, person: PersonKey) -> tuple[bytes | None, Taken | None]:
        """The person carried over (their outcome and prediction summary), or None:
        compute them; with their inputs' fingerprint when it was taken."""
        packed = self._carried.get(person.pid)
        stored = self._stored.get(person.pid)
        if packed is None or stored is None:
            return None, None  # nothing to compare with: no need of a fingerprint yet
        inputs = self._fingerprints.of(*person, self._facts)
        last = unpack(packed)
        if last is None or not reusable(last, inputs, self._micros, stored.row_hash):
            return inputs, None
        since = None
        if last.last_purchase is not None:
            since = (self._micros - last.last_purchase) // _DAY_MICROS  # as timedelta.days
        cycle = None if last.average_cycle_days is None else Decimal(last.average_cycle_days)
        row = late_row(person.pid, self._now)
        summary = None
        if self._predictions and last.summary_days and last.repeat_value is not None:
            summary = summary_carried(last.summary_days, last.repeat_value, self._now, self._zone)
        outcome = Outcome(row, last.early, None, since, last.visits, cycle, carried=True)
        return inputs, (outcome, summary)

    def keep(
        self,
        person: PersonKey,
        inputs: bytes | None,
        early: bytes,
        result: PersonResult,
        summary: CustomerSummary | None,
    ) -> Carried | None:
        """What to keep of a person just computed, to carry them over next time (None:
        their row holds no longer than this moment, as when their tier state changes)."""
        metrics, until = result.metrics, result.stable_until
        if until is not None and until <= self._now:
            return None
        if inputs is None:
            inputs = self._fingerprints.of(*person, self._facts)
        last, cycle = metrics.last_purchase, metrics.average_cycle_days
        return Carried(
            inputs,
            early,
            self._micros,
            None if until is None else micros(until),
            None if last is None else micros(last),
            metrics.visits,
            None if cycle is None else str(cycle),
            None if summary is None else tuple(d.toordinal() for d in summary.days),
            None if summary is None else str(summary.repeat_value),
        )


class PersonKey(NamedTuple):
    """What a person's fingerprint is taken of, but the shared facts."""

    pid: str
    members: Sequence[str]
    entries: Sequence[RawEntry]
    previous: TierState | None
    lock: Lock | None


Taken = tuple[Outcome, "CustomerSummary | None"]


_DAY_MICROS = 86_400_000_000
