"""The daily job: sync → eCom inbox → analyze → push → verify → master CSV → tier events,
one run at a time.

It replaces the retailer's workflow (SEED_SCRIPTS_FACTS §6), which ran its scripts in a
row at 02:00 UTC and published ``customer_analytics_master.csv`` and
``tier_sync_log.json``. Each step is recorded; the first step that fails stops the
steps after it, which are recorded as skipped with the reason, except the eCom import:
a file it cannot read at all is filed under ``rejected/`` with a reason file, the step
is recorded as failed, and the steps after it still run on the data already stored.
Problems that leave the data consistent (a rejected eCom row, a customer whose move did
not take) let the run go on and still end with a non-zero exit, so cron reports them.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import insert, update

from greenloop.config import Settings
from greenloop.errors import GreenLoopError, InputFileError
from greenloop.lightspeed.client import LightspeedClient
from greenloop.services import analysis, ingest, setup
from greenloop.services import events as event_service
from greenloop.services import push as push_service
from greenloop.store import tables as t
from greenloop.store.locks import job_lock

__all__ = ["DailyReport", "StepResult", "run_daily"]

log = logging.getLogger(__name__)

Status = Literal["ok", "problems", "failed", "skipped"]
MASTER_FILE = "customer_analytics_master.csv"


@dataclass
class StepResult:
    name: str
    status: Status = "ok"
    seconds: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "summary": self.summary,
            "error": self.error,
        }


@dataclass
class DailyReport:
    started_at: datetime
    run_id: int | None = None
    finished_at: datetime | None = None
    steps: list[StepResult] = field(default_factory=list)
    output_dir: str = ""

    @property
    def ok(self) -> bool:
        return all(step.status == "ok" for step in self.steps)

    @property
    def outcome(self) -> str:
        if any(s.status == "failed" for s in self.steps):
            return "failed"
        return "ok" if self.ok else "problems"

    @property
    def exit_code(self) -> int:
        """0 every step clean, 1 a step reported problems, 2 a step failed."""
        return {"ok": 0, "problems": 1}.get(self.outcome, 2)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "outcome": self.outcome,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "output_dir": self.output_dir,
            "steps": [step.as_json() for step in self.steps],
        }


ClientFactory = Callable[[Settings], LightspeedClient]
Step = Callable[[], tuple[Status, dict[str, Any]]]


def run_daily(
    settings: Settings,
    *,
    now: datetime | None = None,
    client_factory: ClientFactory | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DailyReport:
    """Run every step once; :class:`~greenloop.errors.Busy` if another run holds the lock."""
    wall = clock or (lambda: datetime.now(UTC))
    output = settings.path(settings.jobs.output_dir)
    engine = setup.open_engine(settings)
    try:
        with job_lock(engine, "daily", ttl=timedelta(minutes=settings.jobs.lock_minutes)):
            report = DailyReport(started_at=wall(), output_dir=str(output))
            with engine.begin() as conn:
                key = conn.execute(
                    insert(t.job_runs).values(
                        job="daily", started_at=report.started_at, outcome="running", steps=[]
                    )
                ).inserted_primary_key
            assert key is not None
            report.run_id = int(key[0])
            try:
                _run_steps(settings, report, output, now, client_factory)
            finally:
                report.finished_at = wall()
                with engine.begin() as conn:
                    conn.execute(
                        update(t.job_runs)
                        .where(t.job_runs.c.id == report.run_id)
                        .values(
                            finished_at=report.finished_at,
                            outcome=report.outcome
                            if len(report.steps) == len(_STEP_NAMES)
                            else "interrupted",
                            steps=[s.as_json() for s in report.steps],
                        )
                    )
            return report
    finally:
        engine.dispose()


_STEP_NAMES = ("sync", "import_ecom", "analyze", "push", "verify", "export_master", "events")


def _run_steps(
    settings: Settings,
    report: DailyReport,
    output: Path,
    now: datetime | None,
    client_factory: ClientFactory | None,
) -> None:
    def sync() -> tuple[Status, dict[str, Any]]:
        result = ingest.run_sync(settings, client_factory=client_factory)
        return "ok", {"changed": result.changed, "requests": result.requests}

    def import_ecom() -> tuple[Status, dict[str, Any]]:
        return _import_inbox(settings)

    def analyze() -> tuple[Status, dict[str, Any]]:
        result = analysis.analyze(settings, now=now).as_json()
        keys = ("persons", "profiles", "changed", "tier_counts")
        return "ok", {k: result[k] for k in keys if k in result}

    def push() -> tuple[Status, dict[str, Any]]:
        result, path = push_service.run_push(settings, client_factory=client_factory)
        summary = result.as_json()
        summary = {
            "outcome": result.outcome,
            "planned_moves": summary["planned_moves"],
            "moved": result.moved,
            "failed": len(result.failed),
            "not_taken": len(result.not_taken),
            "requests": summary["requests"]["total"],
            "log_file": str(path),
        }
        if result.outcome == "failed":
            raise _StepFailed(result.error or "the push failed", summary)
        return ("ok" if result.ok else "problems"), summary

    def verify() -> tuple[Status, dict[str, Any]]:
        result = push_service.run_verify(settings, client_factory=client_factory)
        data = result.as_json()
        summary = {"mismatches": data["mismatch_count"], "reasons": data["reasons"]}
        return ("ok" if result.ok else "problems"), summary

    def export_master() -> tuple[Status, dict[str, Any]]:
        path = output / MASTER_FILE
        rows = analysis.export_master(settings, path, now=now)
        return "ok", {"file": str(path), "rows": rows}

    def events() -> tuple[Status, dict[str, Any]]:
        if not settings.events.enabled:
            return "ok", {"note": "events.url is not set"}
        sent = event_service.send_events(settings)
        # A receiver that is down is not the daily job's failure: the events wait.
        return ("ok" if sent.failed + sent.parked == 0 else "problems"), sent.as_json()

    steps: dict[str, Step] = {
        "sync": sync,
        "import_ecom": import_ecom,
        "analyze": analyze,
        "push": push,
        "verify": verify,
        "export_master": export_master,
        "events": events,
    }
    failed: str | None = None
    for name in _STEP_NAMES:
        step = StepResult(name)
        report.steps.append(step)
        if failed is not None:
            step.status = "skipped"
            step.error = f"skipped because {failed} failed"
            continue
        started = time.perf_counter()
        try:
            step.status, step.summary = steps[name]()
        except _StepFailed as exc:
            step.status, step.summary, step.error = "failed", exc.summary, exc.message
            if not exc.keep_going:
                failed = name
        except GreenLoopError as exc:
            step.status, step.error = "failed", exc.one_line()
            failed = name
        finally:
            step.seconds = time.perf_counter() - started
        log.info("daily %s: %s", name, step.status)


class _StepFailed(Exception):
    """The step failed; ``keep_going`` when what it left stored is consistent, so the
    steps after it still run."""

    def __init__(self, message: str, summary: dict[str, Any], *, keep_going: bool = False):
        super().__init__(message)
        self.message = message
        self.summary = summary
        self.keep_going = keep_going


def _import_inbox(settings: Settings) -> tuple[Status, dict[str, Any]]:
    """Import every CSV in the inbox folder, then file it under imported/ or rejected/.

    Files go one at a time, each in its own transaction. A file with refused orders
    imports the rest and is filed under rejected/ with a reason file listing them. A
    file that cannot be read at all (not an export, or anything else going wrong while
    reading it) is filed there too, with its reason, so the next run does not meet it
    again; the step then fails, but the steps after it still run. A database or
    settings error stops the step and leaves every file in the inbox.
    """
    inbox = settings.path(settings.jobs.ecom_inbox)
    if not inbox.is_dir():
        return "ok", {"files": 0, "note": f"no inbox folder at {inbox}"}
    files = sorted(p for p in inbox.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    summary: dict[str, Any] = {"files": len(files), "orders_new": 0, "orders_updated": 0}
    problems: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for path in files:
        try:
            data = ingest.import_ecom(settings, [path]).to_json()
        except InputFileError as exc:
            reason = exc.one_line()
        except GreenLoopError:
            raise  # the database or the settings, not this file: keep it for the next run
        except Exception as exc:
            # A fault in the reader on some input it did not foresee: one bad file
            # still never stops the daily job.
            log.exception("daily import_ecom: reading %s failed", path)
            reason = (
                f"{path}: GreenLoop could not read this file ({type(exc).__name__}; the "
                "traceback is in the log). Re-export it from the eCom admin"
            )
        else:
            summary["orders_new"] += data["orders_new"]
            summary["orders_updated"] += data["orders_updated"]
            problems.extend(data["rejected"])
            if not data["rejected"]:
                _file_away(path, inbox / "imported", stamp)
                continue
            refused = "\n".join(entry["message"] for entry in data["rejected"])
            _file_away(
                path,
                inbox / "rejected",
                stamp,
                reason=(
                    f"{path.name}: {data['orders_new'] + data['orders_updated']} orders "
                    f"imported or updated; these rows were refused, and their orders not "
                    f"imported:\n{refused}\nFix them (or re-export) and drop the file in the "
                    "inbox again: orders already imported are unchanged by a re-import.\n"
                ),
            )
            continue
        unreadable.append(reason)
        problems.append({"file": str(path), "line": None, "message": reason})
        _file_away(path, inbox / "rejected", stamp, reason=f"{reason}\nNothing was imported.\n")
    summary["problems"] = len(problems)
    summary["rejected"] = problems[:20]
    if unreadable:
        summary["unreadable"] = len(unreadable)
        raise _StepFailed(
            f"{len(unreadable)} of {len(files)} files could not be read and were moved to "
            f"{inbox / 'rejected'} with a reason file: {unreadable[0]}",
            summary,
            keep_going=True,
        )
    return ("problems" if problems else "ok"), summary


def _file_away(path: Path, folder: Path, stamp: str, *, reason: str | None = None) -> None:
    """Move ``path`` into ``folder``, with ``reason`` in a text file beside it."""
    folder.mkdir(exist_ok=True)
    # The stamp keeps a re-sent file of the same name from overwriting the last one.
    target = folder / f"{path.stem}.{stamp}{path.suffix}"
    shutil.move(str(path), target)
    if reason is not None:
        target.with_name(f"{target.name}.reason.txt").write_text(reason, encoding="utf-8")
