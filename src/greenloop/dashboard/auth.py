"""Access to the dashboard: the admin password hash, the signed session cookie, CSRF
tokens, the API bearer token and the progress endpoint's key.

The session is a cookie signed with ``itsdangerous`` (HttpOnly, SameSite=Lax, Secure
over https). It carries a per-session CSRF token from the first visit on, so even the
login form is protected. Every secret is compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from greenloop.config import DashboardSettings

__all__ = [
    "COOKIE_NAME",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "Auth",
    "Session",
    "hash_password",
    "verify_password",
]

COOKIE_NAME = "greenloop_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

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
    """What the cookie carries: the CSRF token and, once logged in, the user."""

    csrf: str
    user: str | None = None
    changed: bool = False

    @property
    def logged_in(self) -> bool:
        return self.user is not None


class Auth:
    """Checks a request's credentials against the dashboard settings."""

    def __init__(self, settings: DashboardSettings) -> None:
        self.settings = settings
        secret = settings.session_secret.get_secret_value() or secrets.token_urlsafe(32)
        self._signer = URLSafeTimedSerializer(secret, salt="greenloop-dashboard-session")
        self.max_age = settings.session_hours * 3600

    # -- the session cookie ---------------------------------------------------------

    def session(self, request: Request) -> Session:
        raw = request.cookies.get(COOKIE_NAME)
        if raw:
            try:
                data = self._signer.loads(raw, max_age=self.max_age)
            except BadSignature:
                data = None
            if isinstance(data, dict) and isinstance(data.get("csrf"), str):
                user = data.get("user")
                return Session(csrf=data["csrf"], user=user if isinstance(user, str) else None)
        return Session(csrf=secrets.token_urlsafe(32), changed=True)

    def save(self, request: Request, response: Response, session: Session) -> None:
        """Write the cookie when the session is new or changed."""
        if not session.changed:
            return
        mode = self.settings.secure_cookies
        secure = mode == "always" or (mode == "auto" and request.url.scheme == "https")
        response.set_cookie(
            COOKIE_NAME,
            self._signer.dumps({"csrf": session.csrf, "user": session.user}),
            max_age=self.max_age,
            path="/",
            httponly=True,
            samesite="lax",
            secure=secure,
        )

    def log_in(self, session: Session, password: str) -> bool:
        """The admin password, or the API token, opens a session."""
        stored = self.settings.admin_password_hash.get_secret_value()
        by_password = bool(stored) and verify_password(password, stored)
        if not by_password and not _same(password, self.settings.api_token.get_secret_value()):
            return False
        session.user = "admin"
        session.csrf = secrets.token_urlsafe(32)  # a new token after login (fixation)
        session.changed = True
        return True

    @staticmethod
    def log_out(session: Session) -> None:
        session.user = None
        session.csrf = secrets.token_urlsafe(32)
        session.changed = True

    @property
    def password_configured(self) -> bool:
        """Whether anything can open a session (a password hash or an API token)."""
        return bool(
            self.settings.admin_password_hash.get_secret_value()
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
