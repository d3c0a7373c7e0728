"""Ask the running `greenloop serve` for an answer its JSON API already gives.

A command that opens the database imports SQLAlchemy, ~0.2 s by itself on the 2-core
machine, before it reads one row; `serve` holds the database open. So a read-only
command a person types (``customers show``) can ask the `serve` of the same config
first, at ``jobs.host:jobs.port``.

The API token is sent only to a process that has proved it holds the token and reads
this store's database: the command first asks ``/api/serve-proof`` with a fresh random
nonce (no credentials) and compares the answer, an HMAC of the nonce and the database
URL keyed with the token (:meth:`Settings.store_proof`), with its own. Another program
on the port (a dev server that logs headers) never sees the token, and a `serve` of
another store is not believed. Anything else (nothing listening, an error, a slow
answer) returns None and the command reads the database itself, which also gives the
full error and its hint.

Imports only the standard library: its point is to start quickly.
"""

from __future__ import annotations

import hmac
import http.client
import json
import logging
import os
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from greenloop.config import Settings

__all__ = ["NONCE", "SERVE_PROOF_PATH", "ask_serve"]

log = logging.getLogger(__name__)

SERVE_PROOF_PATH = "/api/serve-proof"
NONCE = re.compile(r"[0-9a-f]{32,128}")
# serve answers a person in tens of milliseconds; a slower answer (a busy analysis on a
# small machine) is not worth waiting for when the command can read the database.
TIMEOUT_SECONDS = 5.0
# serve bound to every interface is reached on loopback.
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


class _NotOurs(Exception):
    """The other end is not a `serve` of this store, or did not answer 200."""


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
        nonce = os.urandom(16).hex()
        proof = _get(conn, f"{SERVE_PROOF_PATH}?nonce={nonce}", {})
        expected = settings.store_proof(nonce)
        if not (isinstance(proof, dict) and hmac.compare_digest(str(proof.get("proof")), expected)):
            raise _NotOurs("no proof of this store")
        return _get(conn, path, {"Authorization": f"Bearer {token}"})
    except (_NotOurs, OSError, http.client.HTTPException, ValueError) as exc:
        log.debug("no serve of this store answered (%s): reading the database", exc)
        return None
    finally:
        conn.close()


def _get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> Any:
    conn.request("GET", path, headers={**headers, "Accept": "application/json"})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise _NotOurs(f"{path.split('?')[0]} answered {response.status}")
    return json.loads(body)
