"""The simulator's in-memory store: objects per collection under one global version.

Lightspeed documents ``version`` as a monotonically increasing integer that is global
to the retailer and bumps on every change (reference §2), so one counter here serves
every collection, the retailer and the webhook subscriptions alike.

Listing by version must be cheap for pages of thousands of sales, so each collection
keeps an append-only log of ``(version, id)`` pairs in version order. A change appends
a new pair and leaves the old one stale; readers bisect to ``after`` and skip stale
pairs, and the log is compacted when stale pairs dominate. Each object's JSON is
cached until the object changes, so a page is a join of ready-made strings.

Stored objects are never mutated in place: a change builds a new dict. Readers that
hold a reference (search, the store dump) therefore see a consistent object, and must
not mutate it either.
"""

from __future__ import annotations

import copy
import gc
import random
import threading
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from greenloop.simulator.catalogue import missing_products
from greenloop.simulator.model import COLLECTIONS, StoreData, dumps

__all__ = ["KINDS", "Listener", "Obj", "Page", "SimState"]

Obj = dict[str, Any]
Listener = Callable[[str, Obj], None]

KINDS: tuple[str, ...] = (*COLLECTIONS, "webhooks")
RETAILER = "retailer"
PRODUCTS = "products"
# Webhook subscriptions share the version counter (any change bumps it) but the
# Webhook shape has no version field, so none is written into them.
_UNVERSIONED = frozenset({"webhooks"})
_COMPACT_MIN_STALE = 1024


@dataclass(frozen=True)
class Page:
    """One page of a version-ordered listing: each object's JSON text, and the
    lowest and highest version on the page (None when the page is empty)."""

    items: list[str]
    min_version: int | None
    max_version: int | None


class _Collection:
    __slots__ = ("cache", "current", "log_ids", "log_versions", "objects", "stale")

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.current: dict[str, int] = {}
        self.log_versions: list[int] = []
        self.log_ids: list[str] = []
        self.cache: dict[str, str] = {}
        self.stale = 0


def is_deleted(obj: Obj) -> bool:
    return obj.get("deleted_at") is not None


