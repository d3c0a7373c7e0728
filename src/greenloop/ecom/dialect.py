"""Opening an export whatever saved it: encoding, BOM, separator, line ends.

The eCom admin writes UTF-8 without a BOM, ``;``-separated, LF (reference §2.1). A file
re-saved by Excel gains a BOM, may switch to ``,`` and CRLF, or be saved as cp1252
("ANSI") (§3). Older scripts in the wild used tab or comma. So: strip a BOM, fall back
from UTF-8 to cp1252 when the bytes are not UTF-8, and pick the separator that makes the
header contain ``order_number``.

The dialect is read from the first 64 KB. Whether the rest is UTF-8 and the file's
SHA-256 are learnt while the rows are read, so a large export is read once, not twice:
:class:`HashingStream` hashes the bytes as they go by, and a file that stops being UTF-8
after its head is read again as cp1252 (the reader raises ``NotUtf8`` for that).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenloop.errors import InputFileError

__all__ = [
    "Dialect",
    "HashingStream",
    "allow_any_cell_size",
    "detect_dialect",
    "fallback_encoding",
    "open_export",
    "replacements",
]

_SEPARATORS = (";", ",", "\t")
_HEAD = 64 * 1024
_BUFFER = 1 << 20
# The largest the csv module takes (a C long on every platform).
_ANY_CELL = 2**31 - 1


_REPLACED = [0]


def _replace_and_count(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    _REPLACED[0] += 1
    return "\ufffd", error.end


# A lenient stream decodes a bad byte as U+FFFD and counts it: a reader that sees the
# count move checks its cells for U+FFFD. A chunk is decoded before its rows are parsed.
codecs.register_error("greenloop-replace", _replace_and_count)


def replacements() -> int:
    """Bytes decoded as U+FFFD by lenient streams so far, in this process."""
    return _REPLACED[0]


def allow_any_cell_size() -> None:
    """Let the csv module read a cell of any length.

    Its default limit (131,072 characters) makes one long cell, e.g. a pasted order
    comment, end the whole file with an error, and the rows after it cannot be found
    again. A cell is never larger than its file, and the reader checks the length of
    every cell it stores. The limit is process-wide, and only ever raised.
    """
    if csv.field_size_limit() < _ANY_CELL:
        csv.field_size_limit(_ANY_CELL)


@dataclass(frozen=True)
class Dialect:
    encoding: str
    separator: str
    bom: bool
    crlf: bool
    sha256: str = ""  # of the whole file, for the import log; known once it was read


def _is_utf8(head: bytes, *, whole: bool) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=whole)
    except UnicodeDecodeError:
        return False
    return True


def detect_dialect(path: Path, *, encoding: str | None = None) -> Dialect:
    """The dialect from the file's head; ``encoding`` overrides the guess."""
    try:
        with path.open("rb") as raw:
            head = raw.read(_HEAD)
            whole = len(head) < _HEAD or not raw.read(1)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the file ({exc.strerror})") from None
    if not head.strip():
        raise InputFileError(f"{path}: the file is empty", hint="Export the orders again.")
    bom = head.startswith(codecs.BOM_UTF8)
    if encoding is None:
        encoding = "utf-8-sig" if bom else ("utf-8" if _is_utf8(head, whole=whole) else "cp1252")
    text = head.decode("utf-8-sig" if bom else encoding, errors="replace")
    first_line_end = text.find("\n")
    crlf = first_line_end > 0 and text[first_line_end - 1] == "\r"
    header_line = text[: first_line_end if first_line_end >= 0 else len(text)].rstrip("\r")
    allow_any_cell_size()
    best: tuple[int, str] | None = None
    for separator in _SEPARATORS:
        try:
            cells = next(csv.reader([header_line], delimiter=separator), [])
        except csv.Error:  # e.g. a lone carriage return: not this separator's header
            continue
        has_key = "order_number" in (cell.strip() for cell in cells)
        if has_key and (best is None or len(cells) > best[0]):
            best = (len(cells), separator)
    if best is None:
        raise InputFileError(
            f"{path}: line 1 is not an eCom orders export header (no 'order_number' column)",
            hint="Export from eCom admin → My Sales → Orders → Export, and import that file.",
        )
    return Dialect(encoding=encoding, separator=best[1], bom=bom, crlf=crlf)


