"""How a push brings its local copy of X-Series up to date: through a `Refresh` it is given.

Push plans from the store, which is only as fresh as the last read of the API. So a run
refreshes customers and groups just before it plans, and customers again after it sends
(to confirm the moves took). How to read them (by cursor, with which page size, under
which lock) is the pull's business, not push's: the caller (``services.push``) passes a
`Refresh` built on it, so push never imports the sync package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["CUSTOMERS", "GROUPS_AND_CUSTOMERS", "Refresh"]

# Before planning (and before `tiers verify` compares): groups first, so a customer's
# group is known when its row is read.
GROUPS_AND_CUSTOMERS: tuple[str, ...] = ("customer_groups", "customers")
# After the batches, the read-back: only the customers' group links can have changed.
CUSTOMERS: tuple[str, ...] = ("customers",)


class Refresh(Protocol):
    def __call__(self, resources: Sequence[str]) -> int:
        """Bring these resources up to date in the store; return the API requests used."""
        ...
