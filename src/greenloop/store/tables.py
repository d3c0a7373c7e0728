"""The database schema (SQLAlchemy Core). Migrations in ``migrations/`` must match it.

Facts from X-Series keep their source ids as primary keys and their ``version``, so an
upsert can refuse to let an older copy overwrite a newer one. Deleted objects keep their
rows with ``deleted_at`` set. Column names equal the model field names in
``greenloop.lightspeed.models``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from greenloop.store.types import Money, UtcDateTime

__all__ = [
    "CUSTOMER_TEXT_COLUMNS",
    "analyze_runs",
    "customer_groups",
    "customers",
    "ecom_imports",
    "ecom_order_items",
    "ecom_orders",
    "group_overrides",
    "identity_links",
    "identity_matches",
    "identity_members",
    "identity_overrides",
    "identity_values",
    "job_locks",
    "job_runs",
    "metadata",
    "oauth_connection",
    "oauth_states",
    "outlets",
    "persons",
    "placeholders",
    "push_batches",
    "push_moves",
    "push_runs",
    "registers",
    "retailer",
    "sale_line_items",
    "sale_payments",
    "sales",
    "sync_cursors",
    "sync_runs",
    "tier_events",
    "tier_history",
    "tier_locks",
    "tier_snapshots",
    "users",
    "webhook_inbox",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(64)

retailer = Table(
    "retailer",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("domain_prefix", Text, nullable=False),
    Column("currency", Text),
    Column("timezone", Text),
    Column("loyalty_enabled", Boolean, nullable=False),
    Column("tax_exclusive", Boolean, nullable=False),
    Column("version", Text),
    Column("fetched_at", UtcDateTime, nullable=False),
)

outlets = Table(
    "outlets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("time_zone", Text),
    Column("currency", Text),
    Column("email", Text),
    Column("physical_city", Text),
    Column("physical_state", Text),
    Column("physical_country_id", Text),
    Column("deleted_at", UtcDateTime),
    Column("version", BigInteger, nullable=False),
)

registers = Table(
    "registers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("outlet_id", ID),
    Column("invoice_prefix", Text),
    Column("invoice_suffix", Text),
    Column("invoice_sequence", BigInteger),
    Column("is_open", Boolean, nullable=False),
    Column("deleted_at", UtcDateTime),
    Column("version", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("username", Text, nullable=False),
    Column("display_name", Text),
    Column("email", Text),
    Column("account_type", Text),
    Column("created_at", UtcDateTime),
    Column("updated_at", UtcDateTime),
    Column("deleted_at", UtcDateTime),
    Column("version", BigInteger, nullable=False),
)

customer_groups = Table(
    "customer_groups",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("group_id", Text),
    Column("retailer_id", ID),
    Column("created_at", UtcDateTime),
    Column("updated_at", UtcDateTime),
    Column("deleted_at", UtcDateTime),
    Column("version", BigInteger, nullable=False),
)

# One text column per text field of the 2.0 Customer schema (the client's model reads the
# same names; tests/unit/test_architecture.py holds the two lists together).
CUSTOMER_TEXT_COLUMNS: tuple[str, ...] = (
    "customer_code",
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "mobile",
    "fax",
    "company_name",
    "customer_group_id",
    "note",
    "gender",
    "date_of_birth",
    "twitter",
    "website",
    "physical_address_1",
    "physical_address_2",
    "physical_suburb",
    "physical_city",
    "physical_postcode",
    "physical_state",
    "physical_country_id",
    "postal_address_1",
    "postal_address_2",
    "postal_suburb",
    "postal_city",
    "postal_postcode",
    "postal_state",
    "postal_country_id",
    "custom_field_1",
    "custom_field_2",
    "custom_field_3",
    "custom_field_4",
)

customers = Table(
    "customers",
    metadata,
    Column("id", ID, primary_key=True),
    *(Column(name, Text) for name in CUSTOMER_TEXT_COLUMNS if name != "customer_group_id"),
    Column("customer_group_id", ID),
    Column("enable_loyalty", Boolean, nullable=False),
    Column("loyalty_balance", Money),
    Column("year_to_date", Money),
    Column("balance", Money),
    Column("on_account_limit", Money),
    Column("do_not_email", Boolean, nullable=False),
    Column("created_at", UtcDateTime),
    Column("updated_at", UtcDateTime),
    Column("deleted_at", UtcDateTime),
    Column("version", BigInteger, nullable=False),
    Index(None, "email"),
    Index(None, "customer_group_id"),
)

sales = Table(
    "sales",
    metadata,
    Column("id", ID, primary_key=True),
    Column("outlet_id", ID),
    Column("register_id", ID),
    Column("user_id", ID),
    Column("customer_id", ID),
    Column("invoice_number", Text),
    Column("receipt_number", Text),
    Column("invoice_sequence", BigInteger),
    Column("source", Text),
    Column("source_id", Text),
    Column("status", Text, nullable=False),
    Column("note", Text),
    Column("short_code", Text),
    Column("return_for", ID),
    Column("total_price", Money, nullable=False),
    Column("total_tax", Money, nullable=False),
    Column("total_loyalty", Money, nullable=False),
    Column("total_price_incl", Money),
    Column("sale_date", UtcDateTime),
    Column("created_at", UtcDateTime),
    Column("updated_at", UtcDateTime),
    Column("deleted_at", UtcDateTime),
    Column("version", BigInteger, nullable=False),
    Column("attributes", JSON, nullable=False),
    Index(None, "customer_id"),
    Index(None, "source_id"),
    Index(None, "return_for"),
)

sale_line_items = Table(
    "sale_line_items",
    metadata,
    Column("sale_id", ID, ForeignKey("sales.id", ondelete="CASCADE"), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("id", ID, nullable=False),
    Column("product_id", ID),
    Column("quantity", Money, nullable=False),
    Column("price", Money, nullable=False),
    Column("price_total", Money, nullable=False),
    Column("tax_total", Money, nullable=False),
    Column("discount_total", Money, nullable=False),
    Column("loyalty_value", Money, nullable=False),
    Column("cost_total", Money),
    Column("status", Text),
    Column("is_return", Boolean, nullable=False),
    Column("note", Text),
)

sale_payments = Table(
    "sale_payments",
    metadata,
    Column("sale_id", ID, ForeignKey("sales.id", ondelete="CASCADE"), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("id", ID, nullable=False),
    Column("name", Text),
    Column("retailer_payment_type_id", ID),
    Column("payment_type_id", Text),
    Column("amount", Money, nullable=False),
    Column("payment_date", UtcDateTime),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("resource", String(40), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("full", Boolean, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("requests", Integer, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("error", Text),
)


# -- eCom (E-Series) orders, from export files -------------------------------------------

ecom_orders = Table(
    "ecom_orders",
    metadata,
    Column("order_number", String(64), primary_key=True),
    Column("email", Text, nullable=False),
    Column("customer_name", Text),
    Column("phone", Text),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("placed_local", Text, nullable=False),
    Column("pickup_at", UtcDateTime),
    Column("payment_status_code", Text, nullable=False),
    Column("fulfillment_status_code", Text),
    Column("payment_method", Text),
    Column("shipping_method", Text),
    Column("subtotal", Money),
    Column("tax", Money),
    Column("shipping", Money),
    Column("handling_fee", Money),
    Column("discount", Money),
    Column("coupon_code", Text),
    Column("coupon_discount", Money),
    Column("gift_card_redemption", Money),
    Column("total", Money, nullable=False),
    Column("xseries_order_id", Text),
    Column("tracking_number", Text),
    # The newest order time in the export this copy came from: an older export never
    # overwrites what a newer one said (statuses change after the fact).
    Column("snapshot_at", UtcDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("source_file", Text, nullable=False),
    Column("source_line", Integer, nullable=False),
    Column("first_imported_at", UtcDateTime, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    Index(None, "email"),
    Index(None, "placed_at"),
)

ecom_order_items = Table(
    "ecom_order_items",
    metadata,
    Column(
        "order_number",
        String(64),
        ForeignKey("ecom_orders.order_number", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("sku", Text),
    Column("name", Text, nullable=False),
    Column("price", Money, nullable=False),
    Column("quantity", Money, nullable=False),
    Column("total", Money, nullable=False),
    Column("options", Text),
)

ecom_imports = Table(
    "ecom_imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("file", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("orders_new", Integer, nullable=False),
    Column("orders_updated", Integer, nullable=False),
    Column("orders_unchanged", Integer, nullable=False),
    Column("line_items", Integer, nullable=False),
    Column("rejected", JSON, nullable=False),
    Column("warnings", JSON, nullable=False),
)


# -- Analytics: persons, identity, tiers (computed by `greenloop analyze`) ---------------
#
# A member is what identity clusters: an X-Series profile (``customer:<id>``), an eCom
# buyer email (``email:<address>``) or, when the order's email is a placeholder, one
# order (``order:<number>``). Members keep their person id between runs, so a person's
# id is stable while any of its profiles persists.

identity_members = Table(
    "identity_members",
    metadata,
    Column("member_key", String(200), primary_key=True),
    Column("person_id", String(40), nullable=False),
    Column("customer_id", ID),
    Column("assigned_at", UtcDateTime, nullable=False),
    # A digest of the member's rows in identity_values (analytics_repo.values_digest):
    # a full analysis finds the members whose values changed by reading this column, not
    # every value row. NULL (rows from before it existed) compares as changed.
    Column("values_digest", BigInteger),
    Index(None, "person_id"),
    Index(None, "customer_id"),
)

# Normalised identity values per member (email, E.164 phone, customer code), so the
# real-time path can find a changed profile's neighbours without reading everyone.
identity_values = Table(
    "identity_values",
    metadata,
    Column("member_key", String(200), primary_key=True),
    Column("kind", String(10), primary_key=True),
    Column("value", String(320), primary_key=True),
    Index(None, "kind", "value"),
)

identity_links = Table(
    "identity_links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(40), nullable=False),
    Column("a", String(200), nullable=False),
    Column("b", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Index(None, "person_id"),
)

# Pairs of members the full analysis scored as probably one person: joined at once
# ("auto", precise enough to trust) or waiting for staff ("suggested"). Replaced by every
# full analysis; a decision moves the pair to identity_overrides.
identity_matches = Table(
    "identity_matches",
    metadata,
    Column("a", String(200), primary_key=True),
    Column("b", String(200), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("probability", Float, nullable=False),
    Column("score", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("computed_at", UtcDateTime, nullable=False),
    Column("skipped_at", UtcDateTime),
    Index(None, "kind", "probability"),
    Index(None, "b"),
)

# Manual `customers link` / `unlink`: the latest word on a pair wins over every rule.
identity_overrides = Table(
    "identity_overrides",
    metadata,
    Column("a", String(200), primary_key=True),
    Column("b", String(200), primary_key=True),
    Column("action", String(10), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("note", Text),
)

placeholders = Table(
    "placeholders",
    metadata,
    Column("kind", String(10), primary_key=True),
    Column("value", String(320), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("profiles", Integer, nullable=False),
)

persons = Table(
    "persons",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("primary_customer_id", ID),
    Column("customer_code", Text),
    Column("name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("profiles", Integer, nullable=False),
    Column("profile_ids", JSON, nullable=False),
    Column("loyalty_enrolled", Boolean, nullable=False),
    Column("lifetime_value", Money, nullable=False),
    Column("value_90d", Money, nullable=False),
    Column("purchases", Integer, nullable=False),
    Column("purchases_90d", Integer, nullable=False),
    Column("visits", Integer, nullable=False),
    Column("visits_30d", Integer, nullable=False),
    Column("ecom_value", Money, nullable=False),
    Column("instore_value", Money, nullable=False),
    Column("ecom_purchases", Integer, nullable=False),
    Column("instore_purchases", Integer, nullable=False),
    Column("returns_value", Money, nullable=False),
    Column("average_order_value", Money),
    Column("first_purchase", UtcDateTime),
    Column("last_purchase", UtcDateTime),
    Column("average_cycle_days", Money),
    Column("earned_tier", Text),
    Column("tier", Text),
    Column("tier_since", UtcDateTime),
    Column("review_at", UtcDateTime),
    Column("reasons", JSON, nullable=False),
    Column("to_next", JSON, nullable=False),
    Column("keep", JSON, nullable=False),
    Column("risk", String(20), nullable=False),
    Column("drop_at_review", Boolean, nullable=False),
    Column("p_alive", Money),
    Column("expected_purchases_90d", Money),
    Column("predicted_value_12m", Money),
    Column("computed_at", UtcDateTime, nullable=False),
    # A digest of the stored metric columns, so a full analysis can tell an unchanged
    # person without reading every column back.
    Column("row_hash", String(32)),
    Index(None, "tier"),
    Index(None, "email"),
)

# What the last full analysis that computed each person read, and until when its row
# holds (analytics.carry_over): a cache, safe to empty at any time. Every analysis reads
# it whole, so each person's entry is one packed value (store.person_inputs), decoded
# only when used: as typed columns, 200,000 rows took 1.7 s and 96 MB to load.
person_inputs = Table(
    "person_inputs",
    metadata,
    Column("person_id", String(40), primary_key=True),
    Column("carried", LargeBinary, nullable=False),
)

# Append-only: every change of a person's tier, with the reasons at that moment.
tier_history = Table(
    "tier_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(40), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("from_tier", Text),
    Column("to_tier", Text),
    Column("change", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("run_id", Integer),
    Index(None, "person_id"),
    Index(None, "at"),
)

tier_locks = Table(
    "tier_locks",
    metadata,
    Column("person_id", String(40), primary_key=True),
    Column("tier", Text),
    Column("until", UtcDateTime, nullable=False),
    Column("note", Text),
    Column("created_at", UtcDateTime, nullable=False),
)

# Persons per tier at the end of each day's analysis, for the distribution chart.
tier_snapshots = Table(
    "tier_snapshots",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("tier", String(100), primary_key=True),
    Column("persons", Integer, nullable=False),
)

analyze_runs = Table(
    "analyze_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("as_of", UtcDateTime, nullable=False),
    Column("scope", String(20), nullable=False),
    # Set for a one-person recompute (the real-time path); None for a full analysis.
    Column("person_id", String(40)),
    Column("outcome", String(20), nullable=False),
    Column("persons", Integer, nullable=False),
    Column("profiles", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("detail", JSON, nullable=False),
    Index(None, "as_of"),
)


# -- pushing tiers to customer groups (push/) ----------------------------------------

# One row per `tiers push` (dry or not): the plan's summary, requests used, the outcome.
push_runs = Table(
    "push_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("dry_run", Boolean, nullable=False),
    # running, ok, partial (some moves failed or did not take), failed, interrupted
    Column("outcome", String(20), nullable=False),
    Column("planned", Integer, nullable=False),
    Column("moved", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("requests", Integer, nullable=False),
    Column("error", Text),
    Column("detail", JSON, nullable=False),
    Index(None, "started_at"),
)

# A batch is written (status "sending") before its request goes out and updated after,
# so a run killed in between leaves a row the next run settles from the refreshed groups.
push_batches = Table(
    "push_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("group_id", ID, nullable=False),
    Column("group_name", Text, nullable=False),
    Column("customers", Integer, nullable=False),
    # sending, sent, failed, settled (an interrupted batch resolved by a later run)
    Column("status", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("error", Text),
    Index(None, "run_id"),
    Index(None, "status"),
)

# The outcome per customer: every planned move and every skip, per run.
push_moves = Table(
    "push_moves",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("batch_id", Integer),
    Column("customer_id", ID, nullable=False),
    Column("person_id", String(40)),
    Column("tier", Text),
    Column("from_group_id", ID),
    Column("to_group_id", ID),
    # planned (dry run), sending, moved (confirmed by the re-read), not_taken, failed,
    # protected, placeholder, override
    Column("status", String(20), nullable=False),
    Column("error", Text),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "run_id"),
    Index(None, "batch_id"),
    Index(None, "customer_id"),
    Index(None, "status"),
)

# A hand move between managed groups that the program keeps (push.hand_moves =
# "keep"): the push leaves the customer in that group until the override is removed.
group_overrides = Table(
    "group_overrides",
    metadata,
    Column("customer_id", ID, primary_key=True),
    Column("group_id", ID, nullable=False),
    # The person's tier when the move was seen: the override ends when the tier changes.
    Column("tier", Text),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("note", Text),
)

# -- scheduled jobs ---------------------------------------------------------------------

# One holder per job name; a lock past its expiry is taken over (a crashed run).
job_locks = Table(
    "job_locks",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("holder", Text, nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(50), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    # running, ok, failed, interrupted
    Column("outcome", String(20), nullable=False),
    Column("steps", JSON, nullable=False),
    Index(None, "job", "started_at"),
)

# -- incoming webhooks (sync/inbox.py) --------------------------------------------------

# Every accepted delivery, written before the 2xx and processed after by the worker.
# ``dedupe_key`` is unique: X-Series sends no delivery id, so it is built from the type,
# the object id and a digest of the payload (a re-sent delivery is recognised).
webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("type", String(40), nullable=False),
    Column("object_id", ID, nullable=False),
    Column("dedupe_key", String(200), nullable=False, unique=True),
    # The request exactly as received (the signature covers these bytes).
    Column("body", LargeBinary, nullable=False),
    Column("content_type", Text),
    Column("endpoint", String(100), nullable=False),
    # Which X-Signature encoding matched ("body:hex", ...), or "url-token" / "none".
    Column("signature_encoding", String(40), nullable=False),
    # webhook, or poll when the reconciliation poll caught a change first.
    Column("first_seen_by", String(20), nullable=False),
    # pending, processing, done, failed (waiting for its retry), parked (gave up)
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_by", String(200)),
    Column("claimed_at", UtcDateTime),
    Column("last_error", Text),
    Column("processed_at", UtcDateTime),
    # What processing found: applied, unchanged, gone (deleted in Lightspeed)
    Column("outcome", String(20)),
    # Re-sends of the same delivery received after this row was stored.
    Column("duplicates", Integer, nullable=False),
    Column("last_duplicate_at", UtcDateTime),
    Index(None, "status", "next_attempt_at"),
    Index(None, "type", "object_id"),
    Index(None, "received_at"),
)

# -- outgoing tier-change events (events/) ----------------------------------------------

# The outbox: one row per tier_history row to announce, written in the same transaction
# as the history row, so an event is never sent for a change that rolled back and never
# lost for one that committed. ``event_id`` is what receivers deduplicate on; it stays
# the same across retries.
tier_events = Table(
    "tier_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False, unique=True),
    Column("history_id", Integer, nullable=False, unique=True),
    Column("person_id", String(40), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # pending, failed (waiting for its retry), sent, parked (gave up)
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Column("last_status", Integer),
    Column("last_error", Text),
    Index(None, "status", "next_attempt_at"),
)

# -- values the processes share (store/service_state.py) --------------------------------

# Small named values written by one command and read by another process: the webhook URL
# token that `webhooks register` generates and `serve` checks, the dashboard's session
# generation that a logout or password change bumps. Kept in the database, not in
# greenloop.toml, because the TOML is often committed and these are secrets or state.
service_state = Table(
    "service_state",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


# -- the OAuth connection (store/oauth_repo.py) ----------------------------------------

# At most one row (id 1): the store GreenLoop is connected to as an add-on, its tokens
# (never logged), and the refresh bookkeeping every process shares. ``refresh_started_at``
# is the "refresh in flight" mark: set and committed before the token endpoint is
# called, cleared with the new pair in one transaction. ``status``: connected,
# needs_reconnect (a refresh token was refused), revoked (the API refused a fresh token).
oauth_connection = Table(
    "oauth_connection",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("domain_prefix", String(100), nullable=False),
    Column("access_token", Text, nullable=False),
    Column("refresh_token", Text, nullable=False),
    Column("access_expires_at", UtcDateTime, nullable=False),
    Column("access_lifetime_seconds", Integer, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("problem", Text),
    Column("connected_at", UtcDateTime, nullable=False),
    Column("refreshed_at", UtcDateTime),
    Column("refreshes", Integer, nullable=False),
    Column("refresh_started_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
)

# The ``state`` of each `greenloop connect`, hashed (SHA-256), single use, short-lived.
oauth_states = Table(
    "oauth_states",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
)
