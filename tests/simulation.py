"""Test helpers: a simulator on loopback, settings pointing at it, and a comparison of
what a database holds with what the simulator serves."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, select

from greenloop.config import Settings, load_settings
from greenloop.lightspeed import models as m
from greenloop.simulator.app import app_for, create_context
from greenloop.simulator.config import SimulatorConfig
from greenloop.simulator.context import SimContext
from greenloop.simulator.generator import GeneratorConfig, generate_store
from greenloop.simulator.model import StoreData, dumps, loads
from greenloop.simulator.server import start_in_thread
from greenloop.simulator.state import SimState
from greenloop.store import tables as t

TOKEN = "lsxs_pt_TESTTOKEN_0123456789"
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class Sim:
    url: str
    state: SimState
    config: SimulatorConfig
    # The running app's context: tests reach its live parts (the accepted token).
    ctx: SimContext | None = None

    def control(self, method: str, path: str, json: Any = None) -> Any:
        body = None if json is None else dumps(json).encode()
        headers = {"Content-Type": "application/json"}
        response = httpx.request(
            method, f"{self.url}/_sim/{path}", content=body, headers=headers, timeout=30
        )
        response.raise_for_status()
        return loads(response.content) if response.content else None

    def requests(self) -> list[dict[str, Any]]:
        payload = self.control("GET", "requests")
        return list(payload["data"] if isinstance(payload, dict) else payload)

    def store(self) -> dict[str, list[dict[str, Any]]]:
        payload = self.control("GET", "store")
        data = payload.get("data", payload)
        return dict(data)


def small_store(seed: int = 7, customers: int = 120, days: int = 120) -> StoreData:
    return generate_store(GeneratorConfig(seed=seed, customers=customers, days=days, anchor=ANCHOR))


@contextmanager
def running_simulator(store: StoreData | None = None, **config: Any) -> Iterator[Sim]:
    state = SimState(store if store is not None else small_store())
    cfg = SimulatorConfig(token=TOKEN, **config)
    ctx = create_context(state, cfg)
    try:
        with start_in_thread(app_for(ctx)) as server:
            yield Sim(server.url, state, cfg, ctx)
    finally:
        ctx.webhooks.close()


def settings_for(sim_url: str, db_url: str, **sections: Mapping[str, Any]) -> Settings:
    overrides: dict[str, dict[str, Any]] = {
        "lightspeed": {
            "base_url": sim_url,
            "token": TOKEN,
            "backoff_base_seconds": 0.01,
            "backoff_max_seconds": 0.05,
            "timeout_seconds": 5,
        },
        "database": {"url": db_url},
    }
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    return load_settings(None, env={}, overrides=overrides)


_FLAT = {
    "outlets": (t.outlets, m.parse_outlet),
    "registers": (t.registers, m.parse_register),
    "users": (t.users, m.parse_user),
    "customer_groups": (t.customer_groups, m.parse_customer_group),
    "customers": (t.customers, m.parse_customer),
}


def _normalise(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def expected_rows(served: Mapping[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """What the database must hold, per table, derived by parsing what the API serves."""
    out: dict[str, dict[str, Any]] = {}
    for kind, (_table, parse) in _FLAT.items():
        rows = {}
        for obj in served[kind]:
            model = parse(obj)
            rows[model.id] = {n: _normalise(getattr(model, n)) for n in m.column_names(type(model))}
        out[kind] = rows
    sales = {}
    for obj in served["sales"]:
        sale = m.parse_sale(obj)
        row = {n: _normalise(getattr(sale, n)) for n in m.column_names(m.Sale)}
        row["line_items"] = [
            {n: getattr(i, n) for n in m.column_names(m.LineItem)} for i in sale.line_items
        ]
        row["payments"] = [
            {n: getattr(p, n) for n in m.column_names(m.Payment)} for p in sale.payments
        ]
        sales[sale.id] = row
    out["sales"] = sales
    return out


def stored_rows(engine: Engine) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for kind, (table, parse) in _FLAT.items():
            names = m.column_names(type(parse({"id": "x", "version": 1})))
            out[kind] = {
                r.id: {n: r._mapping[n] for n in names} for r in conn.execute(select(table))
            }
        items: dict[str, list[dict[str, Any]]] = {}
        for r in conn.execute(select(t.sale_line_items).order_by(t.sale_line_items.c.sequence)):
            items.setdefault(r.sale_id, []).append(
                {n: r._mapping[n] for n in m.column_names(m.LineItem)}
            )
        payments: dict[str, list[dict[str, Any]]] = {}
        for r in conn.execute(select(t.sale_payments).order_by(t.sale_payments.c.sequence)):
            payments.setdefault(r.sale_id, []).append(
                {n: r._mapping[n] for n in m.column_names(m.Payment)}
            )
        sales = {}
        for r in conn.execute(select(t.sales)):
            row = {n: r._mapping[n] for n in m.column_names(m.Sale)}
            row["line_items"] = items.get(r.id, [])
            row["payments"] = payments.get(r.id, [])
            sales[r.id] = row
        out["sales"] = sales
    return out


def assert_database_matches(engine: Engine, served: Mapping[str, list[dict[str, Any]]]) -> None:
    expected, stored = expected_rows(served), stored_rows(engine)
    for kind in expected:
        assert set(stored[kind]) == set(expected[kind]), f"{kind}: ids differ"
        for object_id, row in expected[kind].items():
            assert stored[kind][object_id] == row, f"{kind} {object_id} differs"
