"""The simulator's webhook sender: every change to a sale or customer is delivered to
each active subscription of its type, the way X-Series does it (reference §8).

Pipeline: a state listener records the change and the subscriptions active at that
moment, with each one's signing key (it runs under the state's lock, so it only
records). Expanding a change builds its form body once, signs it per subscription (an
OAuth app's subscription with its client secret, any other with the ``secret`` knob if
set), and rolls the seeded dice: dropped, or sent once or twice, each copy with its
own delay. Deliveries then pass a reorder buffer (shuffled in groups of
``reorder_window``) into a queue ordered by due time.
An attempt that is not answered 2xx (or does not connect, or times out) is retried
with exponential back-off up to ``max_retries`` times, then given up.

Two ways to drive it: :meth:`WebhookSender.start` sends in the background (``greenloop
simulator serve`` does this), while tests step it by hand: :meth:`step` sends what is
due, :meth:`flush` sends everything queued now, :meth:`take` and :meth:`send` hand
deliveries over for a test to deliver in an order of its own. The dice are rolled in
change order under one lock, so a seed fixes which deliveries are dropped, copied,
delayed and shuffled whichever way the sender is driven.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from typing import Any

import httpx

from greenloop.simulator.state import Obj, SimState
from greenloop.simulator.webhook_knobs import WebhookKnobs
from greenloop.simulator.webhook_payloads import (
    WEBHOOK_OF_KIND,
    form_body,
    payload_10,
    signature_header,
)
from greenloop.simulator.webhook_records import Attempt, Change, Delivery, Queued, Stats, record

__all__ = ["Attempt", "Delivery", "WebhookSender"]

_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"
# The dispatcher re-reads the clock at least this often, so a clock moved forward by a
# test (POST /_sim/clock) makes retries due without a wake-up of their own.
_MAX_WAIT_SECONDS = 0.25
_POOL_THREADS = 64
_ANSWER_CHARS = 200


class WebhookSender:
    """Listens to ``state`` from construction on; :meth:`close` detaches it."""

    def __init__(
        self,
        state: SimState,
        knobs: WebhookKnobs | None = None,
        *,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        client: httpx.Client | None = None,
        log_size: int = 100_000,
        subscription_secret: Callable[[str], str | None] | None = None,
    ) -> None:
        self._state = state
        # The signing key of a subscription by id (an OAuth app's client secret), or
        # None to fall back to the ``secret`` knob. Called under the state's lock.
        self._subscription_secret = subscription_secret or _no_secret
        self._knobs = knobs or WebhookKnobs()
        self._rng = random.Random(seed)
        self._clock = clock
        self._client = client or httpx.Client(
            limits=httpx.Limits(max_connections=_POOL_THREADS, max_keepalive_connections=16)
        )
        self._domain_prefix = str(state.retailer().get("domain_prefix") or "")
        self._cond = threading.Condition()
        self._changes: deque[Change] = deque()
        self._buffer: list[Queued] = []
        self._buffer_since = 0.0
        self._queue: list[tuple[float, int, Queued]] = []
        self._pushed = 0
        self._seq = 0
        self._in_flight = 0
        self._max_seq_sent = 0
        self._stats = Stats()
        self._log: deque[Attempt] = deque(maxlen=log_size)
        self._logged = 0
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._stopping = False
        state.add_listener(self._on_change)

    # -- settings and figures ---------------------------------------------------------

    @property
    def knobs(self) -> WebhookKnobs:
        return self._knobs

    def update(self, changes: dict[str, Any]) -> WebhookKnobs:
        """Change some knobs (ValueError for unknown names or bad values)."""
        with self._cond:
            self._knobs = self._knobs.updated(changes)
            self._cond.notify_all()
            return self._knobs

    @property
    def running(self) -> bool:
        return self._thread is not None

    def stats(self) -> dict[str, Any]:
        with self._cond:
            out: dict[str, Any] = asdict(self._stats)
            out.update(
                queued=len(self._changes) + len(self._buffer) + len(self._queue),
                in_flight=self._in_flight,
                running=self.running,
            )
            return out

    def attempts(self) -> list[Attempt]:
        """Every attempt so far, oldest first (bounded by ``log_size``)."""
        with self._cond:
            return list(self._log)

    # -- stepping by hand -----------------------------------------------------------------

    def take(self) -> list[Delivery]:
        """Remove every queued delivery from the queue and return them in sending order
        (reorder applied, delays ignored); :meth:`send` delivers them."""
        with self._cond:
            self._prepare(self._clock(), force=True)
            taken = [heapq.heappop(self._queue)[2].delivery for _ in range(len(self._queue))]
            return taken

    def send(self, deliveries: Iterable[Delivery]) -> list[Attempt]:
        """One attempt for each delivery, now and in order; failures join the retry queue."""
        out = []
        for delivery in deliveries:
            with self._cond:
                self._in_flight += 1
            out.append(self._attempt(Queued(delivery, 0.0)))
        return out

    def step(self) -> list[Attempt]:
        """Send, in order, every delivery that is due by the clock."""
        now = self._clock()
        with self._cond:
            self._prepare(now, force=False)
            due = self._pop_due(now, limit=None)
        return [self._attempt(q) for q in due]

    def flush(self, timeout: float = 60.0) -> list[Attempt]:
        """Send everything queued now, skipping delays, reorder holds and back-off.

        Each delivery gets one attempt; one that fails is queued again for its next
        retry. Returns the attempts made (in the background: those made meanwhile)."""
        with self._cond:
            now = self._clock()
            self._prepare(now, force=True)
            self._queue = [(min(due, now), n, q) for due, n, q in self._queue]
            heapq.heapify(self._queue)
            started = self._logged
        if self._thread is None:
            while True:
                with self._cond:
                    due = self._pop_due(now, limit=None)
                if not due:
                    break
                for queued in due:
                    self._attempt(queued)
        else:
            with self._cond:
                self._cond.notify_all()
                self._cond.wait_for(
                    lambda: self._in_flight == 0 and not self._due_by(now), timeout=timeout
                )
        return self._since(started)

    def idle(self) -> bool:
        with self._cond:
            return self._idle()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is queued, held or in flight (sent in the background)."""
        with self._cond:
            if self._thread is None:
                return self._idle()
            return self._cond.wait_for(self._idle, timeout=timeout)

    # -- sending in the background ----------------------------------------------------------

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._pool = ThreadPoolExecutor(_POOL_THREADS, thread_name_prefix="sim-webhook")
            self._thread = threading.Thread(target=self._run, name="sim-webhooks", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sending; what is still queued stays queued."""
        with self._cond:
            thread, pool = self._thread, self._pool
            self._stopping = True
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout)
        if pool is not None:
            pool.shutdown(wait=True)
        with self._cond:
            self._thread = None
            self._pool = None

    def close(self) -> None:
        self.stop()
        self._state.remove_listener(self._on_change)
        self._client.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = self._clock()
                self._prepare(now, force=False)
                room = self._knobs.concurrency - self._in_flight
                batch = self._pop_due(now, limit=room) if room > 0 else []
                if not batch:
                    self._cond.wait(self._wait_seconds(now))
                    continue
                pool = self._pool
            assert pool is not None
            for queued in batch:
                pool.submit(self._attempt, queued)

    def _wait_seconds(self, now: float) -> float:
        waits = [_MAX_WAIT_SECONDS]
        if self._queue and self._in_flight < self._knobs.concurrency:
            waits.append(self._queue[0][0] - now)
        if self._buffer:
            waits.append(self._buffer_since + self._knobs.reorder_hold_ms / 1000 - now)
        return max(0.001, min(waits))

    # -- internals (``_prepare`` and the queue helpers run under ``_cond``) -----------------

    def _on_change(self, kind: str, obj: Obj) -> None:
        # Runs under the state's lock: read the subscriptions, record, nothing more. The
        # sender's own lock is never held while calling into the state.
        hook_type = WEBHOOK_OF_KIND.get(kind)
        if hook_type is None:
            return
        targets = [
            (str(h["url"]), self._subscription_secret(str(h["id"])))
            for h in self._state.snapshot("webhooks")
            if h.get("active") is True and h.get("type") == hook_type
        ]
        if not targets:
            return
        customer = None
        if kind == "sales" and obj.get("customer_id"):
            customer = self._state.view("customers", str(obj["customer_id"]))
        with self._cond:
            self._changes.append(Change(kind, obj, customer, targets))
            self._cond.notify_all()

    def _prepare(self, now: float, *, force: bool) -> None:
        knobs, rng = self._knobs, self._rng
        while self._changes:
            change = self._changes.popleft()
            self._seq += 1
            self._stats.changes += 1
            obj = change.obj
            body = form_body(
                payload_10(change.kind, obj, customer=change.customer),
                domain_prefix=self._domain_prefix,
            )
            version = obj.get("version")
            for url, app_secret in change.targets:
                # An OAuth app's subscription is signed with its client secret; the
                # others only when the ``secret`` knob is set (as before OAuth).
                secret = app_secret or knobs.secret
                headers = {"Content-Type": _CONTENT_TYPE}
                if secret:
                    headers["X-Signature"] = signature_header(
                        secret, body, knobs.signature_encoding
                    )
                self._stats.deliveries += 1
                delivery = Delivery(
                    self._seq,
                    0,
                    WEBHOOK_OF_KIND[change.kind],
                    str(obj.get("id")),
                    version if isinstance(version, int) else None,
                    url,
                    body,
                    headers,
                )
                if knobs.drop_rate and rng.random() < knobs.drop_rate:
                    self._stats.dropped += 1
                    self._record(delivery, 0, None, "dropped (drop_rate)", 0.0)
                    continue
                copies = 1
                if knobs.duplicate_rate and rng.random() < knobs.duplicate_rate:
                    copies = 2
                    self._stats.duplicated += 1
                for copy in range(copies):
                    if not self._buffer:
                        self._buffer_since = now
                    sent = delivery if copy == 0 else replace(delivery, copy=copy)
                    self._buffer.append(Queued(sent, self._delay()))
        self._release(now, force=force)

    def _delay(self) -> float:
        low, high = self._knobs.delay_min_ms, self._knobs.delay_max_ms
        return 0.0 if high <= 0 else self._rng.uniform(low, high) / 1000

    def _release(self, now: float, *, force: bool) -> None:
        window = self._knobs.reorder_window
        held = now - self._buffer_since >= self._knobs.reorder_hold_ms / 1000
        while self._buffer:
            if window > 1 and len(self._buffer) < window and not (force or held):
                return
            size = window if window > 1 else len(self._buffer)
            group, self._buffer = self._buffer[:size], self._buffer[size:]
            if window > 1:
                self._rng.shuffle(group)
            for queued in group:
                self._push(now + queued.delay, queued)
            self._buffer_since = now

    def _push(self, due: float, queued: Queued) -> None:
        self._pushed += 1
        heapq.heappush(self._queue, (due, self._pushed, queued))

    def _due_by(self, now: float) -> bool:
        return bool(self._queue) and self._queue[0][0] <= now

    def _pop_due(self, now: float, *, limit: int | None) -> list[Queued]:
        out: list[Queued] = []
        while self._due_by(now) and (limit is None or len(out) < limit):
            out.append(heapq.heappop(self._queue)[2])
        self._in_flight += len(out)
        return out

    def _idle(self) -> bool:
        return not (self._changes or self._buffer or self._queue or self._in_flight)

    def _attempt(self, queued: Queued) -> Attempt:
        delivery = queued.delivery
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        answer = ""
        try:
            response = self._client.post(
                delivery.url,
                content=delivery.body,
                headers=delivery.headers,
                timeout=self._knobs.timeout_seconds,
            )
            status = response.status_code
            answer = response.text[:_ANSWER_CHARS]
        except Exception as exc:  # a bad subscription URL must not stop the sender
            error = type(exc).__name__
        elapsed = (time.perf_counter() - started) * 1000
        with self._cond:
            queued.attempts += 1
            attempt = self._record(delivery, queued.attempts, status, error, elapsed, answer)
            self._in_flight -= 1
            if attempt.ok:
                self._stats.delivered += 1
                if delivery.seq < self._max_seq_sent and queued.attempts == 1:
                    self._stats.out_of_order += 1
                self._max_seq_sent = max(self._max_seq_sent, delivery.seq)
            else:
                self._stats.failed_attempts += 1
                if queued.attempts > self._knobs.max_retries:
                    self._stats.gave_up += 1
                else:
                    self._push(self._clock() + self._backoff(queued.attempts), queued)
            self._cond.notify_all()
        return attempt

    def _backoff(self, attempts: int) -> float:
        knobs = self._knobs
        return float(min(knobs.retry_base_seconds * 2 ** (attempts - 1), knobs.retry_max_seconds))

    def _record(
        self,
        delivery: Delivery,
        attempt: int,
        status: int | None,
        error: str | None,
        ms: float,
        answer: str = "",
    ) -> Attempt:
        entry = record(delivery, attempt, status, error, ms, answer, at=self._clock())
        if attempt:
            self._stats.attempts += 1
        self._log.append(entry)
        self._logged += 1
        return entry

    def _since(self, logged: int) -> list[Attempt]:
        with self._cond:
            count = min(self._logged - logged, len(self._log))
            entries = list(self._log)[len(self._log) - count :] if count else []
        return [a for a in entries if a.attempt]


def _no_secret(hook_id: str) -> str | None:
    return None
