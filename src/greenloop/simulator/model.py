"""The store a simulator serves: API 2.0 objects as plain dicts, plus generator truth.

This is also the ``--store FILE.json`` format: a JSON object with an optional
``retailer`` object and the lists ``outlets``, ``registers``, ``users``,
``customer_groups``, ``customers``, ``sales`` and ``products`` (API 2.0 shape, without
``version``; the simulator assigns versions in file order). ``products`` may be left
out: a product a sale line names that the file does not list is served as a stand-in
(``greenloop.simulator.catalogue``). Two optional keys are not served by the API:
``ecom_orders`` (the eCom side of online orders, for the E-Series export) and
``truth`` (what the generator knows, for tests).

Money is ``Decimal`` in memory and a JSON number in files, with its precision kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simplejson

__all__ = ["COLLECTIONS", "StoreData", "dump_store", "dumps", "load_store", "loads"]

Obj = dict[str, Any]

# Products come last so that adding them to a store shifts no other object's version.
COLLECTIONS = (
    "outlets",
    "registers",
    "users",
    "customer_groups",
    "customers",
    "sales",
    "products",
)


@dataclass
class StoreData:
    retailer: Obj | None = None
    outlets: list[Obj] = field(default_factory=list)
    registers: list[Obj] = field(default_factory=list)
    users: list[Obj] = field(default_factory=list)
    customer_groups: list[Obj] = field(default_factory=list)
    customers: list[Obj] = field(default_factory=list)
    sales: list[Obj] = field(default_factory=list)
    products: list[Obj] = field(default_factory=list)
    ecom_orders: list[Obj] = field(default_factory=list)
    truth: Obj = field(default_factory=dict)

    def to_json_obj(self) -> Obj:
        out: Obj = {}
        if self.retailer is not None:
            out["retailer"] = self.retailer
        for name in COLLECTIONS:
            out[name] = getattr(self, name)
        if self.ecom_orders:
            out["ecom_orders"] = self.ecom_orders
        if self.truth:
            out["truth"] = self.truth
        return out

    @classmethod
    def from_json_obj(cls, data: Obj) -> StoreData:
        if not isinstance(data, dict):
            raise ValueError("a store file must hold one JSON object")
        unknown = set(data) - {"retailer", "ecom_orders", "truth", *COLLECTIONS}
        if unknown:
            raise ValueError(f"unknown keys in store file: {', '.join(sorted(unknown))}")
        lists = {}
        for name in (*COLLECTIONS, "ecom_orders"):
            value = data.get(name, [])
            if not isinstance(value, list) or not all(isinstance(o, dict) for o in value):
                raise ValueError(f"'{name}' must be a list of objects")
            lists[name] = value
        return cls(retailer=data.get("retailer"), truth=data.get("truth", {}), **lists)


def dumps(obj: Any, *, indent: int | None = None) -> str:
    """JSON with Decimals written as numbers (``34.725`` stays ``34.725``)."""
    return simplejson.dumps(obj, use_decimal=True, indent=indent, ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    """JSON with every non-integer number read as ``Decimal``."""
    return simplejson.loads(text, use_decimal=True)


def load_store(path: Path) -> StoreData:
    return StoreData.from_json_obj(loads(Path(path).read_bytes()))


def dump_store(store: StoreData, path: Path) -> None:
    Path(path).write_text(dumps(store.to_json_obj(), indent=1) + "\n", encoding="utf-8")
