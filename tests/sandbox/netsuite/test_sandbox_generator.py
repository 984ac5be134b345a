"""The NetSuite sandbox's generated accounts: deterministic, in agreement with the Xero
sandbox's history for the same seed and sizes, and shaped as the SuiteQL tables are."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from arconnect.sandbox.netsuite.config import AccountSpec, NsConfig
from arconnect.sandbox.netsuite.generator import FIRST_TRANSACTION_ID, generate_account
from arconnect.sandbox.netsuite.model import CREDIT, INVOICE, PAYMENT, Account
from arconnect.sandbox.xero.generator import generate_org
from arconnect.sandbox.xero.model import OrgSpec

START = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
ZERO = Decimal(0)


def _spec(**overrides: Any) -> AccountSpec:
    base: dict[str, Any] = {"customers": 20, "invoices": 200, "payments": 150}
    base.update(overrides)
    return AccountSpec(**base)


def _account(seed: int = 7, **overrides: Any) -> Account:
    return generate_account(_spec(**overrides), 0, NsConfig(seed=seed), START)


@pytest.fixture(scope="module")
def account() -> Account:
    return _account(foreign_currency="CAD")


def _rows(account: Account, table: str) -> list[dict[str, Any]]:
    return [dict(r) for r in account.tables[table].rows()]


def test_same_seed_same_account_other_seed_other_account() -> None:
    one, two, other = _account(), _account(), _account(seed=8)
    for table in one.tables:
        assert _rows(one, table) == _rows(two, table), table
    assert _rows(one, "transaction") != _rows(other, "transaction")


def test_agrees_with_the_xero_history_of_the_same_seed(account: Account) -> None:
    org = generate_org(OrgSpec(name=account.name, base_currency="USD", customers=20,
                               invoices=200, payments=150, suppliers=0, bills=0,
                               country_code="US"), 0, 7, START)
    xero_invoices = [i for i in org.invoices.values()
                     if i["Type"] == "ACCREC" and i["Status"] != "DELETED"]
    txns = _rows(account, "transaction")
    invoices = [t for t in txns if t["type"] == INVOICE]
    assert len(invoices) == len(xero_invoices)
    live = [i for i in xero_invoices if i["Status"] != "VOIDED"]
    assert sum((t["foreigntotal"] for t in invoices), ZERO) == sum(
        (i["Total"] for i in live), ZERO)
    assert sum((t["foreignamountunpaid"] for t in invoices), ZERO) == sum(
        (i["AmountDue"] for i in live), ZERO)
    received = sum((p["Amount"] for p in org.payments.values()
                    if p["Status"] == "AUTHORISED" and p["PaymentType"] == "ACCRECPAYMENT"),
                   ZERO)
    cash = sum((c["Total"] for key in ("Overpayments", "Prepayments")
                for c in org.table(key).values()), ZERO)
    payments = [t for t in txns if t["type"] == PAYMENT]
    assert sum((t["foreigntotal"] for t in payments), ZERO) == received + cash
    memos = [t for t in txns if t["type"] == CREDIT]
    assert len(memos) == sum(1 for n in org.credit_notes.values()
                             if n["Type"] == "ACCRECCREDIT")
    deleted = Counter(r["recordtype"] for r in _rows(account, "deletedrecord"))
    assert deleted["invoice"] == sum(1 for i in org.invoices.values()
                                     if i["Type"] == "ACCREC" and i["Status"] == "DELETED")
    assert deleted["customer"] == 1  # the merged duplicate contact
    assert len(account.customers) == len(org.contacts) - 1


def test_links_add_up_to_what_each_invoice_was_paid(account: Account) -> None:
    applied: dict[int, Decimal] = {}
    kinds = set()
    for link in _rows(account, "nexttransactionlinelink"):
        assert link["previoustype"] == INVOICE and link["linktype"] == "Payment"
        kinds.add(link["nexttype"])
        applied[link["previousdoc"]] = applied.get(link["previousdoc"], ZERO) + \
            link["foreignamount"]
    assert kinds == {PAYMENT, CREDIT}
    for inv in _rows(account, "transaction"):
        if inv["type"] == INVOICE and not inv["voided"]:
            assert applied.get(inv["id"], ZERO) == inv["foreignamountpaid"], inv["id"]
    per_payment = Counter(link["nextdoc"] for link in _rows(account, "nexttransactionlinelink")
                          if link["nexttype"] == PAYMENT)
    assert max(per_payment.values()) >= 2  # a payment applied to several invoices


def test_voided_invoices_keep_their_id_with_zero_amounts(account: Account) -> None:
    voided = [t for t in _rows(account, "transaction") if t["voided"]]
    assert voided
    for inv in voided:
        assert inv["status"] == "V"
        assert inv["foreigntotal"] == inv["foreignamountunpaid"] == ZERO


def test_ids_per_record_type_and_one_transaction_sequence(account: Account) -> None:
    ids = [t["id"] for t in _rows(account, "transaction")]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert min(ids) > FIRST_TRANSACTION_ID
    customers = [c["id"] for c in _rows(account, "customer")]
    assert all(isinstance(i, int) for i in ids + customers)
    assert not set(customers) & set(ids)
    created = [t["createddate"] for t in _rows(account, "transaction")]
    assert created == sorted(created)  # ids follow creation order


def test_customers_sub_customers_inactive_custom_and_dunning_columns(account: Account) -> None:
    customers = _rows(account, "customer")
    columns = account.customers.columns
    assert {"custentity_ar_segment", "custentity_3805_dunning_procedure",
            "custentity_3805_dunning_manager", "custentity_3805_dunning_level"} <= columns
    assert any(c["isinactive"] for c in customers)
    assert {c["creditholdoverride"] for c in customers} == {"AUTO"}
    by_id = {c["id"]: c for c in customers}
    for c in customers:
        if c["parent"] is not None:
            assert by_id[c["parent"]]["currency"] == c["currency"]
    assert {c["custentity_3805_dunning_procedure"] for c in customers} - {None} <= {1, 2, 3}


def test_foreign_customers_on_the_foreign_subsidiary_with_rates(account: Account) -> None:
    subsidiaries = _rows(account, "subsidiary")
    currencies = {c["id"]: c["symbol"] for c in _rows(account, "currency")}
    assert [currencies[s["currency"]] for s in subsidiaries] == ["USD", "CAD"]
    base = next(c["id"] for c in _rows(account, "currency") if c["isbasecurrency"])
    customers = {c["id"]: c for c in _rows(account, "customer")}
    foreign = [c for c in customers.values() if c["currency"] != base]
    assert foreign and all(c["subsidiary"] == 2 for c in foreign)
    for t in _rows(account, "transaction"):
        cust = customers[t["entity"]]
        if cust["subsidiary"] == 1:
            assert (t["exchangerate"] == 1) == (t["currency"] == base)
        else:
            assert t["exchangerate"] != 1 or currencies[t["currency"]] == "CAD"


def test_without_oneworld_or_suiteapp_the_tables_are_gone() -> None:
    plain = _account(oneworld=False, dunning_suiteapp=False, custom_fields={})
    assert "subsidiary" not in plain.tables
    assert "customrecord_3805_dunning_procedure" not in plain.tables
    assert not any(c.startswith("custentity") for c in plain.customers.columns)
    assert {c["subsidiary"] for c in _rows(plain, "customer")} == {None}


def test_keyset_rows_start_after_an_id(account: Account) -> None:
    ids = [r["id"] for r in account.transactions.rows()]
    middle = ids[len(ids) // 2]
    after = [r["id"] for r in account.transactions.rows(after_id=middle)]
    assert after == ids[len(ids) // 2 + 1:]
    assert [r["id"] for r in account.transactions.rows(after_id=middle - 1)][0] == middle
