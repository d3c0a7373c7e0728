"""What reading one export found, and the signals that it must be read again.

Every part of the reader writes its findings to one :class:`ReadReport`: a refused
order as an :class:`~greenloop.errors.ImportRowError` located by file, line and column,
a value worth a look as a warning line. The importer turns the report into the
``import-ecom`` result, and the two-process import sends it across its pipe as plain
data (:mod:`greenloop.ecom.worker`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from greenloop.ecom.dialect import Dialect
from greenloop.errors import ImportRowError

__all__ = ["MAX_DETAILED_WARNINGS", "NotContiguous", "NotUtf8", "ReadAgain", "ReadReport"]

# Warnings past this many are counted, not kept: a spreadsheet-damaged file warns on
# every row.
MAX_DETAILED_WARNINGS = 200


@dataclass
class ReadReport:
    file: str
    dialect: Dialect | None = None
    rows: int = 0
    orders: int = 0
    rejected: list[ImportRowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0

    def reject(self, line: int, column: str | None, message: str, hint: str | None) -> None:
        """Refuse the order at ``line``: ``file:line: column: message`` and how to fix it."""
        self.rejected.append(
            ImportRowError(message, file=self.file, line=line, column=column, hint=hint)
        )

    def warn(self, text: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_DETAILED_WARNINGS:
            self.warnings.append(text)


class ReadAgain(Exception):
    """The file must be read again from the start, differently (see the subclasses)."""


class NotContiguous(ReadAgain):
    """An order's rows are split across the file; re-read grouping in memory."""


class NotUtf8(ReadAgain):
    """The head looked like UTF-8 but later bytes are not; re-read in the encoding
    :func:`~greenloop.ecom.dialect.fallback_encoding` picks."""
