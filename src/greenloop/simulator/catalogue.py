"""Products in the 2.0 shape: the generated catalogue, and stand-ins for products a sale
names that a store file does not list.

The 2.0 ``Product`` schema requires ``handle``, ``name`` and ``sku``; the rest follows
the ``GET /products`` examples (reference: ``xseries-openapi-2.0.json``, ``ListProducts``
and ``GetProductByID``). Every product id a sale line names resolves through
``GET /products/{id}``: the generator lists its whole catalogue, a store file's missing
products are added when it is loaded, and a sale rung up through the control API adds
any product it names that the store lacks (see :func:`stand_in`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["catalogue_product", "missing_products", "product_id_of", "stand_in"]

Obj = dict[str, Any]

_PLACES = Decimal("0.00001")
# The placeholder images of the spec's own examples.
_IMAGE = "https://secure.retail.lightspeed.app/images/placeholder/product/no-image-white-{}.png"


def catalogue_product(
    *,
    product_id: str,
    name: str,
    sku: str,
    price: Decimal,
    tax_rate: Decimal,
    supply_price: Decimal,
    created_at: str,
    has_inventory: bool = True,
) -> Obj:
    """One product as ``GET /products/{id}`` serves it (without ``version``).

    ``price`` is the list price before tax; ``price_including_tax`` adds ``tax_rate``
    kept to five decimals, as the spec's examples write it (``3.02632``)."""
    including = (price * (1 + tax_rate)).quantize(_PLACES, ROUND_HALF_UP)
    return {
        "id": product_id,
        "name": name,
        "variant_name": name,
        "handle": _handle(name) or _handle(product_id) or "product",
        "sku": sku,
        "description": "",
        "source": "USER",
        "source_id": None,
        "source_variant_id": None,
        "active": True,
        "is_active": True,
        "has_inventory": has_inventory,
        "is_composite": False,
        "has_variants": False,
        "variant_parent_id": None,
        "variant_options": [],
        "price_excluding_tax": _plain(price),
        "price_including_tax": _plain(including),
        "supply_price": _plain(supply_price),
        "supplier_id": None,
        "supplier_code": None,
        "product_type_id": None,
        "brand_id": None,
        "tag_ids": [],
        "categories": [],
        "attributes": [],
        "images": [],
        "product_codes": [],
        "product_suppliers": [],
        "image_url": _IMAGE.format("standard"),
        "image_thumbnail_url": _IMAGE.format("thumb"),
        "account_code": None,
        "account_code_purchase": None,
        "button_order": 0,
        "loyalty_amount": None,
        "created_at": created_at,
        "updated_at": created_at,
        "deleted_at": None,
    }


def stand_in(product_id: str, line: Obj, created_at: str) -> Obj:
    """A product for an id a sale line names and the store does not list.

    [INF] Real X-Series refuses a sale of an unknown product; the simulator's store files
    and its control API predate its catalogue, so it adds the product instead, priced
    from the line: list price = ``price`` + ``discount``, tax from the line's unit tax."""
    price = _money(line.get("price")) + _money(line.get("discount"))
    tax = _money(line.get("tax"))
    rate = tax / price if price else Decimal(0)
    product = catalogue_product(
        product_id=product_id,
        name=f"Product {product_id}",
        sku=product_id,
        price=price,
        tax_rate=rate,
        supply_price=_money(line.get("cost")),
        created_at=created_at,
    )
    product["price_including_tax"] = _plain(price + tax)
    return product


def product_id_of(line: Any) -> str | None:
    """The product id a line item names, or None."""
    if not isinstance(line, dict):
        return None
    value = line.get("product_id")
    return str(value) if value not in (None, "") else None


def missing_products(sales: Iterable[Obj], known: Iterable[str]) -> list[Obj]:
    """Stand-ins for every product the sales name that ``known`` lacks, in order of
    first mention, each created at the sale date of the first sale naming it."""
    seen = set(known)
    out: list[Obj] = []
    for sale in sales:
        for line in sale.get("line_items") or ():
            product_id = product_id_of(line)
            if product_id is None or product_id in seen:
                continue
            seen.add(product_id)
            when = sale.get("sale_date") or sale.get("created_at") or "1970-01-01T00:00:00+00:00"
            out.append(stand_in(product_id, line, str(when)))
    return out


def _handle(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _money(value: Any) -> Decimal:
    if isinstance(value, bool):
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    return Decimal(0)


def _plain(value: Decimal) -> Decimal:
    """Drop trailing zeros (``30.00000`` → ``30``) without writing ``3E+1``."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()
