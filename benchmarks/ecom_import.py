"""Import of a large eCom export beside its peers. Prints one JSON object.

Writes an export of ``--rows`` item rows (two per order) in the exact E-Series dialect
(or reuses ``--export FILE`` if it exists), then, ``--runs`` times in turn on that same
file, each in a process of its own:

* GreenLoop: ``greenloop import-ecom`` into a new database (validated, two tables);
* DuckDB: ``read_csv`` (built in, every column as text) into a table of a new file db;
* pandas: ``read_csv`` (every column as text, in chunks of 50,000 rows so memory stays
  bounded) and ``to_sql`` into a new SQLite file.

With ``--reimport``, each GreenLoop run then imports a second export into the same
database: the same orders, every one with another total (the next day's export with
every order edited, the most a re-import can have to change), timed on its own. It
has no peer: a table loader would load the file again.

The peers only load the cells; GreenLoop also checks every value and builds orders. Each
figure is given per run, with its median and the ratio of GreenLoop's median rows/s to
each peer's. Peak memory is the largest sum of the resident sizes of a process and all
its descendants (GreenLoop reads in a worker process of its own), sampled every 20 ms.

    .venv/bin/python benchmarks/ecom_import.py [--rows 1000000] [--runs 3]
        [--database-url URL] [--export FILE] [--peers duckdb,pandas]
        [--reader configured|columnar|rows] [--reimport]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
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


def write_big_export(path: Path, rows: int, *, edited: bool = False) -> int:
    """An export of ``rows`` item rows; ``edited``: every order's total a cent higher."""
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
            cents = 2000 + (n % 300) * 100 + n % 100 + (1 if edited else 0)
            total = f"{cents // 100}.{cents % 100:02d}"
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


