"""The dashboard's password hashing, its OpenAPI document and its route list (no database)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from sqlalchemy import create_engine
from starlette.routing import Route
from typer.testing import CliRunner

from greenloop.cli import app
from greenloop.dashboard import dashboard_routes, hash_password, verify_password
from greenloop.dashboard.api import FALLBACK
from greenloop.dashboard.openapi import openapi_document
from greenloop.dashboard.routes import _safe_next
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

    package = files("greenloop.dashboard")
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
