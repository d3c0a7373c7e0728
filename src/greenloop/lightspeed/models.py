"""Typed models of the X-Series 2.0 objects GreenLoop reads, and their parsers.

Parsing is strict about what GreenLoop relies on (ids, versions, dates, money) and
lenient about the rest: the 2.0 schema declares ``customer_id`` and ``source_id`` as
non-nullable strings although walk-in and in-store sales have neither, so absent, null
and empty all mean "none". Money becomes ``Decimal`` (the JSON was parsed with
``parse_float=Decimal``; integers are converted here). Times become aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from greenloop.errors import BadResponse

__all__ = [
    "CUSTOMER_TEXT_FIELDS",
    "Customer",
    "CustomerGroup",
    "LineItem",
    "Outlet",
    "Payment",
    "Register",
    "Retailer",
    "Sale",
    "User",
    "parse_customer",
    "parse_customer_group",
    "parse_outlet",
    "parse_register",
    "parse_retailer",
    "parse_sale",
    "parse_user",
]

Obj = dict[str, Any]


class _Reader:
    """Typed access to one API object, with errors that name the object and field."""

    def __init__(self, obj: Obj, kind: str) -> None:
        self.obj = obj
        self.kind = kind

    def _fail(self, key: str, why: str) -> BadResponse:
        ident = self.obj.get("id", "?")
        return BadResponse(f"{self.kind} {ident}: field '{key}' {why}")

    def req_str(self, key: str) -> str:
        value = self.obj.get(key)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "is missing or not a string")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.obj.get(key)
        if type(value) is str:
            return value or None
        if value is None:
            return None
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise self._fail(key, f"is not a string ({type(value).__name__})")
        return value

    def text(self, key: str) -> str:
        return self.opt_str(key) or ""

    def version(self) -> int:
        value = self.obj.get("version")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise self._fail("version", "is missing or not an integer")
        try:
            return int(value)
        except ValueError:
            raise self._fail("version", "is not an integer") from None

    def money(self, key: str) -> Decimal | None:
        value = self.obj.get(key)
        if type(value) is Decimal:  # the common case: JSON parsed with parse_float=Decimal
            return value
        if type(value) is int:
            return Decimal(value)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise self._fail(key, "is a boolean, not an amount")
        if isinstance(value, Decimal):
            return value
        try:
            return Decimal(str(value)) if isinstance(value, (int, str)) else Decimal(repr(value))
        except InvalidOperation:
            raise self._fail(key, f"is not a number ({value!r})") from None

    def money0(self, key: str) -> Decimal:
        return self.money(key) or Decimal(0)

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.obj.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, Decimal)):
            return bool(value)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes")
        raise self._fail(key, "is not a boolean")

    def opt_int(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None or value == "" or isinstance(value, bool):
            return None
        try:
            return int(value)
        except (TypeError, ValueError, InvalidOperation):
            raise self._fail(key, "is not an integer") from None

    def time(self, key: str) -> datetime | None:
        value = self.obj.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self._fail(key, "is not a timestamp string")
        return parse_api_time(value, lambda why: self._fail(key, why))

    def req_time(self, key: str) -> datetime:
        value = self.time(key)
        if value is None:
            raise self._fail(key, "is missing")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.obj.get(key) or []
        if not isinstance(value, list):
            raise self._fail(key, "is not a list")
        return tuple(str(v) for v in value)


def parse_api_time(value: str, fail: Any = None) -> datetime:
    """ISO-8601 (2.0: ``2014-09-18T01:37:56+00:00``) or the 0.9/1.0 ``2016-07-18 08:04:05``.

    Lightspeed documents every API time as UTC, so a time without an offset is UTC.
    """
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.tzinfo is UTC:
        return parsed  # the 2.0 shape, "+00:00": nothing to convert
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        if fail is not None:
            raise fail(f"is not an ISO timestamp ({value!r})") from None
        raise
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


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


@dataclass(slots=True)
class LineItem:
    id: str
    sequence: int
    product_id: str | None
    quantity: Decimal
    price: Decimal
    price_total: Decimal
    tax_total: Decimal
    discount_total: Decimal
    loyalty_value: Decimal
    cost_total: Decimal | None
    status: str | None
    is_return: bool
    note: str | None


@dataclass(slots=True)
class Payment:
    id: str
    sequence: int
    name: str | None
    retailer_payment_type_id: str | None
    payment_type_id: str | None
    amount: Decimal
    payment_date: datetime | None


@dataclass(slots=True)
class Sale:
    id: str
    outlet_id: str | None
    register_id: str | None
    user_id: str | None
    customer_id: str | None
    invoice_number: str | None
    receipt_number: str | None
    invoice_sequence: int | None
    source: str | None
    source_id: str | None
    status: str
    note: str | None
    short_code: str | None
    return_for: str | None
    total_price: Decimal
    total_tax: Decimal
    total_loyalty: Decimal
    total_price_incl: Decimal | None
    sale_date: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None
    version: int
    attributes: tuple[str, ...]
    line_items: tuple[LineItem, ...]
    payments: tuple[Payment, ...]


T = TypeVar("T")


def column_names(model: type[Any]) -> tuple[str, ...]:
    """The flat (non-collection) field names of a model, which are its table's columns."""
    return tuple(f.name for f in fields(model) if f.name not in ("line_items", "payments"))


