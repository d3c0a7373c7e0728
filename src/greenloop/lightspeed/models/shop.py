"""The retailer, its outlets, registers and users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from greenloop.lightspeed.models.reading import FieldReader, Obj

__all__ = [
    "Outlet",
    "Register",
    "Retailer",
    "User",
    "parse_outlet",
    "parse_register",
    "parse_retailer",
    "parse_user",
]


@dataclass(slots=True)
class Retailer:
    id: str
    name: str
    domain_prefix: str
    currency: str | None
    timezone: str | None
    loyalty_enabled: bool
    tax_exclusive: bool
    version: str | None


@dataclass(slots=True)
class Outlet:
    id: str
    name: str
    time_zone: str | None
    currency: str | None
    email: str | None
    physical_city: str | None
    physical_state: str | None
    physical_country_id: str | None
    deleted_at: datetime | None
    version: int


@dataclass(slots=True)
class Register:
    id: str
    name: str
    outlet_id: str | None
    invoice_prefix: str | None
    invoice_suffix: str | None
    invoice_sequence: int | None
    is_open: bool
    deleted_at: datetime | None
    version: int


@dataclass(slots=True)
class User:
    id: str
    username: str
    display_name: str | None
    email: str | None
    account_type: str | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None
    version: int


def parse_retailer(obj: Obj) -> Retailer:
    r = FieldReader(obj, "retailer")
    currency = obj.get("currency")
    timezone = obj.get("timezone")
    loyalty = obj.get("loyalty")
    return Retailer(
        id=r.req_str("id"),
        name=r.text("name"),
        domain_prefix=r.text("domain_prefix"),
        currency=currency.get("code") if isinstance(currency, dict) else r.opt_str("currency"),
        # The schema types timezone as an object; examples show a plain zone name.
        timezone=(
            str(timezone.get("name") or timezone.get("id") or "") or None
            if isinstance(timezone, dict)
            else r.opt_str("timezone")
        ),
        loyalty_enabled=bool(loyalty.get("enabled")) if isinstance(loyalty, dict) else False,
        tax_exclusive=r.boolean("tax_exclusive"),
        version=r.opt_str("version"),
    )


def parse_outlet(obj: Obj) -> Outlet:
    r = FieldReader(obj, "outlet")
    return Outlet(
        id=r.req_str("id"),
        name=r.text("name"),
        time_zone=r.opt_str("time_zone"),
        currency=r.opt_str("currency"),
        email=r.opt_str("email"),
        physical_city=r.opt_str("physical_city"),
        physical_state=r.opt_str("physical_state"),
        physical_country_id=r.opt_str("physical_country_id"),
        deleted_at=r.time("deleted_at"),
        version=r.version(),
    )


def parse_register(obj: Obj) -> Register:
    r = FieldReader(obj, "register")
    return Register(
        id=r.req_str("id"),
        name=r.text("name"),
        outlet_id=r.opt_str("outlet_id"),
        invoice_prefix=r.opt_str("invoice_prefix"),
        invoice_suffix=r.opt_str("invoice_suffix"),
        invoice_sequence=r.opt_int("invoice_sequence"),
        is_open=r.boolean("is_open"),
        deleted_at=r.time("deleted_at"),
        version=r.version(),
    )


def parse_user(obj: Obj) -> User:
    r = FieldReader(obj, "user")
    return User(
        id=r.req_str("id"),
        username=r.text("username"),
        display_name=r.opt_str("display_name"),
        email=r.opt_str("email"),
        account_type=r.opt_str("account_type"),
        created_at=r.time("created_at"),
        updated_at=r.time("updated_at"),
        deleted_at=r.time("deleted_at"),
        version=r.version(),
    )
