"""How a simulator instance behaves: page sizes, envelope quirks, rate limit, faults
and webhook delivery.

The values here are the start-up settings. The rate limit, the faults and the webhook
knobs can be changed while the simulator runs, through the control API under ``/_sim/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from greenloop.simulator.oauth import (
    DEFAULT_ACCESS_SECONDS,
    DEFAULT_REFRESH_SECONDS,
    OAuthSettings,
)
from greenloop.simulator.webhook_knobs import WebhookKnobs

__all__ = ["EMPTY_VERSION_STYLES", "EmptyVersionStyle", "SimulatorConfig"]

EmptyVersionStyle = Literal["null_fields", "null", "absent"]
EMPTY_VERSION_STYLES: tuple[str, ...] = get_args(EmptyVersionStyle)


@dataclass(frozen=True)
class SimulatorConfig:
    """Start-up settings of one simulator.

    ``token`` has no default on purpose: whoever starts a simulator picks (and prints)
    the bearer token clients must send.
    """

    token: str
    # The 2.0 docs state neither the default nor the maximum page size; a third party
    # reports the API accepts up to 5000 (reference §2), so both are settings.
    default_page_size: int = 1000
    max_page_size: int = 5000
    # How an empty list page reports its version block. The dated API documents
    # {"min": null, "max": null}; the 2.0 schema requires integers (reference §2).
    empty_version: EmptyVersionStyle = "null_fields"
    # None means the documented 300 x (registers) + 50 per window (reference §9).
    rate_limit: int | None = None
    rate_window_seconds: float = 300.0
    # [INF] The batch size of POST/DELETE /customer_groups/{id}/customers is undocumented.
    max_group_batch: int = 1000
    # [INF] The spec gives no length limit for a group name; a real one surely exists.
    max_group_name_length: int = 255
    error_rate: float = 0.0
    write_error_rate: float = 0.0
    latency_ms: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    malformed_rate: float = 0.0
    fault_seed: int = 0
    # Signing, retries and the drop/duplicate/delay/reorder knobs of webhook delivery.
    webhooks: WebhookKnobs = field(default_factory=WebhookKnobs)
    # The OAuth app (simulator/oauth.py): empty client id and secret mean OAuth is off;
    # when set, OAuth tokens work beside the personal ``token``, which keeps every scope.
    oauth_client_id: str = ""
    oauth_client_secret: str = field(default="", repr=False)
    # Empty: any http(s) redirect URI is allowed.
    oauth_redirect_uris: tuple[str, ...] = ()
    access_token_seconds: int = DEFAULT_ACCESS_SECONDS
    refresh_token_seconds: int = DEFAULT_REFRESH_SECONDS
    # False: strict rotation. True: the old refresh token works until the new pair is
    # first used ([INF] reading of the changelog, see simulator/oauth.py).
    oauth_refresh_grace: bool = False

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("the simulator needs a non-empty token")
        if self.default_page_size < 1 or self.max_page_size < 1:
            raise ValueError("page sizes must be at least 1")
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size cannot exceed max_page_size")
        if self.empty_version not in EMPTY_VERSION_STYLES:
            raise ValueError(f"empty_version must be one of {', '.join(EMPTY_VERSION_STYLES)}")
        if self.rate_limit is not None and self.rate_limit < 0:
            raise ValueError("rate_limit cannot be negative")
        if self.rate_window_seconds <= 0:
            raise ValueError("rate_window_seconds must be positive")
        if self.max_group_batch < 1:
            raise ValueError("max_group_batch must be at least 1")
        for name in ("error_rate", "write_error_rate", "timeout_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.latency_ms < 0 or self.timeout_seconds < 0:
            raise ValueError("latency_ms and timeout_seconds cannot be negative")
        self.oauth()  # raises ValueError for bad OAuth settings

    def oauth(self) -> OAuthSettings:
        """The OAuth app and token lifetimes this simulator starts with."""
        return OAuthSettings(
            client_id=self.oauth_client_id,
            client_secret=self.oauth_client_secret,
            redirect_uris=tuple(self.oauth_redirect_uris),
            access_token_seconds=self.access_token_seconds,
            refresh_token_seconds=self.refresh_token_seconds,
            refresh_grace=self.oauth_refresh_grace,
        )