class SimState:
    """Thread-safe store of one simulated retailer.

    ``lock`` is re-entrant and public so a multi-step change (validate several ids,
    then apply them all) can run atomically. Listeners are called after every change
    while the lock is held, so they see changes in version order; they must be quick
    (enqueue, do not deliver) and must not mutate the object they receive.
    """

    def __init__(
        self, store: StoreData | None = None, *, id_seed: int = 0, prerender: bool = True
    ) -> None:
        self.lock = threading.RLock()
        self._version = 0
        self._collections = {kind: _Collection() for kind in KINDS}
        self._retailer: Obj = {}
        self._retailer_json = ""
        self._listeners: list[Listener] = []
        self._rng = random.Random(id_seed)
        # What the generator knows and the API does not tell (GET /_sim/truth).
        self.truth: Obj = dict(store.truth) if store is not None else {}
        # A bulk load allocates hundreds of thousands of objects, and every collection
        # pass would rescan the whole (already large) heap; collect once afterwards.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._load(store if store is not None else StoreData(), prerender=prerender)
        finally:
            if collecting:
                gc.enable()

    # -- identity -----------------------------------------------------------------

    def new_id(self) -> str:
        """A random UUID (version 4 layout) from the state's seeded generator."""
        with self.lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def random_text(self, length: int, alphabet: str) -> str:
        with self.lock:
            return "".join(self._rng.choice(alphabet) for _ in range(length))

    # -- reading ------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The highest version handed out so far."""
        return self._version

    def retailer(self) -> Obj:
        with self.lock:
            return copy.deepcopy(self._retailer)

    def retailer_json(self) -> str:
        return self._retailer_json

    def get(self, kind: str, object_id: str) -> Obj | None:
        """A private copy of one object (deleted ones included), or None."""
        with self.lock:
            obj = self._collections[kind].objects.get(object_id)
            return copy.deepcopy(obj) if obj is not None else None

    def view(self, kind: str, object_id: str) -> Obj | None:
        """The stored object itself (shared, read-only), or None; cheaper than :meth:`get`."""
        with self.lock:
            return self._collections[kind].objects.get(object_id)

    def get_json(self, kind: str, object_id: str) -> str | None:
        with self.lock:
            col = self._collections[kind]
            obj = col.objects.get(object_id)
            return None if obj is None else self._json(col, object_id, obj)

    def snapshot(self, kind: str, *, include_deleted: bool = True) -> list[Obj]:
        """Every object of a collection in version order, as shared read-only references."""
        with self.lock:
            col = self._collections[kind]
            current = col.current
            objs = [
                col.objects[i]
                for v, i in zip(col.log_versions, col.log_ids, strict=True)
                if current.get(i) == v
            ]
        return objs if include_deleted else [o for o in objs if not is_deleted(o)]

    def json_of(self, kind: str, obj: Obj) -> str:
        """The cached JSON of an object obtained from :meth:`snapshot`."""
        with self.lock:
            col = self._collections[kind]
            object_id = obj["id"]
            if col.objects.get(object_id) is obj:
                return self._json(col, object_id, obj)
        return dumps(obj)

    def count(self, kind: str, *, include_deleted: bool = True) -> int:
        with self.lock:
            objs = self._collections[kind].objects.values()
            return len(objs) if include_deleted else sum(not is_deleted(o) for o in objs)

    def version_of(self, kind: str, object_id: str) -> int | None:
        with self.lock:
            return self._collections[kind].current.get(object_id)

    def list_page(
        self,
        kind: str,
        *,
        after: int = 0,
        before: int | None = None,
        page_size: int,
        include_deleted: bool = False,
        match: Callable[[Obj], bool] | None = None,
    ) -> Page:
        """Objects with ``after < version < before`` in ascending version order."""
        items: list[str] = []
        low: int | None = None
        high: int | None = None
        with self.lock:
            col = self._collections[kind]
            versions, ids, current, objects = (
                col.log_versions,
                col.log_ids,
                col.current,
                col.objects,
            )
            for i in range(bisect_right(versions, after), len(versions)):
                version = versions[i]
                if before is not None and version >= before:
                    break
                object_id = ids[i]
                if current.get(object_id) != version:
                    continue
                obj = objects[object_id]
                if not include_deleted and obj.get("deleted_at") is not None:
                    continue
                if match is not None and not match(obj):
                    continue
                items.append(self._json(col, object_id, obj))
                if low is None:
                    low = version
                high = version
                if len(items) >= page_size:
                    break
        return Page(items, low, high)

    def dump(self) -> Obj:
        """Every current object per collection, deleted ones included, with versions."""
        with self.lock:
            out: Obj = {"version": self._version, RETAILER: self._retailer}
            for kind in KINDS:
                out[kind] = self.snapshot(kind)
            return out

    # -- changing -----------------------------------------------------------------

    def insert(self, kind: str, obj: Obj) -> Obj:
        """Store a new object (it must carry a fresh ``id``); returns a copy as stored."""
        with self.lock:
            if obj["id"] in self._collections[kind].objects:
                raise KeyError(f"{kind} {obj['id']} already exists")
            return copy.deepcopy(self._store(kind, copy.deepcopy(obj)))

    def update(self, kind: str, object_id: str, change: Callable[[Obj], None]) -> Obj:
        """Apply ``change`` to a copy of an object and store it under a new version."""
        with self.lock:
            current = self._collections[kind].objects.get(object_id)
            if current is None:
                raise KeyError(f"{kind} {object_id} not found")
            obj = copy.deepcopy(current)
            change(obj)
            obj["id"] = object_id
            return copy.deepcopy(self._store(kind, obj))

    def remove(self, kind: str, object_id: str) -> Obj | None:
        """Forget an object entirely (only webhook subscriptions are hard-deleted)."""
        with self.lock:
            col = self._collections[kind]
            obj = col.objects.pop(object_id, None)
            if obj is None:
                return None
            del col.current[object_id]
            col.cache.pop(object_id, None)
            col.stale += 1
            self._version += 1
            self._notify(kind, obj)
            return copy.deepcopy(obj)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(kind, obj)`` after every change; ``kind`` is the collection
        name (``"customers"``, ``"sales"``, ``"webhooks"``...)."""
        with self.lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self.lock:
            self._listeners.remove(listener)

    # -- internals ----------------------------------------------------------------

    def _load(self, store: StoreData, *, prerender: bool) -> None:
        # Versions follow file order: the retailer, then each collection in the order
        # of model.COLLECTIONS, each list in order (the --store format's contract).
        retailer = dict(store.retailer) if store.retailer else _default_retailer(self.new_id())
        self._version += 1
        retailer["version"] = str(self._version)
        self._retailer = retailer
        self._retailer_json = dumps(retailer)
        for kind in COLLECTIONS:
            col = self._collections[kind]
            for source in getattr(store, kind):
                obj = dict(source)
                if obj.get("id") in col.objects:
                    raise ValueError(f"duplicate id in {kind}: {obj.get('id')}")
                self._append(col, kind, obj)
            if kind == PRODUCTS:
                # Every product a sale names must resolve: what the file does not list
                # is added after it, so no listed object's version moves.
                for obj in missing_products(store.sales, col.objects):
                    self._append(col, kind, obj)
            if prerender:
                col.cache = {i: dumps(o) for i, o in col.objects.items()}

    def _store(self, kind: str, obj: Obj) -> Obj:
        col = self._collections[kind]
        if obj["id"] in col.current:
            col.stale += 1
        col.cache.pop(obj["id"], None)
        self._append(col, kind, obj)
        if col.stale >= _COMPACT_MIN_STALE and col.stale * 2 > len(col.log_versions):
            _compact(col)
        self._notify(kind, obj)
        return obj

    def _append(self, col: _Collection, kind: str, obj: Obj) -> None:
        self._version += 1
        object_id = obj["id"]
        if kind not in _UNVERSIONED:
            obj["version"] = self._version
        col.objects[object_id] = obj
        col.current[object_id] = self._version
        col.log_versions.append(self._version)
        col.log_ids.append(object_id)

    def _json(self, col: _Collection, object_id: str, obj: Obj) -> str:
        text = col.cache.get(object_id)
        if text is None:
            text = dumps(obj)
            col.cache[object_id] = text
        return text

    def _notify(self, kind: str, obj: Obj) -> None:
        for listener in list(self._listeners):
            listener(kind, copy.deepcopy(obj))


def _compact(col: _Collection) -> None:
    pairs: Iterable[tuple[int, str]] = sorted((v, i) for i, v in col.current.items())
    col.log_versions = []
    col.log_ids = []
    for version, object_id in pairs:
        col.log_versions.append(version)
        col.log_ids.append(object_id)
    col.stale = 0


def _default_retailer(retailer_id: str) -> Obj:
    # [INF] Used only when a store file has no retailer. ``timezone`` is left out: the
    # 2.0 schema types it as an object while the docs show a zone name string, so no
    # value satisfies both.
    return {
        "id": retailer_id,
        "name": "GreenLoop Demo Store",
        "domain_prefix": "greenloopdemo",
        "store_url": "https://greenloopdemo.retail.lightspeed.app",
        "account_status": "active",
        "account_type": "standard",
        "culture": "en-US",
        "country": "US",
        "currency": {"code": "USD", "symbol": "$"},
        "tax_exclusive": True,
        "loyalty": {"enabled": True, "ratio": 1, "send_welcome_email": False},
        "store_credit": True,
        "gift_cards": {"enabled": False, "never_enabled": True},
        "sku_sequence": {"enabled": False, "value": 10000},
        "created_at": "2020-01-01T00:00:00+00:00",
        "activated_at": "2020-01-01T00:00:00+00:00",
    }
