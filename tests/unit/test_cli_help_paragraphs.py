"""Every command's help is written as paragraphs: Typer and Rich rewrap the text to the
terminal, so a line break in the middle of a sentence shows up as a ragged break in
``--help`` ("then serve / the dashboard while ..."). Walks the whole command tree (the
top level, every group and every subcommand, the simulator's too), checks each help
text and each option's help, and renders each ``--help``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from greenloop.cli import app

# A line may end a paragraph's line only before a list item or an indented line.
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]\s|\d+[.)]\s|\S+:\s{2,})")


def _commands() -> Iterator[tuple[str, Any]]:
    """Every command of the tree as Typer builds it (its own copy of click's classes: a
    group is what has subcommands to list)."""
    root = typer.main.get_command(app)
    stack: list[tuple[str, Any, typer.Context | None]] = [("greenloop", root, None)]
    while stack:
        path, command, parent = stack.pop()
        yield path, command
        if hasattr(command, "list_commands"):
            ctx = typer.Context(command, info_name=path.split()[-1], parent=parent)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    stack.append((f"{path} {name}", sub, ctx))


COMMANDS = sorted(_commands(), key=lambda item: item[0])


def broken_lines(text: str) -> list[str]:
    """The places in ``text`` where a paragraph breaks a line mid-sentence: a line that
    is followed, in the same paragraph, by one that is not a list item or indented."""
    problems = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        if paragraph.lstrip().startswith("\b"):  # click's "keep as written" marker
            continue
        lines = paragraph.split("\n")
        for line, following in pairwise(lines):
            if following.startswith((" ", "\t")) or _LIST_ITEM.match(following):
                continue
            problems.append(f"{line.strip()!r} / {following.strip()!r}")
    return problems


def test_the_tree_has_every_command() -> None:
    names = {path for path, _ in COMMANDS}
    assert len(names) > 30, names
    for expected in ("greenloop sync", "greenloop demo", "greenloop dashboard hash-password"):
        assert expected in names
    assert any(name.startswith("greenloop simulator ") for name in names)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_help_is_written_as_paragraphs(path: str, command: Any) -> None:
    problems = [f"help: {p}" for p in broken_lines(command.help or "")]
    for param in command.params:
        text = getattr(param, "help", None) or ""
        problems += [f"{param.name}: {p}" for p in broken_lines(text)]
    assert problems == [], f"{path}: lines broken mid-paragraph:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS])
def test_help_renders(path: str) -> None:
    args = [*path.split()[1:], "--help"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "100"})
    assert result.exit_code == 0, (path, result.output)
    assert "Usage:" in result.output


def test_the_checker_sees_a_broken_sentence() -> None:
    assert broken_lines("Run it, then serve\nthe dashboard while it runs.") != []
    assert broken_lines("One paragraph on one line.\n\nAnother one.") == []
    assert broken_lines("Exit codes:\n- 0 ok\n- 1 failed") == []
