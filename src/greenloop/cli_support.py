"""What every command shares: the common options, settings loading, error translation."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from greenloop.config import Settings, load_settings
from greenloop.errors import GreenLoopError
from greenloop.logs import configure_logging, redact

__all__ = [
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
    settings = load_settings(config)
    configure_logging("DEBUG" if verbose else settings.log_level, settings.secrets())
    return settings


def translate_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a GreenLoopError into one redacted line on stderr and its exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except GreenLoopError as exc:
            typer.echo(f"error: {redact(exc.one_line())}", err=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, default=str, sort_keys=False))
