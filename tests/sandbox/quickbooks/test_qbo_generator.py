"""The synthetic company: deterministic, the Xero generator's history translated to QBO's
entities, and balances that add up."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from arconnect.sandbox.quickbooks.generator import generate_company
from arconnect.sandbox.quickbooks.model import Company, CompanySpec
from arconnect.sandbox.quickbooks.records import LINK_NOTE
from arconnect.sandbox.xero.generator import generate_org
from arconnect.sandbox.xero.model import OrgSpec

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SPEC = CompanySpec(customers=40, invoices=500, payments=380)


@pytest.fixture(scope="module")
def company() -> Company:
    return generate_company(SPEC, 0, 7, START)


def test_deterministic(company: Company) -> None:
    again = generate_company(SPEC, 0, 7, START)
    assert again.realm_id == company.realm_id
    for entity, table in company.tables.items():
        assert [table.json(k) for k in table] == [again.tables[entity].json(k)
                                                  for k in again.tables[entity]], entity
    other = generate_company(SPEC, 0, 8, START)
    assert other.realm_id != company.realm_id


def test_same_history_as_the_xero_sandbox(company: Company) -> None:
    org = generate_org(OrgSpec(base_currency="USD", customers=40, invoices=500, payments=380,
                               suppliers=0, bills=0), 0, 7, START)
    sales = [i for i in org.invoices.values() if i["Type"] == "ACCREC"]
    kept = [i for i in sales if i["Status"] not in ("DELETED", "VOIDED")]
    invoices = company.tables["Invoice"].values()
    live = [i for i in invoices if i.get("PrivateNote") != "Voided"]
    assert len(live) == len(kept)
    assert sum(i["TotalAmt"] for i in live) == sum(i["Total"] for i in kept)
    assert sum(i["Balance"] for i in live) == sum(i["AmountDue"] for i in kept)
    assert len(company.tables["Customer"]) == len(org.contacts)
    assert sorted(company.archetypes.values()) == sorted(org.archetypes.values())
    deleted = sum(1 for i in sales if i["Status"] == "DELETED")
    assert sum(1 for (e, _) in company.tombstones if e == "Invoice") == deleted


def test_exchange_rate_multiplies(company: Company) -> None:
    foreign = [i for i in company.tables["Invoice"].values()
               if i["CurrencyRef"]["value"] != "USD" and i["TotalAmt"] > 0]
    assert foreign
    customers = company.tables["Customer"]
    for inv in foreign:
        assert inv["ExchangeRate"] > 0 and inv["ExchangeRate"] != 1
        cust = customers[inv["CustomerRef"]["value"]]
        assert cust["CurrencyRef"]["value"] == inv["CurrencyRef"]["value"]
    home = [i for i in company.tables["Invoice"].values() if i["CurrencyRef"]["value"] == "USD"]
    assert all(i["ExchangeRate"] == 1 for i in home)


def test_credit_memos_apply_through_zero_payments(company: Company) -> None:
    zero = [p for p in company.tables["Payment"].values() if p["TotalAmt"] == 0]
    assert zero
    for pay in zero:
        assert pay["PrivateNote"] == LINK_NOTE and pay["UnappliedAmt"] == 0
        kinds = sorted(line["LinkedTxn"][0]["TxnType"] for line in pay["Line"])
        assert kinds == ["CreditMemo", "Invoice"]
        assert pay["Line"][0]["Amount"] == pay["Line"][1]["Amount"]
        inv = company.tables["Invoice"][pay["Line"][0]["LinkedTxn"][0]["TxnId"]]
        assert {"TxnId": pay["Id"], "TxnType": "Payment"} in inv["LinkedTxn"]
    memos = company.tables["CreditMemo"].values()
    assert any(m["RemainingCredit"] > 0 for m in memos)  # open credit too
    assert all(m["Balance"] == m["RemainingCredit"] for m in memos)


def test_voids_subcustomers_inactive_and_unapplied(company: Company) -> None:
    voided = [i for i in company.tables["Invoice"].values() if i.get("PrivateNote") == "Voided"]
    assert voided and all(i["TotalAmt"] == 0 == i["Balance"] for i in voided)
    customers = company.tables["Customer"]
    jobs = [c for c in customers.values() if "ParentRef" in c]
    assert jobs
    for job in jobs:
        parent = customers[job["ParentRef"]["value"]]
        assert job["Job"] is True and job["Level"] == 1
        assert job["FullyQualifiedName"] == f"{parent['DisplayName']}:{job['DisplayName']}"
        assert parent["BalanceWithJobs"] == parent["Balance"] + sum(
            (c["Balance"] for c in jobs if c["ParentRef"]["value"] == parent["Id"]),
            Decimal(0))
    assert any(not c["Active"] for c in customers.values())
    assert any(p["UnappliedAmt"] > 0 for p in company.tables["Payment"].values())


def test_balances_add_up(company: Company) -> None:
    payments = company.tables["Payment"]
    for inv in company.tables["Invoice"].values():
        if inv.get("PrivateNote") == "Voided":
            continue
        paid = sum((line["Amount"] for p in payments.values() for line in p["Line"]
                    if line["LinkedTxn"][0] == {"TxnId": inv["Id"], "TxnType": "Invoice"}),
                   Decimal(0))
        assert inv["Balance"] == inv["TotalAmt"] - paid
    for cust_id, cust in company.tables["Customer"].items():
        owed = Decimal(0)
        for entity, txn_id in company.cust_docs.get(cust_id, ()):
            rec = company.tables[entity].get(txn_id)
            if entity == "Invoice" and rec:
                owed += rec["Balance"]
            elif entity == "CreditMemo" and rec:
                owed -= rec["RemainingCredit"]
            elif entity == "Payment" and rec:
                owed -= rec["UnappliedAmt"]
        assert cust["Balance"] == owed


def test_type_names_are_checked() -> None:
    with pytest.raises(ValueError, match="1-15 characters"):
        generate_company(CompanySpec(customers=5, invoices=10, payments=5,
                                     customer_types=("A name far too long",)), 0, 7, START)
