"""The shipped Xero mapping on real recorded Xero records (tests/fixtures/xero_recorded)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from arconnect.mapping import RecordError, check_mapping, load_mapping
from arconnect.store.db import get_engine
from arconnect.store.models import SQLModel, Tenant
from arconnect.store.upsert import upsert

FIXTURES = Path(__file__).parent.parent / "fixtures" / "xero_recorded"
SYNCED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
KEYS = {
    "customer": ("tenant_id", "external_id"),
    "document": ("tenant_id", "external_id"),
    "payment": ("tenant_id", "external_id"),
    "allocation": ("tenant_id", "source_kind", "external_id"),
}


def records(name: str) -> list[dict[str, Any]]:
    body = json.loads((FIXTURES / f"{name}.json").read_text())
    (items,) = body.values()
    return list(items)


def ctx(base: str = "USD") -> dict[str, Any]:
    return {"tenant_id": 7, "synced_at": SYNCED, "base_currency": base}


@pytest.fixture(scope="module")
def xero() -> Any:
    return load_mapping("xero")


def test_entities_and_tables(xero: Any) -> None:
    assert list(xero.entities) == ["contacts", "invoices", "credit_notes", "payments",
                                   "overpayments", "prepayments"]
    assert xero.entities["credit_notes"].tables == ("document", "allocation")
    assert xero.entities["overpayments"].tables == ("document", "allocation")
    assert xero.entities["payments"].tables == ("payment", "allocation")
    assert xero.source.endswith("xero.yaml")


def test_contacts(xero: Any) -> None:
    out = xero.entities["contacts"].map_page(records("contacts"), ctx())
    rows = out["customer"]
    # Bayside Wholesale is a supplier only: skipped; "nango test" (neither yet) is kept
    assert [r["name"] for r in rows] == [
        "Hamilton Smith Ltd", "Bayside Club", "nango test", "Young Bros Transport"
    ]
    assert rows[0] == {
        "external_id": "fd89489e-699c-4d77-a881-10c127bfbeb3",
        "name": "Hamilton Smith Ltd",
        "number": None,
        "account_number": None,
        "email": "info@hsg.co",
        "status": "ACTIVE",
        "is_archived": False,
        "is_customer": True,
        "is_supplier": False,
        "merged_into_external_id": None,
        "default_currency": None,
        "terms_days": None,
        "terms_type": None,
        "groups": ["Training customers"],
        "extra": None,  # its addresses name no country
        "source_updated_at": datetime(2026, 4, 20, 18, 3, 41, 917000, tzinfo=UTC),
        "tenant_id": 7,
        "synced_at": SYNCED,
    }
    assert rows[1]["default_currency"] == "USD" and rows[1]["groups"] == []
    assert rows[2]["number"] == "211f9ce8bbedd85eab2bec2c0c3326c1c1c4fa739531b55d1d"


def test_contact_terms_archive_and_merge(xero: Any) -> None:
    rec = dict(records("contacts")[0])
    rec.update(ContactStatus="ARCHIVED", MergedToContactID="other-id",
               PaymentTerms={"Sales": {"Day": 30, "Type": "DAYSAFTERBILLDATE"}})
    (row,) = xero.entities["contacts"].map_page([rec], ctx())["customer"]
    assert row["is_archived"] is True and row["status"] == "ARCHIVED"
    assert row["merged_into_external_id"] == "other-id"
    assert (row["terms_days"], row["terms_type"]) == (30, "DAYSAFTERBILLDATE")


def test_invoices(xero: Any) -> None:
    out = xero.entities["invoices"].map_page(records("invoices"), ctx())
    rows = out["document"]
    assert [r["number"] for r in rows] == ["INV-0010", "INV-0016", "INV-0030"]  # bill skipped
    assert rows[0] == {
        "external_id": "4c4db294-3633-45cd-8706-f0b3b0079609",
        "kind": "invoice",
        "number": "INV-0010",
        "customer_external_id": "37918a06-92f6-4edb-bfe0-1fc041c90f8b",
        "status": "paid",
        "is_deleted": False,
        "issue_date": date(2026, 2, 25),
        "due_date": date(2026, 3, 10),
        "fully_paid_on": date(2026, 3, 8),
        "currency": "USD",
        "currency_rate": None,
        "total": Decimal("541.25"),
        "total_base": Decimal("541.25"),
        "amount_due": Decimal("0.00"),
        "amount_due_base": Decimal("0.00"),
        "amount_paid": Decimal("0.00"),
        "amount_credited": Decimal("541.25"),
        "reference": "Training",
        "source_updated_at": datetime(2008, 12, 20, 17, 38, 32, 660000, tzinfo=UTC),
        "tenant_id": 7,
        "synced_at": SYNCED,
    }
    partly = rows[1]
    assert (partly["status"], partly["fully_paid_on"]) == ("open", None)
    assert (partly["total"], partly["amount_due"], partly["amount_paid"]) == (
        Decimal("838.94"), Decimal("270.63"), Decimal("568.31"))
    assert rows[2]["currency_rate"] == Decimal("1") and rows[2]["status"] == "draft"
    for row in rows:
        for col in ("total", "total_base", "amount_due", "amount_paid"):
            assert isinstance(row[col], Decimal)


def test_voided_and_foreign_currency_invoice(xero: Any) -> None:
    rec = dict(records("invoices")[0])
    rec.update(Status="VOIDED", CurrencyCode="AUD", CurrencyRate=0.937053, Total=20.65,
               AmountDue=20.65)
    (row,) = xero.entities["invoices"].map_page([rec], ctx("NZD"))["document"]
    assert (row["status"], row["is_deleted"]) == ("voided", True)
    assert row["currency_rate"] == Decimal("0.937053")
    assert (row["total"], row["total_base"]) == (Decimal("20.65"), Decimal("22.04"))
    assert row["amount_due_base"] == Decimal("22.04")


def test_credit_notes_and_their_allocations(xero: Any) -> None:
    out = xero.entities["credit_notes"].map_page(records("credit_notes"), ctx("GBP"))
    (doc,) = out["document"]  # the ACCPAYCREDIT is skipped
    assert doc["kind"] == "credit_note" and doc["number"] == "CN-0025"
    assert doc["customer_external_id"] == "af0091a9-82ef-4cac-9fd6-22c095ac6a58"
    assert (doc["total"], doc["amount_due"]) == (Decimal("541.25"), Decimal("0.00"))
    assert doc["fully_paid_on"] == date(2025, 1, 16)
    # only the ACCRECCREDIT's allocation: the bill credit's is skipped by ^.Type
    assert out["allocation"] == [{
        "external_id": "93dcbf67-2f3c-445f-ac73-47a104eb8d17",
        "source_kind": "credit_note",
        "source_external_id": "47fb825b-3c43-4284-905f-c6d97acc6b37",
        "document_external_id": "773b421f-a764-4035-8664-625e4335d0e3",
        "customer_external_id": "af0091a9-82ef-4cac-9fd6-22c095ac6a58",
        "allocated_on": date(2025, 1, 16),
        "amount": Decimal("541.25"),
        "amount_base": Decimal("541.25"),
        "is_deleted": False,
        "tenant_id": 7,
        "synced_at": SYNCED,
    }]


def test_allocation_uses_the_credit_notes_rate(xero: Any) -> None:
    rec = json.loads(json.dumps(records("credit_notes")[0]))
    rec.update(CurrencyCode="NZD", CurrencyRate=1.54715)
    rec["Allocations"][0].update(Amount=500.0, IsDeleted=True)
    (alloc,) = xero.entities["credit_notes"].map_page([rec], ctx("USD"))["allocation"]
    assert (alloc["amount"], alloc["amount_base"]) == (Decimal("500.00"), Decimal("323.17"))
    assert alloc["is_deleted"] is True


def test_payments_and_their_allocations(xero: Any) -> None:
    out = xero.entities["payments"].map_page(records("payments"), ctx())
    pays, allocs = out["payment"], out["allocation"]
    assert len(pays) == len(allocs) == 3  # the ACCPAYPAYMENT is skipped
    assert pays[0] == {
        "external_id": "655ad293-0b35-4c2c-9a97-0ee979dd365f",
        "payment_type": "receipt",
        "document_external_id": "cb5119d0-9759-49d3-800b-7d0a90818178",
        "customer_external_id": "fd89489e-699c-4d77-a881-10c127bfbeb3",
        "status": "posted",
        "is_deleted": False,
        "paid_on": date(2026, 2, 26),
        "currency": "USD",
        "currency_rate": Decimal("0"),
        "amount": Decimal("541.25"),
        "amount_base": Decimal("541.25"),  # rate 0 on a base-currency payment: not divided
        "reference": "",
        "source_updated_at": datetime(2008, 12, 20, 20, 6, 27, 127000, tzinfo=UTC),
        "tenant_id": 7,
        "synced_at": SYNCED,
    }
    assert allocs[0] == {
        "external_id": "655ad293-0b35-4c2c-9a97-0ee979dd365f",
        "source_kind": "payment",
        "source_external_id": "655ad293-0b35-4c2c-9a97-0ee979dd365f",
        "document_external_id": "cb5119d0-9759-49d3-800b-7d0a90818178",
        "customer_external_id": "fd89489e-699c-4d77-a881-10c127bfbeb3",
        "allocated_on": date(2026, 2, 26),
        "amount": Decimal("541.25"),
        "amount_base": Decimal("541.25"),
        "is_deleted": False,
        "tenant_id": 7,
        "synced_at": SYNCED,
    }
    assert pays[1]["status"] == "deleted" and pays[1]["is_deleted"] is True
    assert allocs[1]["is_deleted"] is True


def test_refund_of_a_credit_note_points_at_the_credit_note(xero: Any) -> None:
    rec = dict(records("payments")[0])
    rec.pop("Invoice")
    rec.update(PaymentType="ARCREDITPAYMENT",
               CreditNote={"CreditNoteID": "cn-9", "CurrencyCode": "USD",
                           "Contact": {"ContactID": "c-9"}})
    out = xero.entities["payments"].map_page([rec], ctx())
    (pay,) = out["payment"]
    assert (pay["document_external_id"], pay["customer_external_id"], pay["currency"]) == (
        "cn-9", "c-9", "USD")
    assert pay["payment_type"] == "credit_note_refund"  # the store's word for ARCREDITPAYMENT


def test_a_bad_record_names_its_index_and_column(xero: Any) -> None:
    recs = records("invoices")
    bad = dict(recs[2])
    bad["Status"] = "APPROVED"
    with pytest.raises(RecordError) as err:
        xero.entities["invoices"].map_page([recs[0], bad], ctx())
    assert (err.value.index, err.value.column, err.value.table) == (1, "status", "document")
    assert "'APPROVED' is not allowed" in str(err.value)
    assert isinstance(err.value, ValueError)

    no_contact = dict(recs[0])
    no_contact.pop("Contact")
    with pytest.raises(RecordError) as err:
        xero.entities["invoices"].map_page([no_contact], ctx())
    assert err.value.column == "customer_external_id"
    assert "required value is missing (path Contact.ContactID)" in str(err.value)

    bad_date = dict(recs[0], DueDate="272")
    with pytest.raises(RecordError) as err:
        xero.entities["invoices"].map_page([bad_date], ctx())
    assert err.value.column == "due_date" and "'272'" in err.value.problem
    assert "(read from DueDate)" in err.value.problem

    with pytest.raises(RecordError) as err:
        xero.entities["invoices"].map_page([recs[0], "junk"], ctx())  # type: ignore[list-item]
    assert (err.value.index, err.value.column) == (1, "")


def test_map_page_is_pure(xero: Any) -> None:
    recs = records("payments")
    before = json.dumps(recs, sort_keys=True)
    first = xero.entities["payments"].map_page(recs, ctx())
    again = xero.entities["payments"].map_page(recs, ctx())
    assert first == again
    assert json.dumps(recs, sort_keys=True) == before
    assert xero.entities["payments"].map_page([], ctx()) == {"payment": [], "allocation": []}


def test_rows_fit_the_store(xero: Any, tmp_path: Path) -> None:
    """Every mapped row upserts into a real (SQLite) store and reads back the same."""
    engine = get_engine(f"sqlite:///{tmp_path}/store.db")
    with engine.begin() as conn:
        conn.execute(Tenant.__table__.insert().values(  # type: ignore[attr-defined]
            id=7, platform="xero", external_id="org", name="Demo", created_at=SYNCED,
            updated_at=SYNCED))
    for entity, name, base in (("contacts", "contacts", "USD"), ("invoices", "invoices", "USD"),
                               ("credit_notes", "credit_notes", "GBP"),
                               ("payments", "payments", "USD")):
        out = xero.entities[entity].map_page(records(name), ctx(base))
        with engine.begin() as conn:
            for table, rows in out.items():
                upsert(conn, SQLModel.metadata.tables[table], rows, KEYS[table])
    with engine.connect() as conn:
        docs = conn.execute(select(SQLModel.metadata.tables["document"])).mappings().all()
        allocs = conn.execute(select(SQLModel.metadata.tables["allocation"])).mappings().all()
    assert {d["number"] for d in docs} == {"INV-0010", "INV-0016", "INV-0030", "CN-0025"}
    inv = next(d for d in docs if d["number"] == "INV-0016")
    assert inv["amount_due"] == Decimal("270.63") and inv["issue_date"] == date(2026, 3, 10)
    assert len(allocs) == 4
    engine.dispose()


def test_overpayments_and_prepayments(xero: Any) -> None:
    # The spec's examples: supplier (SPEND-) overpayments are skipped; what the customer still
    # holds is the document's amount due.
    out = xero.entities["overpayments"].map_page(records("overpayments"), ctx("NZD"))
    docs = out["document"]
    assert len(docs) == 3 and {d["kind"] for d in docs} == {"overpayment"}
    assert {d["customer_external_id"] for d in docs} == {"430fa14a-f945-44d3-9f97-5df5e28441b8"}
    assert all(d["amount_due"] == Decimal("20.00") == d["amount_due_base"] for d in docs)
    assert all(d["status"] == "open" and not d["is_deleted"] for d in docs)
    assert out["allocation"] == []
    (deposit,) = xero.entities["prepayments"].map_page(records("prepayments"), ctx("NZD"))[
        "document"]
    assert deposit["kind"] == "prepayment" and deposit["amount_due"] == Decimal("3450.00")
    assert deposit["issue_date"] == date(2019, 3, 13) and deposit["reference"] == "INV-0011"
    # an allocation to an invoice becomes an allocation row in the credit's currency
    applied = dict(records("prepayments")[0], RemainingCredit=450.0, CurrencyCode="USD",
                   CurrencyRate=0.5, Allocations=[{
                       "AllocationID": "a1", "Amount": 3000.0, "Date": "/Date(1552435200000)/",
                       "Invoice": {"InvoiceID": "inv-1"}, "IsDeleted": False}])
    (row,) = xero.entities["prepayments"].map_page([applied], ctx("NZD"))["allocation"]
    assert row["source_kind"] == "prepayment" and row["document_external_id"] == "inv-1"
    assert row["amount"] == Decimal("3000.00") and row["amount_base"] == Decimal("6000.00")
    assert row["source_external_id"] == "ce0cddef-cf5a-4e59-b638-f225679115a7"


def test_check_mapping_summarises() -> None:
    rows = check_mapping("xero")
    assert [(r["entity"], r["table"]) for r in rows] == [
        ("contacts", "customer"), ("invoices", "document"), ("credit_notes", "document"),
        ("credit_notes", "allocation"), ("payments", "payment"), ("payments", "allocation"),
        ("overpayments", "document"), ("overpayments", "allocation"),
        ("prepayments", "document"), ("prepayments", "allocation"),
    ]
    assert all(r["fields"] > 5 for r in rows)
    assert rows[3]["each"] == "Allocations"


def test_the_yaml_lists_every_transform() -> None:
    from arconnect.transforms import TRANSFORMS

    text = Path(load_mapping("xero").source).read_text()
    header = text.split("\nversion:")[0]
    for name in [*TRANSFORMS, "xero_date", "xero_datetime"]:
        assert name in header, f"the comment block of xero.yaml does not explain {name}"


def test_each_over_nested_lists_and_single_objects(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "entities:\n"
        "  credit_notes:\n"
        "    rows:\n"
        "      - table: allocation\n"
        "        each: Allocations\n"
        "        skip_if: {path: Amount, missing: true}\n"
        "        fields:\n"
        "          external_id: AllocationID\n"
        "          source_kind: {const: credit_note}\n"
        "          source_external_id: ^.CreditNoteID\n"
        "          amount: {path: Amount, transform: decimal}\n"
    )
    entity = load_mapping(path).entities["credit_notes"]
    one = {"CreditNoteID": "cn", "Allocations": {"AllocationID": "a1", "Amount": 1}}
    many = {"CreditNoteID": "cn2", "Allocations": [{"AllocationID": "a2", "Amount": 2},
                                                   {"AllocationID": "a3"}]}
    rows = entity.map_page([one, many, {"CreditNoteID": "none"}], ctx())["allocation"]
    assert [(r["external_id"], r["source_external_id"], r["amount"]) for r in rows] == [
        ("a1", "cn", Decimal(1)), ("a2", "cn2", Decimal(2))]
    with pytest.raises(RecordError) as err:
        entity.map_page([{"CreditNoteID": "x", "Allocations": ["junk"]}], ctx())
    assert err.value.index == 0 and "not an object" in str(err.value)
