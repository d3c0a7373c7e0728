"""The writing phase of a push: create missing tier groups, send the moves in batches.

Moves go through ``POST /customer_groups/{id}/customers`` with ``customer_ids``: it
changes only the group link, where a full-record ``PUT /customers/{id}`` would write
back every field as last read and could undo a staff edit made since (reference §5).
Adding a customer to the group it is already in changes nothing, so a batch resent
after an interruption is harmless; the log still settles such batches from the groups
re-read at the start of the next run, so a move is counted once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from greenloop.domain.group_plan import GroupMove
from greenloop.errors import ApiRejected, AuthFailed
from greenloop.lightspeed import models as m
from greenloop.lightspeed.client import LightspeedClient
from greenloop.push import runlog
from greenloop.push.report import PushReport
from greenloop.push.state import NEW_GROUP
from greenloop.store import repo
from greenloop.store import tables as t

__all__ = ["Sender"]

log = logging.getLogger(__name__)

# A batch refused as malformed or too large is split in half: Lightspeed documents no
# batch limit, so the real one is found by halving. 404 (a customer deleted since the
# refresh) splits too, so the rest of the batch still moves, without shrinking the size.
_SHRINK_ON = frozenset({400, 413, 422})
_SPLIT_ON = _SHRINK_ON | {404}


class Sender:
    """Writes one run's groups and batches, logging each batch and counting requests.

    The batch size starts at ``batch_size`` and only shrinks, for the rest of the run,
    when Lightspeed refuses a batch as too large or malformed.
    """

    def __init__(
        self,
        engine: Engine,
        client: LightspeedClient,
        report: PushReport,
        now: Callable[[], datetime],
        batch_size: int,
    ) -> None:
        self.engine = engine
        self.client = client
        self.report = report
        self.now = now
        self.size = batch_size

    def create_group(self, name: str) -> None:
        """Create the customer group ``name`` and store it, so the plan can move into it."""
        before = self.client.stats.requests
        try:
            payload = self.client.request(
                "POST", "/api/2.0/customer_groups", json={"name": name}, label="push"
            )
        except ApiRejected as exc:
            raise ApiRejected(
                f"cannot create the customer group {name!r}: {exc.message}",
                status=exc.status,
                hint="Fix the group name in [program] (or create the group in Lightspeed "
                "under Customers → Groups) and re-run; nobody was moved.",
            ) from None
        finally:
            self.report.requests.create_groups += self.client.stats.requests - before
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict):
            raise ApiRejected(
                f"creating the customer group {name!r}: the API answered without the group",
                status=0,
            )
        with self.engine.begin() as conn:
            repo.upsert_versioned(conn, t.customer_groups, [m.parse_customer_group(data)])
        self.report.created_groups.append(name)
        log.info("created the customer group %r", name)

    def send(self, group_id: str, moves: list[GroupMove]) -> None:
        """Send ``moves`` into ``group_id`` in batches of the current size."""
        for start in range(0, len(moves), self.size):
            self._send_batch(group_id, moves[start : start + self.size])

    def _send_batch(self, group_id: str, moves: list[GroupMove]) -> None:
        report = self.report
        assert not group_id.startswith(NEW_GROUP)
        ids = [move.customer_id for move in moves]
        batch_id = runlog.open_batch(
            self.engine, report.run_id, group_id, report.group_name(group_id), ids, self.now()
        )
        report.batches += 1
        before = self.client.stats.requests
        refused: ApiRejected | AuthFailed | None = None
        try:
            self.client.request(
                "POST",
                f"/api/2.0/customer_groups/{group_id}/customers",
                json={"customer_ids": ids},
                label="push",
            )
        except (ApiRejected, AuthFailed) as exc:
            refused = exc
        finally:
            # Other errors (5xx after the retries, timeouts) propagate and leave the batch
            # "sending": it may or may not have been applied, and the next run settles it
            # from the groups it reads.
            report.requests.moves += self.client.stats.requests - before
        if refused is None:
            self._close(batch_id, ids, "sent", "sent")
            return
        if isinstance(refused, ApiRejected) and refused.status in _SPLIT_ON and len(ids) > 1:
            self._close(batch_id, ids, "split", "pending", refused.message)
            if refused.status in _SHRINK_ON:
                self.size = max(1, min(self.size, len(ids) // 2))
                log.warning(
                    "a batch of %d was refused (%s); batch size now %d",
                    len(ids),
                    refused.status,
                    self.size,
                )
            half = len(moves) // 2
            self.send(group_id, moves[:half])
            self.send(group_id, moves[half:])
            return
        # Refused outright (401/403 or a 4xx that splitting cannot help): not applied.
        self._close(batch_id, ids, "failed", "failed", refused.one_line())
        report.failed.extend((i, refused.message) for i in ids)
        if isinstance(refused, AuthFailed):
            raise refused

    def _close(
        self, batch_id: int, ids: list[str], status: str, move_status: str, error: str | None = None
    ) -> None:
        runlog.close_batch(
            self.engine,
            self.report.run_id,
            batch_id,
            ids,
            status=status,
            move_status=move_status,
            now=self.now(),
            error=error,
        )
