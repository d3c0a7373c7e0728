"""The commented ``greenloop.toml`` that ``greenloop init`` writes."""

from __future__ import annotations

__all__ = ["render_config"]

_TEMPLATE = """\
# GreenLoop configuration. Every value can also come from the environment:
# GREENLOOP_<SECTION>__<KEY> (e.g. GREENLOOP_SYNC__PAGE_SIZE=500), and the names below.
# Keep secrets (the API token, the webhook secret) in the environment, not in this file.

[lightspeed]
# The NAME in https://NAME.retail.lightspeed.app  (env: GREENLOOP_LIGHTSPEED_DOMAIN_PREFIX,
# or the retailer scripts' EXPO_PUBLIC_LIGHTSPEED_DOMAIN_PREFIX)
domain_prefix = "{domain_prefix}"
# Personal token from Setup → Personal Tokens (env: GREENLOOP_LIGHTSPEED_TOKEN or
# EXPO_PUBLIC_LIGHTSPEED_TOKEN). Leave empty here and use the environment.
# token = ""
# Point the client somewhere else, e.g. the simulator: "http://127.0.0.1:8765"
# (env: GREENLOOP_LIGHTSPEED_BASE_URL). Empty means https://NAME.retail.lightspeed.app
base_url = "{base_url}"
timeout_seconds = 30
# Retries for 5xx answers, timeouts and unreadable bodies (429s are waited out, not retried).
max_retries = 5
backoff_base_seconds = 0.5
backoff_max_seconds = 30
# Lightspeed allows 300 × registers + 50 requests per 300-second window.
rate_limit_window_seconds = 300
# Stop a run (with exit code 3) when waiting for the rate limit would pass this many
# seconds with no request getting through, e.g. another app spends the whole budget.
max_wait_seconds = 900
# The add-on (OAuth 2.0) connection instead of a personal token: the app's client id,
# its secret from the environment only (GREENLOOP_LIGHTSPEED_CLIENT_SECRET), then run
# `greenloop connect`. Once connected, the connection wins over the personal token.
# client_id = ""
# authorize_url = "https://secure.retail.lightspeed.app/connect"
# The least GreenLoop needs (README: Connecting a store); no sales:write.
# scopes = ["retailer:read", "outlets:read", "registers:read", "users:read",
#           "customers:read", "customers:write", "sales:read", "webhooks"]

[database]
# Empty: a SQLite file greenloop.db next to this file. Production: PostgreSQL, e.g.
# "postgresql+psycopg://greenloop@127.0.0.1:5432/greenloop" (env: GREENLOOP_DATABASE_URL)
url = "{database_url}"

[sync]
# Objects per page. Lightspeed does not document the 2.0 limit; GreenLoop pages until
# the API returns an empty page, so a lower server cap is harmless.
page_size = 1000
resources = ["retailer", "outlets", "registers", "users", "customer_groups", "customers", "sales"]

[ecom]
# The store's IANA time zone: eCom CSV times are store-local without an offset.
timezone = "America/Chicago"
# An order with a value no store produces is refused at import, by file and line:
# a total (or any amount) above max_order_total or below zero, an item quantity above
# max_quantity or below zero, a date before earliest_order_date (set it to the day of
# the store's first sale) or more than max_future_days after the import.
max_order_total = 100000
max_quantity = 10000
earliest_order_date = "2000-01-01"
max_future_days = 1
# Read UTF-8 exports by columns (pyarrow): the same orders and messages as the row
# reader, about 1.5x as fast on a large export, a higher memory peak (README: eCom).
columnar_reader = true

[webhooks]
# Incoming X-Series webhooks (POST /webhooks/lightspeed). Lightspeed signs them with
# X-Signature only for OAuth apps, keyed with the app's client_secret: put that here
# (env: GREENLOOP_WEBHOOK_SECRET). Webhooks made with a personal token arrive unsigned:
# then set url_token (env: GREENLOOP_WEBHOOKS__URL_TOKEN) and `greenloop webhooks
# register` adds ?token=... to the URL. With neither, every delivery is refused.
# secret = ""
# url_token = ""
# Refuse a delivery without a valid X-Signature even when its URL token matches.
require_signature = false
# Larger requests are refused (413) before they are read.
max_body_bytes = 2000000
# What `greenloop webhooks register` subscribes to.
types = ["sale.update", "customer.update"]
# The worker re-reads each sale or customer from the API; a failing delivery is retried
# with exponential back-off (retry_base_seconds doubling, at most retry_max_seconds) and
# parked with its reason after max_attempts.
batch_size = 20
max_attempts = 8
retry_base_seconds = 5
retry_max_seconds = 3600
# A row left "processing" this long by a worker that died goes back to the queue.
claim_timeout_seconds = 300
# Processed deliveries are kept this long to recognise Lightspeed's re-sends (48 h).
keep_done_days = 7

[identity]
# Phones without a country code are read in this region.
default_region = "US"
# Values that must never join people, besides the built-in list (noemail@, customer@, …)
# and anything on more than max_profiles_per_value profiles.
# placeholder_emails = ["info@mystore.example"]
# placeholder_phones = ["(615) 555-0100"]
max_profiles_per_value = 5
# Beside exact keys, pairs scored as probably one person (names, email typos, phones,
# addresses) are joined at once from this probability, and wait for staff on the
# Review page (`greenloop customers suggestions`) from the second.
suggestions = true
auto_link_probability = 0.995
suggest_probability = 0.9
# The weights scoring learns from the store are kept this many days; analyses in
# between score only changed profiles' pairs. 0 learns and scores all every time.
match_weights_days = 7

[analytics]
# What a purchase is worth toward tiers, and whether same-day purchases are one visit.
include_tax = true
include_shipping = true
include_loyalty_redemptions = true
same_day_is_one_visit = true
# Purchase models to choose from (per store, by a backtest on its own history):
# bgnbd, mbgnbd, pareto_nbd, nbd. `greenloop backtest` scores them over this many days.
prediction_models = ["bgnbd", "mbgnbd", "pareto_nbd", "nbd"]
backtest_horizon_days = 90
# The choice and its fit are kept this many days (the analyses in between refit the
# chosen model only when the people with a purchase grew or shrank by more than 1%);
# 0 backtests every candidate at every analysis.
model_choice_days = 7
# Take an unchanged person's stored row instead of computing it again; false
# computes everyone at every analysis.
carry_over = true
# Past their purchase cycle is "at risk"; once the model is fitted, a person it still
# expects to buy at least this many times in the next 90 days is not.
at_risk_expected_purchases_below = 0.5

[program]
# No [[program.tiers]] here means the retailer's program (README: The tier program):
# Evergreen $1,500 / Bloom $750 / Sprout $250 or 3 visits in 30 days / Seed loyalty +
# 1 purchase / First Time Buyer. Downgrades wait for a review 90 days after the tier.
downgrade = "review"
review_days = 90
max_steps = 1
grace_days = 0
# [[program.tiers]]
# name = "Evergreen"
# group = "GreenHaus Crew - Evergreen"
# conditions = [{{ kind = "value", at_least = "1500" }}]

[push]
# Customers moved per POST /customer_groups/{{id}}/customers (Lightspeed documents no
# limit; a batch refused as too large is split and retried).
batch_size = 250
# Only tier groups, the default group and these are ever changed; Staff, Wholesale and
# every other group are protected.
managed_groups = []
default_group = "All Customers"
# A hand move between managed groups: "keep" it until the tier changes, or "revert" it.
hand_moves = "keep"
move_placeholder_profiles = false
create_missing_groups = true

[jobs]
# `greenloop run daily` writes customer_analytics_master.csv and tier_sync_log.json
# here, and imports (then archives) eCom exports dropped in ecom_inbox.
output_dir = "output"
ecom_inbox = "ecom-inbox"
daily_at = "02:00"
# `greenloop serve`: the reconciliation poll (minutes; 0 = off) and where it listens.
poll_minutes = 5
host = "127.0.0.1"
port = 8080
# Where the outside world reaches `serve` (the TLS proxy's address); the OAuth
# callback is {{public_url}}/oauth/callback. Needed by `greenloop connect`.
# public_url = "https://greenloop.example.com"
lock_minutes = 180

[dashboard]
# Login for the dashboard and /api/. Make the hash with `greenloop dashboard hash-password`
# (env: GREENLOOP_DASHBOARD__ADMIN_PASSWORD_HASH). Empty: no password login.
# admin_password_hash = ""
# The read-only staff login for the shop floor (`greenloop dashboard hash-password
# --staff`; env: GREENLOOP_DASHBOARD__STAFF_PASSWORD_HASH): customer lookup and person
# pages only; no exports, settings, program preview, pushes or reviews.
# staff_password_hash = ""
# A bearer token for scripts calling /api/ (`Authorization: Bearer …`).
# api_token = ""
# With api_token set, `greenloop customers show` asks the `serve` at [jobs] host:port
# first and opens the database only when none answers for this store.
cli_asks_serve = true
# The key the retailer's app sends as X-API-Key to GET /api/progress/{{customer_id}};
# empty turns that endpoint off.
# progress_api_key = ""
# Signs the session cookie; empty means a random key per process (logins end on restart).
# session_secret = ""
session_hours = 12
# "auto" marks the cookie Secure when the dashboard is reached over https.
secure_cookies = "auto"
page_size = 50
# Failed logins per minute from one address, and for the account from all addresses;
# past either, logins answer 429 for a minute, doubling up to login_block_max_minutes.
login_failures_per_address = 5
login_failures_per_account = 20
login_block_max_minutes = 15
# Password checks run one at a time off the event loop, so a login flood cannot starve
# the webhook receiver or the memory.
password_checks_at_once = 1
# Peers whose X-Forwarded-For is believed: the TLS proxy in front (on this host by
# default). Empty: the connecting address is the client's.
trusted_proxies = ["127.0.0.1", "::1"]

[events]
# Every tier change is POSTed here as JSON, signed (X-GreenLoop-Signature), so your own
# app can tell the customer (README: Tier-change events). Empty: no events.
# url = "https://app.example.com/greenloop/events"
# The signing key (env: GREENLOOP_EVENTS_SECRET); required when url is set.
# secret = ""
# The first analysis of a store gives everyone a tier at once; it is not announced.
announce_first_analysis = false
max_attempts = 10
retry_base_seconds = 10
retry_max_seconds = 3600
"""


def render_config(*, domain_prefix: str = "", base_url: str = "", database_url: str = "") -> str:
    return _TEMPLATE.format(
        domain_prefix=domain_prefix, base_url=base_url, database_url=database_url
    )
