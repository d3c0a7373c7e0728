"""The webhook types X-Series documents (reference §8). GreenLoop processes two of them
(``sale.update``, ``customer.update``) and acknowledges the rest."""

from __future__ import annotations

__all__ = ["PROCESSED_TYPES", "WEBHOOK_TYPES"]

WEBHOOK_TYPES = (
    "sale.update",
    "product.update",
    "customer.update",
    "inventory.update",
    "register_closure.create",
    "consignment.send",
    "consignment.receive",
)

PROCESSED_TYPES = ("sale.update", "customer.update")
