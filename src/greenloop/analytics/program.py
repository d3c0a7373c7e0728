"""The tier program from settings (``[program]`` in greenloop.toml) or from another file."""

from __future__ import annotations

import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from greenloop.config import ProgramSettings, Settings
from greenloop.domain.tiers import (
    DEFAULT_PROGRAM,
    Condition,
    DowngradePolicy,
    Program,
    Tier,
    Window,
)
from greenloop.errors import ConfigError, InputFileError

__all__ = ["load_program_file", "program_from_settings", "store_zone"]

_PROGRAM_HINT = "Write it like the [program] section of greenloop.toml (README: The tier program)."


def store_zone(settings: Settings) -> ZoneInfo:
    """The zone whose calendar days count as visits (analytics.timezone, else ecom's)."""
    name = settings.analytics.timezone or settings.ecom.timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown timezone '{name}'",
            hint="Use an IANA name such as America/Chicago (analytics.timezone).",
        ) from None


def _decimal(text: str | None, where: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(str(text).replace("$", "").replace(",", ""))
    except InvalidOperation:
        raise ConfigError(f"{where}: '{text}' is not a number") from None


def build_program(section: ProgramSettings, settings: Settings, source: str) -> Program:
    """A domain program from its settings; no tiers means the retailer's default."""
    policy = DowngradePolicy(
        mode=section.downgrade,
        review_days=section.review_days,
        max_steps=section.max_steps,
        grace_days=section.grace_days,
    )
    zone = store_zone(settings)
    if not section.tiers:
        return Program(DEFAULT_PROGRAM.tiers, policy, zone)
    tiers: list[Tier] = []
    names: set[str] = set()
    for number, tier in enumerate(section.tiers, start=1):
        where = f"{source}: program.tiers[{number}] ({tier.name})"
        if tier.name in names:
            raise ConfigError(f"{where}: the tier name is used twice")
        names.add(tier.name)
        if not tier.conditions:
            raise ConfigError(f"{where}: a tier needs at least one condition")
        conditions = []
        for c in tier.conditions:
            if c.window == "rolling" and not c.days:
                raise ConfigError(f"{where}: a rolling window needs `days`")
            if c.kind in ("value", "visits", "purchase_count") and (
                c.at_least is None and c.equals is None
            ):
                raise ConfigError(f"{where}: a {c.kind} condition needs `at_least` or `equals`")
            conditions.append(
                Condition(
                    c.kind,
                    at_least=_decimal(c.at_least, where),
                    equals=c.equals,
                    window=Window(c.window, c.days),
                )
            )
        tiers.append(Tier(tier.name, tier.group, tuple(conditions), tier.combine))
    return Program(tuple(tiers), policy, zone)


def program_from_settings(settings: Settings) -> Program:
    return build_program(settings.program, settings, "greenloop.toml")


def load_program_file(path: Path, settings: Settings) -> Program:
    """A program from a TOML file with a ``[program]`` table (as in greenloop.toml)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file", hint=_PROGRAM_HINT) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"{path}: not valid TOML ({exc})", hint=_PROGRAM_HINT) from None
    try:
        section = ProgramSettings.model_validate(data.get("program", {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"program.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise InputFileError(f"{path}: invalid program ({problems})", hint=_PROGRAM_HINT) from None
    return build_program(section, settings, str(path))
