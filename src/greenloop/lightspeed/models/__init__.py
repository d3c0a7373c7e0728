"""Typed models of the X-Series 2.0 objects GreenLoop reads, and their parsers: one module
per resource (:mod:`.shop`, :mod:`.customers`, :mod:`.sales`), the field reader they share
(:mod:`.reading`), and the sale parsers (:mod:`.sale_parsing`)."""

from greenloop.lightspeed.models.customers import (
    CUSTOMER_TEXT_FIELDS,
    Customer,
    CustomerGroup,
    parse_customer,
    parse_customer_group,
)
from greenloop.lightspeed.models.reading import column_names, parse_api_time
from greenloop.lightspeed.models.sale_parsing import parse_sale
from greenloop.lightspeed.models.sales import LineItem, Payment, Sale
from greenloop.lightspeed.models.shop import (
    Outlet,
    Register,
    Retailer,
    User,
    parse_outlet,
    parse_register,
    parse_retailer,
    parse_user,
)

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
    "column_names",
    "parse_api_time",
    "parse_customer",
    "parse_customer_group",
    "parse_outlet",
    "parse_register",
    "parse_retailer",
    "parse_sale",
    "parse_user",
]
