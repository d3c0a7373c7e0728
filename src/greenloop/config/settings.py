"""Settings: one typed object, read from ``greenloop.toml`` and the environment.

Precedence, highest first: ``GREENLOOP_*`` environment variables, the retailer's
existing ``EXPO_PUBLIC_LIGHTSPEED_*`` variables, the TOML file, the defaults here.
Any setting can also be set as ``GREENLOOP_<SECTION>__<KEY>`` (for example
``GREENLOOP_SYNC__PAGE_SIZE=500``). Settings are built by :func:`load_settings`
and passed in; nothing reads them at import time.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from greenloop.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "AnalyticsSettings",
    "ConditionSettings",
    "DashboardSettings",
    "DatabaseSettings",
    "EcomSettings",
    "EventSettings",
    "IdentitySettings",
    "JobSettings",
    "LightspeedSettings",
    "ProgramSettings",
    "PushSettings",
    "Settings",
    "SyncSettings",
    "TierSettings",
    "WebhookSettings",
    "load_settings",
]

DEFAULT_CONFIG_NAME = "greenloop.toml"

# Values people paste from documentation; refusing them early beats a 401 later.
_PLACEHOLDER_SECRETS = {
    "",
    "changeme",
    "changethis",
    "your-token",
    "your-token-here",
    "xxx",
    "token",
}

# Explicit environment names, documented in the README. The EXPO_PUBLIC_* names are the
# ones the retailer's current scripts and GitHub workflow already set.
_ENV_ALIASES: tuple[tuple[str, tuple[str, str]], ...] = (
    ("EXPO_PUBLIC_LIGHTSPEED_TOKEN", ("lightspeed", "token")),
    ("EXPO_PUBLIC_LIGHTSPEED_DOMAIN_PREFIX", ("lightspeed", "domain_prefix")),
    ("EXPO_PUBLIC_LIGHTSPEED_API_BASE", ("lightspeed", "base_url")),
    ("GREENLOOP_LIGHTSPEED_TOKEN", ("lightspeed", "token")),
    ("GREENLOOP_LIGHTSPEED_DOMAIN_PREFIX", ("lightspeed", "domain_prefix")),
    ("GREENLOOP_LIGHTSPEED_BASE_URL", ("lightspeed", "base_url")),
    ("GREENLOOP_LIGHTSPEED_CLIENT_ID", ("lightspeed", "client_id")),
    ("GREENLOOP_LIGHTSPEED_CLIENT_SECRET", ("lightspeed", "client_secret")),
    ("GREENLOOP_DATABASE_URL", ("database", "url")),
    ("GREENLOOP_WEBHOOK_SECRET", ("webhooks", "secret")),
    ("GREENLOOP_EVENTS_URL", ("events", "url")),
    ("GREENLOOP_EVENTS_SECRET", ("events", "secret")),
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LightspeedSettings(_Section):
    """How to reach the retailer's X-Series API."""

    domain_prefix: str = ""
    token: SecretStr = SecretStr("")
    base_url: str = ""
    user_agent: str = "GreenLoop/0.1 (+https://github.com/greenloop)"
    timeout_seconds: float = 30.0
    max_retries: int = 5
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    rate_limit_window_seconds: float = 300.0
    # A run (sync, tiers push, a worker's refresh) stops when waiting for the rate budget
    # would pass this many seconds without one request getting through; a single
    # Retry-After further away stops it at once. 0: never wait. An answered request
    # resets the count, so a long sync that waits out several windows is not stopped.
    max_wait_seconds: float = Field(default=900.0, ge=0)
    # The add-on (OAuth 2.0) connection, README: Connecting a store. With client_id set
    # and a connection stored by `greenloop connect`, the connection's tokens are used
    # and `token` is ignored. client_secret comes from GREENLOOP_LIGHTSPEED_CLIENT_SECRET.
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    authorize_url: str = "https://secure.retail.lightspeed.app/connect"
    # The least GreenLoop needs: the sync reads the retailer, outlets, registers, users,
    # customers (with their groups) and sales; the tier push moves customers between
    # groups and creates the managed groups (customers:write); `webhooks register`
    # subscribes (webhooks). GreenLoop never writes sales.
    scopes: tuple[str, ...] = (
        "retailer:read",
        "outlets:read",
        "registers:read",
        "users:read",
        "customers:read",
        "customers:write",
        "sales:read",
        "webhooks",
    )

    @field_validator("scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: Any) -> Any:
        # The environment gives one string: "sales:read customers:read".
        if isinstance(value, str):
            return tuple(value.replace(",", " ").split())
        return value

    def oauth_configured(self) -> bool:
        """Whether an OAuth app (client id and secret) is configured."""
        return bool(self.client_id.strip() and self.client_secret.get_secret_value().strip())

    @field_validator("base_url")
    @classmethod
    def _strip_api_suffix(cls, value: str) -> str:
        # Accept the store origin with or without the API path people copy from docs.
        value = value.strip().rstrip("/")
        for suffix in ("/api/2.0", "/api"):
            if value.endswith(suffix):
                value = value[: -len(suffix)]
        return value

    def origin(self) -> str:
        """``https://{prefix}.retail.lightspeed.app`` unless ``base_url`` overrides it."""
        if self.base_url:
            return self.base_url
        if not self.domain_prefix:
            raise ConfigError(
                "lightspeed.domain_prefix is not set",
                hint=(
                    "Set GREENLOOP_LIGHTSPEED_DOMAIN_PREFIX to your store's prefix "
                    "(the NAME in https://NAME.retail.lightspeed.app), or lightspeed.base_url."
                ),
            )
        return f"https://{self.domain_prefix}.retail.lightspeed.app"

    def require_token(self) -> str:
        token = self.token.get_secret_value().strip()
        if token.lower() in _PLACEHOLDER_SECRETS:
            raise ConfigError(
                "no Lightspeed API token is configured",
                hint=(
                    "Create a personal token in Lightspeed Retail under Setup → Personal Tokens "
                    "and set GREENLOOP_LIGHTSPEED_TOKEN (or lightspeed.token in greenloop.toml)."
                ),
            )
        return token


class DatabaseSettings(_Section):
    """Where GreenLoop keeps its data. Empty means a SQLite file next to the config."""

    url: str = ""
    echo: bool = False


class SyncSettings(_Section):
    """The incremental pull from X-Series."""

    # Lightspeed does not document the 2.0 page-size limit; the client never relies on
    # a short page meaning "last page", so a server that caps lower still syncs fully.
    page_size: int = Field(default=1000, ge=1, le=10000)
    resources: tuple[str, ...] = (
        "retailer",
        "outlets",
        "registers",
        "users",
        "customer_groups",
        "customers",
        "sales",
    )


class EcomSettings(_Section):
    """The eCom (E-Series) order export and how online orders are matched and counted."""

    # The export's times are store-local without an offset (reference §2.3).
    timezone: str = "America/Chicago"
    # 1/5/2026 is 5 January unless the store writes dates day first.
    day_first: bool = False
    # A fall-back hour happens twice: read it as the earlier or the later one.
    ambiguous_time: Literal["earlier", "later"] = "earlier"
    # Orders before this date never reached X-Series (the integration did not exist).
    integration_start: str = ""
    # Fallback channel rule: sales on these registers are online even without `ecw:`.
    online_register_ids: tuple[str, ...] = ()
    # Orders never to count (e.g. go-live test orders).
    excluded_orders: tuple[str, ...] = ()
    count_zero_total_orders: bool = True
    # Reconcile: an order and its sale match on amount within this tolerance, and on
    # time when the sale's date is this many minutes from the order's.
    amount_tolerance: str = "0.02"
    time_tolerance_minutes: int = 5
    # Values no store produces refuse their order at import (README: What GreenLoop
    # refuses): a larger order total (or any amount), a larger item quantity, an order
    # time before this date or more than max_future_days after the import.
    max_order_total: Decimal = Field(default=Decimal("100000"), gt=0, allow_inf_nan=False)
    max_quantity: Decimal = Field(default=Decimal("10000"), gt=0, allow_inf_nan=False)
    earliest_order_date: date = date(2000, 1, 1)
    max_future_days: float = Field(default=1.0, ge=0, le=3650)
    # Read UTF-8 exports by columns (pyarrow) instead of row by row. Same orders, same
    # messages; about 1.5x as fast on a large export, with a higher memory peak (README:
    # eCom). Off reads every file row by row.
    columnar_reader: bool = True


class WebhookSettings(_Section):
    """Incoming X-Series webhooks: how deliveries are authenticated, and the inbox worker.

    Lightspeed signs deliveries (``X-Signature``) only for OAuth apps; webhooks made with
    a personal token or on the setup page arrive unsigned (reference §8). For those, a
    secret token in the subscription URL (``?token=…``) is the alternative.
    """

    # The OAuth app's client_secret, the key of X-Signature (env: GREENLOOP_WEBHOOK_SECRET).
    secret: SecretStr = SecretStr("")
    # Refuse deliveries without a valid X-Signature even when the URL token matches.
    require_signature: bool = False
    # Accepted as ?token=… on the webhook URL; `webhooks register` adds it to the URL.
    url_token: SecretStr = SecretStr("")
    # With neither a secret nor a URL token anyone could post fake sales: deliveries are
    # refused unless this is set (local experiments only).
    allow_unauthenticated: bool = False
    # A 1.0 sale payload with hundreds of lines is well under 1 MB.
    max_body_bytes: int = Field(default=2_000_000, ge=1024)
    # What `webhooks register` subscribes to (reference §8: there is no sale.created).
    types: tuple[str, ...] = ("sale.update", "customer.update")
    # The worker: rows claimed per round, retries with exponential back-off, and the
    # number of attempts after which a delivery is parked with its reason.
    batch_size: int = Field(default=20, ge=1, le=1000)
    max_attempts: int = Field(default=8, ge=1)
    retry_base_seconds: float = Field(default=5.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    # A sale or customer can be readable a moment after its webhook; a 404 is retried
    # this many times before the object is taken as deleted.
    not_found_attempts: int = Field(default=3, ge=1)
    # A row "processing" for longer than this belongs to a worker that died: re-queued.
    claim_timeout_seconds: float = Field(default=300.0, gt=0)
    poll_interval_seconds: float = Field(default=1.0, gt=0)
    # Done rows are kept past Lightspeed's 48-hour retry horizon, so late re-sends of a
    # delivery are still recognised as duplicates.
    keep_done_days: int = Field(default=7, ge=3)

    def authenticated(self) -> bool:
        """Whether deliveries can be told from forgeries at all."""
        return bool(self.secret.get_secret_value() or self.url_token.get_secret_value())


class IdentitySettings(_Section):
    """How profiles and eCom buyers are joined into persons (README: Identity)."""

    # Phones without a country code are read in this region (ISO 3166 code).
    default_region: str = "US"
    gmail_ignore_dots: bool = False
    ignore_plus_tags: bool = False
    # Added to the built-in deny-list; the store's own email and phone from X-Series
    # (retailer and outlets) are added automatically.
    placeholder_emails: tuple[str, ...] = ()
    placeholder_phones: tuple[str, ...] = ()
    # An email or phone on more profiles than this links nobody.
    max_profiles_per_value: int = Field(default=5, ge=1)
    # Probabilistic matching beside the exact keys (README: Suggestions): pairs at or
    # above auto_link_probability are joined at once (chosen for a precision of at least
    # 0.999 on the generated store's truth), pairs at or above suggest_probability wait
    # on the Review page for staff.
    suggestions: bool = True
    auto_link_probability: float = Field(default=0.995, gt=0, le=1)
    suggest_probability: float = Field(default=0.9, gt=0, le=1)
    # The match weights learnt from the store are kept this many days: analyses in
    # between score only the pairs of changed records with them. 0 learns them again and
    # scores every pair at every analysis.
    match_weights_days: int = Field(default=7, ge=0, le=365)


class AnalyticsSettings(_Section):
    """Metrics, risk and prediction settings (README: What counts)."""

    # Store-local days decide visits; empty means the eCom timezone setting.
    timezone: str = ""
    same_day_is_one_visit: bool = True
    # The value basis: tax-inclusive totals, shipping and loyalty-dollar redemptions.
    include_tax: bool = True
    include_shipping: bool = True
    include_loyalty_redemptions: bool = True
    # Past one own purchase cycle is "at risk", past two "lapsed". People with fewer
    # visits than this use the store's median cycle instead of their own.
    min_visits_for_own_cycle: int = Field(default=3, ge=2)
    # Predictions (BG/NBD + Gamma-Gamma) run only when the data is ready for them.
    predictions: bool = True
    min_customers_for_predictions: int = 500
    min_history_days_for_predictions: int = 180
    min_repeat_customers_for_predictions: int = 100
    # The purchase models the analysis may choose from (per store, by a backtest on its
    # own history); NBD is still the last resort when none of these fits.
    prediction_models: tuple[Literal["bgnbd", "mbgnbd", "pareto_nbd", "nbd"], ...] = Field(
        default=("bgnbd", "mbgnbd", "pareto_nbd", "nbd"), min_length=1
    )
    # The choice among them (a backtest of each) and its fit are kept this many days:
    # analyses in between predict with them, refitting the chosen model on everyone only
    # when the people with a purchase number more than 1% away from those it was fitted
    # on. 0 chooses again at every analysis.
    model_choice_days: int = Field(default=7, ge=0, le=365)
    # Past their cycle but expected back: a person the fitted model expects to buy at
    # least this many times in the next 90 days is not at risk (README: At risk).
    at_risk_expected_purchases_below: Decimal = Field(default=Decimal("0.5"), ge=0)
    # The horizon `greenloop backtest` scores over when --horizon-days is not given.
    backtest_horizon_days: int = Field(default=90, ge=1, le=730)
    # A full analysis takes an unchanged person's stored row instead of computing it
    # again (README: How analyze carries rows over); false computes everyone every run.
    carry_over: bool = True

    @field_validator("prediction_models", mode="before")
    @classmethod
    def _model_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: "pareto_nbd, nbd"
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        return value


class ConditionSettings(_Section):
    kind: Literal["value", "visits", "loyalty", "purchase_count"]
    at_least: str | None = None
    equals: int | None = None
    window: Literal["lifetime", "rolling", "calendar_year", "since_enrolment"] = "lifetime"
    days: int | None = None


class TierSettings(_Section):
    name: str
    group: str
    combine: Literal["any", "all"] = "any"
    conditions: tuple[ConditionSettings, ...]


class ProgramSettings(_Section):
    """The tier program. No ``tiers`` means the retailer's default program (README)."""

    tiers: tuple[TierSettings, ...] = ()
    downgrade: Literal["never", "immediate", "review"] = "review"
    review_days: int = Field(default=90, ge=1)
    max_steps: int = Field(default=1, ge=1)
    grace_days: int = Field(default=0, ge=0)


class PushSettings(_Section):
    """Writing tiers back to X-Series customer groups (README: Pushing tiers)."""

    # Lightspeed documents no limit for POST /customer_groups/{id}/customers. A batch
    # the API refuses as too large is split in half and retried, so a real limit below
    # this only costs a few extra requests (README: batch size).
    batch_size: int = Field(default=250, ge=1, le=10000)
    # Groups GreenLoop may move customers out of, besides the tier groups and the
    # default group. Every other group (Staff, Wholesale, ...) is protected.
    managed_groups: tuple[str, ...] = ()
    # The group a customer without a tier belongs in. Found by the API's default code
    # "1111111111" first, then by this name.
    default_group: str = "All Customers"
    # A customer moved by hand between managed groups since GreenLoop's last push:
    # "keep" treats the move as an override until the person's tier changes; "revert"
    # moves them back on the next push.
    hand_moves: Literal["keep", "revert"] = "keep"
    # Profiles whose only email/phone is a placeholder are shared accounts (walk-in,
    # "no email"): their group is left alone unless this is true.
    move_placeholder_profiles: bool = False
    create_missing_groups: bool = True


class JobSettings(_Section):
    """The daily job (`greenloop run daily`, and inside `greenloop serve`)."""

    # Where customer_analytics_master.csv and tier_sync_log.json are written.
    output_dir: str = "output"
    # eCom exports dropped here are imported by the daily job, then moved to
    # <ecom_inbox>/imported (or <ecom_inbox>/rejected when a row was refused).
    ecom_inbox: str = "ecom-inbox"
    daily_at: str = "02:00"
    # `serve` syncs customers and sales this often to catch changes webhooks missed
    # (delivery is not guaranteed); 0 turns the poll off.
    poll_minutes: float = Field(default=5.0, ge=0)
    # Where `serve` listens. The dashboard shows personal data: keep it on loopback
    # behind a TLS proxy unless you mean otherwise.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # The address the outside world reaches `serve` at (behind the TLS proxy), e.g.
    # https://greenloop.example.com: `greenloop connect` sends Lightspeed back to
    # {public_url}/oauth/callback, which must be the app's registered redirect URI.
    public_url: str = ""
    # A run holding the lock longer than this is presumed dead and its lock taken over.
    lock_minutes: int = Field(default=180, ge=1)


class DashboardSettings(_Section):
    """The web dashboard and JSON API (README: The dashboard). Every secret here is
    compared in constant time and never rendered."""

    # `greenloop dashboard hash-password` prints the value; empty means nobody can log
    # in with a password (the API token still works).
    admin_password_hash: SecretStr = SecretStr("")
    # The staff login (`greenloop dashboard hash-password --staff`): read-only, for the
    # shop floor. Staff look customers up and read person pages; exports, settings, the
    # program preview, push and review actions answer 403. Empty: no staff login.
    staff_password_hash: SecretStr = SecretStr("")
    # A bearer token for scripts: `Authorization: Bearer <token>` on /api/.
    api_token: SecretStr = SecretStr("")
    # With api_token set, `greenloop customers show` asks the `serve` listening at
    # jobs.host:jobs.port first (its JSON API, same answer) and opens the database itself
    # only when none proves it serves this store: it starts in half the time (README:
    # Persons, metrics and tiers).
    cli_asks_serve: bool = True
    # The retailer's app sends this as `X-API-Key` to GET /api/progress/{customer_id};
    # empty turns the endpoint off.
    progress_api_key: SecretStr = SecretStr("")
    # Signs the session cookie. Empty: a random key per process (logins end on restart).
    session_secret: SecretStr = SecretStr("")
    session_hours: int = Field(default=12, ge=1)
    # "auto": the cookie is Secure when the request came over https.
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    page_size: int = Field(default=50, ge=1, le=1000)
    # Failed logins allowed per minute from one client address, and for the account from
    # all addresses together; past either, logins answer 429 with Retry-After for a
    # minute, doubling with each repeat up to login_block_max_minutes.
    login_failures_per_address: int = Field(default=5, ge=1)
    login_failures_per_account: int = Field(default=20, ge=1)
    login_block_max_minutes: int = Field(default=15, ge=1)
    # Password checks (scrypt: ~50 ms and 32 MiB each) run this many at a time, off the
    # event loop; a few more wait, and logins beyond that answer 503 at once.
    password_checks_at_once: int = Field(default=1, ge=1, le=8)
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (a reverse proxy on
    # this host by default); addresses or CIDR ranges. Empty: the TCP peer is the client.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: Any) -> Any:
        if isinstance(value, str):  # from the environment: "10.0.0.5, 10.0.1.0/24"
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        for entry in value if isinstance(value, list | tuple) else ():
            try:
                ipaddress.ip_network(str(entry), strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or CIDR range (trusting every peer "
                    "would let any client choose the address its logins are counted under)"
                ) from None
        return value


class EventSettings(_Section):
    """Outgoing tier-change events (README: Tier-change events): every change of a
    person's tier is posted to ``url`` so the retailer's own app can tell the customer."""

    # Empty turns events off; changes made while off are never announced later.
    url: str = ""
    # Key of the X-GreenLoop-Signature HMAC (env: GREENLOOP_EVENTS_SECRET). Required
    # when url is set: an unsigned event could be forged by anyone who finds the URL.
    secret: SecretStr = SecretStr("")
    # The first analysis of a store gives everyone a tier at once; announcing that
    # would message every customer on day one.
    announce_first_analysis: bool = False
    timeout_seconds: float = Field(default=5.0, gt=0)
    batch_size: int = Field(default=50, ge=1, le=1000)
    max_attempts: int = Field(default=10, ge=1)
    retry_base_seconds: float = Field(default=10.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    poll_interval_seconds: float = Field(default=1.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://app.example.com/greenloop")
        return value

    @model_validator(mode="after")
    def _signed(self) -> EventSettings:
        if self.url and not self.secret.get_secret_value():
            raise ValueError(
                "events.url is set but events.secret is empty; set GREENLOOP_EVENTS_SECRET"
            )
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.url)


class Settings(_Section):
    """Everything GreenLoop can be told. Built by :func:`load_settings`."""

    lightspeed: LightspeedSettings = LightspeedSettings()
    database: DatabaseSettings = DatabaseSettings()
    sync: SyncSettings = SyncSettings()
    ecom: EcomSettings = EcomSettings()
    webhooks: WebhookSettings = WebhookSettings()
    identity: IdentitySettings = IdentitySettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    program: ProgramSettings = ProgramSettings()
    push: PushSettings = PushSettings()
    jobs: JobSettings = JobSettings()
    dashboard: DashboardSettings = DashboardSettings()
    events: EventSettings = EventSettings()
    # Directory of the config file: relative paths (the SQLite file) resolve against it.
    base_dir: Path = Path()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.base_dir / 'greenloop.db').resolve()}"

    def path(self, value: str) -> Path:
        """A configured path; a relative one is relative to the config file's folder."""
        return (self.base_dir / Path(value).expanduser()).resolve()

    def store_proof(self, nonce: str) -> str:
        """Proves, to whoever holds the API token, that a `serve` holds it too and reads
        this database, without telling the URL (which can carry a password): an HMAC
        of ``nonce`` and the database URL keyed with the token (services/serve_client)."""
        import hashlib
        import hmac

        key = self.dashboard.api_token.get_secret_value().encode("utf-8")
        message = f"{nonce}\n{self.database_url()}".encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()

    def secrets(self) -> list[str]:
        """Every secret value in force, for log and error redaction."""
        values = [
            secret.get_secret_value()
            for secret in (
                self.lightspeed.token,
                self.lightspeed.client_secret,
                self.webhooks.secret,
                self.webhooks.url_token,
                self.dashboard.admin_password_hash,
                self.dashboard.staff_password_hash,
                self.dashboard.api_token,
                self.dashboard.progress_api_key,
                self.dashboard.session_secret,
                self.events.secret,
            )
        ]
        return [v for v in values if v]


def load_settings(
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Read the TOML file (if it exists), overlay the environment, validate.

    ``config_path`` defaults to ``./greenloop.toml``; a missing default file is fine
    (everything can come from the environment), a missing explicit file is not.
    """
    env = os.environ if env is None else env
    explicit = config_path is not None
    path = Path(config_path) if config_path is not None else Path(DEFAULT_CONFIG_NAME)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    elif explicit:
        raise ConfigError(
            f"config file {path} does not exist", hint="Run `greenloop init` to create one."
        )

    for env_name, (section, key) in _ENV_ALIASES:
        if env.get(env_name):
            data.setdefault(section, {})[key] = env[env_name]
    for env_name, value in env.items():
        if env_name.startswith("GREENLOOP_") and "__" in env_name:
            section, _, key = env_name.removeprefix("GREENLOOP_").lower().partition("__")
            data.setdefault(section, {})[key] = value
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)

    data["base_dir"] = path.resolve().parent
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: invalid settings ({problems})") from None
