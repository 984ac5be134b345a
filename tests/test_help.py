"""Every command's ``--help``: it works, says what each option takes, and reads as prose (a
docstring's line breaks do not break its sentences on screen)."""

from __future__ import annotations

import contextlib
import inspect
import io
import re
from typing import Any

import pytest
import typer

from arconnect.cli import app

ROOT = typer.main.get_command(app)  # built once: rebuilding it for each run costs more


def _commands() -> list[tuple[list[str], Any]]:
    found: list[tuple[list[str], Any]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append((path, command))
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(ROOT, [])
    return found


COMMANDS = _commands()
IDS = [" ".join(path) or "arconnect" for path, _ in COMMANDS]


def _help(path: list[str], columns: int) -> str:
    """``arconnect PATH --help`` on a terminal ``columns`` wide; it must exit with 0."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", str(columns))
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = ROOT.main([*path, "--help"], prog_name="arconnect", standalone_mode=False)
    assert code == 0, out.getvalue()
    return out.getvalue()


def test_every_command_is_covered() -> None:
    assert {"demo", "sync", "run", "writeback", "tenants add", "sandbox serve xero"} <= set(IDS)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_help_names_what_each_option_takes(path: list[str], command: Any) -> None:
    shown = _help(path, 80)
    for param in command.params:
        if param.param_type_name == "option" and (param.is_flag or param.name == "help"):
            continue  # a flag takes no value
        metavar = param.metavar or ""
        where = f"{IDS[COMMANDS.index((path, command))]} {param.opts[0]}"
        # what the value is (TENANT, N, FILE...), not its Python type (TEXT, <str>, INTEGER)
        assert re.fullmatch(r"[A-Z][A-Z_|.-]*|[a-z]+(\|[a-z]+)+|YYYY-MM-DD", metavar), where
        assert metavar in shown, where


def _paragraph_joins(text: str) -> list[str]:
    """For each line break inside a paragraph of ``text``: the words either side of it, as
    the reader should see them (on one line, backticks rendered away)."""
    joins = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines = [line.replace("`", "").split() for line in paragraph.splitlines()]
        for before, after in zip(lines, lines[1:], strict=False):
            if before and after:
                joins.append(" ".join(before[-2:] + after[:1]))
    return joins


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_descriptions_flow_as_paragraphs(path: list[str], command: Any) -> None:
    # Wide enough that no paragraph wraps: each must show on one line.
    lines = [" ".join(line.strip(" │").split()) for line in _help(path, 1000).splitlines()]
    for text in [command.help or ""] + [p.help or "" for p in command.params
                                        if getattr(p, "help", None)]:
        for join in _paragraph_joins(text):
            assert any(join in line for line in lines), (join, command.name)
