"""Building eCom export files for tests from the reference sample's rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = FIXTURES / "eseries_orders_export_sample.csv"
EXCEL_SAMPLE = FIXTURES / "eseries_orders_export_excel_resaved_sample.csv"


def sample_rows() -> tuple[list[str], list[list[str]]]:
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    return rows[0], rows[1:]


def with_cells(header: list[str], row: list[str], **cells: str) -> list[str]:
    out = list(row)
    for name, value in cells.items():
        out[header.index(name.replace("__", " "))] = value
    return out


def write_export(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    *,
    separator: str = ";",
    encoding: str = "utf-8",
    bom: bool = False,
    crlf: bool = False,
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=separator,
        lineterminator="\r\n" if crlf else "\n",
        quoting=csv.QUOTE_MINIMAL,
    )
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path
