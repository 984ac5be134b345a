"""The shipped QuickBooks Online mapping on real recorded QBO records
(tests/fixtures/qbo_recorded), read as the adapter hands them over (parsed with orjson and
annotated with the adapter's derived ``$`` keys).

The recorded company has no voided and no foreign-currency document: those two tests change a
recorded invoice the way QBO does (a void zeroes the amounts and notes "Voided"; a foreign
document carries ``CurrencyRef`` and ``ExchangeRate``).
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from arconnect.adapters.quickbooks._common import ENDPOINTS, annotate
from arconnect.mapping import check_mapping, load_mapping
from arconnect.store.vocabulary import VOCABULARY

FIXTURES = Path(__file__).parent.parent / "fixtures" / "qbo_recorded"
SYNCED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FILES: dict[str, str] = {"invoices": "recorded_sandbox_query_Invoice_page1.json",
         "payments": "recorded_sandbox_query_Payment_page1.json",
         "credit_memos": "recorded_sandbox_query_CreditMemo_page1.json",
         "customers": "nango_sandbox_query_Customer_page1.json"}


def raw(entity: str) -> list[dict[str, Any]]:
    body = orjson.loads((FIXTURES / FILES[entity]).read_bytes())
    return list(body["QueryResponse"][ENDPOINTS[entity].name])


def ctx(base: str = "USD") -> dict[str, Any]:
    return {"tenant_id": 7, "synced_at": SYNCED, "base_currency": base}


@pytest.fixture(scope="module")
def qbo() -> Any:
    return load_mapping("quickbooks")


def mapped(qbo: Any, entity: str, records: list[dict[str, Any]] | None = None,
           base: str = "USD") -> dict[str, list[dict[str, Any]]]:
    records = raw(entity) if records is None else records
    rows: dict[str, list[dict[str, Any]]] = qbo.entities[entity].map_page(
        annotate(ENDPOINTS[entity], records), ctx(base))
    return rows


def by_id(rows: list[dict[str, Any]], external_id: str) -> dict[str, Any]:
    return next(r for r in rows if r["external_id"] == external_id)


def test_the_mapping_checks_and_reads_every_entity_the_adapter_fetches(qbo: Any) -> None:
    assert list(qbo.entities) == list(ENDPOINTS)
    assert qbo.platform == "quickbooks"
    assert qbo.entities["payments"].tables == ("payment", "allocation")
    assert {r["entity"] for r in check_mapping("quickbooks")} == set(ENDPOINTS)


def test_invoices(qbo: Any) -> None:
    docs = mapped(qbo, "invoices")["document"]
    assert len(docs) == 31
    paid = by_id(docs, "96")
    assert paid["status"] == "paid" and paid["amount_due"] == Decimal("0.00")
    assert paid["is_deleted"] is False
    partly = by_id(docs, "67")
    assert partly["status"] == "open"
    assert (partly["total"], partly["amount_due"]) == (Decimal("459.00"), Decimal("239.00"))
    assert partly["total_base"] == Decimal("459.00")
    first = by_id(docs, "130")
    assert first["kind"] == "invoice" and first["number"] == "1037"
    assert first["customer_external_id"] == "24"
    assert (first["issue_date"], first["due_date"]) == (date(2024, 6, 20), date(2024, 7, 20))
    assert first["total"] == Decimal("362.07") and first["currency"] == "USD"
    assert first["source_updated_at"] == datetime(2024, 6, 20, 20, 16, 17, tzinfo=UTC)
    assert "fully_paid_on" not in first  # derived by the engine from the allocations


def test_a_voided_invoice_is_voided_and_owes_nothing(qbo: Any) -> None:
    invoice = copy.deepcopy(next(r for r in raw("invoices") if r["Id"] == "130"))
    invoice.update(TotalAmt=0, Balance=0, PrivateNote="Voided")
    (doc,) = mapped(qbo, "invoices", [invoice])["document"]
    assert doc["status"] == "voided" and doc["is_deleted"] is True
    assert doc["total"] == Decimal("0.00") and doc["amount_due"] == Decimal("0.00")
    # A paid invoice with a memo that mentions voiding is still paid.
    paid = copy.deepcopy(next(r for r in raw("invoices") if r["Id"] == "96"))
    paid["PrivateNote"] = "Voided cheque replaced"
    (doc,) = mapped(qbo, "invoices", [paid])["document"]
    assert doc["status"] == "paid"


def test_a_foreign_currency_invoice_multiplies_by_its_exchange_rate(qbo: Any) -> None:
    invoice = copy.deepcopy(next(r for r in raw("invoices") if r["Id"] == "67"))
    invoice.update(CurrencyRef={"value": "EUR", "name": "Euro"}, ExchangeRate=1.0825)
    (doc,) = mapped(qbo, "invoices", [invoice])["document"]
    assert doc["currency"] == "EUR" and doc["currency_rate"] == Decimal("1.0825")
    # home = amount × ExchangeRate: 459 EUR × 1.0825 = 496.87 USD; 239 × 1.0825 = 258.72
    assert doc["total_base"] == Decimal("496.87")
    assert doc["amount_due_base"] == Decimal("258.72")


def test_credit_memos(qbo: Any) -> None:
    (doc,) = mapped(qbo, "credit_memos")["document"]
    assert doc["kind"] == "credit_note" and doc["external_id"] == "73"
    assert doc["status"] == "paid"  # fully applied: RemainingCredit 0
    assert doc["amount_due"] == Decimal("0.00") and doc["total"] == Decimal("100.00")
    assert doc["customer_external_id"] == "1" and doc["issue_date"] == date(2024, 6, 3)


def test_a_payment_allocates_its_cash_to_each_linked_invoice(qbo: Any) -> None:
    rows = mapped(qbo, "payments")
    pay = by_id(rows["payment"], "120")
    assert pay["payment_type"] == "receipt" and pay["status"] == "posted"
    assert pay["amount"] == Decimal("1675.52") and pay["document_external_id"] == "12"
    assert pay["paid_on"] is not None and pay["customer_external_id"]
    alloc = by_id(rows["allocation"], "120:12")
    assert alloc["source_kind"] == "payment" and alloc["source_external_id"] == "120"
    assert alloc["document_external_id"] == "12" and alloc["amount"] == Decimal("1675.52")
    assert alloc["allocated_on"] == pay["paid_on"] and alloc["is_deleted"] is False
    # Every cash allocation of the page adds up to its payment's amount.
    for p in rows["payment"]:
        cash = sum((a["amount"] for a in rows["allocation"]
                    if a["source_kind"] == "payment" and a["source_external_id"] ==
                    p["external_id"]), Decimal(0))
        assert cash == p["amount"], p["external_id"]


def test_the_zero_payment_that_links_a_credit_memo_is_a_credit_allocation(qbo: Any) -> None:
    rows = mapped(qbo, "payments")
    link = by_id(rows["payment"], "74")
    assert link["payment_type"] == "credit_application"
    assert link["amount"] == Decimal("0.00")
    allocations = [a for a in rows["allocation"] if a["external_id"].startswith("74")]
    assert allocations == [{**allocations[0], "external_id": "74",
                            "source_kind": "credit_note", "source_external_id": "73",
                            "document_external_id": "71", "amount": Decimal("100.00")}]
    # Invoice 71 (205.00) was paid by payment 72's 105.00 cash and credit memo 73's 100.00.
    to_71 = {(a["source_kind"], a["source_external_id"]): a["amount"]
             for a in rows["allocation"] if a["document_external_id"] == "71"}
    assert to_71 == {("payment", "72"): Decimal("105.00"),
                     ("credit_note", "73"): Decimal("100.00")}


def test_deleting_the_credit_link_payment_unapplies_its_credit(qbo: Any) -> None:
    stone = {"Id": "74", "status": "Deleted", "MetaData": {}}
    updates = {(u.table, u.keys[1], u.keys[2:]): rows
               for u, rows in qbo.entities["payments"].map_tombstones([stone], ctx())}
    # every line the payment applied (its credit too) is found by the payment it came from
    (lines,) = updates[("allocation", "origin_external_id", ())]
    assert (lines["origin_external_id"], lines["is_deleted"]) == ("74", True)
    # and the link's allocation records payment 74 as its origin
    rows = mapped(qbo, "payments")
    (credit,) = [a for a in rows["allocation"] if a["external_id"] == "74"]
    assert (credit["source_kind"], credit["origin_external_id"]) == ("credit_note", "74")


def test_a_payment_with_cash_and_a_credit_splits_the_invoice(qbo: Any) -> None:
    payment = copy.deepcopy(next(r for r in raw("payments") if r["Id"] == "72"))
    payment.update(Id="900", TotalAmt=150, Line=[
        {"Amount": 200, "LinkedTxn": [{"TxnId": "71", "TxnType": "Invoice"}]},
        {"Amount": 50, "LinkedTxn": [{"TxnId": "73", "TxnType": "CreditMemo"}]},
        {"Amount": 10, "LinkedTxn": [{"TxnId": "5", "TxnType": "JournalEntry"}]},
    ])
    rows = mapped(qbo, "payments", [payment])
    assert rows["payment"][0]["payment_type"] == "receipt"
    assert {(a["external_id"], a["source_kind"], a["amount"]) for a in rows["allocation"]} == {
        ("900:73:71", "credit_note", Decimal("50.00")), ("900:71", "payment", Decimal("150.00"))}


def test_a_voided_payment_and_its_allocations_are_flagged(qbo: Any) -> None:
    payment = copy.deepcopy(next(r for r in raw("payments") if r["Id"] == "128"))
    payment.update(TotalAmt=0, PrivateNote="Voided", Line=[
        {"Amount": 0, "LinkedTxn": [{"TxnId": "96", "TxnType": "Invoice"}]}])
    rows = mapped(qbo, "payments", [payment])
    (pay,) = rows["payment"]
    assert pay["status"] == "voided" and pay["is_deleted"] is True
    assert pay["payment_type"] == "receipt"
    assert all(a["is_deleted"] for a in rows["allocation"])


def test_customers_with_sub_customers_and_what_the_writer_needs(qbo: Any) -> None:
    rows = mapped(qbo, "customers")["customer"]
    assert len(rows) == 33
    job = by_id(rows, "8")
    assert job["parent_external_id"] == "7"
    top = by_id(rows, "2")
    assert top["parent_external_id"] is None
    assert top["name"] == "Bill's Windsurf Shop" and top["email"] == "Surf@Intuit.com"
    assert top["status"] == "active" and top["is_archived"] is False
    assert top["delivery_mode"] == "paper" and top["default_currency"] == "USD"
    assert top["extra"]["sync_token"] == "0"
    inactive = {**raw("customers")[0], "Active": False}
    (row,) = mapped(qbo, "customers", [inactive])["customer"]
    assert row["status"] == "inactive" and row["is_archived"] is True


def test_intuit_reference_customer_sample_maps(qbo: Any) -> None:
    body = orjson.loads((FIXTURES / "intuit_docs_customer_query_a_customer_returns.json")
                        .read_bytes())
    rows = mapped(qbo, "customers", body["QueryResponse"]["Customer"])["customer"]
    assert rows and all(r["external_id"] and r["name"] for r in rows)


def test_refund_receipts(qbo: Any) -> None:
    # The shape of Intuit's RefundReceipt (all-entities/refundreceipt): a sales refund paid out.
    receipt = {"Id": "66", "DocNumber": "1020", "TxnDate": "2024-06-18", "TotalAmt": 87.5,
               "CustomerRef": {"value": "9", "name": "Pye's Cakes"},
               "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
               "MetaData": {"LastUpdatedTime": "2024-06-18T10:00:00-07:00"}}
    anonymous = {**receipt, "Id": "67"}
    del anonymous["CustomerRef"]
    (row,) = mapped(qbo, "refund_receipts", [receipt, anonymous])["payment"]
    assert (row["external_id"], row["payment_type"], row["status"]) == ("66", "refund", "posted")
    assert row["amount"] == Decimal("87.50") and row["customer_external_id"] == "9"


@pytest.mark.parametrize("entity,table,columns", [
    ("invoices", "document", {"status": "deleted", "is_deleted": True}),
    ("credit_memos", "document", {"status": "deleted", "is_deleted": True}),
    ("payments", "payment", {"status": "deleted", "is_deleted": True}),
    ("refund_receipts", "payment", {"status": "deleted", "is_deleted": True}),
    ("customers", "customer", {"status": "deleted", "is_archived": True}),
])
def test_cdc_tombstones_update_only_a_few_columns(qbo: Any, entity: str, table: str,
                                                  columns: dict[str, Any]) -> None:
    stone = {"Id": "96", "status": "Deleted",
             "MetaData": {"LastUpdatedTime": "2024-06-21T10:00:00-07:00"}}
    mapping = qbo.entities[entity]
    assert not any(mapping.map_page(annotate(ENDPOINTS[entity], [stone]), ctx()).values())
    updates = mapping.map_tombstones([stone], ctx())
    first, rows = updates[0]
    assert first.table == table
    (row,) = rows
    assert row["external_id"] == "96" and row["tenant_id"] == 7
    assert {k: row[k] for k in columns} == columns
    assert set(row) <= {"tenant_id", "external_id", "synced_at", *columns}


def test_only_the_store_words_are_written(qbo: Any) -> None:
    records = {e: annotate(ENDPOINTS[e], raw(e)) for e in FILES}
    for entity, recs in records.items():
        for table, rows in qbo.entities[entity].map_page(recs, ctx()).items():
            for (t, column), words in VOCABULARY.items():
                if t == table:
                    assert {r[column] for r in rows if column in r} <= set(words), (
                        entity, column)