def measured(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, bytes]:
    """Seconds, peak RSS in MB (the process and its descendants) and stdout of a run."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )
    memory = TreeMemory(process.pid)
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    peak = memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {stderr.decode()[-2000:]}")
    return seconds, peak / (1024 * 1024), stdout


def run_greenloop(
    export: Path, tmp: Path, database_url: str, run: int, reader: str, again: Path | None
) -> dict[str, float]:
    config = tmp / f"greenloop-{run}.toml"
    with scratch_database(database_url, "ecom") as url:
        if not url:
            url = f"sqlite:///{tmp / f'greenloop-{run}.db'}"
        init = [str(BIN / "greenloop"), "init", "--config", str(config), "--database-url", url]
        subprocess.run(init, check=True, stdout=subprocess.DEVNULL)
        command = [str(BIN / "greenloop"), "import-ecom", str(export), "--config", str(config)]
        env = {}
        if reader != "configured":
            env["GREENLOOP_ECOM__COLUMNAR_READER"] = str(reader == "columnar").lower()
        seconds, peak, stdout = measured([*command, "--json"], env)
        figures = {"seconds": seconds, "peak_rss_mb": peak}
        if again is not None:
            second = [str(BIN / "greenloop"), "import-ecom", str(again), "--config", str(config)]
            again_seconds, again_peak, again_out = measured([*second, "--json"], env)
            changed = json.loads(again_out)
            figures |= {
                "reimport_seconds": again_seconds,
                "reimport_peak_rss_mb": again_peak,
                "reimport_orders_updated": changed["orders_updated"],
            }
    report = json.loads(stdout)
    return {
        **figures,
        "rows": report["rows"],
        "orders": report["orders_new"],
        "rejected": len(report["rejected"]),
    }


def run_peer(peer: str, export: Path, tmp: Path, run: int) -> dict[str, float]:
    target = tmp / f"{peer}-{run}.db"
    command = [sys.executable, __file__, "--peer", peer, "--export", str(export), str(target)]
    seconds, peak, stdout = measured(command)
    return {"seconds": seconds, "peak_rss_mb": peak, "rows": json.loads(stdout)["rows"]}


def peer_duckdb(export: Path, target: Path) -> int:
    import duckdb

    with duckdb.connect(str(target)) as con:
        con.execute(
            "CREATE TABLE ecom AS SELECT * FROM read_csv(?, delim = ';', quote = '\"', "
            "escape = '\"', header = true, all_varchar = true)",
            [str(export)],
        )
        row = con.execute("SELECT count(*) FROM ecom").fetchone()
    return int(row[0]) if row else 0


def peer_pandas(export: Path, target: Path) -> int:
    import sqlite3

    import pandas as pd

    rows = 0
    with sqlite3.connect(target) as con:
        chunks = pd.read_csv(export, sep=";", dtype=str, keep_default_na=False, chunksize=50_000)
        for chunk in chunks:
            chunk.to_sql("ecom", con, if_exists="append", index=False)
            rows += len(chunk)
    return rows


def summary(runs: list[dict[str, float]]) -> dict[str, object]:
    rates = [run["rows"] / run["seconds"] for run in runs]
    return {
        "rows_per_second": [round(rate) for rate in rates],
        "seconds": [round(run["seconds"], 2) for run in runs],
        "peak_rss_mb": [round(run["peak_rss_mb"], 1) for run in runs],
        "median_rows_per_second": round(statistics.median(rates)),
        "median_seconds": round(statistics.median(run["seconds"] for run in runs), 2),
        "median_peak_rss_mb": round(statistics.median(run["peak_rss_mb"] for run in runs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--export", type=Path, help="reuse (or keep) the export at this path")
    parser.add_argument("--peers", default="duckdb,pandas", help="comma-separated; '' for none")
    parser.add_argument(
        "--reader",
        choices=["configured", "columnar", "rows"],
        default="configured",
        help="GreenLoop's reader: ecom.columnar_reader as configured (the default), or forced",
    )
    parser.add_argument(
        "--reimport", action="store_true", help="then import an edited copy into the same db"
    )
    parser.add_argument("--peer", choices=["duckdb", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("target", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:  # one peer's load, in this process of its own
        load = peer_duckdb if args.peer == "duckdb" else peer_pandas
        print(json.dumps({"rows": load(args.export, args.target)}))
        return
    peers = [peer for peer in args.peers.split(",") if peer]
    with tempfile.TemporaryDirectory() as tmp:
        export = args.export or Path(tmp) / "ecom_orders_export.csv"
        began = time.perf_counter()
        if args.export and args.export.exists():
            orders = args.rows // 2
        else:
            orders = write_big_export(export, args.rows)
        write_seconds = time.perf_counter() - began
        size_mb = export.stat().st_size / 1e6
        again = None
        if args.reimport:
            again = Path(tmp) / "ecom_orders_export_edited.csv"
            write_big_export(again, args.rows, edited=True)
        results: dict[str, list[dict[str, float]]] = {"greenloop": []}
        results.update({peer: [] for peer in peers})
        for run in range(args.runs):  # alternated, so a busy moment hits every contender
            results["greenloop"].append(
                run_greenloop(export, Path(tmp), args.database_url, run, args.reader, again)
            )
            for peer in peers:
                results[peer].append(run_peer(peer, export, Path(tmp), run))
                (Path(tmp) / f"{peer}-{run}.db").unlink(missing_ok=True)
    greenloop = summary(results["greenloop"])
    last = results["greenloop"][-1]
    figures: dict[str, object] = {
        "benchmark": "ecom_import",
        "database": args.database_url.split(":", 1)[0] if args.database_url else "sqlite",
        "rows": last["rows"],
        "orders": last["orders"],
        "expected_orders": orders,
        "rejected": last["rejected"],
        "file_mb": round(size_mb, 1),
        "write_file_seconds": round(write_seconds, 1),
        "runs": args.runs,
        "reader": args.reader,
        "greenloop": greenloop,
        "rows_per_second": greenloop["median_rows_per_second"],
        "peak_rss_mb": max(run["peak_rss_mb"] for run in results["greenloop"]),
        "peers": {peer: summary(results[peer]) for peer in peers},
    }
    if args.reimport:
        runs = results["greenloop"]
        figures["reimport"] = {
            "seconds": [round(run["reimport_seconds"], 2) for run in runs],
            "median_seconds": round(statistics.median(r["reimport_seconds"] for r in runs), 2),
            "median_rows_per_second": round(
                statistics.median(r["rows"] / r["reimport_seconds"] for r in runs)
            ),
            "peak_rss_mb": max(round(run["reimport_peak_rss_mb"], 1) for run in runs),
            "orders_updated": runs[-1]["reimport_orders_updated"],
        }
    ratios = {
        peer: round(
            float(greenloop["median_rows_per_second"])  # type: ignore[arg-type]
            / float(summary(results[peer])["median_rows_per_second"]),  # type: ignore[arg-type]
            2,
        )
        for peer in peers
    }
    figures["ratios"] = ratios  # GreenLoop's median rows/s / the peer's
    targets = {"rows_per_second": 100_000, "peak_rss_mb": 300, "ratio_to_duckdb": 0.8}
    figures["targets"] = targets
    figures["meets_targets"] = bool(
        greenloop["median_rows_per_second"] >= targets["rows_per_second"]  # type: ignore[operator]
        and figures["peak_rss_mb"] < targets["peak_rss_mb"]  # type: ignore[operator]
        and all(run["orders"] == orders for run in results["greenloop"])
        and ratios.get("duckdb", 1.0) >= targets["ratio_to_duckdb"]
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
