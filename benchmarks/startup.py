"""How long a `greenloop` command takes to start: whole processes, timed from outside.
Prints one JSON object.

Each command is run ``--runs`` times as a new process (the installed console script,
as a user types it), interleaved with its two peers in the same rounds so a busy
machine slows all three alike: ``python -c pass`` (the interpreter's floor) and
``python -c "import typer"`` (the CLI framework's floor). The figures are the median
and the minimum wall time of each, the median CPU time (user + system: less
sensitive to a busy machine than wall time), and the ratio of the command's median to
each peer's median. A third peer, a two-command Typer app's ``--help``, is the floor
of Typer's Rich help rendering (importing ``typer.rich_utils`` and drawing the panels).

The commands: ``greenloop --help``, ``greenloop customers --help``, every other
sub-app's ``--help``, and ``greenloop customers show <id>`` against a small SQLite
store set up first in a temporary directory (the simulator in a subprocess with a
small generated store, then ``greenloop init``, ``sync`` and ``analyze``; the id is a
person's), twice, while ``greenloop serve`` of the same config runs (started once,
before the rounds): without an API token in its environment, so it reads the database
itself, and with the token, so it asks the serve instead (``dashboard.cli_asks_serve``).
For each command one more run under ``python -X importtime`` gives the
time spent importing (``imports_ms``, the sum of the top-level imports' cumulative
times) and, for ``greenloop --help``, the 10 slowest imports (by cumulative time,
which includes the modules each one imports; ``self_ms`` is its own).

    .venv/bin/python benchmarks/startup.py [--runs 5] [--customers 60]
        [--src OTHER_CHECKOUT/src]   # time another tree with this virtualenv

``--src`` puts a directory first on PYTHONPATH, e.g. an unpacked older commit
(``git archive HEAD~1 src | tar -x -C /tmp/before``), for a before/after in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
PYTHON = sys.executable
TOKEN = "lsxs_pt_STARTUPBENCH_0123456789"

FLOOR = "python -c pass"
TYPER = 'python -c "import typer"'
TYPER_HELP = "a two-command Typer app's --help"
_TYPER_APP = """
import typer
app = typer.Typer(add_completion=False)
@app.command()
def one() -> None:
    "The first command."
@app.command()
def two() -> None:
    "The second command."
