"""One exception tree, named for what the caller does next.

    GreenLoopError                  anything GreenLoop raises on purpose
    ├── FatalError                  stop: a person must change something first
    │   ├── ConfigError             the settings are wrong or missing
    │   ├── AuthFailed              the API token was refused (401/403)
    │   │   ├── ConnectionLost      the OAuth connection is revoked or its refresh token refused
    │   │   └── MissingScope        the OAuth connection lacks a scope an operation needs
    │   ├── ApiRejected             the API refused the request (other 4xx)
    │   ├── BadResponse             the API answered something it should not (a wrong shape)
    │   ├── InputFileError          a whole input file is unusable (not an export, unreadable)
    │   ├── NotFound                nothing (or more than one thing) matches what was asked for
    │   └── StoreError              the database is unusable (schema, a failed statement)
    ├── RetryableError              try again later; nothing is lost
    │   ├── RateLimited             429: wait until ``retry_after``
    │   ├── RateLimitWaitExceeded   the budget stayed spent past lightspeed.max_wait_seconds
    │   ├── ServerError             5xx from the API
    │   ├── ConnectionFailed        timeout, refused connection, DNS failure
    │   ├── GarbledResponse         a body that is not JSON (cut off on the way, usually)
    │   ├── Busy                    another run of the same job holds its lock
    │   └── StoreUnavailable        the database is locked, unreachable, or a transaction conflicted
    └── SkippableRecordError        skip this record, report it, carry on
        └── ImportRowError          a row of an input file is broken

Every error carries ``hint``: one sentence telling the user what to do. Messages
never contain secrets; callers build them from redacted values only.
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "ApiRejected",
    "AuthFailed",
    "BadResponse",
    "Busy",
    "ConfigError",
    "ConnectionFailed",
    "ConnectionLost",
    "FatalError",
    "GarbledResponse",
    "GreenLoopError",
    "ImportRowError",
    "InputFileError",
    "MissingScope",
    "NotFound",
    "RateLimitWaitExceeded",
    "RateLimited",
    "RetryableError",
    "ServerError",
    "SkippableRecordError",
    "StoreError",
    "StoreUnavailable",
]


class GreenLoopError(Exception):
    """Root of every error GreenLoop raises on purpose."""

    hint: str = ""
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def one_line(self) -> str:
        """The message and its hint on one line, as the CLI prints it."""
        return f"{self.message}. {self.hint}" if self.hint else self.message


class FatalError(GreenLoopError):
    """Retrying will not help: a person must change something first."""

    exit_code = 2


class ConfigError(FatalError):
    hint = "Edit greenloop.toml (see `greenloop init`) or the GREENLOOP_* environment variables."


class AuthFailed(FatalError):
    hint = (
        "Generate a new personal token in Lightspeed Retail under Setup → Personal Tokens "
        "and set GREENLOOP_LIGHTSPEED_TOKEN (or lightspeed.token)."
    )


class ConnectionLost(AuthFailed):
    """The OAuth connection cannot be used any more (revoked, or its refresh token was
    refused): only the store owner approving GreenLoop again fixes it."""

    hint = ""


class MissingScope(AuthFailed):
    """The OAuth connection was approved without a scope this operation needs."""

    def __init__(self, message: str, *, scope: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.scope = scope


class ApiRejected(FatalError):
    """A 4xx other than 401/403/429: the request itself was wrong."""

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class BadResponse(FatalError):
    """The API answered with a well-formed body of the wrong shape: asking again gets
    the same answer."""

    hint = (
        "The API sent something GreenLoop cannot use; check lightspeed.base_url points at "
        "the Lightspeed API, and report the message if it persists."
    )


class InputFileError(FatalError):
    hint = "Check the file is an eCom orders export (eCom admin → My Sales → Orders → Export)."


class NotFound(FatalError):
    hint = "Search by name, email, phone, customer code, customer id or person id."


class StoreError(FatalError):
    hint = "Check database.url (GREENLOOP_DATABASE_URL) and run `greenloop init` to migrate."


class RetryableError(GreenLoopError):
    """The failure is temporary; the same call may succeed later."""

    exit_code = 3


class RateLimited(RetryableError):
    hint = "The Lightspeed rate limit is spent; GreenLoop waits for it, or re-run later."

    def __init__(self, message: str, *, retry_after: datetime | None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class RateLimitWaitExceeded(RetryableError):
    """Waiting for the rate budget would pass ``lightspeed.max_wait_seconds``.

    Not a :class:`RateLimited`: the client waits out a 429, but this ends the run.
    """

    hint = (
        "Nothing stored is lost: re-run later. If another app spends this store's API "
        "budget, stop it, or raise lightspeed.max_wait_seconds."
    )

    def __init__(self, message: str, *, resume_at: datetime | None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.resume_at = resume_at


class ServerError(RetryableError):
    hint = "Lightspeed is failing on its side; re-run later (nothing already stored is lost)."

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class GarbledResponse(RetryableError):
    """A body that is not JSON at all: almost always cut off on the way (a dropped
    connection, a proxy's error page), so the same request usually succeeds again."""

    hint = (
        "The answer was cut off or not JSON; GreenLoop retried it. Re-run later, and if it "
        "persists check lightspeed.base_url points at the Lightspeed API."
    )


class ConnectionFailed(RetryableError):
    hint = (
        "Check the network and lightspeed.domain_prefix / lightspeed.base_url, then re-run "
        "(nothing already stored is lost)."
    )


class Busy(RetryableError):
    hint = "Wait for the other run to finish; a run that died is taken over when its lock expires."


class StoreUnavailable(RetryableError):
    hint = (
        "The database was locked, unreachable, or a transaction conflicted; re-run "
        "(the failed step's transaction was rolled back, nothing half-written is kept)."
    )


class SkippableRecordError(GreenLoopError):
    """One record is bad; skip it, report it, carry on with the rest."""


class ImportRowError(SkippableRecordError):
    """A broken row in an input file, located precisely enough to fix it."""

    def __init__(
        self, message: str, *, file: str, line: int, column: str | None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.file = file
        self.line = line
        self.column = column

    def one_line(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.column:
            where += f": {self.column}"
        text = f"{where}: {self.message}"
        return f"{text}, {self.hint}" if self.hint else text