def parse_retailer(obj: Obj) -> Retailer:
    r = _Reader(obj, "retailer")
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
    r = _Reader(obj, "outlet")
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
    r = _Reader(obj, "register")
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
    r = _Reader(obj, "user")
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


def parse_customer_group(obj: Obj) -> CustomerGroup:
    r = _Reader(obj, "customer group")
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
    r = _Reader(obj, "customer")
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


def _parse_line_item(obj: Obj, position: int, sale_id: str) -> LineItem:
    r = _Reader(obj, f"sale {sale_id} line item")
    quantity = r.money0("quantity")
    price = r.money0("price")
    price_total = r.money("price_total")
    return LineItem(
        id=r.opt_str("id") or f"{sale_id}:{position}",
        sequence=position,
        product_id=r.opt_str("product_id"),
        quantity=quantity,
        price=price,
        price_total=price_total if price_total is not None else price * quantity,
        tax_total=r.money0("tax_total"),
        discount_total=r.money0("discount_total"),
        loyalty_value=r.money0("loyalty_value"),
        cost_total=r.money("cost_total"),
        status=r.opt_str("status"),
        is_return=r.boolean("is_return"),
        note=r.opt_str("note"),
    )


def _parse_payment(obj: Obj, position: int, sale_id: str) -> Payment:
    r = _Reader(obj, f"sale {sale_id} payment")
    return Payment(
        id=r.opt_str("id") or f"{sale_id}:{position}",
        sequence=position,
        name=r.opt_str("name"),
        retailer_payment_type_id=r.opt_str("retailer_payment_type_id"),
        payment_type_id=r.opt_str("payment_type_id"),
        amount=r.money0("amount"),
        payment_date=r.time("payment_date"),
    )


_ZERO = Decimal(0)


class _Unusual(Exception):
    """A value the fast path does not handle; the checked path decides."""


def _fast_money(value: Any) -> Decimal | None:
    kind = type(value)
    if kind is Decimal:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return Decimal(value)
    if value is None:
        return None
    raise _Unusual