app(["--help"])
"""
PEERS: dict[str, list[str]] = {
    FLOOR: [PYTHON, "-c", "pass"],
    TYPER: [PYTHON, "-c", "import typer"],
    TYPER_HELP: [PYTHON, "-c", _TYPER_APP],
}

SHOW_DATABASE = "greenloop customers show <id> (reads the database)"
SHOW_SERVED = "greenloop customers show <id> (asks the running serve)"

# Every group of the command line (the sub-apps) after the two the brief names.
SUB_APPS = ["simulator", "tiers", "export", "run", "webhooks", "events", "dashboard"]


def greenloop(*args: str) -> list[str]:
    script = BIN / "greenloop"
    if script.exists():
        return [str(script), *args]
    return [PYTHON, "-m", "greenloop", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str = "the simulator") -> None:
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start within 120 s")


def set_up_store(directory: Path, customers: int, env: dict[str, str]) -> tuple[Path, str]:
    """A synced and analysed SQLite store of a small generated shop; its config and one
    person's id."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sim = subprocess.Popen(
        greenloop(
            "simulator",
            "serve",
            "--port",
            str(port),
            "--token",
            TOKEN,
            "--customers",
            str(customers),
            "--days",
            "90",
            "--seed",
            "7",
            "--anchor",
            "2026-11-01T00:00:00+00:00",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    config = directory / "greenloop.toml"
    try:
        wait_ready(url, sim)
        for args in (
            ("init", "--config", str(config), "--base-url", url),
            ("sync", "--config", str(config)),
            ("analyze", "--config", str(config), "--now", "2026-11-01"),
        ):
            subprocess.run(greenloop(*args), check=True, env=env, stdout=subprocess.DEVNULL)
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    with sqlite3.connect(directory / "greenloop.db") as conn:
        row = conn.execute("SELECT id FROM persons ORDER BY id LIMIT 1").fetchone()
    if row is None:
        raise SystemExit("the store has no persons")
    return config, str(row[0])


def wall(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall time, CPU time (user + system) and exit code of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, done.returncode


def import_times(argv: list[str], env: dict[str, str]) -> list[dict[str, Any]]:
    """One run under ``-X importtime``: every import with its own and cumulative time."""
    if argv[0] != PYTHON:
        argv = [PYTHON, *argv]  # the console script is a Python file
    done = subprocess.run(
        [PYTHON, "-X", "importtime", *argv[1:]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append(
            {
                "module": name.strip(),
                "depth": (len(name) - len(name.lstrip()) - 1) // 2,
                "self_ms": round(int(own) / 1000, 1),
                "cumulative_ms": round(int(cumulative) / 1000, 1),
            }
        )
    return rows


def summary(seconds: list[float], cpu: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "cpu_median_s": round(statistics.median(cpu), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="Processes per command (N).")
    parser.add_argument("--customers", type=int, default=60, help="Customers in the store.")
    parser.add_argument("--src", type=Path, help="Put this directory first on PYTHONPATH.")
    args = parser.parse_args()

    env = {**os.environ, "GREENLOOP_LIGHTSPEED_TOKEN": TOKEN}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode, as an installed CLI has
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(args.src.resolve()), os.environ.get("PYTHONPATH", "")) if p
        )

    with tempfile.TemporaryDirectory() as tmp:
        set_up_at = time.perf_counter()
        config, person = set_up_store(Path(tmp), args.customers, env)
        set_up_seconds = time.perf_counter() - set_up_at
        show = greenloop("customers", "show", person, "--config", str(config))
        commands: dict[str, list[str]] = {
            "greenloop --help": greenloop("--help"),
            "greenloop customers --help": greenloop("customers", "--help"),
            **{f"greenloop {name} --help": greenloop(name, "--help") for name in SUB_APPS},
            SHOW_DATABASE: show,
            SHOW_SERVED: show,
        }
        serve_env = {
            **env,
            "GREENLOOP_DASHBOARD__API_TOKEN": "startup-bench-api-token-0123",
            "GREENLOOP_JOBS__PORT": str(free_port()),
            "GREENLOOP_JOBS__POLL_MINUTES": "0",
        }
        envs = {name: env for name in commands} | {SHOW_SERVED: serve_env}
        serve = start_serve(config, serve_env)
        try:
            results = time_commands(commands, envs, args.runs)
        finally:
            serve.terminate()
            serve.wait(timeout=30)
    print(
        json.dumps(
            {
                "benchmark": "startup",
                "python": sys.version.split()[0],
                "source": str(args.src) if args.src else "installed",
                "runs": args.runs,
                "store": {"customers": args.customers, "set_up_s": round(set_up_seconds, 1)},
                "load_average": [round(x, 2) for x in os.getloadavg()],
                **results,
            },
            indent=2,
        )
    )


def start_serve(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`greenloop serve` of the store's config, once it accepts connections."""
    proc = subprocess.Popen(
        greenloop("serve", "--config", str(config)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    wait_ready(f"http://127.0.0.1:{env['GREENLOOP_JOBS__PORT']}", proc, "greenloop serve")
    return proc


def time_commands(
    commands: dict[str, list[str]], envs: dict[str, dict[str, str]], runs: int
) -> dict[str, Any]:
    """Each command ``runs`` times interleaved with the peers (which run in the first
    command's environment), then once under ``-X importtime``."""
    env = envs[next(iter(commands))]
    # Warm the bytecode caches and the page cache: the first run of a changed tree
    # compiles it.
    for argv in PEERS.values():
        wall(argv, env)
    for name, argv in commands.items():
        wall(argv, envs[name])

    times: dict[str, list[float]] = {name: [] for name in [*PEERS, *commands]}
    cpu: dict[str, list[float]] = {name: [] for name in [*PEERS, *commands]}
    exit_codes: dict[str, set[int]] = {name: set() for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            for peer, peer_argv in PEERS.items():
                seconds, cpu_seconds, _code = wall(peer_argv, env)
                times[peer].append(seconds)
                cpu[peer].append(cpu_seconds)
            seconds, cpu_seconds, code = wall(argv, envs[name])
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)
            exit_codes[name].add(code)

    peers = {name: summary(times[name], cpu[name]) for name in PEERS}
    results: dict[str, Any] = {}
    help_imports: list[dict[str, Any]] = []
    for name, argv in commands.items():
        imports = import_times(argv, envs[name])
        if name == "greenloop --help":
            help_imports = imports
        figures = summary(times[name], cpu[name])
        results[name] = {
            **figures,
            "exit_codes": sorted(exit_codes[name]),
            "imports_ms": round(sum(r["cumulative_ms"] for r in imports if r["depth"] == 0), 1),
            "vs_python_pass": round(figures["median_s"] / peers[FLOOR]["median_s"], 1),
            "vs_import_typer": round(figures["median_s"] / peers[TYPER]["median_s"], 2),
            "vs_typer_app_help": round(figures["median_s"] / peers[TYPER_HELP]["median_s"], 2),
        }

    slowest = sorted(help_imports, key=lambda r: r["cumulative_ms"], reverse=True)[:10]
    return {"peers": peers, "commands": results, "slowest_imports_help": slowest}


if __name__ == "__main__":
    main()
