"""`tiers push` and `tiers verify` against the simulator over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from greenloop.analytics.program import program_from_settings
from greenloop.cli import app
from greenloop.config import Settings
from greenloop.domain.group_plan import batches
from greenloop.lightspeed.client import connect
from greenloop.push.apply import push_tiers
from greenloop.push.refresh import CUSTOMERS, GROUPS_AND_CUSTOMERS
from greenloop.push.report import PushReport
from greenloop.push.verify import verify_tiers
from greenloop.services import analysis, ingest
from greenloop.services import push as push_service
from greenloop.simulator import ops_customers
from greenloop.store import tables as t
from tests.simulation import ANCHOR, TOKEN, Sim, running_simulator, settings_for, small_store

STORE = small_store(seed=21, customers=220, days=240)
TIER_GROUP_NAMES = {
    "First Time Buyer",
    "GreenHaus Crew - Seed",
    "GreenHaus Crew - Sprout",
    "GreenHaus Crew - Bloom",
    "GreenHaus Crew - Evergreen",
}


def analyzed(sim: Sim, db_url: str, tmp_path: Path, **push: Any) -> Settings:
    settings = settings_for(
        sim.url,
        db_url,
        push={"batch_size": 7, **push},
        jobs={"output_dir": str(tmp_path / "out")},
    )
    ingest.run_sync(settings)
    analysis.analyze(settings, now=ANCHOR)
    return settings


def group_ids(sim: Sim) -> dict[str, str]:
    return {g["name"]: g["id"] for g in sim.state.snapshot("customer_groups")}


def api_groups(sim: Sim) -> dict[str, str | None]:
    return {
        c["id"]: c.get("customer_group_id")
        for c in sim.state.snapshot("customers", include_deleted=False)
    }


def writes(sim: Sim) -> list[dict[str, Any]]:
    return [r for r in sim.requests() if r["method"] in {"POST", "PUT", "PATCH", "DELETE"}]


def group_changes(sim: Sim) -> Counter[str]:
    """Counts every change of a customer's group the simulator makes from now on."""
    seen = dict(api_groups(sim))
    changes: Counter[str] = Counter()

    def listen(kind: str, obj: dict[str, Any]) -> None:
        if kind == "customers" and seen.get(obj["id"]) != obj.get("customer_group_id"):
            seen[obj["id"]] = obj.get("customer_group_id")
            changes[obj["id"]] += 1

    sim.state.add_listener(listen)
    return changes


def expected_groups(engine: Engine, sim: Sim) -> dict[str, str]:
    """Each live profile's tier group, from the persons GreenLoop computed."""
    ids = group_ids(sim)
    by_tier = {
        "First Time Buyer": "First Time Buyer",
        "Seed": "GreenHaus Crew - Seed",
        "Sprout": "GreenHaus Crew - Sprout",
        "Bloom": "GreenHaus Crew - Bloom",
        "Evergreen": "GreenHaus Crew - Evergreen",
    }
    m, p = t.identity_members.c, t.persons.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.customer_id, p.tier).join(t.persons, p.id == m.person_id)
        ).all()
    return {
        r.customer_id: ids[by_tier[r.tier]] if r.tier else ids["All Customers"]
        for r in rows
        if r.customer_id
    }


