"""The fixed furniture of the generated store: retailer, outlets, registers, users, groups.

The tier groups are the ones the retailer's old scripts created. "GreenHaus Crew -
Evergreen" is deliberately missing: GreenLoop has to create it.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from greenloop.simulator.generator_base import DAY, HOUR, Catalog, code4, iso, new_uuid
from greenloop.simulator.generator_sales import Shop

__all__ = ["STORE_PHONE", "TIER_GROUPS", "Setup", "build_setup"]

Obj = dict[str, Any]

STORE_PHONE = "6152947730"
TIER_GROUPS = {
    "ftb": "First Time Buyer",
    "seed": "GreenHaus Crew - Seed",
    "sprout": "GreenHaus Crew - Sprout",
    "bloom": "GreenHaus Crew - Bloom",
}
_TAX_RATE = Decimal("0.0975")
_LOYALTY_RATIO = Decimal("0.05")
_DOMAIN = "greenhausexample"
_TIME_ZONE = "America/Chicago"
_ROLES = {
    "admin": {"id": "100", "name": "Admin", "system_role_id": "100"},
    "manager": {"id": "200", "name": "Manager", "system_role_id": "200"},
    "cashier": {"id": "300", "name": "Cashier", "system_role_id": "300"},
}


@dataclass(frozen=True)
class Setup:
    retailer: Obj
    outlets: list[Obj]
    registers: list[Obj]
    users: list[Obj]
    groups: list[Obj]
    group_ids: dict[str, str]
    shop: Shop
    catalog: Catalog


def build_setup(rng: random.Random, *, opened: int, start: int, anchor: int) -> Setup:
    catalog = Catalog(rng, _TAX_RATE, _LOYALTY_RATIO)
    retailer_id = new_uuid(rng)
    tax_id, tax_rate_id, no_tax_id = new_uuid(rng), new_uuid(rng), new_uuid(rng)
    payment_types = {
        "Cash": (new_uuid(rng), "1"),
        "Credit Card": (new_uuid(rng), "4"),
        "Loyalty": (new_uuid(rng), "16"),
        "Square (Online)": (new_uuid(rng), "20"),
    }
    retailer = {
        "id": retailer_id,
        "name": "GreenHaus Example Co.",
        "domain_prefix": _DOMAIN,
        "store_url": f"https://{_DOMAIN}.retail.lightspeed.app",
        "account_status": "active",
        "account_type": "plus",
        "culture": "en-US",
        # The 2.0 schema types this as an object, although the docs describe a zone name.
        "timezone": {"name": _TIME_ZONE},
        "country": "US",
        "currency": {"code": "USD", "symbol": "$"},
        "tax_exclusive": True,
        "loyalty": {
            "enabled": True,
            "ratio": _LOYALTY_RATIO,
            "claim_url": f"https://{_DOMAIN}.retail.lightspeed.app/loyalty",
            "send_welcome_email": False,
        },
        "store_credit": False,
        "gift_cards": {"enabled": True, "never_enabled": False},
        "discount_product_id": new_uuid(rng),
        "no_tax_group_id": no_tax_id,
        "sku_sequence": {"enabled": True, "value": 10_060},
        "created_at": iso(opened),
        "activated_at": iso(opened + 2 * DAY),
    }
    outlets = [
        _outlet(rng, "GreenHaus - Main St", "1200 Main St", "37206", "mainst", tax_id),
        _outlet(rng, "GreenHaus - East Side", "915 Gallatin Ave", "37206", "east", tax_id),
    ]
    cash_type = payment_types["Cash"][0]
    registers = []
    for outlet, prefix, short in zip(outlets, ("MS", "ES"), ("Main St", "East Side"), strict=True):
        for n in (1, 2):
            registers.append(_register(rng, f"{short} Register {n}", outlet["id"], cash_type))
            registers[-1]["invoice_prefix"] = f"{prefix}{n}-"
            registers[-1]["invoice_sequence"] = rng.randint(1_000, 60_000)
    online = _register(rng, "Online Store", outlets[0]["id"], None)
    online.update(print_receipt=False, email_receipt=True, is_quick_keys_enabled=False)
    registers.append(online)
    for register in registers:
        register["register_open_time"] = iso(anchor - rng.randint(2, 10) * HOUR)

    users = [_user(rng, "owner", "Robin Hale", "admin", [], opened, anchor, primary=True)]
    cashiers: list[list[str]] = [[], []]
    staff_names = (
        ("Mara Quinlan", "Theo Park", "Ivy Soto"),
        ("Dante Rowe", "Nina Fowler", "Wade Kerr"),
    )
    for i, outlet in enumerate(outlets):
        manager, *tills = staff_names[i]
        joined = opened + rng.randint(0, 200) * DAY
        users.append(_user(rng, "", manager, "manager", [outlet["id"]], joined, anchor))
        cashiers[i].append(users[-1]["id"])
        for name in tills:
            joined = opened + rng.randint(30, 400) * DAY
            users.append(_user(rng, "", name, "cashier", [outlet["id"]], joined, anchor))
            cashiers[i].append(users[-1]["id"])

    group_ids: dict[str, str] = {}
    groups = []
    tier_day = start - 45 * DAY
    specs = [("all", "All Customers", opened), ("staff", "Staff", opened + DAY)]
    specs.append(("wholesale", "Wholesale", opened + 30 * DAY))
    specs += [(key, name, tier_day + i * 60) for i, (key, name) in enumerate(TIER_GROUPS.items())]
    for key, name, created in specs:
        group_uuid = new_uuid(rng)
        group: Obj = {
            "id": group_uuid,
            "name": name,
            "group_id": "1111111111" if key == "all" else _group_code(rng, name),
            "retailer_id": retailer_id,
            "created_at": iso(created),
            "updated_at": iso(created),
            "deleted_at": None,
        }
        groups.append(group)
        group_ids[key] = group_uuid

    shop = Shop(
        outlet_ids=[o["id"] for o in outlets],
        registers=[[r["id"] for r in registers[:2]], [r["id"] for r in registers[2:4]]],
        cashiers=cashiers,
        online_register_id=online["id"],
        online_user_id=users[0]["id"],
        payment_types=payment_types,
        tax_id=tax_id,
        tax_rate_id=tax_rate_id,
        tax_name="State & Local Tax",
        no_tax_id=no_tax_id,
        ecom_source="ecw:" + format(rng.getrandbits(64), "016X"),
    )
    return Setup(retailer, outlets, registers, users, groups, group_ids, shop, catalog)


def _group_code(rng: random.Random, name: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9]', '', name)[:20]}-{code4(rng)}"


def _outlet(
    rng: random.Random, name: str, street: str, postcode: str, mailbox: str, tax_id: str
) -> Obj:
    return {
        "id": new_uuid(rng),
        "name": name,
        "time_zone": _TIME_ZONE,
        "default_tax_id": tax_id,
        "currency": "USD",
        "currency_symbol": "$",
        "display_prices": "exclusive",
        "email": f"{mailbox}@greenhaus.example",
        "physical_address_1": street,
        "physical_address_2": "",
        "physical_suburb": "",
        "physical_city": "Nashville",
        "physical_postcode": postcode,
        "physical_state": "TN",
        "physical_country_id": "US",
        "attributes": [],
        "deleted_at": None,
    }


def _register(rng: random.Random, name: str, outlet_id: str, cash_type: str | None) -> Obj:
    return {
        "id": new_uuid(rng),
        "name": name,
        "outlet_id": outlet_id,
        "ask_for_note_on_save": 1,
        "print_note_on_receipt": False,
        "ask_for_user_on_sale": False,
        "show_discounts_on_receipts": True,
        "print_receipt": True,
        "email_receipt": False,
        "invoice_prefix": "",
        "invoice_suffix": "",
        "invoice_sequence": 0,
        "button_layout_id": None,
        "is_open": True,
        "is_quick_keys_enabled": True,
        "receipt_template_id": new_uuid(rng),
        "register_open_time": None,
        "register_close_time": None,
        "register_open_sequence_id": new_uuid(rng),
        "cash_managed_payment_type_id": cash_type,
        "deleted_at": None,
    }


def _user(
    rng: random.Random,
    username: str,
    display_name: str,
    account_type: str,
    outlet_ids: list[str],
    joined: int,
    anchor: int,
    *,
    primary: bool = False,
) -> Obj:
    login = username or display_name.split()[0].lower()
    return {
        "id": new_uuid(rng),
        "username": login,
        "display_name": display_name,
        "email": f"{login}@greenhaus.example",
        "email_verified_at": iso(joined + HOUR),
        "switch_id": f"usi:{rng.getrandbits(48):012x}",
        "account_type": account_type,
        "roles": [dict(_ROLES[account_type])],
        "enabled": True,
        "restricted_outlet_id": outlet_ids[0] if outlet_ids else None,
        "restricted_outlet_ids": list(outlet_ids),
        "permissions": [],
        "rules": {},
        "is_primary_user": primary,
        "target_daily": 1_500,
        "target_weekly": 9_000,
        "target_monthly": 36_000,
        "seen_at": iso(anchor - rng.randint(1, 72) * HOUR),
        "created_at": iso(joined),
        "updated_at": iso(joined),
        "deleted_at": None,
        "time_until_deletion": None,
        "enabled_mfa": None,
        "require_password_change": False,
    }
