"""PostgreSQL's row statistics kept up with tables that a sync fills page by page.

PostgreSQL plans every statement from the statistics ``ANALYZE`` gathers, and
autovacuum runs it only a minute or more after a table changed. A first sync fills empty
tables a page at a time, and each page asks them about its own ids (the stored
versions, the line items and payments to replace). Planned against tables PostgreSQL
still believes empty, those lookups scan the whole table instead of its primary key, so
each page costs more than the one before: a first sync of 200,000 sales ran at 1,339
sales/s where the same pages inserted plainly ran at 9,093 (benchmarks/sync.py,
2026-12-07), 8,610 sales/s at 20,000 sales. :class:`GrowthWatch` runs ``ANALYZE`` on
the tables whenever the rows written since the last one reach the rows the statistics
know of: a handful of runs for any size (about ten for 200,000 sales), each sampling at
most 30,000 rows, and the estimates never lag by more than half.

SQLite finds these rows by primary key whatever its statistics: nothing is done there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, Table

__all__ = ["MIN_ROWS", "GrowthWatch"]

log = logging.getLogger(__name__)

# Fewer new rows than this never call for statistics: small tables are read whole anyway.
MIN_ROWS = 1000


class GrowthWatch:
    """Tells ``tables`` (the first one counted) to PostgreSQL's planner as they grow."""

    def __init__(self, engine: Engine, tables: Sequence[Table]) -> None:
        self._engine = engine
        self._tables = tables
        self._active = engine.dialect.name == "postgresql"
        self._known: float | None = None  # rows of tables[0] the statistics know of
        self._added = 0

    def added(self, rows: int) -> None:
        """``rows`` new rows of the first table were committed; ``ANALYZE`` the tables
        when that many have arrived since the statistics were last taken."""
        if not self._active or rows <= 0:
            return
        if self._known is None:
            self._known = self._estimate()
        self._added += rows
        if self._added < max(MIN_ROWS, self._known):
            return
        # In a transaction of its own, after the page's commit: the lock ANALYZE takes
        # (SHARE UPDATE EXCLUSIVE) never waits on or holds up another writer's rows.
        with self._engine.begin() as conn:
            for table in self._tables:
                conn.exec_driver_sql(f"ANALYZE {table.name}")
            self._known = self._estimate(conn)
        log.debug("analyzed %s after %d new rows", self._tables[0].name, self._added)
        self._added = 0

    def _estimate(self, conn: Connection | None = None) -> float:
        sql = "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)"
        if conn is None:
            with self._engine.connect() as own:
                return self._estimate(own)
        found = conn.exec_driver_sql(sql, (self._tables[0].name,)).scalar()
        # -1 (PostgreSQL 14+) or 0: never analyzed.
        return max(float(found or 0), 0.0)
