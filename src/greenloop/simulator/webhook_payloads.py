"""What an X-Series webhook delivery carries (reference §8), built from 2.0 objects.

The body is ``application/x-www-form-urlencoded`` with a ``payload`` field holding the
object as JSON in the **API 1.0 shape**: a sale is a ``register_sale`` with
``register_sale_products`` and ``register_sale_payments``, times are written
``"2017-12-06 04:53:17"`` (UTC), and numbers are strings (``"202.980"``) while flags
stay booleans. ``domain_prefix`` and ``environment`` ride along as the docs say they
"may". Signing covers the raw form bytes, hex, unless another encoding is chosen
(the docs leave both open; reference §8, Signature).

Pure functions: no state, no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode

from greenloop.simulator.model import dumps

__all__ = [
    "SIGNATURE_ENCODINGS",
    "WEBHOOK_OF_KIND",
    "form_body",
    "payload_10",
    "signature_header",
]

Obj = dict[str, Any]

# Which webhook type a change to each collection fires (reference §8).
WEBHOOK_OF_KIND = {"sales": "sale.update", "customers": "customer.update"}
# What the HMAC covers and how the digest is written: the receiver cannot know, so the
# simulator can send each.
SIGNATURE_ENCODINGS = (
    "body:hex",
    "body:base64",
    "body:base64url",
    "payload:hex",
    "payload:base64",
    "payload:base64url",
)
# The 1.0 customer writes the integer loyalty points as a number (reference §8 sample).
_KEEP_NUMBERS = frozenset({"points"})
_CONTACT = (
    "first_name",
    "last_name",
    "company_name",
    "phone",
    "mobile",
    "fax",
    "email",
    "website",
    "twitter",
    *(
        f"{kind}_{part}"
        for kind in ("physical", "postal")
        for part in ("address_1", "address_2", "suburb", "city", "postcode", "state", "country_id")
    ),
)


def _time_10(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _scalar(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value if key in _KEEP_NUMBERS else str(value)
    # year_to_date is money, not a date.
    timed = key.endswith(("_at", "_date")) or key == "date_of_birth"
    if isinstance(value, str) and timed and key != "year_to_date":
        return _time_10(value)
    return value


def _flat(obj: Obj, *, drop: tuple[str, ...] = ()) -> Obj:
    return {
        key: _scalar(key, value)
        for key, value in obj.items()
        if not isinstance(value, dict | list) and key not in drop and key != "version"
    }


def _money(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return Decimal(str(value)) if isinstance(value, str | float) and value != "" else Decimal(0)


def _customer_10(customer: Obj) -> Obj:
    body = _flat(customer, drop=("gender",))
    body["sex"] = customer.get("gender")
    body.setdefault("points", 0)
    body["contact"] = {key: customer.get(key) for key in _CONTACT}
    return body


def _product_10(item: Obj, sale: Obj) -> Obj:
    body = _flat(item)
    body["register_id"] = sale.get("register_id")
    body.setdefault("tax_total", _scalar("tax_total", item.get("tax_total", 0)))
    note = item.get("note")
    body["attributes"] = [{"name": "line_note", "value": note}] if note else []
    return body


def _payment_10(payment: Obj) -> Obj:
    body = _flat(payment)
    body["label"] = payment.get("name")
    return body


def _sale_10(sale: Obj, customer: Obj | None) -> Obj:
    body = _flat(sale)
    body["customer_id"] = sale.get("customer_id")
    body["source_id"] = sale.get("source_id")
    body["market_id"] = "1"
    body["register_sale_products"] = [_product_10(i, sale) for i in sale.get("line_items", [])]
    body["register_sale_payments"] = [_payment_10(p) for p in sale.get("payments", [])]
    body["taxes"] = [
        {
            "id": t.get("id"),
            "tax": _scalar("tax", t.get("amount")),
            "name": t.get("name"),
            "rate": _scalar("rate", t.get("rate")),
        }
        for t in sale.get("taxes", [])
        if isinstance(t, dict)
    ]
    price, tax = _money(sale.get("total_price")), _money(sale.get("total_tax"))
    paid = sum((_money(p.get("amount")) for p in sale.get("payments", [])), Decimal(0))
    body["totals"] = {
        "total_tax": str(tax),
        "total_price": str(price),
        "total_payment": str(paid),
        "total_to_pay": str(price + tax - paid),
    }
    body["customer"] = _customer_10(customer) if customer is not None else None
    return body


def payload_10(kind: str, obj: Obj, *, customer: Obj | None = None) -> Obj:
    """The 1.0 shape of a 2.0 sale (``kind="sales"``, with its customer when known) or
    customer (``kind="customers"``), as the webhook carries it."""
    if kind == "sales":
        return _sale_10(obj, customer)
    if kind == "customers":
        return _customer_10(obj)
    raise ValueError(f"no webhook carries {kind}")


def form_body(payload: Obj, *, domain_prefix: str = "", environment: str = "production") -> bytes:
    """The form-encoded request body: ``payload`` first, then the optional fields."""
    fields = {"payload": dumps(payload)}
    if domain_prefix:
        fields["domain_prefix"] = domain_prefix
    if environment:
        fields["environment"] = environment
    return urlencode(fields).encode("utf-8")


def signature_header(secret: str, body: bytes, encoding: str = "body:hex") -> str:
    """``signature=…,algorithm=HMAC-SHA256`` over the body (or its ``payload`` field)."""
    if encoding not in SIGNATURE_ENCODINGS:
        raise ValueError(f"unknown signature encoding {encoding!r}")
    source, style = encoding.split(":")
    message = body
    if source == "payload":
        values = parse_qs(body.decode("utf-8")).get("payload", [])
        if len(values) != 1:
            raise ValueError("the body has no single 'payload' field to sign")
        message = values[0].encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    if style == "hex":
        text = digest.hex()
    elif style == "base64":
        text = base64.b64encode(digest).decode("ascii")
    else:
        text = base64.urlsafe_b64encode(digest).decode("ascii")
    return f"signature={text},algorithm=HMAC-SHA256"