class HashingStream(io.RawIOBase):
    """The file's bytes, hashed on the way through (unless ``hashing`` is off).

    ``saw_nul`` turns true once a NUL byte went by: the reader then checks its cells for
    one (PostgreSQL refuses NUL in text, SQLite cuts the text there). The bytes of a row
    are always read before the row is parsed, so the flag is up in time.
    """

    def __init__(self, path: Path, *, hashing: bool = True, scan_lines: bool = False) -> None:
        """``scan_lines`` also watches for what the columnar reader cannot number as
        the ``csv`` module does: ``saw_odd_lines`` turns true at a blank line or a lone
        carriage return (or an empty line inside a quoted cell: the row path reads it)."""
        super().__init__()
        self._raw = path.open("rb", buffering=0)
        self._digest = hashlib.sha256() if hashing else None
        self.saw_nul = False
        self._scan_lines = scan_lines
        self.saw_odd_lines = False
        self._tail = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        if count:
            view = memoryview(buffer)[:count]
            if self._digest is not None:
                self._digest.update(view)
            # A copy and a memchr: several times faster than a regex over the view.
            data = view.tobytes()
            if not self.saw_nul and b"\0" in data:
                self.saw_nul = True
            if self._scan_lines and not self.saw_odd_lines:
                self._scan(data)
        elif self._scan_lines and self._tail.endswith(b"\r"):
            self._scan(b"\n")  # a carriage return ending the file ends its last line
        return count or 0

    def _scan(self, data: bytes) -> None:
        text = self._tail + data
        self._tail = text[-2:]
        if b"\n\n" in text or b"\n\r\n" in text or b"\r\r" in text:
            self.saw_odd_lines = True
            return
        if b"\r" in text:
            # A carriage return at the end is judged with the next bytes.
            body = text[:-1] if text.endswith(b"\r") else text
            if body.count(b"\r") != body.count(b"\r\n"):
                self.saw_odd_lines = True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def hexdigest(self) -> str:
        """SHA-256 of what was read so far (the whole file once reading reached its end);
        empty when not hashing."""
        return self._digest.hexdigest() if self._digest is not None else ""


def open_export(
    path: Path, dialect: Dialect, *, hashing: bool = True, lenient: bool = False
) -> tuple[io.TextIOWrapper, HashingStream]:
    """A text stream for ``csv`` (``newline=""`` so quoted cells keep their line breaks)
    and the hashing stream under it. ``lenient`` decodes a bad byte as U+FFFD, counted
    by :func:`replacements`, instead of raising ``UnicodeDecodeError``."""
    raw = HashingStream(path, hashing=hashing)
    buffered = io.BufferedReader(raw, buffer_size=_BUFFER)
    errors = "greenloop-replace" if lenient else "strict"
    stream = io.TextIOWrapper(buffered, encoding=dialect.encoding, errors=errors, newline="")
    return stream, raw


def fallback_encoding(path: Path) -> str:
    """How to read a file whose head is UTF-8 but whose later bytes are not all UTF-8.

    Mostly valid UTF-8 beyond ASCII means a UTF-8 export with a few damaged bytes: read
    it as UTF-8, and only the orders holding the damage are refused. Otherwise it is an
    Excel "ANSI" save whose first 64 KB happened to be plain ASCII: read it as cp1252.
    """
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    valid = damaged = 0
    try:
        with path.open("rb") as raw:
            while chunk := raw.read(_BUFFER):
                text = decoder.decode(chunk)
                if text.isascii():
                    continue
                bad = text.count("\ufffd")
                damaged += bad
                valid += len(text) - len(text.encode("ascii", "ignore")) - bad
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read the file ({exc.strerror})") from None
    return "utf-8" if valid > damaged else "cp1252"
