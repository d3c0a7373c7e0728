"""Full analyze of a large store, one-person recomputes, and a second (no-change) analyze.
Prints one JSON object.

The store is written straight into the database with a seeded generator (the simulator
is too slow at this size): profiles with a realistic mix of loyalty, duplicates sharing
an email or phone, placeholder emails and phones in mixed formats; sales over three
years (returns, voids, laybys, eCom twins) with one payment each; and an eCom export's
orders, most of them twins of the ``ecw:`` sales. The full analyze runs as
`greenloop analyze` in its own process, whose peak RSS is read from the kernel when it
exits; the recomputes run here, on one engine, after a warm-up call.

Beside it, in the same run, its peer: ``notebook_peer.py``, the pandas RFM + SciPy
BG/NBD and Gamma-Gamma pipeline a data person would write, over the same SQLite file.
The two alternate ``--rounds`` times (each first analyze starts from the same generated
file), then again at the next daily run, a day later, after that day's change (a new
sale for 1% of customers, and ``--profile-edits`` of the profiles edited: a new phone,
email, surname or address; from the same analyzed file each round); medians and the
ratios GreenLoop / peer are printed, with the load average, since the machine is shared
and only ratios hold.

    .venv/bin/python benchmarks/analyze.py [--customers 200000] [--sales 1000000]
        [--rounds 3] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--profile-edits 0.002] [--profile] [--keep DIR]

On PostgreSQL everything lives in a fresh schema that is dropped at the end. With
``--profile`` the first full analyze runs under cProfile (still in its own process, so
its RSS stays its own; its seconds include the profiler's overhead) and the top entries
by cumulative and by own time go to stderr. ``--keep DIR`` leaves the config and the
SQLite file in DIR, to rerun `greenloop analyze --config DIR/greenloop.toml` on them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from scratch_db import scratch_database
from sqlalchemy import Engine, func, insert, literal, select

from greenloop.analytics.recompute import recompute_customer
from greenloop.config import load_settings
from greenloop.services.analysis import analyze_options
from greenloop.services.setup import open_engine
from greenloop.store import tables as t
from greenloop.store.bulk import bulk_insert
from greenloop.store.engine import make_engine

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
# The next daily run, which analyses the day's change.
NEXT_DAY = NOW + timedelta(days=1)
DAYS = 3 * 365
START = NOW.replace(hour=0) - timedelta(days=DAYS)
START_TS = int(START.timestamp())
STORE_ZONE = ZoneInfo("America/Chicago")
CHUNK = 50_000
SEED = 7

FIRST = (  # noqa: SIM905
    "Olivia Emma Ava Sophia Isabella Mia Amelia Harper Evelyn Abigail Emily Ella Avery Sofia "
    "Liam Noah Oliver Elijah James William Benjamin Lucas Henry Alexander Mason Michael Ethan "
    "Daniel Jacob Logan Jackson Levi Sebastian Mateo Jack Owen Theodore Aiden Samuel Joseph"
).split()
LAST = (  # noqa: SIM905
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres"
).split()
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "aol.com")
AREAS = ("615", "629", "931", "901", "865", "423", "212", "312", "404", "512", "713", "305")
# Values the identity rules must never link on (patterns and the outlet's own address).
PLACEHOLDER_EMAILS = (
    "noemail@store.example",
    "noemail@store.example",
    "none@none.com",
    "na@na.com",
    "customer@greenhaus.example",
    "hello@greenhaus.example",
)
SHOP_PHONE = "(615) 238-4410"
JUNK_PHONES = ("n/a", "000", "123", "none", "0000000000")
ECW_SOURCE = "ecw:7D3A0C55E1F04B2A"
OUTLET, ONLINE_OUTLET = "bench-outlet-main", "bench-outlet-online"
REGISTERS = ("bench-register-1", "bench-register-2")
ONLINE_REGISTER = "bench-register-online"
USERS = ("bench-user-1", "bench-user-2", "bench-user-3")
GROUP = "bench-group-all"
PAYMENTS = (
    ("Credit Card", "bench-pt-card", "1"),
    ("Cash", "bench-pt-cash", "2"),
    ("Gift Card", "bench-pt-gift", "3"),
    ("Loyalty", "bench-pt-loyalty", "4"),
)
ATTRIBUTES: dict[str, list[str]] = {
    "LAYBY_CLOSED": ["layby"],
    "ONACCOUNT_CLOSED": ["onaccount"],
    "AWAITING_PICKUP": ["pickup"],
}
NO_ATTRIBUTES: list[str] = []

CUSTOMER_COLUMNS = (
    "id",
    "customer_code",
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "mobile",
    "customer_group_id",
    "physical_city",
    "physical_state",
    "physical_postcode",
    "physical_country_id",
    "enable_loyalty",
    "loyalty_balance",
    "year_to_date",
    "balance",
    "do_not_email",
    "created_at",
    "updated_at",
    "deleted_at",
    "version",
)
SALE_COLUMNS = (
    "id",
    "outlet_id",
    "register_id",
    "user_id",
    "customer_id",
    "invoice_number",
    "receipt_number",
    "invoice_sequence",
    "source",
    "source_id",
    "status",
    "note",
    "short_code",
    "return_for",
    "total_price",
    "total_tax",
    "total_loyalty",
    "total_price_incl",
    "sale_date",
    "created_at",
    "updated_at",
    "version",
    "attributes",
)
PAYMENT_COLUMNS = (
    "sale_id",
    "sequence",
    "id",
    "name",
    "retailer_payment_type_id",
    "payment_type_id",
    "amount",
    "payment_date",
)
ORDER_COLUMNS = (
    "order_number",
    "email",
    "customer_name",
    "phone",
    "placed_at",
    "placed_local",
    "pickup_at",
    "payment_status_code",
    "fulfillment_status_code",
    "payment_method",
    "shipping_method",
    "subtotal",
    "tax",
    "shipping",
    "handling_fee",
    "discount",
    "total",
    "xseries_order_id",
    "snapshot_at",
    "content_hash",
    "source_file",
    "source_line",
    "first_imported_at",
    "imported_at",
)


# -- the generator ----------------------------------------------------------------------


class Store:
    """Writes one seeded store; keeps only what later rows refer to."""

    def __init__(self, engine: Engine, customers: int, sales: int, seed: int = SEED) -> None:
        self.engine = engine
        self.rng = random.Random(seed)
        self.customers = customers
        self.sales = sales
        self.version = 0
        self.money_cache: dict[int, Decimal] = {}
        self.totals_cache: dict[int, tuple[Decimal, Decimal, Decimal]] = {}
        self.customer_ids: list[str] = []
        self.emails: list[str | None] = []
        self.phones: list[str | None] = []
        self.names: list[str] = []
        self.window: list[tuple[int, int]] = []  # first and last active day
        self.weights: list[float] = []
        self.counts: dict[str, int] = {}

    # small helpers
    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def next_version(self) -> int:
        self.version += 1
        return self.version

    def money(self, cents: int) -> Decimal:
        value = self.money_cache.get(cents)
        if value is None:
            value = self.money_cache[cents] = Decimal(cents).scaleb(-2)
        return value

    def totals(self, cents: int) -> tuple[Decimal, Decimal, Decimal]:
        """Price, tax and price incl. tax for a tax-inclusive amount in cents (9.25%)."""
        found = self.totals_cache.get(cents)
        if found is None:
            tax = round(cents * 0.0925 / 1.0925)
            found = (self.money(cents - tax), self.money(tax), self.money(cents))
            self.totals_cache[cents] = found
        return found

    def phone(self) -> str:
        rng = self.rng
        area, exchange, line = rng.choice(AREAS), rng.randint(200, 989), rng.randrange(10_000)
        if exchange % 100 == 11 or exchange == 555:
            exchange += 1
        style = rng.randrange(7)
        if style == 0:
            return f"({area}) {exchange}-{line:04d}"
        if style == 1:
            return f"{area}-{exchange}-{line:04d}"
        if style == 2:
            return f"{area}.{exchange}.{line:04d}"
        if style == 3:
            return f"{area}{exchange}{line:04d}"
        if style == 4:
            return f"+1 {area} {exchange} {line:04d}"
        if style == 5:
            return f"+1{area}{exchange}{line:04d}"
        return f"1-{area}-{exchange}-{line:04d}"

    def reformat(self, phone: str) -> str:
        """The same number as another form would have typed it."""
        digits = "".join(ch for ch in phone if ch.isdigit())[-10:]
        if self.rng.random() < 0.5:
            return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
        return f"+1{digits}"

    def flush(self, table: Any, columns: tuple[str, ...], rows: list[Any]) -> None:
        if rows:
            with self.engine.begin() as conn:
                bulk_insert(conn, table, columns, rows)
            rows.clear()

    # the store's fixed objects
    def write_shop(self) -> None:
        fetched = NOW - timedelta(days=1)
        with self.engine.begin() as conn:
            bulk_insert(
                conn,
                t.retailer,
                (
                    "id",
                    "name",
                    "domain_prefix",
                    "currency",
                    "timezone",
                    "loyalty_enabled",
                    "tax_exclusive",
                    "version",
                    "fetched_at",
                ),
                [
                    (
                        "bench-retailer",
                        "GreenHaus",
                        "greenhaus",
                        "USD",
                        "America/Chicago",
                        True,
                        False,
                        "1",
                        fetched,
                    )
                ],
            )
            bulk_insert(
                conn,
                t.outlets,
                ("id", "name", "time_zone", "currency", "email", "version"),
                [
                    (OUTLET, "Main St", "America/Chicago", "USD", "hello@greenhaus.example", 1),
                    (ONLINE_OUTLET, "Online", "America/Chicago", "USD", None, 2),
                ],
            )
            bulk_insert(
                conn,
                t.registers,
                ("id", "name", "outlet_id", "invoice_prefix", "is_open", "version"),
                [
                    (REGISTERS[0], "Main 1", OUTLET, "MS1-", True, 1),
                    (REGISTERS[1], "Main 2", OUTLET, "MS2-", True, 2),
                    (ONLINE_REGISTER, "eCom", ONLINE_OUTLET, "WEB-", True, 3),
                ],
            )
            bulk_insert(
                conn,
                t.users,
                ("id", "username", "display_name", "version"),
                [(u, u, u.replace("-", " ").title(), n) for n, u in enumerate(USERS, 1)],
            )
            bulk_insert(
                conn,
                t.customer_groups,
                ("id", "name", "group_id", "version"),
                [(GROUP, "All Customers", "0", 1)],
            )

    # profiles
    def write_customers(self) -> None:
        rng = self.rng
        rows: list[tuple[Any, ...]] = []
        zero = self.money(0)
        duplicates = placeholders = 0
        for i in range(self.customers):
            cid = self.uid()
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email: str | None
            phone: str | None
            roll = rng.random()
            if i > 100 and roll < 0.04:
                # A duplicate profile of someone earlier: same email and/or phone, the
                # email sometimes typed with other capitals or stray spaces.
                j = rng.randrange(i)
                first, last = self.names[j].split(" ", 1)
                kind = rng.random()
                email = self.emails[j] if kind < 0.7 else None
                if email is not None and rng.random() < 0.3:
                    email = f" {email.title()} "
                phone = self.phones[j] if kind >= 0.4 else None
                if phone is not None:
                    phone = self.reformat(phone)
                elif rng.random() < 0.5:
                    phone = self.phone()
                duplicates += 1
            else:
                if roll < 0.05:
                    email = rng.choice(PLACEHOLDER_EMAILS)
                    placeholders += 1
                elif roll < 0.17:
                    email = rng.choice((None, None, "", "n/a"))
                else:
                    email = f"{first}.{last}{i}@{rng.choice(DOMAINS)}".lower()
                p = rng.random()
                if p < 0.005:
                    phone = SHOP_PHONE  # staff typed the shop's number
                elif p < 0.015:
                    phone = rng.choice(JUNK_PHONES)
                elif p < 0.035 and i > 0:
                    phone = self.phones[rng.randrange(i)] or self.phone()  # family
                elif p < 0.65:
                    phone = self.phone()
                else:
                    phone = None
            mobile = self.phone() if rng.random() < 0.2 else None
            # Activity: when the person found the store, when they stopped, how often.
            first_day = 0 if rng.random() < 0.25 else rng.randrange(DAYS)
            last_day = (
                DAYS - 1
                if rng.random() < 0.4
                else min(DAYS - 1, first_day + int(rng.expovariate(1 / 400)))
            )
            rate = rng.gammavariate(0.6, 1.0)
            created = datetime.fromtimestamp(
                START_TS + first_day * 86_400 + 50_000 + rng.randrange(30_000), UTC
            )
            if first_day == 0:
                created -= timedelta(days=rng.randrange(1, 1500))
            loyalty = rng.random() < 0.3
            deleted = created + timedelta(days=30) if rng.random() < 0.01 else None
            name = f"{first} {last}"
            self.customer_ids.append(cid)
            self.emails.append(email.strip().lower() if email else None)
            self.phones.append(phone)
            self.names.append(name)
            self.window.append((first_day, last_day))
            self.weights.append(rate * (last_day - first_day + 1))
            rows.append(
                (
                    cid,
                    f"{first}-{i:06d}",
                    first,
                    last,
                    name,
                    email,
                    phone,
                    mobile,
                    GROUP,
                    "Nashville",
                    "TN",
                    f"37{rng.randrange(200, 250)}",
                    "US",
                    loyalty,
                    self.money(rng.randrange(0, 5000)) if loyalty else zero,
                    zero,
                    zero,
                    rng.random() < 0.1,
                    created,
                    created + timedelta(days=rng.randrange(0, 400)),
                    deleted,
                    self.next_version(),
                )
            )
            if len(rows) >= CHUNK:
                self.flush(t.customers, CUSTOMER_COLUMNS, rows)
        self.flush(t.customers, CUSTOMER_COLUMNS, rows)
        self.counts.update(duplicate_profiles=duplicates, placeholder_emails=placeholders)

    # sales, payments and eCom orders
    def write_sales(self, orders: int) -> None:
        rng = self.rng
        n = self.sales
        walk_in = len(self.customer_ids)
        total = sum(self.weights)
        cum: list[float] = []
        running = 0.0
        for w in self.weights:
            running += w
            cum.append(running)
        cum.append(total / 0.95)  # 5% walk-in sales without a customer
        who = rng.choices(range(walk_in + 1), cum_weights=cum, k=n)
        when: list[int] = []
        ecw = bytearray(n)
        for k, ci in enumerate(who):
            first_day, last_day = self.window[ci] if ci < walk_in else (0, DAYS - 1)
            day = first_day + rng.randrange(last_day - first_day + 1)
            when.append(day * 86_400 + 50_400 + rng.randrange(43_200))  # 9am-9pm Chicago
            if ci < walk_in and rng.random() < 0.2:
                ecw[k] = 1
        order = sorted(range(n), key=when.__getitem__)
        # The export covers the most recent online sales (90% of the orders are twins).
        twins = min(int(orders * 0.9), sum(ecw))
        ecw_times = sorted((when[k] for k in range(n) if ecw[k]), reverse=True)
        cutoff = ecw_times[twins - 1] if twins else 1 << 62
        csv_only_rate = (orders - twins) / twins if twins else 0.0
        hint_from = datetime(2025, 6, 1, tzinfo=UTC)
        snapshot = NOW - timedelta(hours=20)
        zero = self.money(0)

        sale_rows: list[tuple[Any, ...]] = []
        payment_rows: list[tuple[Any, ...]] = []
        order_rows: list[tuple[Any, ...]] = []
        last_sale: dict[int, tuple[str, int]] = {}
        number = 100_000
        invoice = {REGISTERS[0]: 0, REGISTERS[1]: 0, ONLINE_REGISTER: 0}
        tally = dict.fromkeys(
            ("returns", "ecw_sales", "twin_orders", "csv_only_orders", "walk_in_sales"), 0
        )

        def add_order(
            num: int,
            email: str,
            name: str | None,
            phone: str | None,
            placed: datetime,
            cents: int,
            status: str,
            hint: str | None,
        ) -> None:
            price, tax, _incl = self.totals(cents)
            shipping = 699 if cents < 10_000 and rng.random() < 0.6 else 0
            local = placed.astimezone(STORE_ZONE)
            stamp = local.strftime("%b ") + str(local.day) + local.strftime(", %Y %I:%M %p")
            order_rows.append(
                (
                    str(num),
                    email,
                    name,
                    phone,
                    placed,
                    stamp,
                    None,
                    status,
                    "DELIVERED" if shipping else "READY_FOR_PICKUP",
                    "Credit Card",
                    "Standard" if shipping else "GreenHaus - Main St (pickup)",
                    price,
                    tax,
                    self.money(shipping),
                    None,
                    zero,
                    self.money(cents + shipping),
                    hint,
                    snapshot,
                    f"{rng.getrandbits(256):064x}",
                    "ecom_orders_export.csv",
                    tally["twin_orders"] + tally["csv_only_orders"] + 2,
                    snapshot,
                    snapshot,
                )
            )

        def order_email(ci: int) -> str:
            email = self.emails[ci]
            if email is None or "@" not in email or rng.random() < 0.1:
                # Checkout under another address than the profile's.
                return f"{self.names[ci].replace(' ', '.').lower()}.{ci}@icloud.com"
            return email

        for k in order:
            ci, ts = who[k], when[k]
            sale_id = self.uid()
            moment = datetime.fromtimestamp(START_TS + ts, UTC)
            customer_id = self.customer_ids[ci] if ci < walk_in else None
            cents = max(100, int(math.exp(rng.gauss(3.6, 0.75)) * 100))
            source = source_id = note = return_for = None
            register = REGISTERS[ts & 1]
            outlet = OUTLET
            roll = rng.random()
            if ecw[k]:
                number += 1
                source, source_id, note = ECW_SOURCE, str(number), f"Order ID:{number}"
                register, outlet = ONLINE_REGISTER, ONLINE_OUTLET
                if roll < 0.02:
                    status = "VOIDED"
                elif roll < 0.07:
                    status = "AWAITING_PICKUP"
                elif roll < 0.12:
                    status = "DISPATCHED_CLOSED"
                else:
                    status = "CLOSED"
                tally["ecw_sales"] += 1
            elif roll < 0.03 and ci in last_sale:
                return_for, original = last_sale.pop(ci)
                cents = -(original if rng.random() < 0.6 else max(100, original // 3))
                status = "CLOSED"
                tally["returns"] += 1
            elif roll < 0.05:
                status = "VOIDED"
            elif roll < 0.06:
                status = "SAVED"
            elif roll < 0.08:
                status = "LAYBY_CLOSED"
            elif roll < 0.085:
                status = "ONACCOUNT_CLOSED"
            else:
                status = "CLOSED"
            if customer_id is None:
                tally["walk_in_sales"] += 1
            elif return_for is None and status != "VOIDED" and status != "SAVED":
                last_sale[ci] = (sale_id, cents)
            invoice[register] += 1
            seq = invoice[register]
            price, tax, incl = self.totals(cents)
            version = self.next_version()
            sale_rows.append(
                (
                    sale_id,
                    outlet,
                    register,
                    USERS[seq % 3],
                    customer_id,
                    f"{register[-1].upper()}{seq}",
                    f"{register[-1].upper()}{seq}",
                    seq,
                    source,
                    source_id,
                    status,
                    note,
                    f"{seq:x}",
                    return_for,
                    price,
                    tax,
                    zero,
                    incl,
                    moment,
                    moment,
                    moment + timedelta(minutes=5),
                    version,
                    ATTRIBUTES.get(status, NO_ATTRIBUTES),
                )
            )
            name, pt_id, pt_code = PAYMENTS[rng.choices((0, 1, 2, 3), (70, 24, 4, 2))[0]]
            payment_rows.append((sale_id, 0, f"{sale_id}:0", name, pt_id, pt_code, incl, moment))
            if ecw[k] and ts >= cutoff:
                r = rng.random()
                pay = "CANCELLED" if status == "VOIDED" else "PAID"
                if pay == "PAID" and r < 0.04:
                    pay = ("REFUNDED", "PARTIALLY_REFUNDED", "AWAITING_PAYMENT", "ACCEPTED")[
                        int(r * 100)
                    ]
                phone = self.phones[ci]
                add_order(
                    number,
                    order_email(ci),
                    self.names[ci],
                    self.reformat(phone) if phone and phone[-1].isdigit() else None,
                    moment - timedelta(seconds=rng.randrange(60, 1800)),
                    cents,
                    pay,
                    sale_id if moment >= hint_from else None,
                )
                tally["twin_orders"] += 1
                if rng.random() < csv_only_rate:
                    # An order that never became a sale: unpaid, cancelled, or not synced.
                    number += 1
                    r = rng.random()
                    if r < 0.15:
                        email, buyer = rng.choice(PLACEHOLDER_EMAILS[:3]), None
                    elif r < 0.45:
                        email, buyer = f"guest{number}@{rng.choice(DOMAINS)}", "Guest Buyer"
                    else:
                        other = rng.randrange(walk_in)
                        email, buyer = order_email(other), self.names[other]
                    status_roll = rng.random()
                    pay = (
                        "PAID"
                        if status_roll < 0.6
                        else ("CANCELLED" if status_roll < 0.8 else "INCOMPLETE")
                    )
                    add_order(
                        number,
                        email,
                        buyer,
                        self.phone() if rng.random() < 0.4 else None,
                        moment + timedelta(seconds=rng.randrange(60, 3600)),
                        max(100, int(math.exp(rng.gauss(3.8, 0.6)) * 100)),
                        pay,
                        None,
                    )
                    tally["csv_only_orders"] += 1
            if len(sale_rows) >= CHUNK:
                self._flush_sales(sale_rows, payment_rows, order_rows)
        self._flush_sales(sale_rows, payment_rows, order_rows)
        self.counts.update(tally)

    def _flush_sales(self, sales: list[Any], payments: list[Any], orders: list[Any]) -> None:
        with self.engine.begin() as conn:
            bulk_insert(conn, t.sales, SALE_COLUMNS, sales)
            bulk_insert(conn, t.sale_payments, PAYMENT_COLUMNS, payments)
            if orders:
                bulk_insert(conn, t.ecom_orders, ORDER_COLUMNS, orders)
        sales.clear()
        payments.clear()
        orders.clear()


# -- the runs ---------------------------------------------------------------------------


PROFILED_ANALYZE = """
import cProfile, json, pstats, sys
from datetime import datetime
from pathlib import Path
from greenloop.services import analysis, ingest, setup
from greenloop.config import load_settings

