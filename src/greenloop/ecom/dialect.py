"""Opening an export whatever saved it: encoding, BOM, separator, line ends.

The eCom admin writes UTF-8 without a BOM, ``;``-separated, LF (reference §2.1). A file
re-saved by Excel gains a BOM, may switch to ``,`` and CRLF, or be saved as cp1252
("ANSI") (§3). Older scripts in the wild used tab or comma. So: strip a BOM, fall back
from UTF-8 to cp1252 when the bytes are not UTF-8, and pick the separator that makes the
header contain ``order_number``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from greenloop.errors import InputFileError

__all__ = ["Dialect", "detect_dialect", "open_export"]

_SEPARATORS = (";", ",", "\t")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Dialect:
    encoding: str
    separator: str
    bom: bool
    crlf: bool
    sha256: str  # of the whole file, for the import log


def _scan(path: Path) -> tuple[bool, str]:
    """One pass over the bytes: are they UTF-8, and their SHA-256."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    digest = hashlib.sha256()
    utf8 = True
    with path.open("rb") as raw:
        while chunk := raw.read(_CHUNK):
            digest.update(chunk)
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return utf8, digest.hexdigest()


def detect_dialect(path: Path) -> Dialect:
    try:
        with path.open("rb") as raw:
            head = raw.read(64 * 1024)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the file ({exc.strerror})") from None
    if not head.strip():
        raise InputFileError(f"{path}: the file is empty", hint="Export the orders again.")
    bom = head.startswith(codecs.BOM_UTF8)
    utf8, sha256 = _scan(path)
    encoding = "utf-8-sig" if bom else ("utf-8" if utf8 else "cp1252")
    text = head.decode("utf-8-sig" if bom else encoding, errors="replace")
    first_line_end = text.find("\n")
    crlf = first_line_end > 0 and text[first_line_end - 1] == "\r"
    header_line = text[: first_line_end if first_line_end >= 0 else len(text)].rstrip("\r")
    best: tuple[int, str] | None = None
    for separator in _SEPARATORS:
        cells = next(csv.reader([header_line], delimiter=separator), [])
        has_key = "order_number" in (cell.strip() for cell in cells)
        if has_key and (best is None or len(cells) > best[0]):
            best = (len(cells), separator)
    if best is None:
        raise InputFileError(
            f"{path}: line 1 is not an eCom orders export header (no 'order_number' column)",
            hint="Export from eCom admin → My Sales → Orders → Export, and import that file.",
        )
    return Dialect(encoding=encoding, separator=best[1], bom=bom, crlf=crlf, sha256=sha256)


def open_export(path: Path, dialect: Dialect) -> TextIO:
    """A text stream for ``csv``: ``newline=""`` so quoted cells keep their line breaks."""
    return io.open(path, encoding=dialect.encoding, newline="")  # noqa: UP020
