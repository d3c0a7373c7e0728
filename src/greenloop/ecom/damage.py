"""Warnings for identifiers a spreadsheet destroyed (reference §3, §7.3).

An export opened and saved in a spreadsheet comes back with long digit strings in
scientific notation (their digits lost) and leading zeros or a leading ``+`` dropped.
Nothing here refuses an order: the values are imported as they are and each damaged
cell is warned about, so the store can re-export. Only a file that looks like it went
through a spreadsheet (a BOM or commas), or a row whose identifiers hold an ``e``, is
looked at cell by cell.
"""

from __future__ import annotations

import re
from operator import itemgetter

from greenloop.ecom.report import ReadReport
from greenloop.ecom.values import looks_scientific

__all__ = ["DAMAGE_COLUMNS", "SpreadsheetDamage"]

# Identifier columns a spreadsheet rewrites as numbers.
DAMAGE_COLUMNS = (
    "sku",
    "order_tracking_number",
    "order_number",
    "shipto_person_phone",
    "shipto_person_postal_code",
    "payment_transaction_id",
)
_DIGITS = re.compile(r"^\d+$")


class SpreadsheetDamage:
    """The damage checks for one file. ``cells(row)`` fetches a row's identifier cells
    in one call, for the order builder's quick test (an ``e`` in any of them); ``warn``
    looks at an order's rows one cell at a time."""

    def __init__(self, ix: dict[str, int], report: ReadReport, *, excel_like: bool) -> None:
        self.cells = itemgetter(*(ix[name] for name in DAMAGE_COLUMNS))
        self._ix = ix
        self._report = report
        self._excel_like = excel_like

    def warn(self, rows: list[list[str]], lines: list[int]) -> None:
        for position, row in enumerate(rows):
            self._warn_row(row, lines[position])

    def _warn_row(self, row: list[str], line: int) -> None:
        ix, warn = self._ix, self._report.warn
        where = f"{self._report.file}:{line}"
        for name in DAMAGE_COLUMNS:
            value = row[ix[name]].strip()
            if value and looks_scientific(value):
                warn(
                    f"{where}: {name}: '{value}' was turned into scientific notation by a "
                    "spreadsheet and its digits are lost; re-export from the eCom admin"
                )
        if not self._excel_like:
            return
        sku = row[ix["sku"]].strip()
        if _DIGITS.match(sku) and len(sku) in (11, 12):
            warn(
                f"{where}: sku: '{sku}' looks like a UPC/EAN that lost its leading zero in a "
                "spreadsheet; match it against your catalogue or re-export"
            )
        phone = row[ix["shipto_person_phone"]].strip()
        if _DIGITS.match(phone) and len(phone) == 11 and phone.startswith("1"):
            warn(f"{where}: shipto_person_phone: '{phone}' lost its leading '+'")
        postcode = row[ix["shipto_person_postal_code"]].strip()
        if _DIGITS.match(postcode) and len(postcode) == 4:
            warn(f"{where}: shipto_person_postal_code: '{postcode}' may have lost a leading zero")