settings = load_settings(Path(sys.argv[1]))
profiler = cProfile.Profile()
profiler.enable()
report = analysis.analyze(settings, now=datetime.fromisoformat(sys.argv[2]))
profiler.disable()
stats = pstats.Stats(profiler, stream=sys.stderr)
stats.sort_stats("cumulative").print_stats(25)
stats.sort_stats("tottime").print_stats(15)
print(json.dumps(report.as_json(), default=str))
"""


def run_measured(command: list[str]) -> tuple[dict[str, Any], float, float]:
    """Run a command that prints JSON; its report, wall seconds and own peak RSS (MB)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=None)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{command[1]} failed ({proc.returncode})")
    return json.loads(text), seconds, usage.ru_maxrss / 1024


def analyze_command(config: Path, profile: bool, now: datetime = NOW) -> list[str]:
    if profile:
        return [sys.executable, "-c", PROFILED_ANALYZE, str(config), now.isoformat()]
    return [
        str(BIN / "greenloop"),
        "analyze",
        "--json",
        "--config",
        str(config),
        "--now",
        now.isoformat(),
    ]


def time_recomputes(config: Path, customer_ids: list[str], count: int) -> list[float]:
    settings = load_settings(config)
    options = analyze_options(settings)
    engine = open_engine(settings)
    picks = random.Random(SEED + 1).sample(customer_ids, min(count, len(customer_ids)))
    try:
        recompute_customer(engine, options, [picks[0]], NOW)  # warm-up: imports, caches
        times = []
        for cid in picks:
            began = time.perf_counter()
            recompute_customer(engine, options, [cid], NOW)
            times.append((time.perf_counter() - began) * 1000)
    finally:
        engine.dispose()
    return sorted(times)


