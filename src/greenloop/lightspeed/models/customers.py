"""Customers and customer groups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from greenloop.lightspeed.models.reading import FieldReader, Obj

__all__ = [
    "CUSTOMER_TEXT_FIELDS",
    "Customer",
    "CustomerGroup",
    "parse_customer",
    "parse_customer_group",
]


@dataclass(slots=True)
class CustomerGroup:
    id: str
    name: str
    group_id: str | None
    retailer_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None
    version: int


@dataclass(slots=True)
class Customer:
    id: str
    customer_code: str | None
    first_name: str | None
    last_name: str | None
    name: str | None
    email: str | None
    phone: str | None
    mobile: str | None
    fax: str | None
    company_name: str | None
    customer_group_id: str | None
    enable_loyalty: bool
    loyalty_balance: Decimal | None
    year_to_date: Decimal | None
    balance: Decimal | None
    on_account_limit: Decimal | None
    do_not_email: bool
    note: str | None
    gender: str | None
    date_of_birth: str | None
    twitter: str | None
    website: str | None
    physical_address_1: str | None
    physical_address_2: str | None
    physical_suburb: str | None
    physical_city: str | None
    physical_postcode: str | None
    physical_state: str | None
    physical_country_id: str | None
    postal_address_1: str | None
    postal_address_2: str | None
    postal_suburb: str | None
    postal_city: str | None
    postal_postcode: str | None
    postal_state: str | None
    postal_country_id: str | None
    custom_field_1: str | None
    custom_field_2: str | None
    custom_field_3: str | None
    custom_field_4: str | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None
    version: int


def parse_customer_group(obj: Obj) -> CustomerGroup:
    r = FieldReader(obj, "customer group")
    return CustomerGroup(
        id=r.req_str("id"),
        name=r.text("name"),
        group_id=r.opt_str("group_id"),
        retailer_id=r.opt_str("retailer_id"),
        created_at=r.time("created_at"),
        updated_at=r.time("updated_at"),
        deleted_at=r.time("deleted_at"),
        version=r.version(),
    )


# Every text field of the 2.0 Customer schema; the store has one column for each.
CUSTOMER_TEXT_FIELDS: tuple[str, ...] = (
    "customer_code",
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "mobile",
    "fax",
    "company_name",
    "customer_group_id",
    "note",
    "gender",
    "date_of_birth",
    "twitter",
    "website",
    "physical_address_1",
    "physical_address_2",
    "physical_suburb",
    "physical_city",
    "physical_postcode",
    "physical_state",
    "physical_country_id",
    "postal_address_1",
    "postal_address_2",
    "postal_suburb",
    "postal_city",
    "postal_postcode",
    "postal_state",
    "postal_country_id",
    "custom_field_1",
    "custom_field_2",
    "custom_field_3",
    "custom_field_4",
)


def parse_customer(obj: Obj) -> Customer:
    r = FieldReader(obj, "customer")
    texts = {key: r.opt_str(key) for key in CUSTOMER_TEXT_FIELDS}
    return Customer(
        id=r.req_str("id"),
        enable_loyalty=r.boolean("enable_loyalty"),
        loyalty_balance=r.money("loyalty_balance"),
        year_to_date=r.money("year_to_date"),
        balance=r.money("balance"),
        on_account_limit=r.money("on_account_limit"),
        do_not_email=r.boolean("do_not_email"),
        created_at=r.time("created_at"),
        updated_at=r.time("updated_at"),
        deleted_at=r.time("deleted_at"),
        version=r.version(),
        **texts,
    )
