"""Changes between syncs (``sb.mutate(realm)``) and the void/delete operations of the API."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from arconnect.sandbox.quickbooks import QboSandbox
from arconnect.sandbox.quickbooks.records import LINK_NOTE

from .conftest import Api


def test_primitives_stamp_and_settle(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    company = sb.companies[0]
    mut = sb.mutate(company.realm_id)
    sb.clock.advance(3600)
    cust_id = mut.add_customer("Brand New Co")
    inv_id = mut.new_invoice(cust_id, Decimal("500.00"))
    inv = company.tables["Invoice"][inv_id]
    cust = company.tables["Customer"][cust_id]
    assert inv["Balance"] == Decimal("500.00") and cust["Balance"] == Decimal("500.00")
    sb.clock.advance(60)
    pay_id = mut.pay_invoice(inv_id, Decimal("200"))
    assert inv["Balance"] == Decimal("300.00") and cust["Balance"] == Decimal("300.00")
    assert inv["LinkedTxn"] == [{"TxnId": pay_id, "TxnType": "Payment"}]
    assert inv["SyncToken"] == "1"
    assert company.tables["Invoice"].updated[inv_id] == company.tables["Payment"].updated[pay_id]
    before = inv["DueDate"]
    mut.edit_invoice(inv_id, note="Called the customer")
    assert inv["DueDate"] > before and inv["PrivateNote"] == "Called the customer"
    mut.void_invoice(inv_id)
    assert inv["TotalAmt"] == 0 == inv["Balance"] and inv["PrivateNote"] == "Voided"
    pay = company.tables["Payment"][pay_id]
    assert pay["UnappliedAmt"] == Decimal("200") and cust["Balance"] == Decimal("-200")
    mut.delete("Payment", pay_id)
    assert ("Payment", pay_id) in company.tombstones and cust["Balance"] == 0
    mut.deactivate_customer(cust_id)
    assert cust["Active"] is False and cust["DisplayName"] == "Brand New Co (deleted)"


def test_apply_credit_makes_a_zero_payment(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    company = sb.companies[0]
    memo = next(m for m in company.tables["CreditMemo"].values() if m["RemainingCredit"] > 0)
    cust_id = memo["CustomerRef"]["value"]
    mut = sb.mutate()
    inv_id = mut.new_invoice(cust_id, memo["RemainingCredit"] + 10)
    link = company.tables["Payment"][mut.apply_credit(memo["Id"], inv_id)]
    assert link["TotalAmt"] == 0 and link["PrivateNote"] == LINK_NOTE
    assert memo["RemainingCredit"] == 0 and company.tables["Invoice"][inv_id]["Balance"] == 10


def test_random_changes(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    done = sb.mutate().random(40)
    assert sum(done.values()) >= 30 and done["new_invoice"] >= 1


def test_api_void_and_delete(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    api = Api(sb)
    inv_id = sb.mutate().new_invoice("2", Decimal("80"))
    token = api.get(f"invoice/{inv_id}").json()["Invoice"]["SyncToken"]
    voided = api.post("invoice", {"Id": inv_id, "SyncToken": token}, operation="void")
    assert voided.status_code == 200
    assert voided.json()["Invoice"]["PrivateNote"] == "Voided"
    token = voided.json()["Invoice"]["SyncToken"]
    gone = api.post("invoice", {"Id": inv_id, "SyncToken": token}, operation="delete")
    assert gone.json()["Invoice"]["status"] == "Deleted"
    assert api.get(f"invoice/{inv_id}").status_code == 400


def test_reactivating_a_customer_drops_the_suffix(make_qbo: Callable[..., QboSandbox]) -> None:
    sb = make_qbo()
    api = Api(sb)
    cust_id = sb.mutate().add_customer("Back Again Ltd")
    sb.mutate().deactivate_customer(cust_id)
    token = api.get(f"customer/{cust_id}").json()["Customer"]["SyncToken"]
    done = api.post("customer", {"Id": cust_id, "SyncToken": token, "sparse": True,
                                 "Active": True}).json()["Customer"]
    assert done["Active"] is True and done["DisplayName"] == "Back Again Ltd"
