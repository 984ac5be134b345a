"""Progress where nobody watches a terminal (cron, CI, container logs): plain lines, not bars
that show nothing until the end."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from arconnect.adapters.base import Page
from arconnect.cli import app
from arconnect.clock import Clock, set_clock
from arconnect.console import PlainSyncProgress, write_progress
from arconnect.sandbox.xero import OrgSpec
from arconnect.settings import get_settings
from tests.sync.conftest import sandbox_env


def _out() -> Console:
    return Console(file=io.StringIO(), width=200)  # a file: not a terminal


def _lines(out: Console) -> list[str]:
    return out.file.getvalue().splitlines()  # type: ignore[attr-defined]


def _page(n: int, size: int = 100) -> Page:
    return Page([{}] * size, {}, n, item_count=1_250)


def test_sync_lines_every_n_pages_or_seconds_and_when_an_entity_is_done() -> None:
    out, clock = _out(), Clock()
    progress = PlainSyncProgress(out, pages=3, seconds=10.0, clock=clock)
    progress.entity_started("Demo [bold]Company\x1b[2J", "invoices")
    for n in range(1, 8):
        progress.page_done("Demo [bold]Company\x1b[2J", "invoices", _page(n), 100)
    clock.advance(10.5)  # ten seconds pass before the next page: a line, whatever the count
    progress.page_done("Demo [bold]Company\x1b[2J", "invoices", _page(8, 50), 50)
    progress.entity_done("Demo [bold]Company\x1b[2J", "invoices", 750)
    assert _lines(out) == [
        "Demo [bold]Company[2J · invoices: page 3, 300 of 1,250 records",
        "Demo [bold]Company[2J · invoices: page 6, 600 of 1,250 records",
        "Demo [bold]Company[2J · invoices: page 8, 750 of 1,250 records",
        "Demo [bold]Company[2J · invoices: done, 750 records in 8 pages",
    ]


def test_write_back_lines_every_50_calls_or_10_seconds_and_at_the_last_call() -> None:
    out = _out()
    set_clock(Clock())
    with write_progress("write-back", out) as report:
        for n in range(1, 121):
            report(n, 120)
    assert _lines(out) == ["write-back: 50/120 calls, 42%", "write-back: 100/120 calls, 83%",
                           "write-back: 120/120 calls, 100%"]


def test_sync_and_run_print_progress_lines_when_output_is_not_a_terminal(
        monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    org = OrgSpec(name="North Ltd", customers=12, invoices=150, payments=100, suppliers=2,
                  bills=10)
    set_clock(Clock(600.0))  # write-back's pacing on a scaled clock: no waiting
    with sandbox_env(monkeypatch, sqlite_url, org=org, page_size=10) as env:
        monkeypatch.setenv("ARCONNECT_WRITEBACK_APPROVAL_SHARE", "1")  # no approval needed
        get_settings.cache_clear()
        invoices = sum(1 for i in env.org.invoices.values() if i["Type"] == "ACCREC")

        synced = CliRunner().invoke(app, ["sync"])  # output captured: not a terminal
        assert synced.exit_code == 0, synced.output
        pages = [(int(p), int(r.replace(",", ""))) for p, r in re.findall(
            r"^North Ltd · invoices: page (\d+), ([\d,]+)(?: of [\d,]+)? records$",
            synced.stderr, re.M)]
        assert pages and all(records == page * 10 for page, records in pages), synced.stderr
        assert (f"North Ltd · invoices: done, {invoices:,} records in "
                f"{-(-invoices // 10)} pages") in synced.stderr.splitlines()
        for entity in ("contacts", "credit_notes", "payments", "overpayments", "prepayments"):
            assert re.search(rf"^North Ltd · {entity}: done, ", synced.stderr, re.M), entity
        assert "North Ltd ·" not in synced.stdout  # stdout holds the result only

        ran = CliRunner().invoke(app, ["run"])
        assert ran.exit_code == 0, ran.output
        calls = re.findall(r"^North Ltd · write-back: (\d+)/(\d+) calls, (\d+)%$", ran.stderr,
                           re.M)
        assert calls, ran.stderr
        made, planned, share = calls[-1]
        assert made == planned != "0" and share == "100", ran.stderr
