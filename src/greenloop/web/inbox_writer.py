"""Writing accepted deliveries to the inbox with group commit.

Each request used to commit its own transaction from a thread-pool thread. Under a
burst that meant one commit (one WAL flush on PostgreSQL) per delivery and, on
SQLite, dozens of threads queueing for the one write lock through its sleeping busy
handler: at 250 deliveries a second the answers took hundreds of milliseconds. Here
one writer thread stores whatever is waiting in one transaction and then answers
every request of the batch, so a delivery is still durable before its 2xx. A batch
whose transaction fails is written again one delivery at a time, so a delivery that
cannot be stored fails alone and never takes the others of its batch with it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from greenloop.store import inbox

__all__ = ["InboxWriter"]

log = logging.getLogger(__name__)

_Item = tuple[inbox.Delivery, asyncio.AbstractEventLoop, "asyncio.Future[inbox.StoreResult]"]
# The writer thread ends after this long without work and starts again on demand, so
# an app that is built and dropped (tests, the demo) leaves no thread behind.
_IDLE_SECONDS = 10.0


class InboxWriter:
    def __init__(
        self, engine: Engine, clock: Callable[[], datetime], *, max_batch: int = 200
    ) -> None:
        self.engine = engine
        self._clock = clock
        self._max_batch = max_batch
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def store(self, delivery: inbox.Delivery) -> inbox.StoreResult:
        """Store one delivery (deduplicated); returns once its transaction committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[inbox.StoreResult] = loop.create_future()
        with self._lock:
            self._queue.put((delivery, loop, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
                self._thread.start()
        return await future

    def _next_batch(self) -> list[_Item] | None:
        try:
            batch = [self._queue.get(timeout=_IDLE_SECONDS)]
        except queue.Empty:
            with self._lock:
                if self._queue.empty():
                    self._thread = None
                    return None
            return []
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            if not batch:
                continue
            try:
                results = self._write([d for d, _, _ in batch])
            except Exception:
                # One bad row aborts the whole transaction (on PostgreSQL every later
                # statement fails too), so the batch is written again one delivery per
                # transaction: only the delivery that fails by itself answers an error.
                log.warning("group commit of %d deliveries failed; storing one by one", len(batch))
                self._write_each(batch)
                continue
            for (_, loop, future), result in zip(batch, results, strict=True):
                loop.call_soon_threadsafe(_succeed, future, result)

    def _write(self, deliveries: list[inbox.Delivery]) -> list[inbox.StoreResult]:
        """Store ``deliveries`` in one transaction (all or none)."""
        with self.engine.begin() as conn:
            now = self._clock()
            return [inbox.store_delivery(conn, d, now) for d in deliveries]

    def _write_each(self, batch: list[_Item]) -> None:
        for delivery, loop, future in batch:
            try:
                [result] = self._write([delivery])
            except Exception as exc:
                loop.call_soon_threadsafe(_fail, future, exc)
            else:
                loop.call_soon_threadsafe(_succeed, future, result)


def _succeed(future: asyncio.Future[inbox.StoreResult], result: inbox.StoreResult) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[inbox.StoreResult], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
