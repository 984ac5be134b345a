"""The sync summary counts records by what they are, whatever each platform calls its
entities (Xero's contacts and credit notes, QuickBooks' customers, credit memos and refund
receipts)."""

from __future__ import annotations

from rich.console import Console

from arconnect.console import sync_table
from arconnect.mapping import load_mapping
from arconnect.sync import SyncResult


def _result(platform: str, records: dict[str, int]) -> SyncResult:
    mapping = load_mapping(platform)
    return SyncResult(1, platform, 1, status="ok", records=records,
                      categories={e: mapping.entities[e].category for e in records})


def test_each_platforms_entities_land_in_the_same_columns() -> None:
    xero = _result("xero", {"contacts": 7, "invoices": 20, "credit_notes": 2,
                            "overpayments": 1, "prepayments": 1, "payments": 15})
    qbo = _result("quickbooks", {"customers": 7, "invoices": 20, "credit_memos": 4,
                                 "payments": 14, "refund_receipts": 1})
    out = Console(width=120, record=True)
    out.print(sync_table([xero, qbo]))
    lines = [" ".join(line.split()) for line in out.export_text().splitlines()]
    assert "tenant customers invoices credits payments calls 429s secs status" in lines
    assert "xero 7 20 4 15 0 0 0.0 ok" in lines
    assert "quickbooks 7 20 4 15 0 0 0.0 ok" in lines
