"""What every command shares: the common options, settings loading, error translation.

Imports only Typer and the exception tree at module level: ``greenloop --help`` loads
this module, so settings (pydantic), logging and the database error rules (SQLAlchemy)
are imported when a command first needs them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from greenloop.errors import FatalError, GreenLoopError, RetryableError

if TYPE_CHECKING:
    from greenloop.config import Settings

__all__ = [
    "EXIT_MEANINGS",
    "ConfigOption",
    "JsonOption",
    "VerboseOption",
    "print_json",
    "settings_from",
    "translate_errors",
]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file (default ./greenloop.toml).", show_default=False
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail to stderr.")]

P = ParamSpec("P")
R = TypeVar("R")


def settings_from(config: Path | None, verbose: bool = False) -> Settings:
    from greenloop.config import load_settings
    from greenloop.logs import configure_logging

    settings = load_settings(config)
    configure_logging("DEBUG" if verbose else settings.log_level, settings.secrets())
    return settings


# What each exit code of a failed command means, as `--json` reports it.
EXIT_MEANINGS = {
    1: "failed: see the error",
    FatalError.exit_code: "fatal: retrying will not help until something is changed",
    RetryableError.exit_code: "retryable: a temporary failure; re-run later, nothing is lost",
}


def translate_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a GreenLoopError, or a database error, into one redacted line on stderr and
    its exit code; with ``--json`` (a command's ``as_json``) also one JSON object on
    stdout. A database error is told by its class and constraint only: its statement
    and parameters can be rows of customer data."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except GreenLoopError as exc:
            _fail(exc, as_json=kwargs.get("as_json") is True)
        except (typer.Exit, typer.Abort):
            raise  # a command's own exit code: no database error to tell
        except Exception as exc:
            from greenloop.store.db_errors import is_db_error, store_error_from

            if not is_db_error(exc):
                raise
            _fail(store_error_from(exc), as_json=kwargs.get("as_json") is True)

    return wrapper


def _fail(exc: GreenLoopError, *, as_json: bool) -> NoReturn:
    from greenloop.logs import redact

    line = redact(exc.one_line())
    typer.echo(f"error: {line}", err=True)
    if as_json:
        print_json(
            {
                "error": line,
                "error_type": type(exc).__name__,
                "exit_code": exc.exit_code,
                "meaning": EXIT_MEANINGS.get(exc.exit_code, EXIT_MEANINGS[1]),
            }
        )
    raise typer.Exit(exc.exit_code) from None


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, default=str, sort_keys=False))
