"""Ask the running `greenloop serve` for an answer its JSON API already gives.

A command that opens the database imports SQLAlchemy, ~0.2 s by itself on the 2-core
machine, before it reads one row; `serve` holds the database open. So a read-only
command a person types (``customers show``) can ask the `serve` of the same config
first. It is only trusted when it proves it reads the same database: its API answers
carry ``X-GreenLoop-Store``, an HMAC of its database URL keyed with the API token
(:meth:`Settings.store_tag`), and the command compares it with its own. Anything else
(nothing listening, another store, an error, a slow answer) returns None and the
command reads the database itself, which also gives the full error and its hint.

Imports only the standard library: its point is to start quickly.
"""

from __future__ import annotations

import http.client
import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenloop.config import Settings

__all__ = ["STORE_HEADER", "ask_serve"]

log = logging.getLogger(__name__)

STORE_HEADER = "X-GreenLoop-Store"
# serve answers a person in tens of milliseconds; a slower answer (a busy analysis on a
# small machine) is not worth waiting for when the command can read the database.
TIMEOUT_SECONDS = 5.0
# serve bound to every interface is reached on loopback.
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


def ask_serve(settings: Settings, path: str) -> Any | None:
    """The JSON of ``GET path`` from the `serve` at ``jobs.host:jobs.port``, or None
    when asking is off (``dashboard.cli_asks_serve``, no ``dashboard.api_token``) or no
    `serve` of this store answered 200."""
    token = settings.dashboard.api_token.get_secret_value()
    if not (token and settings.dashboard.cli_asks_serve):
        return None
    host = _ANY_ADDRESS.get(settings.jobs.host, settings.jobs.host)
    conn = http.client.HTTPConnection(host, settings.jobs.port, timeout=TIMEOUT_SECONDS)
    try:
        conn.request(
            "GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            log.debug("serve answered %s: reading the database", response.status)
            return None
        if response.getheader(STORE_HEADER) != settings.store_tag():
            log.debug("the serve at %s:%s reads another database", host, settings.jobs.port)
            return None
        return json.loads(body)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        log.debug("no serve answered (%s): reading the database", type(exc).__name__)
        return None
    finally:
        conn.close()
