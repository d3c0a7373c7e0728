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

__all__ = ["Dialect", "HashingStream", "detect_dialect", "open_export"]

_SEPARATORS = (";", ",", "\t")
_HEAD = 64 * 1024
_BUFFER = 1 << 20


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
    return Dialect(encoding=encoding, separator=best[1], bom=bom, crlf=crlf)


class HashingStream(io.RawIOBase):
    """The file's bytes, hashed on the way through (unless ``hashing`` is off)."""

    def __init__(self, path: Path, *, hashing: bool = True) -> None:
        super().__init__()
        self._raw = path.open("rb", buffering=0)
        self._digest = hashlib.sha256() if hashing else None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        if count and self._digest is not None:
            self._digest.update(memoryview(buffer)[:count])
        return count or 0

    def close(self) -> None:
        self._raw.close()
        super().close()

    def hexdigest(self) -> str:
        """SHA-256 of what was read so far (the whole file once reading reached its end);
        empty when not hashing."""
        return self._digest.hexdigest() if self._digest is not None else ""


def open_export(
    path: Path, dialect: Dialect, *, hashing: bool = True
) -> tuple[io.TextIOWrapper, HashingStream]:
    """A text stream for ``csv`` (``newline=""`` so quoted cells keep their line breaks)
    and the hashing stream under it."""
    raw = HashingStream(path, hashing=hashing)
    buffered = io.BufferedReader(raw, buffer_size=_BUFFER)
    return io.TextIOWrapper(buffered, encoding=dialect.encoding, newline=""), raw
