"""A customer edit that reaches the database through a push's refresh (before its
webhook, or with its webhook lost) is still recomputed: found by the SIGKILL test,
where an email shared by two profiles never joined them into one person."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from greenloop.runtime.service import Service
from greenloop.runtime.worker import InboxWorker
from greenloop.services import analysis, ingest, realtime
from greenloop.services import push as push_service
from greenloop.services.realtime import Realtime
from greenloop.store import tables as t
from tests.integration.test_webhooks_support import SECRET, inbox_rows
from tests.simulation import running_simulator, settings_for, small_store

STORE = small_store(seed=13, customers=60, days=90)


def _person(engine: Engine, customer_id: str) -> str:
    m = t.identity_members.c
    with engine.connect() as conn:
        return str(
            conn.execute(select(m.person_id).where(m.customer_id == customer_id)).scalar_one()
        )


def test_an_edit_stored_by_a_push_refresh_is_recomputed(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        out = {"output_dir": str(tmp_path)}
        settings = settings_for(sim.url, db_url, webhooks={"secret": SECRET}, jobs=out)
        ingest.run_sync(settings)
        analysis.analyze(settings)
        assert push_service.run_push(settings)[0].ok
        live = [c for c in sim.state.snapshot("customers") if c.get("email")]
        first, second, bystander = live[0], live[1], live[2]
        assert _person(engine, first["id"]) != _person(engine, second["id"])
        # Staff give the second profile the first one's email and first name (a shared
        # email alone, under two first names, is a household); its webhook is lost.
        edit = {"email": first["email"], "first_name": first["first_name"]}
        sim.control("PUT", f"customers/{second['id']}", edit)
        service = Service(settings)
        try:
            # Any real-time push refreshes customers by cursor, storing the edit...
            realtime.push_profiles(service.realtime, [bystander["id"]])
            queued = [r for r in inbox_rows(engine) if r["first_seen_by"] == "push"]
            assert [(r["object_id"], r["status"]) for r in queued] == [(second["id"], "pending")]
            # ...and the worker recomputes it: the two profiles are now one person.
            worker = InboxWorker(Realtime.for_settings(settings, service.engine, service.client))
            report = worker.run_until_idle()
        finally:
            service.shutdown()
    assert report.unchanged == 1  # the stored copy was current; recomputed all the same
    assert report.persons >= 1
    assert _person(engine, first["id"]) == _person(engine, second["id"])
