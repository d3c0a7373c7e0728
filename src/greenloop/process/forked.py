"""Work handed to a forked process, which sends its result back through a pipe.

A full analysis runs two kinds of work beside its own: reading the purchases while it
clusters identities, and fitting the predictions while it writes. Each is a forked copy
of the analysing process (it sees every object as it is at the fork, with nothing to
send it), and each must be stopped if the parent fails before it takes the result.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

__all__ = ["Forked", "can_fork"]


def can_fork(cpus: int) -> bool:
    """Whether work can run beside this process: a second CPU and ``fork``."""
    return cpus >= 2 and "fork" in multiprocessing.get_all_start_methods()


class Forked:
    """``work(send)`` started in a forked process; it sends bytes with
    ``send.send_bytes``. :meth:`receive` reads them, :meth:`done` waits for the process
    once all is read, :meth:`close` stops it if it is still running."""

    def __init__(self, work: Callable[[Any], None]) -> None:
        fork = multiprocessing.get_context("fork")
        self._receive, send = fork.Pipe(duplex=False)
        self._process = fork.Process(target=work, args=(send,), daemon=True)
        self._process.start()
        send.close()

    def receive(self) -> bytes:
        """The next message; ``EOFError`` when the process ended without sending it."""
        data: bytes = self._receive.recv_bytes()
        return data

    def done(self) -> None:
        """Closes this end and waits for the process to end."""
        self._receive.close()
        self._process.join()

    def close(self) -> None:
        """Stops the process if it still runs (its result was never taken), and closes."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._receive.close()