def test_push_moves_changed_customers_once_and_a_second_push_sends_nothing(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        settings = analyzed(sim, db_url, tmp_path)
        sim.control("DELETE", "requests")
        dry, _ = push_service.run_push(settings, dry_run=True)
        assert writes(sim) == []
        assert dry.missing_groups == ["GreenHaus Crew - Evergreen"] or not any(
            m.tier == "Evergreen" for m in dry.plan.moves
        )
        assert dry.plan.moves, "the generated store has customers out of their tier group"

        report, log_file = push_service.run_push(settings)
        assert report.ok, report.error
        assert "GreenHaus Crew - Evergreen" in report.created_groups
        assert report.moved == len(report.plan.moves) == len(dry.plan.moves)
        assert report.requests.moves == report.minimum_move_requests
        posts = [w for w in writes(sim) if w["path"].endswith("/customers")]
        assert len(posts) == report.batches == report.minimum_move_requests
        assert not any(w["method"] == "PUT" for w in writes(sim))

        # Everyone not protected is now in their tier's group.
        protected = {s.customer_id for s in report.plan.skipped("protected")}
        placeholders = {s.customer_id for s in report.plan.skipped("placeholder")}
        now_in = api_groups(sim)
        for customer_id, group in expected_groups(engine, sim).items():
            if customer_id in now_in and customer_id not in protected | placeholders:
                assert now_in[customer_id] == group, customer_id
        staff = group_ids(sim)["Staff"]
        assert all(now_in[c] == staff or c in protected for c in now_in if now_in[c] == staff)

        log = json.loads(log_file.read_text())
        for key in ("lastRun", "totalCustomers", "updated", "skipped", "errors", "tierBreakdown"):
            assert key in log
        assert log["updated"] == report.moved
        assert log["errorDetails"] == []
        assert log["schemaVersion"] == 2

        sim.control("DELETE", "requests")
        again, _ = push_service.run_push(settings)
        assert again.ok
        assert again.plan.moves == []
        assert again.moved == 0
        assert writes(sim) == []

        verify = push_service.run_verify(settings)
        assert verify.ok, verify.mismatches[:5]
    with engine.connect() as conn:
        runs = conn.execute(select(t.push_runs.c.outcome, t.push_runs.c.dry_run)).all()
        assert [tuple(r) for r in runs] == [("ok", True), ("ok", False), ("ok", False)]
        statuses = dict(
            conn.execute(
                select(t.push_moves.c.status, func.count()).group_by(t.push_moves.c.status)
            ).all()
        )
    assert statuses["moved"] == report.moved
    assert statuses["planned"] == len(dry.plan.moves)


def test_a_scoped_push_moves_only_the_customers_asked_for(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        settings = analyzed(sim, db_url, tmp_path)
        dry, _ = push_service.run_push(settings, dry_run=True)
        one = dry.plan.moves[-1]
        before = api_groups(sim)
        with connect(settings.lightspeed) as client:
            report = push_service.push_customers(settings, [one.customer_id], client=client)
        assert report.ok
        assert [m.customer_id for m in report.plan.moves] == [one.customer_id]
        after = api_groups(sim)
        assert {c for c in after if after[c] != before[c]} == {one.customer_id}


def test_a_push_reads_the_api_only_through_the_refresh_it_is_given(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        settings = analyzed(sim, db_url, tmp_path)
        program = program_from_settings(settings)
        calls: list[tuple[tuple[str, ...], int]] = []
        with connect(settings.lightspeed) as client:
            pull = push_service.pull_refresh(settings, engine, client)

            def refresh(resources: Sequence[str]) -> int:
                used = pull(resources)
                calls.append((tuple(resources), used))
                return used

            dry_options = push_service.push_options(settings, dry_run=True)
            dry = push_tiers(engine, client, program, dry_options, refresh=refresh)
            assert dry.ok
            assert dry.plan.moves
            assert [resources for resources, _ in calls] == [GROUPS_AND_CUSTOMERS]
            calls.clear()
            sim.control("DELETE", "requests")
            options = push_service.push_options(settings)
            report = push_tiers(engine, client, program, options, refresh=refresh)
        assert report.ok, report.error
        # Groups and customers before the plan, the customers again to confirm the moves.
        assert [resources for resources, _ in calls] == [GROUPS_AND_CUSTOMERS, CUSTOMERS]
        assert report.requests.refresh == calls[0][1] > 0
        assert report.requests.reread == calls[1][1] > 0
        reads = [r for r in sim.requests() if r["method"] == "GET"]
        assert len(reads) == report.requests.refresh + report.requests.reread

        # Without a refresh, verify compares the store as it is and sends nothing.
        sim.control("DELETE", "requests")
        verify = verify_tiers(engine, None, program, default_group=settings.push.default_group)
        assert verify.requests == 0
        assert sim.requests() == []


def test_a_customer_staff_moved_into_staff_is_not_touched(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        settings = analyzed(sim, db_url, tmp_path)
        dry, _ = push_service.run_push(settings, dry_run=True)
        target = dry.plan.moves[0].customer_id
        staff = group_ids(sim)["Staff"]
        # Between analyze and push, a manager puts the customer in Staff.
        sim.control("PUT", f"customers/{target}", {"customer_group_id": staff})
        report, _ = push_service.run_push(settings)
        assert report.ok
        assert target in {s.customer_id for s in report.plan.skipped("protected")}
        assert target not in {m.customer_id for m in report.plan.moves}
        assert api_groups(sim)[target] == staff
        assert {"customer_id": target, "group": "Staff"} in report.as_json()["protected"]


@pytest.mark.parametrize("policy", ["keep", "revert"])
def test_verify_reports_a_hand_move_and_the_policy_decides(
    engine: Engine, db_url: str, tmp_path: Path, policy: str
) -> None:
    with running_simulator(STORE) as sim:
        settings = analyzed(sim, db_url, tmp_path, hand_moves=policy)
        report, _ = push_service.run_push(settings)
        assert report.ok
        moved = report.plan.moves[0]
        other = next(
            gid
            for name, gid in group_ids(sim).items()
            if name in TIER_GROUP_NAMES and gid != moved.to_group_id
        )
        sim.control("PUT", f"customers/{moved.customer_id}", {"customer_group_id": other})

        verify = push_service.run_verify(settings)
        assert [(m.customer_id, m.reason) for m in verify.mismatches] == [
            (moved.customer_id, "moved by staff")
        ]
        config = _write_config(tmp_path, sim.url, db_url, f'[push]\nhand_moves = "{policy}"\n')
        result = CliRunner().invoke(app, ["tiers", "verify", "--json", "--config", str(config)])
        assert result.exit_code == 1, result.output
        assert json.loads(result.stdout)["mismatch_count"] == 1

        second, _ = push_service.run_push(settings)
        assert [h.customer_id for h in second.hand_moves] == [moved.customer_id]
        if policy == "keep":
            assert second.plan.moves == []
            assert api_groups(sim)[moved.customer_id] == other
        else:
            assert [m.customer_id for m in second.plan.moves] == [moved.customer_id]
            assert api_groups(sim)[moved.customer_id] == moved.to_group_id
        assert push_service.run_verify(settings).ok


def test_revoked_token_mid_run_stops_with_a_clear_error_and_the_log_says_what_happened(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        settings = analyzed(sim, db_url, tmp_path)
        assert sim.ctx is not None
        ctx = sim.ctx
        changed: list[str] = []

        def revoke_after_first_batch(kind: str, obj: dict[str, Any]) -> None:
            if kind == "customers":
                changed.append(obj["id"])
                if len(changed) == 7:
                    ctx.config = replace(ctx.config, token="lsxs_pt_rotated_by_the_owner")

        sim.state.add_listener(revoke_after_first_batch)
        report, log_file = push_service.run_push(settings)
        assert report.outcome == "failed"
        assert not report.ok
        assert report.error
        assert "token" in report.error.lower()
        assert TOKEN not in report.error
        assert report.moved == 0  # the re-read never happened
        assert len(report.failed) == 7  # the refused batch
        assert report.not_sent == len(report.plan.moves) - 14
        log = json.loads(log_file.read_text())
        assert log["outcome"] == "failed"
        assert log["notSent"] == report.not_sent

        # The owner fixes the token: the next run settles the first batch and finishes.
        ctx.config = replace(ctx.config, token=TOKEN)
        sim.state.remove_listener(revoke_after_first_batch)
        after, _ = push_service.run_push(settings)
        assert after.ok
        assert after.settled["moved"] == 7
        assert push_service.run_verify(settings).ok


def test_a_group_that_cannot_be_created_fails_clearly_and_moves_nobody(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        analyzed(sim, db_url, tmp_path)
        long_name = "x" * 300
        tiers = [
            {
                "name": "Evergreen",
                "group": long_name,
                "conditions": [{"kind": "value", "at_least": "1500"}],
            },
            {
                "name": "Bloom",
                "group": "GreenHaus Crew - Bloom",
                "conditions": [{"kind": "value", "at_least": "750"}],
            },
        ]
        bad = settings_for(
            sim.url,
            db_url,
            program={"tiers": tiers},
            jobs={"output_dir": str(tmp_path / "out")},
        )
        sim.control("DELETE", "requests")
        report, _ = push_service.run_push(bad)
        assert report.outcome == "failed"
        assert report.error
        assert "cannot create the customer group" in report.error
        assert not any(w["path"].endswith("/customers") for w in writes(sim))
        config = _write_config(
            tmp_path,
            sim.url,
            db_url,
            "[[program.tiers]]\n"
            'name = "Evergreen"\n'
            f'group = "{long_name}"\n'
            'conditions = [{ kind = "value", at_least = "1500" }]\n',
        )
        result = CliRunner().invoke(app, ["tiers", "push", "--config", str(config)])
        assert result.exit_code == 1
        assert "cannot create the customer group" in result.output


def test_batches_the_api_refuses_as_too_large_are_split(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE, max_group_batch=3) as sim:
        settings = analyzed(sim, db_url, tmp_path, batch_size=12)
        report, _ = push_service.run_push(settings)
        assert report.ok, report.error
        assert report.moved == len(report.plan.moves)
        assert push_service.run_verify(settings).ok


def test_a_customer_deleted_mid_run_fails_alone_and_the_others_move(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        settings = analyzed(sim, db_url, tmp_path)
        dry, _ = push_service.run_push(settings, dry_run=True)
        target = batches(dry.plan.moves, 7)[-1][1][-1].customer_id
        assert sim.ctx is not None
        ctx = sim.ctx
        deleted: list[str] = []

        def delete_during_the_first_batch(kind: str, obj: dict[str, Any]) -> None:
            if kind == "customers" and not deleted:
                deleted.append(target)  # a manager merges the profile away meanwhile
                ops_customers.delete_customer(ctx, target)

        sim.state.add_listener(delete_during_the_first_batch)
        report, log_file = push_service.run_push(settings)
        assert report.outcome == "partial"
        assert not report.ok
        assert [customer for customer, _ in report.failed] == [target]
        assert report.moved == len(report.plan.moves) - 1
        log = json.loads(log_file.read_text())
        assert [e["customerId"] for e in log["errorDetails"]] == [target]


def test_killed_mid_push_with_failing_writes_ends_right_with_every_move_accounted(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with running_simulator(STORE) as sim:
        settings = analyzed(sim, db_url, tmp_path, batch_size=3)
        changes = group_changes(sim)
        sim.control("PUT", "faults", {"write_error_rate": 0.2, "latency_ms": 40})
        config = _write_config(tmp_path, sim.url, db_url, "[push]\nbatch_size = 3\n")
        process = subprocess.Popen(
            [sys.executable, "-m", "greenloop", "tiers", "push", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_sent_batches(engine, 3, process)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        with engine.connect() as conn:
            killed = conn.execute(select(t.push_runs.c.outcome)).scalars().all()
        assert killed == ["running"], "the push must be killed mid-run for this test"

        reports: list[PushReport] = []
        for _ in range(4):
            report, _ = push_service.run_push(settings)
            reports.append(report)
            if report.ok and not report.plan.moves:
                break
        assert reports[-1].ok
        assert reports[-1].plan.moves == []
        assert push_service.run_verify(settings).ok

    assert changes
    assert max(changes.values()) == 1, "a customer was moved twice"
    with engine.connect() as conn:
        pm = t.push_moves.c
        moved = Counter(
            conn.execute(select(pm.customer_id).where(pm.status == "moved")).scalars().all()
        )
        still_open = conn.execute(
            select(func.count()).where(pm.status.in_(("pending", "sending", "sent")))
        ).scalar()
        outcomes = conn.execute(select(t.push_runs.c.outcome).order_by(t.push_runs.c.id)).scalars()
        assert next(iter(outcomes)) == "interrupted"
    assert still_open == 0
    assert max(moved.values()) == 1
    assert set(moved) == set(changes)


def _wait_for_sent_batches(engine: Engine, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the push finished before it could be killed"
        with engine.connect() as conn:
            sent = conn.execute(
                select(func.count()).where(t.push_batches.c.status == "sent")
            ).scalar()
        if sent and sent >= count:
            return
        time.sleep(0.05)
    raise AssertionError("the push never sent a batch")


def _write_config(tmp_path: Path, url: str, db_url: str, extra: str = "") -> Path:
    config = tmp_path / "greenloop.toml"
    config.write_text(
        extra + "[lightspeed]\n"
        f'base_url = "{url}"\n'
        f'token = "{TOKEN}"\n'
        "backoff_base_seconds = 0.01\n"
        "backoff_max_seconds = 0.05\n"
        "[database]\n"
        f'url = "{db_url}"\n'
        "[jobs]\n"
        f'output_dir = "{tmp_path / "out"}"\n'
    )
    return config
