"""Dashboard work that is more than one query: the program preview from pasted TOML,
the current program as TOML, and the CSV exports."""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from greenloop.analytics.csv_cells import csv_row
from greenloop.analytics.master_csv import write_master_to
from greenloop.analytics.options import AnalyzeOptions
from greenloop.analytics.preview import preview_program
from greenloop.analytics.program import load_program_file
from greenloop.config import Settings
from greenloop.domain.tiers import Program
from greenloop.errors import GreenLoopError, InputFileError

__all__ = [
    "MAX_MOVERS",
    "RISK_CSV_COLUMNS",
    "master_csv",
    "preview_toml",
    "program_toml",
    "risk_csv",
]

MAX_MOVERS = 500
MAX_PROGRAM_CHARS = 64 * 1024
RISK_CSV_COLUMNS = (
    "person_id",
    "name",
    "email",
    "phone",
    "tier",
    "lifetime_value",
    "last_purchase",
    "average_cycle_days",
    "risk",
    "drop_at_review",
    "review_at",
    "p_alive",
    "predicted_value_12m",
    "why",
    "what_keeps_tier",
)
_RISK_CSV_NUMBERS = frozenset(
    {"lifetime_value", "average_cycle_days", "p_alive", "predicted_value_12m"}
)


def preview_toml(
    engine: Engine, settings: Settings, options: AnalyzeOptions, text: str, now: datetime
) -> dict[str, Any]:
    """Everyone under the pasted program (a ``[program]`` table); nothing is written."""
    if not text.strip():
        raise InputFileError("the program is empty", hint="Paste a [program] section.")
    if len(text) > MAX_PROGRAM_CHARS:
        raise InputFileError(f"the program is over {MAX_PROGRAM_CHARS} characters")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "program.toml"
        path.write_text(text, encoding="utf-8")
        try:
            program = load_program_file(path, settings)
        except GreenLoopError as exc:
            # The temporary path means nothing to the person who pasted the text.
            raise InputFileError(str(exc).replace(str(path), "the program")) from None
    result = preview_program(engine, options, program, now).as_json()
    movers = result["movers"]
    result["movers"] = movers[:MAX_MOVERS]
    result["movers_shown"] = len(result["movers"])
    result["tiers"] = [tier.name for tier in program.tiers]
    return result


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def program_toml(program: Program) -> str:
    """The program in force, written as the ``[program]`` section it would be in the file
    (a starting point for the preview form)."""
    policy = program.downgrade
    lines = [
        "[program]",
        f"downgrade = {_toml_string(policy.mode)}",
        f"review_days = {policy.review_days}",
        f"max_steps = {policy.max_steps}",
        f"grace_days = {policy.grace_days}",
    ]
    for tier in program.tiers:
        conditions = []
        for c in tier.conditions:
            parts = [f"kind = {_toml_string(c.kind)}"]
            if c.at_least is not None:
                parts.append(f"at_least = {_toml_string(str(c.at_least))}")
            if c.equals is not None:
                parts.append(f"equals = {c.equals}")
            if c.window.kind != "lifetime":
                parts.append(f"window = {_toml_string(c.window.kind)}")
            if c.window.days is not None:
                parts.append(f"days = {c.window.days}")
            conditions.append("{ " + ", ".join(parts) + " }")
        lines += [
            "",
            "[[program.tiers]]",
            f"name = {_toml_string(tier.name)}",
            f"group = {_toml_string(tier.group)}",
            f"combine = {_toml_string(tier.combine)}",
            "conditions = [",
            *(f"  {c}," for c in conditions),
            "]",
        ]
    return "\n".join(lines) + "\n"


def _risk_cell(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in _RISK_CSV_NUMBERS:
        return Decimal(value)  # the list carries numbers as text; write them as numbers
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def risk_csv(rows: list[dict[str, Any]]) -> str:
    """The at-risk list as CSV; no cell runs as a spreadsheet formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RISK_CSV_COLUMNS)
    for row in rows:
        writer.writerow(csv_row(_risk_cell(c, row.get(c)) for c in RISK_CSV_COLUMNS))
    return out.getvalue()


def master_csv(conn: Connection, now: datetime) -> bytes:
    """``customer_analytics_master.csv`` as the CLI writes it."""
    out = io.StringIO(newline="")
    write_master_to(conn, out, now)
    return out.getvalue().encode("utf-8")
