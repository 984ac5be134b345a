"""DataTable, the table every command prints: data shown as typed, readable at 80 columns."""

from __future__ import annotations

from rich import box

from arconnect.console import DataTable, plain
from tests.clitools import cut_headers, render


def _tenants_like() -> DataTable:
    # long values in every column: rich's last resort narrows all columns evenly, headers too
    table = DataTable(title="Tenants", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("id", "platform", "name", "ERP id", "currency", "status", "last sync",
                "write-back plan"):
        table.add_column(col)
    table.add_row("1", "xero", "Wellington-Harbour-Engineering-Services",
                  "44af4aa3-3281-4b0a-abda-3c8bde979181", "NZD",
                  "reconnect_required: invalid_grant", "2026-12-03 18:05 UTC",
                  "wb-20261203-180519-50da0d ready (needs approval)")
    return table


def test_at_80_columns_headers_fold_between_words_and_values_fold_whole() -> None:
    table = _tenants_like()
    assert cut_headers(table, 80) == []  # no header word cut, no line wider than 80
    shown = "\n".join(render(table, 80))
    # a value too long for its column folds over lines, never cut short with an ellipsis
    assert "…" not in shown
    assert "44af4aa" in shown and "wb-2026" in shown


def test_titles_headers_and_cells_are_plain_text() -> None:
    table = DataTable(title="[bold]Beacon [/] Surveyors\x1b[2J")
    table.add_column("[red]name\x07")
    table.add_row("evil\x1b[2J[blink]name", plain("ok", "green"))
    lines = render(table, 80)
    text = "\n".join(lines)
    assert "[bold]Beacon [/] Surveyors[2J" in " ".join(text.split())  # (the title wraps)
    assert "[red]name" in text and "evil[2J[blink]name" in text
    assert "\x1b" not in text and "\x07" not in text
