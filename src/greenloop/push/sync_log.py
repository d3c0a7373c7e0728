"""``tier_sync_log.json``: the retailer's run log file, kept compatible and versioned.

The retailer's script wrote ``lastRun``, ``totalCustomers``, ``updated``, ``skipped``,
``errors``, ``tierBreakdown`` and ``errorDetails`` (SEED_SCRIPTS_FACTS §6), and their
workflow publishes the file, so those keys keep their meaning, with two fixes: a dry run
no longer counts as ``updated`` (``planned`` says what it would do) and
``tierBreakdown`` counts customer profiles per tier as pushed, not rows of a CSV.
Everything GreenLoop adds sits beside them; ``schemaVersion`` changes when a key's
meaning does (README: tier_sync_log.json).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from greenloop.push.report import PushReport

__all__ = ["SCHEMA_VERSION", "sync_log", "write_sync_log"]

SCHEMA_VERSION = 2
# The file is published as is; the full list of moves and protected customers lives in
# the database (push_moves), so the file lists at most this many of each.
_MAX_LISTED = 1000


def sync_log(report: PushReport) -> dict[str, Any]:
    full = report.as_json()
    plan = report.plan
    errors: list[dict[str, str | None]] = [{"customerId": c, "error": e} for c, e in report.failed]
    errors.extend(
        {"customerId": c, "error": "accepted by the API but the group did not change"}
        for c in report.not_taken
    )
    if report.error:
        errors.append({"customerId": None, "error": report.error})
    return {
        "lastRun": (report.finished_at or report.started_at).isoformat(),
        "totalCustomers": plan.customers,
        "updated": report.moved,
        "skipped": plan.unchanged + len(plan.skips) + plan.deferred,
        "errors": len(report.failed) + len(report.not_taken),
        "tierBreakdown": {tier: s["customers"] for tier, s in full["tiers"].items()},
        "errorDetails": errors[:_MAX_LISTED],
        "schemaVersion": SCHEMA_VERSION,
        "generator": "greenloop",
        "runId": report.run_id,
        "dryRun": report.dry_run,
        "outcome": report.outcome,
        "planned": len(plan.moves),
        "deferredByLimit": plan.deferred,
        "notSent": report.not_sent,
        "skippedBy": full["skipped"],
        "tiers": full["tiers"],
        "groupsCreated": report.created_groups,
        "groupsMissing": report.missing_groups,
        "handMoves": full["hand_moves"][:_MAX_LISTED],
        "protected": full["protected"][:_MAX_LISTED],
        "requests": full["requests"],
        "batchSize": report.batch_size,
        "batches": report.batches,
        "startedAt": report.started_at.isoformat(),
    }


def write_sync_log(report: PushReport, path: Path) -> Path:
    """Write the file atomically: a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tier_sync_log.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(sync_log(report), out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
