"""Finishing customer profiles: creation times, old tier groups and the Customer objects.

The retailer's old scripts last ran a few days before the snapshot and put a random
part of the paying customers into "First Time Buyer" or a GreenHaus Crew group by
lifetime spend, so existing group membership is plausible but not what GreenLoop's own
rules will compute.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from greenloop.simulator.generator_base import CENTS, DAY, HOUR, iso, trim
from greenloop.simulator.generator_people import NOT_SYNCED_YET, People, Profile

__all__ = ["customer_dict", "finish_customers"]

Obj = dict[str, Any]

_ON_ACCOUNT_LIMIT = Decimal(2500)
_SPROUT_SPEND = Decimal(250)
_BLOOM_SPEND = Decimal(750)


def finish_customers(
    rng: random.Random, people: People, group_ids: dict[str, str], start: int, anchor: int
) -> list[Obj]:
    """Creation times, the groups the old tier scripts assigned, and the Customer objects."""
    script_ts = max(start, anchor - rng.randint(2, 9) * DAY)
    ordered = []
    for index, prof in enumerate(people.profiles):
        if prof.kind == "primary" and prof.first_sale_ts is not None:
            prof.created_ts = min(prof.created_ts, prof.first_sale_ts - rng.randint(5, 600))
        elif prof.active_from == NOT_SYNCED_YET:
            # An eCom profile whose owner never got a synced order: created by hand instead.
            prof.created_ts = rng.randint(start, anchor - HOUR)
        prof.updated_ts = prof.created_ts
        if prof.deleted_ts is not None:
            prof.updated_ts = prof.deleted_ts
        elif prof.group == "all" and prof.created_ts < script_ts:
            tier = old_script_tier(rng, prof, script_ts)
            if tier is not None:
                prof.group = tier
                prof.updated_ts = script_ts
        ordered.append((prof.updated_ts, prof.created_ts, index, prof))
    ordered.sort(key=lambda t: t[:3])
    return [customer_dict(t[3], group_ids) for t in ordered]


def old_script_tier(rng: random.Random, prof: Profile, script_ts: int) -> str | None:
    """The group the retailer's old scripts gave this profile, if any."""
    if prof.first_sale_ts is None or prof.first_sale_ts >= script_ts or prof.spend <= 0:
        return None
    if prof.sales == 1 and prof.first_sale_ts >= script_ts - 60 * DAY:
        return "ftb" if rng.random() < 0.5 else None
    if rng.random() >= 0.35:
        return None
    if prof.spend >= _BLOOM_SPEND:
        return "bloom"  # Evergreen does not exist yet, so top spenders sit in Bloom
    if prof.spend >= _SPROUT_SPEND:
        return "sprout"
    return "seed" if prof.enable_loyalty else None


def customer_dict(prof: Profile, group_ids: dict[str, str]) -> dict[str, Any]:
    """The API 2.0 Customer object: every schema field, null where the store knows nothing."""
    address = prof.address
    street, city, state, postcode = address if address else (None, None, None, None)
    first, last = prof.first_name, prof.last_name
    return {
        "id": prof.id,
        "customer_code": prof.code,
        "name": " ".join(x for x in (first, last) if x) or None,
        "first_name": first,
        "last_name": last,
        "email": prof.email,
        "year_to_date": trim(prof.ytd.quantize(CENTS)),
        "balance": trim(-prof.owed.quantize(CENTS)),
        "loyalty_balance": trim(prof.loyalty.quantize(CENTS)),
        "note": prof.note,
        "gender": prof.gender,
        "date_of_birth": prof.dob,
        "company_name": prof.company,
        "do_not_email": prof.do_not_email,
        "phone": prof.phone,
        "mobile": prof.mobile,
        "fax": None,
        "twitter": None,
        "website": None,
        "physical_address_1": street,
        "physical_address_2": None,
        "physical_suburb": None,
        "physical_city": city,
        "physical_postcode": postcode,
        "physical_state": state,
        "physical_country_id": "US" if address else None,
        "postal_address_1": None,
        "postal_address_2": None,
        "postal_suburb": None,
        "postal_city": None,
        "postal_postcode": None,
        "postal_state": None,
        "postal_country_id": None,
        "custom_field_1": None,
        "custom_field_2": None,
        "custom_field_3": None,
        "custom_field_4": None,
        "enable_loyalty": prof.enable_loyalty,
        "on_account_limit": trim(_ON_ACCOUNT_LIMIT) if prof.group == "wholesale" else None,
        "customer_group_id": group_ids[prof.group],
        "created_at": iso(prof.created_ts),
        "updated_at": iso(prof.updated_ts),
        "deleted_at": iso(prof.deleted_ts) if prof.deleted_ts is not None else None,
    }
