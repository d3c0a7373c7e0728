"""Customer and customer-group changes, shared by the API routes and the control API.

Documented (reference §5, §6): customers are created with a ``CustomerBase`` body whose
``first_name`` and ``last_name`` keys are required though nullable; ``loyalty_balance``,
``year_to_date`` and ``balance`` are read-only; a customer belongs to exactly one group;
group membership moves through ``POST``/``DELETE /customer_groups/{id}/customers``.
Everything else here that the docs do not say is marked [INF].
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from greenloop.simulator.clock import iso
from greenloop.simulator.context import SimContext
from greenloop.simulator.responses import ApiError, not_found
from greenloop.simulator.state import Obj, SimState, is_deleted

__all__ = [
    "CUSTOMER_BASE_FIELDS",
    "add_to_group",
    "create_customer",
    "create_group",
    "default_group_id",
    "delete_customer",
    "delete_group",
    "merge_customer",
    "parse_customer_fields",
    "put_customer",
    "remove_from_group",
    "update_group",
]

_ADDRESS = tuple(
    f"{kind}_{part}"
    for kind in ("physical", "postal")
    for part in ("address_1", "address_2", "suburb", "city", "postcode", "state", "country_id")
)
_NULLABLE_TEXT = (
    "first_name",
    "last_name",
    "email",
    "note",
    "gender",
    "date_of_birth",
    "company_name",
    "phone",
    "mobile",
    "fax",
    "twitter",
    "website",
    *_ADDRESS,
    "custom_field_1",
    "custom_field_2",
    "custom_field_3",
    "custom_field_4",
)
_FLAGS = ("enable_loyalty", "do_not_email")
CUSTOMER_BASE_FIELDS: tuple[str, ...] = (
    *_NULLABLE_TEXT,
    "customer_code",
    "customer_group_id",
    *_FLAGS,
    "on_account_limit",
)
_READ_ONLY_NUMBERS = ("year_to_date", "balance", "loyalty_balance")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# The default group of every retailer is "All Customers", group_id "1111111111" in the
# spec's examples (reference §6).
_DEFAULT_GROUP_CODE = "1111111111"
_DEFAULT_GROUP_NAME = "All Customers"


def parse_customer_fields(body: Any, *, require_names: bool) -> dict[str, Any]:
    """The ``CustomerBase`` fields of a request body, type-checked; other keys are
    ignored [INF], read-only ones included."""
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    if require_names and ("first_name" not in body or "last_name" not in body):
        raise ApiError(400, "first_name and last_name are required")
    fields: dict[str, Any] = {}
    for name in CUSTOMER_BASE_FIELDS:
        if name not in body:
            continue
        value = body[name]
        if name in _FLAGS:
            ok = isinstance(value, bool)
        elif name == "on_account_limit":
            ok = value is None or _is_number(value)
        elif name == "gender":
            ok = value in (None, "M", "F")
        else:
            # customer_code and customer_group_id are non-nullable in the schema; a null
            # is read as "not given" [INF].
            ok = value is None or isinstance(value, str)
        if not ok:
            raise ApiError(400, f"{name} has the wrong type")
        fields[name] = value
    return fields


def default_group_id(ctx: SimContext) -> str:
    """The retailer's default group; created if a store has none [INF]."""
    groups = ctx.state.snapshot("customer_groups", include_deleted=False)
    for group in groups:
        if group.get("group_id") == _DEFAULT_GROUP_CODE:
            return str(group["id"])
    for group in groups:
        if str(group.get("name", "")).casefold() == _DEFAULT_GROUP_NAME.casefold():
            return str(group["id"])
    if groups:
        return str(groups[0]["id"])
    created = _insert_group(ctx, _DEFAULT_GROUP_NAME, _DEFAULT_GROUP_CODE)
    return str(created["id"])


def create_customer(ctx: SimContext, fields: dict[str, Any], *, strict: bool = True) -> Obj:
    """A new customer from ``fields``; ``strict`` adds the API's checks (unique code)."""
    state = ctx.state
    now = iso(ctx.clock.now())
    with state.lock:
        extra = {k: v for k, v in fields.items() if k not in CUSTOMER_BASE_FIELDS}
        customer_id = str(extra.pop("id", None) or state.new_id())
        if state.view("customers", customer_id) is not None:
            raise ApiError(409, "customer already exists")
        obj: Obj = {"id": customer_id}
        obj.update(_base_defaults(ctx))
        obj.update({k: v for k, v in fields.items() if k in CUSTOMER_BASE_FIELDS})
        obj.update({name: 0 for name in _READ_ONLY_NUMBERS})
        obj.update(created_at=now, updated_at=now, deleted_at=None)
        if not strict:
            obj.update(extra)
        _settle(ctx, obj, check_unique=strict)
        return state.insert("customers", obj)


