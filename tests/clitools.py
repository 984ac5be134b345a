"""Running ``arconnect`` commands in-process for tests: a given terminal width, the tables
each command printed, and an organisation whose names are hostile to a terminal."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.testing import CliRunner, Result

from arconnect import console as console_module
from arconnect.cli import app
from arconnect.clock import Clock, set_clock
from arconnect.errors import ArconnectError
from arconnect.sandbox.xero import OrgSpec
from tests.sync.conftest import XeroEnv, sandbox_env

# Names a terminal must show as typed: rich markup (a closing tag that crashed rich with a
# MarkupError, a style that restyled the terminal), an escape sequence that clears the screen,
# a C1 control, and a spreadsheet formula.
HOSTILE_CUSTOMERS = (
    "Beacon [/] Surveyors",
    "[bold red]Acme",
    "evil\x1b[2Jname",
    "C1\x9b31mcontrol",
    '=HYPERLINK("http://evil.example","click")',
)
# ... and how they look once the control characters are gone
SHOWN_CUSTOMERS = ("Beacon [/] Surveyors", "[bold red]Acme", "evil[2Jname", "C131mcontrol",
                   '=HYPERLINK("http://evil.example","click")')
HOSTILE_TENANT = "Beacon [/] Surveyors \x1b[2J[bold red]Ltd"
SHOWN_TENANT = "Beacon [/] Surveyors [2J[bold red]Ltd"


@dataclass
class Run:
    """One command's outcome: its result and the tables it printed."""

    result: Result
    tables: list[Table] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return self.result.stdout

    @property
    def output(self) -> str:
        return self.result.output

    def cells(self) -> set[str]:
        """The text of every title and cell of the tables printed (a long value folds over
        several lines on screen)."""
        out = set()
        for table in self.tables:
            out.add(_text(table.title))
            for column in table.columns:
                out.update(_text(cell) for cell in column.cells)
        return out


def _text(value: object) -> str:
    return value.plain if isinstance(value, Text) else str(value)


def arconnect(*args: str, width: int = 80, code: int = 0) -> Run:
    """Run ``arconnect ARGS`` in this process with a terminal ``width`` columns wide (no
    colours), check its exit code, and collect the tables it printed."""
    tables: list[Table] = []
    out = console_module.console
    printer = out.print

    def record(*objects: Any, **kwargs: Any) -> None:
        tables.extend(o for o in objects if isinstance(o, Table))
        printer(*objects, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        for c in (out, console_module.err_console):
            mp.setattr(c, "_width", width)  # as COLUMNS=width would at start-up
            mp.setattr(c, "_color_system", None)  # no styles: any ESC byte came from data
        mp.setattr(out, "print", record)
        result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, ArconnectError):
        exit_code = 2  # a user's mistake: ``main`` prints it as one line and exits with 2
    else:
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception, result.output)  # anything else would be a traceback
        exit_code = result.exit_code
    assert exit_code == code, (result.exception, result.output)
    return Run(result, tables)


@contextmanager
def hostile_org(monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[XeroEnv]:
    """A connected sandbox organisation called :data:`HOSTILE_TENANT` whose first customers
    are called :data:`HOSTILE_CUSTOMERS` (not yet synced)."""
    org = OrgSpec(name=HOSTILE_TENANT, customers=10, invoices=80, payments=60, suppliers=1,
                  bills=4)
    set_clock(Clock(600.0))  # write-back's pacing on a scaled clock: no waiting
    try:
        with sandbox_env(monkeypatch, db_url, org=org) as env:
            customers = sorted(cid for cid, c in env.org.contacts.items()
                               if c.get("IsCustomer") and c["ContactStatus"] == "ACTIVE")
            for cid, name in zip(customers, HOSTILE_CUSTOMERS, strict=False):
                env.org.contacts[cid]["Name"] = name
                env.org.contacts.touch(cid)  # the sandbox re-renders it
            yield env
    finally:
        set_clock(None)


_BOX = re.compile(r"[\u2500-\u257f]")


def header_lines(table: Table, width: int) -> list[str]:
    """The lines ``table``'s header takes when rendered ``width`` columns wide."""
    bare = copy.copy(table)  # the same columns and rows, no title or caption
    bare.title = bare.caption = None
    lines = render(bare, width)
    rule = next(i for i, line in enumerate(lines)
                if i > 0 and line.strip() and not _BOX.sub("", line).strip())
    return [line for line in lines[:rule] if _BOX.sub("", line).strip()]


def render(table: Table, width: int) -> list[str]:
    """``table`` as plain text lines, ``width`` columns wide."""
    # on a wider console, so that a table wider than ``width`` shows instead of being cropped
    out = Console(width=width * 4, color_system=None, file=io.StringIO())
    out.print(table, width=width)
    return [line.rstrip() for line in out.file.getvalue().splitlines()]  # type: ignore[attr-defined]


def cut_headers(table: Table, width: int = 80) -> list[str]:
    """Header pieces that are not a whole word of a header (a word cut in two), and lines
    wider than ``width``."""
    words = set()
    for column in table.columns:
        header = column.header.plain if isinstance(column.header, Text) else str(column.header)
        words.update(header.split())
    problems = [line for line in render(table, width) if cell_len(line) > width]
    for line in header_lines(table, width):
        problems += [piece for piece in _BOX.sub(" ", line).split() if piece not in words]
    return problems
