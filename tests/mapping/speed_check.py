"""How long mapping 100,000 Xero invoices takes (target: under 1.5 s on the CI machine).

Run: ``.venv/bin/python tests/mapping/speed_check.py [count]``. The invoices are varied (unique
ids, timestamps and amounts, several currencies and dates) so caches cannot flatter the number.
``test_speed.py`` runs it too and prints the time; it asserts nothing about speed.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from arconnect.mapping import load_mapping

DAY_MS = 86_400_000


def make_invoices(count: int) -> list[dict[str, Any]]:
    """``count`` ACCREC invoices shaped like Xero's GET /Invoices records."""
    out = []
    start = 1_700_000_000_000
    currencies = [("USD", 1), ("USD", 1), ("AUD", 0.937053), ("NZD", 1.54715)]
    for i in range(count):
        cur, rate = currencies[i % 4]
        day = start - (i % 900) * DAY_MS
        total = round(100 + (i * 37.13) % 9000, 2)
        paid = i % 3 == 0
        inv: dict[str, Any] = {
            "Type": "ACCREC",
            "InvoiceID": str(uuid.UUID(int=i)),
            "InvoiceNumber": f"INV-{i:06d}",
            "Reference": f"PO {i % 500}",
            "Payments": [],
            "CreditNotes": [],
            "AmountDue": 0 if paid else total,
            "AmountPaid": total if paid else 0,
            "AmountCredited": 0,
            "Contact": {"ContactID": str(uuid.UUID(int=10**9 + i % 2000)), "Name": "X"},
            "DateString": "2023-11-14T00:00:00",
            "Date": f"/Date({day}+0000)/",
            "DueDate": f"/Date({day + 30 * DAY_MS}+0000)/",
            "Status": "PAID" if paid else "AUTHORISED",
            "LineAmountTypes": "Exclusive",
            "SubTotal": total,
            "TotalTax": 0,
            "Total": total,
            "UpdatedDateUTC": f"/Date({start + i * 1013}+0000)/",
            "CurrencyCode": cur,
            "CurrencyRate": rate,
        }
        if paid:
            inv["FullyPaidOnDate"] = f"/Date({day + (i % 60) * DAY_MS}+0000)/"
        out.append(inv)
    return out


def run(count: int = 100_000, page_size: int = 1000) -> float:
    """Map ``count`` invoices in pages of ``page_size``; return the seconds it took."""
    entity = load_mapping("xero").entities["invoices"]
    records = make_invoices(count)
    context = {"tenant_id": 1, "synced_at": datetime.now(UTC), "base_currency": "USD"}
    began = time.perf_counter()
    rows = 0
    for start in range(0, count, page_size):
        rows += len(entity.map_page(records[start : start + page_size], context)["document"])
    seconds = time.perf_counter() - began
    assert rows == count
    return seconds


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"mapped {n:,} Xero invoices in {run(n):.2f} s")
