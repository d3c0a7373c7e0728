"""Access to the dashboard: the admin and staff password hashes, the signed session
cookie, CSRF tokens, the API bearer token and the progress endpoint's key.

Two roles log in with one password field: the password that matches the admin hash (or
the API token) opens an ``admin`` session, the one that matches
``dashboard.staff_password_hash`` a read-only ``staff`` session. The role is in the
signed cookie; :mod:`greenloop.web.dashboard.guards` enforces it on every page and API
route.

The session is a cookie signed with ``itsdangerous`` (HttpOnly, SameSite=Lax, Secure
over https). It carries a per-session CSRF token from the first visit on, so even the
login form is protected. Every secret is compared with ``hmac.compare_digest``.

A logged-in cookie also carries the session generation and a fingerprint of the
credentials, both checked on every request: logging out raises the generation (stored
in the database, so every serving process agrees), and changing the admin password or
the API token changes the fingerprint; either ends every session issued before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from greenloop.config import DashboardSettings
from greenloop.store.service_state import read_value, write_value

__all__ = [
    "COOKIE_NAME",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "GENERATION_NAME",
    "ROLES",
    "Auth",
    "Session",
    "SessionGeneration",
    "hash_password",
    "verify_password",
]

COOKIE_NAME = "greenloop_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
GENERATION_NAME = "dashboard.session_generation"
# Who a session is: the owner (everything) or shop-floor staff (lookup and person pages).
ADMIN, STAFF = "admin", "staff"
ROLES = (ADMIN, STAFF)

# scrypt cost: 2**15 × 8 × 1 takes ~50 ms and 32 MiB, OWASP's minimum is 2**17 × 8 × 1
# for scrypt alone; 2**15 keeps logins snappy on a small box while staying far from cheap.
_N, _R, _P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(plain: str) -> str:
    """``scrypt$N$r$p$salt$hash`` for ``dashboard.admin_password_hash``."""
    if not plain:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(plain.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(plain: str, stored: str) -> bool:
    """True when ``plain`` matches a hash made by :func:`hash_password`."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            plain.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), maxmem=_MAXMEM
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _same(given: str | None, secret: str) -> bool:
    return bool(secret) and given is not None and hmac.compare_digest(given, secret)


@dataclass
class Session:
    """What the cookie carries: the CSRF token and, once logged in, the user and the
    session generation it was issued under."""

    csrf: str
    user: str | None = None
    changed: bool = False
    generation: int = 0

    @property
    def logged_in(self) -> bool:
        return self.user is not None

    @property
    def staff(self) -> bool:
        """A read-only staff session (lookup and person pages only)."""
        return self.user == STAFF


