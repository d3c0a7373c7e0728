"""The command line starts without the heavy stack: building the app and printing help
import neither the database, the numeric, nor the web libraries (each command imports
what it needs when it runs). Nothing here is timed: benchmarks/startup.py times it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Imported only by the commands that need them, never to build the app or print help.
HEAVY = ("sqlalchemy", "scipy", "numpy", "starlette", "uvicorn", "httpx", "jinja2")
# Settings and Typer's value coercion need pydantic, help does not.
HELP_ONLY_HEAVY = (*HEAVY, "pydantic")

_RUN = """
import json, sys
from greenloop.cli.app import main
sys.argv = ["greenloop", *json.loads(sys.argv[1])]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"exit_code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _loaded_after(args: list[str]) -> tuple[int, set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", _RUN, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["exit_code"], set(report["modules"]), done.stdout


def test_building_the_app_imports_no_heavy_library() -> None:
    code = (
        "import json, sys, typer.main\n"
        "from greenloop.cli.app import app\n"
        "typer.main.get_command(app)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert "typer" in loaded
    assert [name for name in HEAVY if name in loaded] == []


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["customers", "--help"],
        ["tiers", "--help"],
        ["simulator", "--help"],
        ["webhooks", "--help"],
        ["events", "--help"],
        ["run", "--help"],
        ["dashboard", "--help"],
        ["export", "--help"],
        ["customers", "show", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    code, loaded, output = _loaded_after(args)
    assert code == 0
    assert "Usage: greenloop" in output
    assert [name for name in HELP_ONLY_HEAVY if name in loaded] == []


def test_the_installed_script_prints_help() -> None:
    script = Path(sys.executable).parent / "greenloop"
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "greenloop"]
    done = subprocess.run(
        [*argv, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "customers" in done.stdout


def test_a_command_still_imports_what_it_needs(tmp_path: Path) -> None:
    """The lazy imports are there when a command runs: `customers show` on a missing
    config file fails the way it always did (exit code 2, one error line)."""
    code, loaded, _ = _loaded_after(
        ["customers", "show", "nobody", "--config", str(tmp_path / "missing.toml")]
    )
    assert code == 2
    assert "greenloop.services.lookup" in loaded
