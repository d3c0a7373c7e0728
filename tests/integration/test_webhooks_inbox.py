"""The inbox repository on SQLite and PostgreSQL: dedupe, claim, back-off, parking,
returning stuck rows, figures; and PostgreSQL's SKIP LOCKED claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from greenloop.store import inbox
from tests.integration.test_webhooks_support import inbox_rows

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def _delivery(object_id: str, payload: str = "{}", kind: str = "sale.update") -> inbox.Delivery:
    return inbox.Delivery(
        type=kind,
        object_id=object_id,
        payload=payload,
        body=f"payload={payload}".encode(),
        content_type="application/x-www-form-urlencoded",
        endpoint="/webhooks/lightspeed",
        signature_encoding="body:hex",
    )


def _store(engine: Engine, *deliveries: inbox.Delivery, at: datetime = NOW) -> list[int]:
    with engine.begin() as conn:
        return [inbox.store_delivery(conn, d, at).id for d in deliveries]


def _fail(engine: Engine, ids: list[int], worker: str, at: datetime) -> dict[int, str]:
    with engine.begin() as conn:
        return inbox.fail(
            conn,
            ids,
            worker,
            at,
            reason="HTTP 500 from Lightspeed",
            max_attempts=3,
            base_seconds=10,
            max_seconds=25,
        )


def _claim(engine: Engine, worker: str, at: datetime, limit: int = 10) -> list[inbox.InboxRow]:
    with engine.begin() as conn:
        return inbox.claim_batch(conn, worker, at, limit=limit)


def test_duplicate_dedupe_key_adds_no_row(engine: Engine) -> None:
    with engine.begin() as conn:
        first = inbox.store_delivery(conn, _delivery("s1", '{"a":1}'), NOW)
        again = inbox.store_delivery(conn, _delivery("s1", '{"a":1}'), NOW + timedelta(seconds=5))
        changed = inbox.store_delivery(conn, _delivery("s1", '{"a":2}'), NOW)
        other_type = inbox.store_delivery(conn, _delivery("s1", '{"a":1}', "customer.update"), NOW)
    assert not first.duplicate
    assert again == inbox.StoreResult(first.id, duplicate=True)
    assert not changed.duplicate
    assert changed.id != first.id
    assert not other_type.duplicate
    rows = inbox_rows(engine)
    assert len(rows) == 3
    assert rows[0]["duplicates"] == 1
    assert rows[0]["last_duplicate_at"] == NOW + timedelta(seconds=5)


def test_claim_done_and_figures(engine: Engine) -> None:
    ids = _store(engine, *(_delivery(f"s{i}", str(i)) for i in range(5)))
    with engine.connect() as conn:
        stats = inbox.inbox_stats(conn, NOW + timedelta(seconds=30))
    assert stats.by_status == {"pending": 5}
    assert stats.depth == 5
    assert stats.oldest_pending_seconds == 30
    claimed = _claim(engine, "w1", NOW, limit=3)
    assert [r.id for r in claimed] == ids[:3]
    assert {r.attempts for r in claimed} == {1}
    assert [r.id for r in _claim(engine, "w2", NOW)] == ids[3:]
    with engine.begin() as conn:
        # Another worker cannot settle w1's rows.
        assert inbox.mark_done(conn, ids[:3], "w2", NOW, outcome="applied") == 0
    rows = {r["id"]: r for r in inbox_rows(engine)}
    assert rows[ids[0]]["claimed_by"] == "w1"


def test_done_rows_leave_the_depth(engine: Engine) -> None:
    ids = _store(engine, _delivery("a"), _delivery("b"))
    claimed = _claim(engine, "w1", NOW)
    assert len(claimed) == 2
    with engine.begin() as conn:
        assert inbox.mark_done(conn, ids, "w1", NOW, outcome="applied") == 2
    with engine.connect() as conn:
        stats = inbox.inbox_stats(conn, NOW)
    assert stats.by_status == {"done": 2}
    assert stats.depth == 0
    assert stats.oldest_pending_seconds is None
    row = inbox_rows(engine)[0]
    assert (row["status"], row["outcome"], row["processed_at"]) == ("done", "applied", NOW)
    assert _claim(engine, "w1", NOW + timedelta(days=1)) == []


def test_failures_back_off_exponentially_then_park_with_the_reason(engine: Engine) -> None:
    [row_id] = _store(engine, _delivery("s1"))
    [other] = _store(engine, _delivery("s2"), at=NOW + timedelta(seconds=1))
    at = NOW
    for attempt, delay in ((1, 10), (2, 20)):
        claimed = _claim(engine, "w1", at, limit=1)
        assert [(r.id, r.attempts) for r in claimed] == [(row_id, attempt)]
        assert _fail(engine, [row_id], "w1", at) == {row_id: "failed"}
        row = inbox_rows(engine)[0]
        assert row["next_attempt_at"] == at + timedelta(seconds=delay)
        assert row["last_error"] == "HTTP 500 from Lightspeed"
        # Not due yet: the next claim passes it by, so the queue moves on.
        early = _claim(engine, "w1", at + timedelta(seconds=delay - 1), limit=1)
        assert [r.id for r in early] == ([other] if attempt == 1 else [])
        with engine.begin() as conn:
            inbox.mark_done(conn, [other], "w1", at, outcome="applied")
        at += timedelta(seconds=delay)
    claimed = _claim(engine, "w1", at, limit=1)
    assert [(r.id, r.attempts) for r in claimed] == [(row_id, 3)]
    assert _fail(engine, [row_id], "w1", at) == {row_id: "parked"}
    assert inbox.backoff_delay(10, 10, 25) == 25
    parked = inbox_rows(engine)[0]
    assert (parked["status"], parked["attempts"]) == ("parked", 3)
    assert all(r.id != row_id for r in _claim(engine, "w1", at + timedelta(days=9)))
    with engine.connect() as conn:
        listed = inbox.list_rows(conn, statuses=("parked",))
        assert [r["id"] for r in listed] == [row_id]
        assert "body" not in listed[0]
    with engine.begin() as conn:
        assert inbox.requeue_parked(conn, at) == 1
    [again] = [r for r in _claim(engine, "w9", at) if r.id == row_id]
    assert again.attempts == 1


def test_stuck_and_released_rows_return_to_the_queue(engine: Engine) -> None:
    ids = _store(engine, _delivery("a"), _delivery("b"))
    assert len(_claim(engine, "crashed", NOW, limit=1)) == 1
    assert len(_claim(engine, "stopping", NOW, limit=1)) == 1
    with engine.begin() as conn:
        # Graceful shutdown: the interrupted attempt does not count.
        assert inbox.release_claims(conn, "stopping") == 1
        # A worker that died: its claim times out; the attempt counts.
        later = NOW + timedelta(minutes=10)
        assert (
            inbox.release_stale(conn, NOW + timedelta(seconds=10), older_than=timedelta(minutes=5))
            == 0
        )
        assert inbox.release_stale(conn, later, older_than=timedelta(minutes=5)) == 1
    rows = {r["id"]: r for r in inbox_rows(engine)}
    assert {r["status"] for r in rows.values()} == {"pending"}
    assert rows[ids[0]]["attempts"] == 1
    assert rows[ids[1]]["attempts"] == 0
    with engine.begin() as conn:
        # The dead worker's late answer must not settle a row it no longer holds.
        assert inbox.mark_done(conn, [ids[0]], "crashed", later, outcome="applied") == 0


def test_prune_keeps_recent_and_unfinished_rows(engine: Engine) -> None:
    old, recent, pending = _store(engine, _delivery("a"), _delivery("b"), _delivery("c"))
    _claim(engine, "w", NOW, limit=2)
    with engine.begin() as conn:
        inbox.mark_done(conn, [old, recent], "w", NOW, outcome="applied")
        conn.execute(
            inbox._inbox.update()
            .where(inbox._c.id == old)
            .values(received_at=NOW - timedelta(days=10))
        )
        assert inbox.prune_done(conn, NOW, older_than=timedelta(days=7)) == 1
    assert [r["id"] for r in inbox_rows(engine)] == [recent, pending]


def test_postgres_claims_skip_rows_another_worker_holds(engine: Engine, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite runs one worker")
    _store(engine, *(_delivery(f"s{i}", str(i)) for i in range(6)))
    with engine.connect() as first, engine.connect() as second:
        tx1 = first.begin()
        held = inbox.claim_batch(first, "w1", NOW, limit=4)
        # w1 has not committed: its rows are locked, and w2 neither waits nor gets them.
        tx2 = second.begin()
        other = inbox.claim_batch(second, "w2", NOW, limit=4)
        tx2.commit()
        tx1.commit()
    assert len(held) == 4
    assert len(other) == 2
    assert not {r.id for r in held} & {r.id for r in other}