class SessionGeneration:
    """The session generation in ``service_state``: logging out raises it, ending every
    session issued before. Reads are cached for ``ttl`` seconds (a logout in another
    process takes effect within that); a logout in this process takes effect at once."""

    def __init__(
        self, engine: Engine, *, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[int, float] | None = None

    def cached(self) -> int | None:
        """The generation if read within the last ``ttl`` seconds, else None."""
        cached = self._cached
        if cached is None or self._clock() - cached[1] >= self._ttl:
            return None
        return cached[0]

    def _remember(self, value: int) -> int:
        self._cached = (value, self._clock())
        return value

    def read(self) -> int:
        """The stored generation (0 before the first logout); blocks on the database."""
        raw = read_value(self._engine, GENERATION_NAME)
        try:
            value = int(raw) if raw is not None else 0
        except ValueError:
            value = 0
        return self._remember(value)

    def bump(self) -> int:
        """Raise the generation: every session issued before is over."""
        with self._lock:  # two logouts in this process raise it twice, not once
            value = self.read() + 1
            write_value(self._engine, GENERATION_NAME, str(value))
            return self._remember(value)


class Auth:
    """Checks a request's credentials against the dashboard settings."""

    def __init__(self, settings: DashboardSettings, generation: SessionGeneration) -> None:
        self.settings = settings
        self.generation = generation
        key = settings.session_secret.get_secret_value() or secrets.token_urlsafe(32)
        self._signer = URLSafeTimedSerializer(key, salt="greenloop-dashboard-session")
        self.max_age = settings.session_hours * 3600
        # Changes when a password or the API token does, so a session opened with the old
        # credentials is refused.
        credentials = "\0".join(
            (
                settings.admin_password_hash.get_secret_value(),
                settings.api_token.get_secret_value(),
                settings.staff_password_hash.get_secret_value(),
            )
        )
        self._credentials = hmac.new(
            key.encode(), credentials.encode(), hashlib.sha256
        ).hexdigest()[:32]

    # -- the session cookie ---------------------------------------------------------

    async def _generation(self) -> int:
        cached = self.generation.cached()
        if cached is not None:
            return cached
        return await run_in_threadpool(self.generation.read)

    async def session(self, request: Request) -> Session:
        """The request's session; a logged-in one only while its generation and the
        credentials it was opened with are still current."""
        raw = request.cookies.get(COOKIE_NAME)
        if raw:
            try:
                data = self._signer.loads(raw, max_age=self.max_age)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                session = Session(csrf=data["csrf"])
                user, generation, cred = data.get("user"), data.get("gen"), data.get("cred")
                if user not in ROLES:
                    return session
                if (
                    isinstance(generation, int)
                    and isinstance(cred, str)
                    and _same(cred, self._credentials)
                    and generation == await self._generation()
                ):
                    session.user, session.generation = user, generation
                else:
                    session.changed = True  # ended: rewrite the cookie without the user
                return session
        return Session(csrf=secrets.token_urlsafe(32), changed=True)

    def save(self, request: Request, response: Response, session: Session) -> None:
        """Write the cookie when the session is new or changed."""
        if not session.changed:
            return
        mode = self.settings.secure_cookies
        secure = mode == "always" or (mode == "auto" and request.url.scheme == "https")
        data: dict[str, object] = {"csrf": session.csrf, "user": session.user}
        if session.logged_in:
            data.update(gen=session.generation, cred=self._credentials)
        response.set_cookie(
            COOKIE_NAME,
            self._signer.dumps(data),
            max_age=self.max_age,
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )

    def password_role(self, password: str) -> str | None:
        """``admin`` for the admin password or the API token, ``staff`` for the staff
        password, None for anything else (blocks: scrypt; run it off the loop). Both
        hashes are checked, whichever matches, so the time does not tell the roles apart."""
        admin = _same(password, self.settings.api_token.get_secret_value())
        staff = False
        for role, secret in (
            (ADMIN, self.settings.admin_password_hash),
            (STAFF, self.settings.staff_password_hash),
        ):
            stored = secret.get_secret_value()
            if stored and verify_password(password, stored):
                admin, staff = admin or role == ADMIN, staff or role == STAFF
        return ADMIN if admin else STAFF if staff else None

    def password_ok(self, password: str) -> bool:
        """Whether ``password`` opens a session of either role."""
        return self.password_role(password) is not None

    async def log_in(self, session: Session, role: str = ADMIN) -> None:
        """Open a session of ``role`` under the current generation (read afresh)."""
        if role not in ROLES:
            raise ValueError(f"no dashboard role {role!r}")
        session.generation = await run_in_threadpool(self.generation.read)
        session.user = role
        session.csrf = secrets.token_urlsafe(32)  # a new token after login (fixation)
        session.changed = True

    async def log_out(self, session: Session) -> None:
        """End this session and every other one issued before it."""
        await run_in_threadpool(self.generation.bump)
        session.user = None
        session.csrf = secrets.token_urlsafe(32)
        session.changed = True

    @property
    def password_configured(self) -> bool:
        """Whether anything can open a session (a password hash or an API token)."""
        return bool(
            self.settings.admin_password_hash.get_secret_value()
            or self.settings.staff_password_hash.get_secret_value()
            or self.settings.api_token.get_secret_value()
        )

    # -- tokens ---------------------------------------------------------------------

    def bearer_ok(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return _same(token.strip(), self.settings.api_token.get_secret_value())

    def progress_key_ok(self, request: Request) -> bool:
        return _same(
            request.headers.get("x-api-key"), self.settings.progress_api_key.get_secret_value()
        )

    @property
    def progress_enabled(self) -> bool:
        return bool(self.settings.progress_api_key.get_secret_value())

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        return _same(given, session.csrf)
