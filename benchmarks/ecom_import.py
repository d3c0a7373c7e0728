"""Import of a large eCom export. Prints one JSON object.

Writes an export of ``--rows`` item rows (two per order) in the exact E-Series dialect
(or reuses ``--export FILE`` if it exists), then runs ``greenloop import-ecom`` on it in
its own process. The import reads in a worker process of its own, so peak memory is the
largest sum of the resident sizes of the import and all its descendants, sampled every
20 ms (and never less than the kernel's peak for any single one of them).

    .venv/bin/python benchmarks/ecom_import.py [--rows 1000000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scratch_db import scratch_database  # noqa: E402
from tests.ecom_files import sample_rows, with_cells  # noqa: E402

BIN = Path(sys.executable).parent


def write_big_export(path: Path, rows: int) -> int:
    header, template = sample_rows()
    first, second = template[0], template[1]
    start = datetime(2026, 1, 1, 12, 0)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(header)
        orders = rows // 2
        for n in range(orders):
            number = str(10_000_000 - n)  # newest first, like the real export
            when = start - timedelta(minutes=7 * n)
            stamp = when.strftime("%b ") + str(when.day) + when.strftime(", %Y %I:%M %p")
            total = f"{20 + n % 300}.{n % 100:02d}"
            cells = dict(
                order_number=number,
                timestamp=stamp,
                order_total=total,
                email=f"buyer{n % 40000}@example.com",
            )
            writer.writerow(with_cells(header, first, **cells))
            writer.writerow(with_cells(header, second, **cells))
    return orders


class TreeMemory:
    """Peak of the summed RSS of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.peak = 0
        self._root = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                for process in [self._root, *self._root.children(recursive=True)]:
                    total += process.memory_info().rss
            except psutil.Error:
                pass  # a process ended between listing and reading: the next sample counts
            self.peak = max(self.peak, total)
            self._stop.wait(self._interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--export", type=Path, help="reuse (or keep) the export at this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        export = args.export or Path(tmp) / "ecom_orders_export.csv"
        began = time.perf_counter()
        if args.export and args.export.exists():
            orders = args.rows // 2
        else:
            orders = write_big_export(export, args.rows)
        write_seconds = time.perf_counter() - began
        config = Path(tmp) / "greenloop.toml"
        with scratch_database(args.database_url, "ecom") as database_url:
            init = [str(BIN / "greenloop"), "init", "--config", str(config)]
            if database_url:
                init += ["--database-url", database_url]
            subprocess.run(init, check=True, stdout=subprocess.DEVNULL)
            command = [str(BIN / "greenloop"), "import-ecom", str(export), "--config", str(config)]
            started = time.perf_counter()
            process = subprocess.Popen(
                [*command, "--json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=os.environ.copy(),
            )
            memory = TreeMemory(process.pid)
            stdout, stderr = process.communicate()
            seconds = time.perf_counter() - started
            sampled_peak = memory.stop()
        # ru_maxrss of waited-for children: the largest single process, in KB on Linux.
        single_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        peak_rss_mb = max(sampled_peak, single_peak) / (1024 * 1024)
        if process.returncode != 0:
            raise SystemExit(f"import failed: {stderr.decode()[-2000:]}")
        report = json.loads(stdout)
        size_mb = export.stat().st_size / 1e6
    figures = {
        "benchmark": "ecom_import",
        "database": args.database_url.split(":", 1)[0] if args.database_url else "sqlite",
        "rows": report["rows"],
        "orders": report["orders_new"],
        "expected_orders": orders,
        "file_mb": round(size_mb, 1),
        "write_file_seconds": round(write_seconds, 1),
        "import_seconds": round(seconds, 2),
        "rows_per_second": round(report["rows"] / seconds),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "targets": {"rows_per_second": 50_000, "peak_rss_mb": 300},
    }
    figures["meets_targets"] = bool(
        figures["rows_per_second"] >= 50_000
        and peak_rss_mb < 300
        and report["orders_new"] == orders
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