def _fast_text(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    if value is None:
        return None
    raise _Unusual


def _fast_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if type(value) is str:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is UTC:
            return parsed
    raise _Unusual


def _fast_line_item(obj: Obj, position: int, sale_id: str) -> LineItem:
    get = obj.get
    quantity = _fast_money(get("quantity")) or _ZERO
    price = _fast_money(get("price")) or _ZERO
    price_total = _fast_money(get("price_total"))
    is_return = get("is_return", False)
    if type(is_return) is not bool:
        raise _Unusual
    return LineItem(
        id=_fast_text(get("id")) or f"{sale_id}:{position}",
        sequence=position,
        product_id=_fast_text(get("product_id")),
        quantity=quantity,
        price=price,
        price_total=price_total if price_total is not None else price * quantity,
        tax_total=_fast_money(get("tax_total")) or _ZERO,
        discount_total=_fast_money(get("discount_total")) or _ZERO,
        loyalty_value=_fast_money(get("loyalty_value")) or _ZERO,
        cost_total=_fast_money(get("cost_total")),
        status=_fast_text(get("status")),
        is_return=is_return,
        note=_fast_text(get("note")),
    )


def _fast_payment(obj: Obj, position: int, sale_id: str) -> Payment:
    get = obj.get
    return Payment(
        id=_fast_text(get("id")) or f"{sale_id}:{position}",
        sequence=position,
        name=_fast_text(get("name")),
        retailer_payment_type_id=_fast_text(get("retailer_payment_type_id")),
        payment_type_id=_fast_text(get("payment_type_id")),
        amount=_fast_money(get("amount")) or _ZERO,
        payment_date=_fast_time(get("payment_date")),
    )


def _fast_sale(obj: Obj) -> Sale:
    get = obj.get
    sale_id, status, version = get("id"), get("status"), get("version")
    if type(sale_id) is not str or not sale_id or type(status) is not str or not status:
        raise _Unusual
    if type(version) is not int:
        raise _Unusual
    attributes = get("attributes") or ()
    sequence = get("invoice_sequence")
    if type(sequence) is not int and sequence is not None:
        raise _Unusual
    return Sale(
        id=sale_id,
        outlet_id=_fast_text(get("outlet_id")),
        register_id=_fast_text(get("register_id")),
        user_id=_fast_text(get("user_id")),
        customer_id=_fast_text(get("customer_id")),
        invoice_number=_fast_text(get("invoice_number")),
        receipt_number=_fast_text(get("receipt_number")),
        invoice_sequence=sequence,
        source=_fast_text(get("source")),
        source_id=_fast_text(get("source_id")),
        status=status,
        note=_fast_text(get("note")),
        short_code=_fast_text(get("short_code")),
        return_for=_fast_text(get("return_for")),
        total_price=_fast_money(get("total_price")) or _ZERO,
        total_tax=_fast_money(get("total_tax")) or _ZERO,
        total_loyalty=_fast_money(get("total_loyalty")) or _ZERO,
        total_price_incl=_fast_money(get("total_price_incl")),
        sale_date=_fast_time(get("sale_date")),
        created_at=_fast_time(get("created_at")),
        updated_at=_fast_time(get("updated_at")),
        deleted_at=_fast_time(get("deleted_at")),
        version=version,
        attributes=tuple(str(a) for a in attributes),
        line_items=tuple(
            _fast_line_item(o, i, sale_id) for i, o in enumerate(get("line_items") or ())
        ),
        payments=tuple(_fast_payment(o, i, sale_id) for i, o in enumerate(get("payments") or ())),
    )


def parse_sale(obj: Obj) -> Sale:
    """A sale in the 2.0 shape. Well-formed sales take a fast path (the sync parses
    hundreds of thousands); anything unusual goes through the checked parser, which
    accepts the lenient forms and names the field when a value is unusable."""
    try:
        return _fast_sale(obj)
    except (_Unusual, ValueError, TypeError, AttributeError):
        return _checked_sale(obj)


def _checked_sale(obj: Obj) -> Sale:
    r = _Reader(obj, "sale")
    sale_id = r.req_str("id")
    items = obj.get("line_items") or []
    payments = obj.get("payments") or []
    if not isinstance(items, list) or not isinstance(payments, list):
        raise r._fail("line_items", "or 'payments' is not a list")
    return Sale(
        id=sale_id,
        outlet_id=r.opt_str("outlet_id"),
        register_id=r.opt_str("register_id"),
        user_id=r.opt_str("user_id"),
        customer_id=r.opt_str("customer_id"),
        invoice_number=r.opt_str("invoice_number"),
        receipt_number=r.opt_str("receipt_number"),
        invoice_sequence=r.opt_int("invoice_sequence"),
        source=r.opt_str("source"),
        source_id=r.opt_str("source_id"),
        status=r.req_str("status"),
        note=r.opt_str("note"),
        short_code=r.opt_str("short_code"),
        return_for=r.opt_str("return_for"),
        total_price=r.money0("total_price"),
        total_tax=r.money0("total_tax"),
        total_loyalty=r.money0("total_loyalty"),
        total_price_incl=r.money("total_price_incl"),
        sale_date=r.time("sale_date"),
        created_at=r.time("created_at"),
        updated_at=r.time("updated_at"),
        deleted_at=r.time("deleted_at"),
        version=r.version(),
        attributes=r.strings("attributes"),
        line_items=tuple(_parse_line_item(o, i, sale_id) for i, o in enumerate(items)),
        payments=tuple(_parse_payment(o, i, sale_id) for i, o in enumerate(payments)),
    )
