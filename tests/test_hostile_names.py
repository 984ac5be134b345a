"""Names from the ERP or a CSV file are data, never markup: every table and message shows them
as typed, without their control characters, and never with a traceback."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import sys

import pytest
from rich.console import Console

from arconnect import cli
from arconnect.console import clean, plain, safe
from arconnect.segmenter.service import export_text
from arconnect.services import writeback_context
from tests.clitools import (
    HOSTILE_CUSTOMERS,
    SHOWN_CUSTOMERS,
    SHOWN_TENANT,
    Run,
    arconnect,
    cut_headers,
    hostile_org,
    render,
)


def _shown_safely(run: Run) -> None:
    """No control character reached the terminal, and at 80 columns no header word is cut."""
    assert "\x1b" not in run.output and "\x9b" not in run.output, run.output
    for table in run.tables:
        assert not cut_headers(table, 80), (cut_headers(table, 80), render(table, 80))


def test_clean_keeps_the_text_and_drops_control_characters() -> None:
    assert clean("evil\x1b[2Jname") == "evil[2Jname"
    assert clean("a\tb\r\nc\x07\x9b\u202e") == "a b c"
    assert clean(None) == ""
    assert plain("[bold red]Acme").plain == "[bold red]Acme"
    assert safe("Beacon [/] Surveyors") == "Beacon \\[/] Surveyors"


def test_hostile_names_in_every_table_and_message(monkeypatch: pytest.MonkeyPatch,
                                                  sqlite_url: str) -> None:
    with hostile_org(monkeypatch, sqlite_url) as env:
        tenant = str(env.tenant.id)
        # (names are checked in the tables' cells: at 80 columns a long one folds)
        synced = arconnect("sync")
        assert SHOWN_TENANT[:20] in synced.output  # the progress (20 characters on a bar)
        listed = arconnect("tenants", "list")
        segmented = arconnect("segment", "--show", "50")
        diffed = arconnect("rules", "diff", "upflow")
        preview = arconnect("writeback", tenant, "--dry-run", "--show", "100")
        for run in (synced, listed):
            assert SHOWN_TENANT in run.cells()
        for run in (segmented, diffed, preview):
            assert any(cell.startswith(SHOWN_TENANT + ": ") for cell in run.cells())
        for run in (segmented, preview):
            assert set(SHOWN_CUSTOMERS) <= run.cells()

        said = " ".join(preview.stdout.split())
        plan_id = re.search(r"--plan (wb-[\w-]+)", said)[1]  # type: ignore[index]
        applied = arconnect("writeback", tenant, "--apply", "--plan", plan_id, "--by",
                            "[red]cfo")
        assert "applied" in applied.stdout
        # someone takes the customer with the escape sequence out of its group by hand
        ctx = writeback_context(env.db, env.tenant)
        cid = next(k for k, c in env.org.contacts.items() if c["Name"] == HOSTILE_CUSTOMERS[2])
        for gid in ctx.writer.read_groups(ctx.client).values():
            if str(cid).lower() in {str(m).lower() for m in ctx.writer.read_members(ctx.client,
                                                                                   gid)}:
                resp = ctx.client.request("DELETE", ctx.writer.full_path(
                    f"ContactGroups/{gid}/Contacts/{cid}"))
                assert resp.status_code < 300
        drift = arconnect("drift", tenant)
        assert f"{SHOWN_TENANT}: drift (1)" in drift.cells()
        assert SHOWN_CUSTOMERS[2] in drift.cells()
        adopted = arconnect("drift", tenant, "--adopt", HOSTILE_CUSTOMERS[2])
        assert f"{SHOWN_CUSTOMERS[2]} group:segment: adopted" in adopted.stdout
        audited = arconnect("audit", tenant, "--limit", "500")
        assert f"{SHOWN_TENANT}: write-back plans" in audited.cells()
        assert "[red]cfo" in audited.cells()
        assert set(SHOWN_CUSTOMERS) <= audited.cells()

        ran = arconnect("run", "--no-writeback")
        assert SHOWN_TENANT in ran.cells()
        for run in (synced, listed, segmented, diffed, preview, applied, drift, adopted,
                    audited, ran, arconnect("rules", "check"), arconnect("mappings", "check")):
            _shown_safely(run)

        # export: JSON keeps every name exactly (escaped); CSV is safe in a spreadsheet
        exported = arconnect("export", tenant, "--format", "json")
        _shown_safely(exported)
        names = {r["name"] for r in json.loads(exported.stdout)}
        assert set(HOSTILE_CUSTOMERS) <= names
        as_csv = arconnect("export", tenant, "--format", "csv")
        _shown_safely(as_csv)
        rows = {r["customer_id"]: r for r in csv.DictReader(io.StringIO(as_csv.stdout))}
        by_name = {r["name"] for r in rows.values()}
        assert "'" + HOSTILE_CUSTOMERS[4] in by_name and HOSTILE_CUSTOMERS[4] not in by_name
        assert {"Beacon [/] Surveyors", "[bold red]Acme", "evil[2Jname"} <= by_name
        to_file = arconnect("export", tenant, "--format", "csv", "-o", "[bold]out.csv")
        assert "wrote [bold]out.csv" in to_file.output  # (the cwd is the test's folder)

        # a user error naming the tenant: one clean line, no traceback, nothing changed
        monkeypatch.setattr(sys, "argv", ["arconnect", "tenants", "disconnect", tenant])
        monkeypatch.setattr(sys, "stdin", io.StringIO())  # not a terminal: nobody to ask
        captured = io.StringIO()
        monkeypatch.setattr(sys, "stderr", captured)
        with pytest.raises(SystemExit) as exit_:
            cli.main()
        assert exit_.value.code == 2
        said = " ".join(captured.getvalue().split())
        assert "error:" in said and SHOWN_TENANT in said and "Traceback" not in said
        assert "\x1b" not in captured.getvalue()


def test_csv_export_neutralises_formulas_and_keeps_numbers() -> None:
    row = {"customer_id": "@SUM(A1)", "name": '=HYPERLINK("http://evil.example","x")',
           "segment": "+1", "tags": ["-risk"], "credit_limit": -12.5, "terms_days": 30,
           "credit_hold": False, "locked": False, "reasons": ["\tcmd", "fine"],
           "metrics": {"open_balance": -3.25, "delivery_mode": "\r=cmd", "note": "a\x1b[2Jb"}}
    (header, line), = [list(csv.reader(io.StringIO(export_text([row], "csv"))))]
    cells = dict(zip(header, line, strict=True))
    assert cells["customer_id"] == "'@SUM(A1)"
    assert cells["name"] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert cells["segment"] == "'+1" and cells["tags"] == "'-risk"
    assert cells["reasons"] == "'\tcmd | fine"
    assert cells["delivery_mode"] == "'\r=cmd" and cells["note"] == "a[2Jb"
    # numbers are numbers: a negative amount is not a formula and stays as it is
    assert cells["credit_limit"] == "-12.5" and cells["open_balance"] == "-3.25"
    text = export_text([row], "json")
    assert "\x1b" not in text and json.loads(text)[0]["metrics"]["note"] == "a\x1b[2Jb"


def test_log_lines_carry_no_control_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    # the handler the CLI installs (``arconnect -v``), on a fresh root logger
    monkeypatch.setattr(logging.root, "handlers", [])
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    cli._root(version=False, verbose=True)
    (handler,) = logging.root.handlers
    out = io.StringIO()
    monkeypatch.setattr(handler, "console", Console(file=out, width=200, color_system=None))
    logging.getLogger("arconnect.http").warning(
        "POST %s: %s", "Contacts", "Xero said: evil\x1b[2Jname\x9b31m\nsecond line")
    shown = out.getvalue()
    assert "evil[2Jname31m" in shown and "second line" in shown
    assert "\x1b" not in shown and "\x9b" not in shown
