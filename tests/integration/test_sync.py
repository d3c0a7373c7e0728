"""`greenloop sync` against the simulator over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select

from greenloop.errors import AuthFailed, ConnectionFailed, GarbledResponse, ServerError
from greenloop.services import ingest
from greenloop.services.tokens import lightspeed_client
from greenloop.store import planner_stats, repo
from greenloop.store import tables as t
from greenloop.sync import pull
from tests.simulation import (
    TOKEN,
    assert_database_matches,
    running_simulator,
    settings_for,
    small_store,
)

COLLECTIONS = ("outlets", "registers", "users", "customer_groups", "customers", "sales")


def test_sync_stores_exactly_what_the_api_lists_then_is_a_no_op(
    engine: Engine, db_url: str
) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url, sync={"page_size": 50})
        first = ingest.run_sync(settings)
        assert_database_matches(engine, sim.store())
        assert first.resources["sales"].fetched == len(sim.store()["sales"])
        # pages of 50 plus one empty page per resource, plus the retailer
        for name in COLLECTIONS:
            n = first.resources[name].fetched
            assert first.resources[name].requests == -(-n // 50) + 1, name

        second = ingest.run_sync(settings)
    assert second.changed == 0
    assert {name: r.requests for name, r in second.resources.items()} == {
        name: 1 for name in ("retailer", *COLLECTIONS)
    }
    assert second.requests == 7


def test_incremental_sync_fetches_only_changes(engine: Engine, db_url: str) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url)
        ingest.run_sync(settings)
        customer = next(c for c in sim.store()["customers"] if not c.get("deleted_at"))
        sim.control("PUT", f"customers/{customer['id']}", {"first_name": "Renamed"})
        register = sim.store()["registers"][0]
        sim.control(
            "POST",
            "sales",
            {
                "register_id": register["id"],
                "customer_id": customer["id"],
                "status": "CLOSED",
                "line_items": [{"product_id": "p-1", "quantity": 2, "price": Decimal("12.5")}],
            },
        )
        report = ingest.run_sync(settings)
        fetched = {name: r.fetched for name, r in report.resources.items()}
        # A new sale advances its register's invoice counter, so the register changed too.
        assert fetched == {
            "retailer": 1,
            "outlets": 0,
            "registers": 1,
            "users": 0,
            "customer_groups": 0,
            "customers": 1,
            "sales": 1,
        }
        assert report.changed == 3
        assert_database_matches(engine, sim.store())
    with engine.connect() as conn:
        name = conn.execute(
            select(t.customers.c.first_name).where(t.customers.c.id == customer["id"])
        )
        assert name.scalar_one() == "Renamed"


@pytest.mark.parametrize("style", ["null_fields", "null", "absent"])
def test_every_empty_page_style_syncs(engine: Engine, db_url: str, style: str) -> None:
    with running_simulator(empty_version=style) as sim:
        settings = settings_for(sim.url, db_url)
        ingest.run_sync(settings)
        assert ingest.run_sync(settings).requests == 7


def test_a_server_page_cap_below_our_page_size_still_syncs_everything(
    engine: Engine, db_url: str
) -> None:
    with running_simulator(default_page_size=25, max_page_size=25) as sim:
        ingest.run_sync(settings_for(sim.url, db_url, sync={"page_size": 1000}))
        assert_database_matches(engine, sim.store())


def test_rate_limit_is_respected_without_a_single_429(engine: Engine, db_url: str) -> None:
    with running_simulator(rate_limit=6, rate_window_seconds=1.5) as sim:
        settings = settings_for(
            sim.url, db_url, sync={"page_size": 200}, lightspeed={"rate_limit_window_seconds": 1.5}
        )
        report = ingest.run_sync(settings)
        log = sim.requests()
        assert_database_matches(engine, sim.store())
    api_calls = [r for r in log if str(r["path"]).startswith("/api/")]
    assert len(api_calls) == report.requests > 6  # needed more than one window
    assert [r for r in api_calls if r["status"] == 429] == []


def test_retry_after_is_honoured_after_a_429(engine: Engine, db_url: str) -> None:
    with running_simulator(rate_limit=100, rate_window_seconds=2) as sim:
        sim.control("PUT", "rate_limit", {"limit": 100, "window_seconds": 2, "remaining": 0})
        ingest.run_sync(settings_for(sim.url, db_url, lightspeed={"rate_limit_window_seconds": 2}))
        log = [r for r in sim.requests() if str(r["path"]).startswith("/api/")]
    first, second = log[0], log[1]
    assert first["status"] == 429
    retry_at = parsedate_to_datetime(first["retry_after"])
    assert datetime.fromisoformat(second["time"]) >= retry_at
    assert all(r["status"] == 200 for r in log[1:])


def test_wrong_token_fails_clearly_and_never_echoes_it(engine: Engine, db_url: str) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url, lightspeed={"token": "lsxs_pt_WRONG_wrong_1234"})
        with pytest.raises(AuthFailed) as info:
            ingest.run_sync(settings)
    text = info.value.one_line()
    assert "Personal Tokens" in text
    assert "WRONG" not in text
    assert TOKEN not in text


def test_unreachable_host_is_a_connection_failure(engine: Engine, db_url: str) -> None:
    settings = settings_for("http://127.0.0.1:9", db_url, lightspeed={"max_retries": 1})
    with pytest.raises(ConnectionFailed, match=r"cannot reach 127\.0\.0\.1"):
        ingest.run_sync(settings)


@pytest.mark.parametrize(
    ("fault", "error"),
    [("error_rate", ServerError), ("malformed_rate", GarbledResponse)],
)
def test_faults_after_a_good_sync_lose_nothing(
    engine: Engine, db_url: str, fault: str, error: type[Exception]
) -> None:
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url, lightspeed={"max_retries": 2})
        ingest.run_sync(settings)
        with engine.connect() as conn:
            before_cursors = repo.get_cursors(conn)
            before_sales = conn.execute(select(func.count()).select_from(t.sales)).scalar_one()
        customer = next(c for c in sim.store()["customers"] if not c.get("deleted_at"))
        sim.control("PUT", f"customers/{customer['id']}", {"last_name": "Changed"})
        sim.control("PUT", "faults", {fault: 1.0})
        with pytest.raises(error):
            ingest.run_sync(settings)
        with engine.connect() as conn:
            assert repo.get_cursors(conn) == before_cursors
            assert (
                conn.execute(select(func.count()).select_from(t.sales)).scalar_one() == before_sales
            )
        sim.control("PUT", "faults", {fault: 0.0})
        ingest.run_sync(settings)
        assert_database_matches(engine, sim.store())


def test_a_first_sync_keeps_postgresql_statistics_up_with_its_tables(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page looks its ids up in tables that grow under it: PostgreSQL must not
    plan those lookups for the empty tables it last saw (whole-table scans made a
    200,000-sale first sync 7× slower than its floor). The statistics stay within half
    of the rows stored, for sales and the children they replace."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite finds rows by primary key whatever its statistics")
    monkeypatch.setattr(planner_stats, "MIN_ROWS", 100)
    with running_simulator(small_store(seed=3, customers=150, days=365)) as sim:
        ingest.run_sync(settings_for(sim.url, db_url, sync={"page_size": 50}))
    with engine.connect() as conn:
        estimates = {
            name: conn.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (name,)
            ).scalar_one()
            for name in ("sales", "sale_line_items", "sale_payments", "customers")
        }
        sales = conn.execute(select(func.count()).select_from(t.sales)).scalar_one()
    assert sales >= 400
    assert estimates["sales"] * 2 + 50 >= sales
    assert min(estimates.values()) > 0


class _PageFailed(Exception):
    pass


# A long bound, so that a slow machine's pages still fill a group before it.
@pytest.mark.parametrize("seconds", [60.0, 0.0])
def test_pages_commit_in_groups_and_a_failure_keeps_the_last_group(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch, seconds: float
) -> None:
    """Sales pages commit PAGES_PER_COMMIT at a time (or every page once a transaction is
    COMMIT_SECONDS old): a failure in the seventh page keeps the pages of the groups
    committed before it, cursor and all, and the next run stores the rest."""
    monkeypatch.setattr(pull, "COMMIT_SECONDS", seconds)
    page = 10
    kept_pages = pull.PAGES_PER_COMMIT if seconds else 6
    stored = repo.upsert_sales
    calls = 0

    def failing_on_the_seventh(conn: Connection, sales: Any) -> repo.UpsertCounts:
        nonlocal calls
        calls += 1
        if calls == 7:
            raise _PageFailed("the seventh page failed")
        return stored(conn, sales)

    with running_simulator() as sim:
        assert len(sim.store()["sales"]) > 7 * page
        settings = settings_for(sim.url, db_url, sync={"page_size": page})
        monkeypatch.setattr(repo, "upsert_sales", failing_on_the_seventh)
        with pytest.raises(_PageFailed):
            ingest.run_sync(settings)
        with engine.connect() as conn:
            versions = conn.execute(select(t.sales.c.version)).scalars().all()
            cursor = repo.get_cursors(conn)["sales"]
        assert len(versions) == kept_pages * page
        assert cursor == max(versions)
        monkeypatch.setattr(repo, "upsert_sales", stored)
        again = ingest.run_sync(settings)
        assert again.resources["sales"].new == len(sim.store()["sales"]) - kept_pages * page
        assert_database_matches(engine, sim.store())


class _SalesPagesFailing:
    """The real client, except that its seventh page of sales never arrives."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def iter_version_pages(self, path: str, **kwargs: Any) -> Iterator[Any]:
        for number, page in enumerate(self._client.iter_version_pages(path, **kwargs), 1):
            if path.endswith("/sales") and number == 7:
                raise ConnectionFailed("the seventh page of sales never arrived")
            yield page


def test_a_failed_fetch_commits_the_pages_written_before_it(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between pages nothing is half-written: the six pages stored before the fetch
    that failed are committed (one short of a second group), so an API that fails every
    few pages still lets each run get further."""
    monkeypatch.setattr(pull, "COMMIT_SECONDS", 60.0)
    page = 10
    with running_simulator() as sim:
        settings = settings_for(sim.url, db_url, sync={"page_size": page})
        with pytest.raises(ConnectionFailed, match="seventh page"):
            ingest.run_sync(
                settings, client_factory=lambda s: _SalesPagesFailing(lightspeed_client(s))
            )
        with engine.connect() as conn:
            versions = conn.execute(select(t.sales.c.version)).scalars().all()
            cursor = repo.get_cursors(conn)["sales"]
        assert len(versions) == 6 * page
        assert cursor == max(versions)
        ingest.run_sync(settings)
        assert_database_matches(engine, sim.store())