def percentile(ordered: list[float], share: float) -> float:
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def add_one_sale_each(engine: Engine, share: float) -> int:
    """A new in-store sale for ``share`` of the customers (each repeats their latest one,
    three hours before the next daily run): the day's change that run picks up."""
    s = t.sales.c
    when = NEXT_DAY - timedelta(hours=3)
    with engine.begin() as conn:
        count = conn.execute(select(func.count()).select_from(t.customers)).scalar_one()
        plain = (
            s.status == "CLOSED",
            s.return_for.is_(None),
            s.source_id.is_(None),
            s.customer_id.is_not(None),
        )
        picked = (
            select(s.customer_id)
            .where(*plain)
            .distinct()
            .order_by(s.customer_id)
            .limit(max(1, int(count * share)))
            .scalar_subquery()
        )
        latest = (
            select(func.max(s.id))
            .where(s.customer_id.in_(picked), *plain)
            .group_by(s.customer_id)
            .scalar_subquery()
        )
        copied = {
            "id": s.id + "-again",
            "invoice_number": s.invoice_number + "-again",
            "sale_date": literal(when, s.sale_date.type),
            "created_at": literal(when, s.created_at.type),
            "updated_at": literal(when, s.updated_at.type),
            "version": s.version + 10**12,
        }
        names = [col.name for col in t.sales.c]
        chosen = select(*[copied.get(n, s[n]) for n in names]).where(s.id.in_(latest))
        added = conn.execute(insert(t.sales).from_select(names, chosen)).rowcount
        if added < 0:  # no row count for INSERT … SELECT on PostgreSQL here: count them
            again = select(func.count()).select_from(t.sales).where(s.id.like("%-again"))
            added = conn.execute(again).scalar_one()
        p = t.sale_payments.c
        fresh = {
            "sale_id": p.sale_id + "-again",
            "id": p.id + "-again",
            "payment_date": literal(when, p.payment_date.type),
        }
        names = [col.name for col in t.sale_payments.c]
        paid = select(*[fresh.get(n, p[n]) for n in names]).where(p.sale_id.in_(latest))
        conn.execute(insert(t.sale_payments).from_select(names, paid))
    return int(added)


