"""A database error's statement parameters (rows of customer data) are never printed:
not by the CLI's error translation, not in a log's traceback, not by the uncaught-
exception hook."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Annotated

import pytest
import typer
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from typer.testing import CliRunner

from greenloop.cli.support import JsonOption, translate_errors
from greenloop.errors import StoreError, StoreUnavailable
from greenloop.logs import SafeFormatter, _safe_excepthook
from greenloop.store.db_errors import describe_db_error, safe_traceback, store_error_from
from greenloop.store.engine import make_engine

PRIVATE = "jane.doe@example.com"
PHONE = "+15125550123"


def _integrity_error() -> IntegrityError:
    """A real SQLite error from an engine that does not hide parameters."""
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id TEXT PRIMARY KEY, email TEXT)"))
        conn.execute(text("INSERT INTO customers VALUES ('c1', 'x')"))
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.execute(
            text("INSERT INTO customers VALUES (:id, :email)"),
            [{"id": "c2", "email": PHONE}, {"id": "c1", "email": PRIVATE}],
        )
    assert PRIVATE in str(caught.value)  # what the issue saw: the rows in the message
    return caught.value


def test_the_description_names_the_class_and_constraint_never_the_rows() -> None:
    exc = _integrity_error()
    line = describe_db_error(exc)
    assert line.startswith("database error (IntegrityError: ")
    assert "UNIQUE constraint failed: customers.id" in line
    assert PRIVATE not in line
    assert PHONE not in line
    assert "INSERT" not in line
    assert "\n" not in line


def test_a_hand_built_dbapi_error_with_params_is_summarised() -> None:
    orig = sqlite3.IntegrityError(f"NOT NULL constraint failed: customers.email {PRIVATE}")
    exc = DBAPIError("INSERT INTO customers (email) VALUES (?)", [(PRIVATE,)] * 875, orig)
    line = describe_db_error(exc)
    # An unexpected message shape is dropped whole rather than trusted.
    assert PRIVATE not in line
    assert line == "database error (DBAPIError: IntegrityError)"


def test_store_error_from_picks_the_exit_code_class() -> None:
    assert isinstance(store_error_from(_integrity_error()), StoreError)
    locked = OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))
    error = store_error_from(locked)
    assert isinstance(error, StoreUnavailable)
    assert error.exit_code == 3
    assert "database is locked" in error.one_line()


def test_safe_traceback_keeps_frames_and_drops_rows() -> None:
    exc = _integrity_error()
    rendered = safe_traceback(exc)
    assert rendered is not None
    assert "Traceback (most recent call last)" in rendered
    assert "IntegrityError" in rendered
    assert PRIVATE not in rendered
    assert PHONE not in rendered
    assert safe_traceback(ValueError("plain")) is None


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @translate_errors
    def boom(
        as_json: JsonOption = False,
        kind: Annotated[str, typer.Option()] = "integrity",
    ) -> None:
        """Fail with a database error."""
        if kind == "integrity":
            raise _integrity_error()
        raise sqlite3.OperationalError("database is locked")

    return app


def test_the_cli_prints_one_line_and_the_right_exit_code() -> None:
    result = CliRunner().invoke(_app(), [])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: database error (IntegrityError")
    assert PRIVATE not in result.output
    assert "Traceback" not in result.output


def test_with_json_the_failure_is_one_json_object_on_stdout() -> None:
    result = CliRunner().invoke(_app(), ["--json"])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert payload["exit_code"] == 2
    assert payload["error_type"] == "StoreError"
    assert payload["meaning"].startswith("fatal")
    assert payload["error"].startswith("database error (IntegrityError")
    assert PRIVATE not in result.output
    locked = CliRunner().invoke(_app(), ["--json", "--kind", "locked"])
    assert locked.exit_code == 3
    assert json.loads(locked.stdout)["meaning"].startswith("retryable")


def test_a_logged_traceback_drops_the_rows() -> None:
    exc = _integrity_error()
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, None)
    record.exc_info = (type(exc), exc, exc.__traceback__)
    out = SafeFormatter("%(message)s").format(record)
    assert "IntegrityError" in out
    assert PRIVATE not in out


def test_the_uncaught_exception_hook_drops_the_rows(capsys: pytest.CaptureFixture[str]) -> None:
    exc = _integrity_error()
    _safe_excepthook(type(exc), exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "IntegrityError" in err
    assert PRIVATE not in err


def test_greenloop_engines_hide_parameters_everywhere() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id TEXT PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES ('a')"))
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:id)"), [{"id": PRIVATE}, {"id": "a"}])
    assert PRIVATE not in str(caught.value)
