"""``Balances`` on a contact only when something is outstanding, as in the recorded live
``GET /Contacts`` (17 of 63 contacts carry it, each with an amount outstanding)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from arconnect.sandbox.xero import XeroSandbox

from .conftest import Client


def outstanding(sb: XeroSandbox, contact_id: str) -> tuple[Decimal, Decimal]:
    """What the contact owes and is owed: its open (AUTHORISED) invoices and bills."""
    org = sb.orgs[0]
    owed = {"ACCREC": Decimal(0), "ACCPAY": Decimal(0)}
    for inv_id in org.contact_docs.get(contact_id, ()):
        inv = org.invoices[inv_id]
        if inv["Status"] == "AUTHORISED":
            owed[inv["Type"]] += inv["AmountDue"]
    return owed["ACCREC"], owed["ACCPAY"]


def test_only_contacts_with_something_outstanding_carry_balances(client: Client) -> None:
    contacts = client.get("Contacts", {"page": 1, "includeArchived": "true"}).json()["Contacts"]
    with_balances = [c for c in contacts if "Balances" in c]
    without = [c for c in contacts if "Balances" not in c]
    assert with_balances and without
    assert any(c["IsCustomer"] for c in without)  # paid-up customers too, as recorded
    for c in contacts:
        receivable, payable = outstanding(client.sb, c["ContactID"])
        if "Balances" in c:
            balances = c["Balances"]
            assert (Decimal(str(balances["AccountsReceivable"]["Outstanding"])),
                    Decimal(str(balances["AccountsPayable"]["Outstanding"]))) == (
                receivable, payable)
            keys = list(c)
            assert keys[keys.index("DefaultCurrency") + 1] == "Balances"
        else:
            assert receivable == payable == 0, c["Name"]


def test_balances_come_back_in_place_when_a_paid_up_customer_owes_again(make_sb: Any) -> None:
    sb = make_sb()
    c = Client(sb)
    org = sb.orgs[0]
    invoice = next(
        inv for inv in org.invoices.values()
        if inv["Type"] == "ACCREC" and inv["Status"] == "PAID" and inv["Payments"]
        and "Balances" not in org.contacts[inv["Contact"]["ContactID"]]
        and org.payments[inv["Payments"][0]["PaymentID"]]["Status"] == "AUTHORISED")
    contact_id = invoice["Contact"]["ContactID"]
    before = c.get(f"Contacts/{contact_id}").json()["Contacts"][0]
    assert "Balances" not in before
    payment_id = invoice["Payments"][0]["PaymentID"]
    r = c.send("POST", f"Payments/{payment_id}", {"Payments": [{"Status": "DELETED"}]})
    assert r.status_code == 200
    after = c.get(f"Contacts/{contact_id}").json()["Contacts"][0]
    owed = Decimal(str(after["Balances"]["AccountsReceivable"]["Outstanding"]))
    assert owed == outstanding(sb, contact_id)[0] > 0
    assert [k for k in after if k != "Balances"] == list(before)
    keys = list(after)
    assert keys[keys.index("DefaultCurrency") + 1] == "Balances"