def edit_profiles(engine: Engine, share: float) -> int:
    """A day's profile edits (``customer.update``) for ``share`` of the customers, spread
    over the store: in turn a new phone, a new email, a new surname, a moved address."""
    c = t.customers.c
    when = NEXT_DAY - timedelta(hours=4)
    with engine.begin() as conn:
        live = select(c.id).where(c.deleted_at.is_(None)).order_by(c.id)
        ids = list(conn.execute(live).scalars())
        step = max(1, round(1 / share)) if share > 0 else len(ids) + 1
        picked = ids[::step][: int(len(ids) * share)]
        for n, customer_id in enumerate(picked):
            kind = n % 4
            change: dict[str, Any]
            if kind == 0:
                change = {"mobile": f"+1555{n:07d}"}
            elif kind == 1:
                change = {"email": f"moved{n}@example.org"}
            elif kind == 2:
                change = {"last_name": f"Newname{n}"}
            else:
                change = {"physical_address_1": f"{n} Elm Street", "physical_postcode": "60601"}
            conn.execute(
                t.customers.update()
                .where(c.id == customer_id)
                .values(**change, updated_at=when, version=c.version + 10**12)
            )
    return len(picked)


def restore(snapshot: Path, database: Path) -> None:
    for leftover in (
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
    ):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(snapshot, database)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=0, help="default: sales / 20")
    parser.add_argument("--recomputes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="GreenLoop and its peer, alternated")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--profile", action="store_true", help="cProfile the first analyze")
    parser.add_argument(
        "--profile-edits",
        type=float,
        default=0.002,
        help="share of the profiles edited in the day's change (a phone, email, surname, address)",
    )
    parser.add_argument(
        "--keep", default="", help="write config and SQLite file to this new directory, kept"
    )
    args = parser.parse_args()
    orders = args.orders or args.sales // 20
    rounds = max(1, args.rounds)

    with (
        scratch_database(args.database_url, "analyze") as database_url,
        tempfile.TemporaryDirectory() as scratch,
    ):
        workdir = Path(args.keep or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "greenloop.toml"
        if config.exists():
            raise SystemExit(f"{config} exists: --keep needs a new directory")
        init = [str(BIN / "greenloop"), "init", "--config", str(config)]
        if database_url:
            init += ["--database-url", database_url]
        subprocess.run(init, check=True, stdout=subprocess.DEVNULL)
        settings = load_settings(config)

        began = time.perf_counter()
        engine = make_engine(settings.database_url())
        store = Store(engine, args.customers, args.sales)
        store.write_shop()
        store.write_customers()
        store.write_sales(orders)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        engine.dispose()
        generate_seconds = time.perf_counter() - began
        customer_ids = store.customer_ids
        counts = store.counts
        del store

        # The peer reads SQLite files; each round starts from the same generated file.
        database = Path(engine.url.database or "") if engine.dialect.name == "sqlite" else None
        peer = [sys.executable, str(HERE / "notebook_peer.py"), "--database", str(database)]
        peer += ["--now", NOW.isoformat()]
        generated, analyzed = workdir / "generated.db", workdir / "analyzed.db"
        if database is not None:
            shutil.copyfile(database, generated)
        firsts: list[tuple[dict[str, Any], float, float]] = []
        peers: list[tuple[dict[str, Any], float, float]] = []
        for round_ in range(rounds if database is not None else 1):
            if round_:
                restore(generated, database)  # type: ignore[arg-type]
            firsts.append(run_measured(analyze_command(config, args.profile and not round_)))
            if database is not None:
                peers.append(run_measured(peer))
        first = firsts[0][0]
        times = time_recomputes(config, customer_ids, args.recomputes)
        second, second_seconds, second_peak_mb = run_measured(analyze_command(config, False))

        # A day's change: a new sale for 1% of customers and a few edited profiles, then
        # the next day's full analyze (and the peer, which has no other way than all over
        # again), alternated.
        changed_runs: list[tuple[dict[str, Any], float, float]] = []
        changed_peers: list[tuple[dict[str, Any], float, float]] = []
        added = edited = 0
        if database is not None:
            shutil.copyfile(database, analyzed)
        for round_ in range(rounds if database is not None else 1):
            if round_:
                restore(analyzed, database)  # type: ignore[arg-type]
            engine = make_engine(settings.database_url())
            added = add_one_sale_each(engine, 0.01)
            edited = edit_profiles(engine, args.profile_edits)
            engine.dispose()
            changed_runs.append(run_measured(analyze_command(config, False, NEXT_DAY)))
            if database is not None:
                changed_peers.append(run_measured([*peer[:-1], NEXT_DAY.isoformat()]))

    p95 = percentile(times, 0.95)
    predictions = first.get("predictions", {})
    first_seconds = median([r[1] for r in firsts])
    first_rss = max(r[2] for r in firsts)
    changed_seconds = median([r[1] for r in changed_runs])
    figures: dict[str, Any] = {
        "benchmark": "analyze",
        "database": args.database_url.split(":", 1)[0] if args.database_url else "sqlite",
        "profiles": args.customers,
        "purchases": args.sales,
        "ecom_orders": counts["twin_orders"] + counts["csv_only_orders"],
        "generated": counts,
        "generate_seconds": round(generate_seconds, 1),
        "rounds": len(firsts),
        "analyze_seconds": round(first_seconds, 2),
        "analyze_seconds_each": [round(r[1], 2) for r in firsts],
        "analyze_report_seconds": first["seconds"],
        "analyze_stages": first.get("stages"),
        "analyze_peak_rss_mb": round(first_rss, 1),
        "profiled": args.profile,
        "second_analyze_seconds": round(second_seconds, 2),
        "second_analyze_report_seconds": second["seconds"],
        "second_analyze_stages": second.get("stages"),
        "second_analyze_peak_rss_mb": round(second_peak_mb, 1),
        "second_analyze_changed": second["changed"],
        "second_analyze_rows_written": second["rows_written"],
        "changed_customers": added,
        "edited_profiles": edited,
        "changed_analyze_seconds": round(changed_seconds, 2),
        "changed_analyze_seconds_each": [round(r[1], 2) for r in changed_runs],
        "changed_analyze_peak_rss_mb": round(max(r[2] for r in changed_runs), 1),
        "changed_analyze_changed": changed_runs[0][0]["changed"],
        "changed_analyze_rows_written": changed_runs[0][0]["rows_written"],
        "changed_analyze_carried_over": changed_runs[0][0].get("carried_over"),
        "changed_analyze_stages": changed_runs[0][0].get("stages"),
        "recomputes": len(times),
        "recompute_ms": {
            "p50": round(percentile(times, 0.5), 2),
            "p95": round(p95, 2),
            "max": round(times[-1], 2),
        },
        "fit_seconds": predictions.get("fit_seconds"),
        "predictions_fitted": bool(predictions.get("fitted")),
        "persons": first["persons"],
        "purchases_counted": first["purchases"],
        "unattributed_purchases": first["unattributed_purchases"],
        "placeholders": first["placeholders"],
        "tier_counts": first["tier_counts"],
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    if peers:
        peer_seconds = median([r[1] for r in peers + changed_peers])
        figures["peer"] = {
            "what": peers[0][0]["peer"],
            "seconds": round(peer_seconds, 2),
            "seconds_each": [round(r[1], 2) for r in peers + changed_peers],
            "peak_rss_mb": round(max(r[2] for r in peers + changed_peers), 1),
            "customers": peers[0][0]["customers"],
            "bgnbd": peers[0][0]["bgnbd"],
        }
        figures["ratios"] = {
            "first_analyze_to_peer": round(first_seconds / peer_seconds, 2),
            "changed_analyze_to_peer": round(changed_seconds / peer_seconds, 2),
            "first_analyze_rss_to_peer": round(first_rss / figures["peer"]["peak_rss_mb"], 2),
        }
    else:
        figures["peer"] = "not run: the notebook peer reads SQLite files"
    figures["targets"] = {
        "first_analyze_to_peer_at_most": 1.0,
        "changed_analyze_to_peer_at_most": 0.5,
        "first_analyze_rss_to_peer_at_most": 1.0,
        "recompute_p95_ms": 20,
    }
    ratios = figures.get("ratios", {})
    figures["meets_targets"] = bool(
        ratios
        and ratios["first_analyze_to_peer"] <= 1.0
        and ratios["changed_analyze_to_peer"] <= 0.5
        and ratios["first_analyze_rss_to_peer"] <= 1.0
        and p95 < 20
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
