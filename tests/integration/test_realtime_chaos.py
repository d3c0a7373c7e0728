"""Chaos (issue 7 acceptance): the simulator streams 2,000 live changes (sales, eCom
orders, laybys paid off, returns, customer edits) while its webhooks are 20% dropped,
20% duplicated, delayed and reordered and 1% of API requests answer 500, delivered to
`greenloop serve` running as its own process. Once the system is quiet (sender idle,
inbox drained, one reconciliation poll), the database
equals what the simulator serves, and every person's tier and every profile's group
equal what a full `analyze` + `push` gives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from greenloop.config import Settings
from greenloop.runtime.service import Service
from greenloop.services import analysis, ingest
from greenloop.services import push as push_service
from greenloop.services import webhooks as webhook_service
from greenloop.services.realtime import PollReport
from greenloop.simulator.live import LiveStream
from greenloop.simulator.webhook_sender import WebhookSender
from tests.e2e.test_serve_support import (
    ServeProcess,
    free_port,
    greenloop_env,
    inbox_depth,
    wait_until,
)
from tests.integration.test_realtime_support import (
    assert_realtime_facts_match,
    recent_store,
    tiers_by_profile,
)
from tests.integration.test_webhooks_support import SECRET, inbox_rows
from tests.simulation import TOKEN, Sim, running_simulator, settings_for

CHANGES = 2000
STORE = recent_store(seed=31, customers=200)
KNOBS = {
    "secret": SECRET,
    "drop_rate": 0.2,
    "duplicate_rate": 0.2,
    "delay_max_ms": 50,
    "reorder_window": 16,
    "retry_base_seconds": 0.05,
    "retry_max_seconds": 0.5,
}


def quiet(engine: Engine, sender: WebhookSender) -> bool:
    """Nothing queued at the sender, nothing waiting in the inbox."""
    return inbox_depth(engine) == 0 and sender.idle()


@contextmanager
def serving(sim: Sim, db_url: str, workdir: Path) -> Iterator[Settings]:
    """`greenloop serve` as its own process, subscribed to the simulator's webhooks."""
    retries = {"retry_base_seconds": 0.05, "retry_max_seconds": 0.5, "max_attempts": 50}
    env = greenloop_env(
        sim.url,
        TOKEN,
        db_url,
        GREENLOOP_WEBHOOK_SECRET=SECRET,
        GREENLOOP_WEBHOOKS__POLL_INTERVAL_SECONDS="0.05",
        **{f"GREENLOOP_WEBHOOKS__{k.upper()}": str(v) for k, v in retries.items()},
    )
    settings = settings_for(
        sim.url,
        db_url,
        webhooks={"secret": SECRET, **retries},
        jobs={"poll_minutes": 0, "output_dir": str(workdir)},
    )
    serve = ServeProcess(free_port(), env, workdir)
    serve.start()
    try:
        webhook_service.register_webhooks(settings, f"{serve.url}/webhooks/lightspeed")
        yield settings
    finally:
        serve.stop()


def test_the_database_converges_under_dropped_duplicated_reordered_webhooks_and_500s(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE, rate_limit=1_000_000, fault_seed=17) as sim:
        assert sim.ctx is not None
        settings = settings_for(sim.url, db_url, jobs={"output_dir": str(tmp_path)})
        ingest.run_sync(settings)
        analysis.analyze(settings)
        report, _ = push_service.run_push(settings)
        assert report.ok
        sender = sim.ctx.webhooks
        sender.update(KNOBS)
        with serving(sim, db_url, tmp_path) as serve_settings:
            sim.control("PUT", "faults", {"error_rate": 0.01})
            sender.start()
            changes = LiveStream(sim.ctx, seed=5).run(CHANGES)
            wait_until(lambda: quiet(engine, sender), seconds=600, what="the stream to drain")
            # The reconciliation poll, as serve's schedule would run it.
            service = Service(serve_settings)
            try:
                poll: PollReport = service.poll()
            finally:
                service.shutdown()
            wait_until(lambda: quiet(engine, sender), seconds=120, what="the poll's pushes")
            sender.stop()
            sim.control("PUT", "faults", {"error_rate": 0.0})
        stats = sender.stats()
        errors = [r for r in sim.requests() if r.get("fault") == "error"]
        served = sim.store()
        realtime_tiers = tiers_by_profile(engine)
        # What a full run gives from the same facts:
        analysis.analyze(settings)
        full_tiers = tiers_by_profile(engine)
        plan, _ = push_service.run_push(settings, dry_run=True)

    assert len(changes) == CHANGES
    # The chaos happened: drops, copies, shuffles, 500s, and the poll had work to do.
    assert stats["dropped"] > 0.15 * stats["deliveries"]
    assert stats["duplicated"] > 0.1 * stats["deliveries"]
    assert stats["out_of_order"] > 0
    assert stats["gave_up"] == 0
    assert errors
    assert poll.error is None
    assert poll.caught > 0
    assert any(r["duplicates"] > 0 for r in inbox_rows(engine))
    # ...and nothing of it shows.
    assert_realtime_facts_match(engine, served)
    assert realtime_tiers == full_tiers
    assert plan.ok
    assert [(m.customer_id, m.tier) for m in plan.plan.moves] == []
