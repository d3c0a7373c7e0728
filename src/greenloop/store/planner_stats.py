"""PostgreSQL's row statistics kept up with tables that grow while they are queried.

PostgreSQL plans every statement from the statistics ``ANALYZE`` gathers, and
autovacuum runs it only a minute or more after a table changed. A first sync fills empty
tables a page at a time, and each page asks them about its own ids (the stored
versions, the line items and payments to replace). Planned against tables PostgreSQL
still believed empty, those lookups scanned the whole table instead of its primary key,
so each page cost more than the one before: a first sync of 200,000 sales ran at 1,339
sales/s where the same pages inserted plainly ran at 9,093 (benchmarks/sync.py,
2026-12-07; 8,610 sales/s at 20,000 sales). An eCom import into a table that an earlier
file filled moments before looks its order numbers up the same way.

:class:`GrowthWatch` runs ``ANALYZE`` on the tables whenever the rows added since the
last one reach the rows the statistics know of: a handful of runs for any size (about
ten for 200,000 sales), each sampling at most 30,000 rows, and the estimates never lag
the table by more than half. It runs in the caller's transaction, whose own new rows
``ANALYZE`` counts; the lock it takes (SHARE UPDATE EXCLUSIVE) does not conflict with
other writers' rows, only with another ``ANALYZE`` or ``VACUUM`` of the table.

SQLite finds these rows by primary key whatever its statistics: nothing is done there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection, Table

__all__ = ["MIN_ROWS", "GrowthWatch"]

log = logging.getLogger(__name__)

# Fewer new rows than this never call for statistics: small tables are read whole anyway.
MIN_ROWS = 1000


class GrowthWatch:
    """Tells ``tables`` (the first one counted) to PostgreSQL's planner as they grow."""

    def __init__(self, tables: Sequence[Table]) -> None:
        self._tables = tables
        self._known: float | None = None  # rows of tables[0] the statistics know of
        self._added = 0

    def catch_up(self, conn: Connection) -> None:
        """``ANALYZE`` now if the table was never analyzed, or if the committed rows
        not analyzed yet (autovacuum's own count) reach those the statistics know of:
        before a file's lookups, when an earlier file has just filled the table."""
        if conn.dialect.name != "postgresql":
            return
        self._known = self._estimate(conn)
        unseen = conn.exec_driver_sql(
            "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relid = to_regclass(%s)",
            (self._tables[0].name,),
        ).scalar()
        if self._known == 0 or int(unseen or 0) >= max(MIN_ROWS, self._known):
            self._analyze(conn)

    def added(self, conn: Connection, rows: int) -> None:
        """``rows`` new rows of the first table were written in ``conn``; ``ANALYZE`` the
        tables there when as many have arrived as the statistics know of."""
        if conn.dialect.name != "postgresql":
            return
        if self._known is None:
            self._known = self._estimate(conn)
        self._added += rows
        if self._added < max(MIN_ROWS, self._known):
            return
        self._analyze(conn)

    def _analyze(self, conn: Connection) -> None:
        for table in self._tables:
            conn.exec_driver_sql(f"ANALYZE {table.name}")
        log.debug("analyzed %s after %d new rows", self._tables[0].name, self._added)
        self._known = self._estimate(conn)
        self._added = 0

    def _estimate(self, conn: Connection) -> float:
        found = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (self._tables[0].name,)
        ).scalar()
        # -1 (PostgreSQL 14+) or 0: never analyzed.
        return max(float(found or 0), 0.0)