def put_customer(ctx: SimContext, customer_id: str, fields: dict[str, Any]) -> Obj:
    """The API's full update: fields left out go back to null or their default.

    [3P/INF] PUT /customers/{id} has no partial form (reference LOYALTY_AND_SYNC_ANCHORS,
    "full PUT"), so a body without ``customer_group_id`` puts the customer back in the
    default group; the customer code is kept because it cannot be null.
    """
    state = ctx.state
    with state.lock:
        _live_customer(state, customer_id)
        base = _base_defaults(ctx)
        base.update(fields)
        now = iso(ctx.clock.now())

        def change(obj: Obj) -> None:
            code = obj.get("customer_code")
            obj.update(base)
            if not base.get("customer_code"):
                obj["customer_code"] = code
            obj["updated_at"] = now
            # Only a new code is checked: a store may already hold duplicates, and
            # re-sending a customer's own code must not start failing because of them.
            changed = str(obj["customer_code"] or "").casefold() != str(code or "").casefold()
            _settle(ctx, obj, check_unique=changed)

        return state.update("customers", customer_id, change)


def merge_customer(ctx: SimContext, customer_id: str, changes: dict[str, Any]) -> Obj:
    """Change only the given fields (the control API: staff editing in the back office)."""
    state = ctx.state
    with state.lock:
        _live_customer(state, customer_id)
        if changes.get("customer_group_id") is not None:
            _live_group(state, str(changes["customer_group_id"]))
        now = iso(ctx.clock.now())

        def change(obj: Obj) -> None:
            obj.update({k: v for k, v in changes.items() if k not in ("id", "version")})
            obj["updated_at"] = changes.get("updated_at", now)
            _settle(ctx, obj, check_unique=False)

        return state.update("customers", customer_id, change)


def delete_customer(ctx: SimContext, customer_id: str) -> Obj:
    """Soft delete: ``deleted_at`` is set and the version bumps (reference §2)."""
    state = ctx.state
    with state.lock:
        _live_customer(state, customer_id)
        now = iso(ctx.clock.now())
        return state.update("customers", customer_id, lambda o: o.update(deleted_at=now))


def _check_group_name(ctx: SimContext, name: str) -> None:
    limit = ctx.config.max_group_name_length
    if len(name) > limit:
        raise ApiError(400, f"name must be at most {limit} characters")


def create_group(ctx: SimContext, body: Any) -> Obj:
    name, code = _group_fields(body)
    _check_group_name(ctx, name)
    with ctx.state.lock:
        return _insert_group(ctx, name, code)


def update_group(ctx: SimContext, group_id: str, body: Any) -> Obj:
    name, code = _group_fields(body)
    _check_group_name(ctx, name)
    state = ctx.state
    with state.lock:
        _live_group(state, group_id)
        now = iso(ctx.clock.now())

        def change(obj: Obj) -> None:
            obj.update(name=name, updated_at=now)
            if code is not None:
                obj["group_id"] = code

        return state.update("customer_groups", group_id, change)


def delete_group(ctx: SimContext, group_id: str) -> Obj:
    """Soft delete; its customers fall back to the default group [INF]."""
    state = ctx.state
    with state.lock:
        _live_group(state, group_id)
        fallback = default_group_id(ctx)
        if fallback == group_id:
            raise ApiError(400, "The default customer group cannot be deleted")
        now = iso(ctx.clock.now())
        deleted = state.update("customer_groups", group_id, lambda o: o.update(deleted_at=now))
        members = [
            str(c["id"])
            for c in state.snapshot("customers", include_deleted=False)
            if c.get("customer_group_id") == group_id
        ]
        _move(ctx, members, fallback)
        return deleted


def add_to_group(ctx: SimContext, group_id: str, body: Any) -> None:
    """Move each listed customer into the group; all or nothing [INF]."""
    ids = _customer_ids(ctx, body)
    state = ctx.state
    with state.lock:
        _live_group(state, group_id)
        _require_customers(state, ids)
        _move(ctx, [i for i in ids if _group_of(state, i) != group_id], group_id)


def remove_from_group(ctx: SimContext, group_id: str, body: Any) -> None:
    """Only the link goes (reference §5); the customer lands in the default group [INF]."""
    ids = _customer_ids(ctx, body)
    state = ctx.state
    with state.lock:
        _live_group(state, group_id)
        _require_customers(state, ids)
        fallback = default_group_id(ctx)
        _move(ctx, [i for i in ids if _group_of(state, i) == group_id], fallback)


