"""The eCom worker's sender: messages larger than a pipe holds are written by a thread,
in order, and a reader that goes away stops the sender instead of blocking it."""

from __future__ import annotations

import marshal
import os
import threading
from typing import Any

from greenloop.ecom.worker import _receive, _Sender


def _message(n: int) -> tuple[Any, ...]:
    # About 2 MB once marshalled: more than a pipe holds (64 KB to 1 MB).
    return ("rows", [(f"order {n}", "x" * 1000, n)] * 2000, [])


def test_every_message_arrives_whole_and_in_order() -> None:
    read_end, write_end = os.pipe()
    received: list[Any] = []
    with os.fdopen(write_end, "wb") as out, os.fdopen(read_end, "rb") as source:
        reader = threading.Thread(
            target=lambda: received.extend(_receive(source) for _ in range(6))
        )
        reader.start()
        sender = _Sender(out)
        for n in range(6):
            sender.send(_message(n))
        sender.close()
        reader.join(timeout=30)
    assert received == [marshal.loads(marshal.dumps(_message(n))) for n in range(6)]


def test_a_reader_that_goes_away_stops_the_sender() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the parent stopped reading (it failed or was interrupted)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            with os.fdopen(write_end, "wb") as out:
                sender = _Sender(out)
                for n in range(10):
                    sender.send(_message(n))
                sender.close()
        except BrokenPipeError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the sender blocked on a pipe nobody reads"
    assert len(outcome) == 1