# -- helpers ------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | Decimal | float) and not isinstance(value, bool)


def _base_defaults(ctx: SimContext) -> dict[str, Any]:
    # [INF] A new customer collects loyalty when the retailer runs loyalty; the spec's
    # create example answers enable_loyalty true for a body that did not set it.
    loyalty = ctx.state.retailer().get("loyalty") or {}
    defaults: dict[str, Any] = {name: None for name in _NULLABLE_TEXT}
    defaults.update(
        customer_code=None,
        customer_group_id=None,
        enable_loyalty=bool(loyalty.get("enabled", False)),
        do_not_email=False,
        on_account_limit=None,
    )
    return defaults


def _settle(ctx: SimContext, obj: Obj, *, check_unique: bool) -> None:
    """Fill the derived fields of a customer and check its references."""
    state = ctx.state
    group_id = obj.get("customer_group_id")
    if group_id is None:
        obj["customer_group_id"] = default_group_id(ctx)
    else:
        group = state.view("customer_groups", str(group_id))
        if group is None or is_deleted(group):
            raise ApiError(400, "customer_group_id does not name a customer group")
    if not obj.get("customer_code"):
        obj["customer_code"] = _new_customer_code(state, obj.get("first_name"))
    elif check_unique:
        # [INF] Customer codes identify a customer at the till, so duplicates are refused.
        code = str(obj["customer_code"]).casefold()
        for other in state.snapshot("customers", include_deleted=False):
            if other["id"] != obj["id"] and str(other.get("customer_code", "")).casefold() == code:
                raise ApiError(400, "customer_code is already in use")
    # The deprecated ``name`` is the full name (reference §5) [INF: derived, not stored].
    parts = [p for p in (obj.get("first_name"), obj.get("last_name")) if p]
    obj["name"] = " ".join(str(p) for p in parts) if parts else None


def _new_customer_code(state: SimState, first_name: Any) -> str:
    # Codes look like "Tony-37YP"; a nameless customer gets "UNNAMED-669D" (spec examples).
    stem = re.sub(r"[^0-9A-Za-z]", "", str(first_name or "")) or "UNNAMED"
    return f"{stem}-{state.random_text(4, _CODE_ALPHABET)}"


def _group_fields(body: Any) -> tuple[str, str | None]:
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "name is required")
    code = body.get("group_id")
    if code is not None and not isinstance(code, str):
        raise ApiError(400, "group_id must be a string")
    return name, code


def _insert_group(ctx: SimContext, name: str, code: str | None) -> Obj:
    state = ctx.state
    now = iso(ctx.clock.now())
    # [INF] Group codes look like "VIP-Y968" in the spec's example.
    stem = re.sub(r"[^0-9A-Za-z]", "", name) or "GROUP"
    group: Obj = {
        "id": state.new_id(),
        "name": name,
        "group_id": code or f"{stem}-{state.random_text(4, _CODE_ALPHABET)}",
        "retailer_id": state.retailer().get("id"),
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    return state.insert("customer_groups", group)


def _live_customer(state: SimState, customer_id: str) -> Obj:
    customer = state.view("customers", customer_id)
    if customer is None or is_deleted(customer):
        raise not_found("customer")
    return customer


def _live_group(state: SimState, group_id: str) -> Obj:
    group = state.view("customer_groups", group_id)
    if group is None or is_deleted(group):
        raise not_found("customer group")
    return group


def _group_of(state: SimState, customer_id: str) -> Any:
    customer = state.view("customers", customer_id)
    return None if customer is None else customer.get("customer_group_id")


def _customer_ids(ctx: SimContext, body: Any) -> list[str]:
    ids = body.get("customer_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "customer_ids must be a non-empty array of customer ids")
    limit = ctx.config.max_group_batch
    if len(ids) > limit:
        # [INF] The docs state no batch limit; the real one is unknown, so it is a setting.
        raise ApiError(400, f"customer_ids can hold at most {limit} ids per request")
    return list(dict.fromkeys(ids))


def _require_customers(state: SimState, ids: Iterable[str]) -> None:
    missing = [i for i in ids if (c := state.view("customers", i)) is None or is_deleted(c)]
    if missing:
        raise ApiError(404, "customer not found", ", ".join(missing))


def _move(ctx: SimContext, customer_ids: list[str], group_id: str) -> None:
    now = iso(ctx.clock.now())
    for customer_id in customer_ids:
        ctx.state.update(
            "customers",
            customer_id,
            lambda o: o.update(customer_group_id=group_id, updated_at=now),
        )
