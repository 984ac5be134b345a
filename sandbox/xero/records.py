"""Builders for Xero-shaped records and the bookkeeping that keeps them consistent.

Key names and order follow the recorded live responses (``GET /Invoices``, ``/Payments``,
``/CreditNotes``, ``/Contacts``); field meanings follow the v16.1.0 spec schemas. Amounts are
Decimal. :func:`settle_invoice` recomputes an invoice's ``AmountPaid``/``AmountCredited``/
``AmountDue``, ``Status`` and ``FullyPaidOnDate`` from its payments and credit allocations, so the
generator and the mutations share one rule.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from arconnect.sandbox.xero.model import Org, Record
from arconnect.sandbox.xero.wire import date_string, dotnet_date, dotnet_ms, money

ZERO = Decimal("0")
SALES_ACCOUNT = ("200", "d1ebb1a4-1c2f-4a35-9f8e-0a4e8b5c7a10")
PURCHASES_ACCOUNT = ("429", "f96c9458-d724-47bf-8f74-a9d5726465ce")
BANK_ACCOUNT = ("090", "562555f2-8cde-4ce9-8203-0363922537a4")

# Sales tax by base currency: (rate, sales TaxType, purchases TaxType). NZ GST 15 % (OUTPUT2 /
# INPUT2 as in the NZ demo company), AU GST 10 %, UK VAT 20 %; elsewhere no tax.
TAX = {
    "NZD": (Decimal("0.15"), "OUTPUT2", "INPUT2"),
    "AUD": (Decimal("0.10"), "OUTPUT", "INPUT"),
    "GBP": (Decimal("0.20"), "OUTPUT2", "INPUT2"),
}
NO_TAX = (Decimal("0"), "NONE", "NONE")

CURRENCY_NAMES = {
    "NZD": "New Zealand Dollar", "AUD": "Australian Dollar", "USD": "United States Dollar",
    "GBP": "British Pound", "EUR": "Euro", "CAD": "Canadian Dollar", "SGD": "Singapore Dollar",
}


def contact_ref(contact: Record) -> Record:
    """The short contact object embedded in documents (as in every recorded document)."""
    return {
        "ContactID": contact["ContactID"], "Name": contact["Name"], "Addresses": [],
        "Phones": [], "ContactGroups": [], "ContactPersons": [], "HasValidationErrors": False,
    }


def group_ref(group: Record) -> Record:
    """A contact group as listed inside ``Contact.ContactGroups``."""
    return {"ContactGroupID": group["ContactGroupID"], "Name": group["Name"],
            "Status": group["Status"], "Contacts": [], "HasValidationErrors": False}


def line_item(line_id: str, description: str, quantity: Decimal, unit: Decimal,
              tax: tuple[Decimal, str, str], sales: bool) -> Record:
    """One Exclusive-tax line item."""
    amount = money(quantity * unit)
    code, account_id = SALES_ACCOUNT if sales else PURCHASES_ACCOUNT
    return {
        "Description": description, "UnitAmount": unit, "TaxType": tax[1] if sales else tax[2],
        "TaxAmount": money(amount * tax[0]), "LineAmount": amount, "AccountCode": code,
        "Tracking": [], "Quantity": quantity, "LineItemID": line_id, "AccountID": account_id,
    }


def document_totals(lines: list[Record]) -> tuple[Decimal, Decimal, Decimal]:
    """SubTotal, TotalTax and Total of Exclusive line items."""
    sub = sum((li["LineAmount"] for li in lines), ZERO)
    tax = sum((li["TaxAmount"] for li in lines), ZERO)
    return sub, tax, sub + tax


def invoice(*, invoice_id: str, kind: str, number: str, reference: str, contact: Record,
            day: date, due: date, status: str, lines: list[Record], currency: str,
            rate: Decimal, updated_ms: int) -> Record:
    """A new invoice (no payments yet) in the recorded key order."""
    sub, tax, total = document_totals(lines)
    return {
        "Type": kind, "InvoiceID": invoice_id, "InvoiceNumber": number, "Reference": reference,
        "Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
        "AmountDue": total if status != "VOIDED" and status != "DELETED" else ZERO,
        "AmountPaid": ZERO, "AmountCredited": ZERO, "CurrencyRate": rate,
        "IsDiscounted": False, "HasAttachments": False, "InvoiceAddresses": [],
        "HasErrors": False, "InvoicePaymentServices": [], "Contact": contact_ref(contact),
        "DateString": date_string(day), "Date": dotnet_date(day),
        "DueDateString": date_string(due), "DueDate": dotnet_date(due), "Status": status,
        "LineAmountTypes": "Exclusive", "LineItems": lines, "SubTotal": sub, "TotalTax": tax,
        "Total": total, "UpdatedDateUTC": dotnet_date(updated_ms), "CurrencyCode": currency,
    }


def credit_note(*, note_id: str, kind: str, number: str, reference: str, contact: Record,
                day: date, lines: list[Record], currency: str, rate: Decimal,
                updated_ms: int) -> Record:
    """A new AUTHORISED credit note with nothing allocated (recorded key order)."""
    sub, tax, total = document_totals(lines)
    return {
        "CreditNoteID": note_id, "CreditNoteNumber": number, "Payments": [], "ID": note_id,
        "HasErrors": False, "InvoiceAddresses": [], "CurrencyRate": rate, "Type": kind,
        "Reference": reference, "RemainingCredit": total, "Allocations": [],
        "HasAttachments": False, "Contact": contact_ref(contact),
        "DateString": date_string(day), "Date": dotnet_date(day), "Status": "AUTHORISED",
        "LineAmountTypes": "Exclusive", "LineItems": lines, "SubTotal": sub, "TotalTax": tax,
        "Total": total, "UpdatedDateUTC": dotnet_date(updated_ms), "CurrencyCode": currency,
    }


# Overpayments and prepayments received from customers: one record shape, two envelopes
# (spec schemas Overpayment / Prepayment; https://developer.xero.com/documentation/api/
# accounting/overpayments and /prepayments). Key: (envelope, id field, Type).
CASH_CREDITS = {
    "overpayment": ("Overpayments", "OverpaymentID", "RECEIVE-OVERPAYMENT"),
    "prepayment": ("Prepayments", "PrepaymentID", "RECEIVE-PREPAYMENT"),
}


def cash_credit(*, kind: str, credit_id: str, reference: str, contact: Record, day: date,
                amount: Decimal, currency: str, rate: Decimal, updated_ms: int) -> Record:
    """A new AUTHORISED overpayment or prepayment (``kind``) with nothing allocated, in the
    key order of the spec's getOverpayment example.

    Money received without an invoice to pay (prepayment) or beyond it (overpayment): no tax,
    one line item; ``RemainingCredit`` is what has not been allocated to invoices yet.
    """
    _, id_field, kind_type = CASH_CREDITS[kind]
    line: Record = {"Description": "Overpayment" if kind == "overpayment" else "Deposit",
            "UnitAmount": amount, "TaxType": "NONE", "TaxAmount": ZERO, "LineAmount": amount,
            "AccountCode": BANK_ACCOUNT[0], "Tracking": [], "Quantity": Decimal(1)}
    return {
        id_field: credit_id, "ID": credit_id, "CurrencyRate": rate, "Type": kind_type,
        "Reference": reference,
        "RemainingCredit": amount, "Allocations": [], "Payments": [], "HasAttachments": False,
        "Contact": contact_ref(contact), "DateString": date_string(day),
        "Date": dotnet_date(day), "Status": "AUTHORISED", "LineAmountTypes": "NoTax",
        "LineItems": [line], "SubTotal": amount, "TotalTax": ZERO, "Total": amount,
        "UpdatedDateUTC": dotnet_date(updated_ms), "CurrencyCode": currency,
    }


def allocation(allocation_id: str, amount: Decimal, day: date, inv: Record) -> Record:
    """A credit-note (or overpayment, prepayment) allocation to ``inv`` (shape of the recorded
    CreditNotes response)."""
    return {
        "AllocationID": allocation_id, "Amount": amount, "Date": dotnet_date(day),
        "Invoice": {
            "InvoiceID": inv["InvoiceID"], "InvoiceNumber": inv["InvoiceNumber"],
            "Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
            "IsDiscounted": False, "InvoiceAddresses": [], "HasErrors": False,
            "InvoicePaymentServices": [], "LineItems": [],
        },
        "IsDeleted": False,
    }


def payment(*, payment_id: str, inv: Record, day: date, amount: Decimal, rate: Decimal,
            base_currency: str, reference: str, status: str, updated_ms: int,
            reconciled: bool) -> Record:
    """A payment against ``inv`` (recorded ``GET /Payments`` key order).

    ``CurrencyRate`` is 0 for a base-currency payment, as the recorded live responses show;
    ``BankAmount`` is in the (base-currency) bank account's currency: ``Amount / rate``.
    """
    foreign = inv["CurrencyCode"] != base_currency
    bank_amount = money(amount / rate) if foreign and rate else amount
    return {
        "PaymentID": payment_id, "Date": dotnet_date(day), "BankAmount": bank_amount,
        "Amount": amount, "Reference": reference, "CurrencyRate": rate if foreign else ZERO,
        "PaymentType": "ACCRECPAYMENT" if inv["Type"] == "ACCREC" else "ACCPAYPAYMENT",
        "Status": status, "UpdatedDateUTC": dotnet_date(updated_ms), "HasAccount": True,
        "IsReconciled": reconciled,
        "Account": {"AccountID": BANK_ACCOUNT[1], "Code": BANK_ACCOUNT[0]},
        "Invoice": {
            "Type": inv["Type"], "InvoiceID": inv["InvoiceID"],
            "InvoiceNumber": inv["InvoiceNumber"], "Payments": [], "CreditNotes": [],
            "Prepayments": [], "Overpayments": [], "IsDiscounted": False,
            "InvoiceAddresses": [], "HasErrors": False, "InvoicePaymentServices": [],
            "Contact": dict(inv["Contact"]), "LineItems": [], "CurrencyCode": inv["CurrencyCode"],
        },
        "HasValidationErrors": False,
    }


def _payment_summary(pay: Record) -> Record:
    rate = pay["CurrencyRate"] or Decimal(1)
    return {"PaymentID": pay["PaymentID"], "Date": pay["Date"], "Amount": pay["Amount"],
            "CurrencyRate": rate, "Reference": pay["Reference"], "HasAccount": False,
            "HasValidationErrors": False}


def _credit_summary(note: Record, applied: Decimal) -> Record:
    return {"CreditNoteID": note["CreditNoteID"], "CreditNoteNumber": note["CreditNoteNumber"],
            "ID": note["CreditNoteID"], "HasErrors": False, "InvoiceAddresses": [],
            "AppliedAmount": applied, "DateString": note["DateString"], "Date": note["Date"],
            "LineItems": [], "Total": note["Total"]}


def _cash_summary(credit: Record, applied: Decimal) -> Record:
    # Inside an invoice, an applied overpayment or prepayment (assumed to mirror the credit
    # note summary: its id, date, total and the amount applied to this invoice).
    id_field = "OverpaymentID" if "OverpaymentID" in credit else "PrepaymentID"
    return {id_field: credit[id_field], "ID": credit[id_field], "AppliedAmount": applied,
            "DateString": credit["DateString"], "Date": credit["Date"], "LineItems": [],
            "Total": credit["Total"]}


def settle_invoice(org: Org, invoice_id: str) -> Record:
    """Recompute an invoice's paid/credited/due amounts, status and ``FullyPaidOnDate``.

    Only AUTHORISED payments and non-deleted allocations count. An AUTHORISED invoice with
    nothing due becomes PAID (``FullyPaidOnDate`` = the last payment or allocation date); a PAID
    one that owes again (a payment was deleted) goes back to AUTHORISED. Does not stamp
    ``UpdatedDateUTC`` and does not refresh caches: the caller does both.
    """
    inv = org.invoices[invoice_id]
    pays = [org.payments[p] for p in org.inv_payments.get(invoice_id, ())]
    live = [p for p in pays if p["Status"] == "AUTHORISED"]
    credits: list[tuple[Record, Decimal, str]] = []
    for note_id in org.inv_credits.get(invoice_id, ()):
        note = org.credit_notes[note_id]
        for alloc in note["Allocations"]:
            if alloc["Invoice"]["InvoiceID"] == invoice_id and not alloc["IsDeleted"]:
                credits.append((note, alloc["Amount"], alloc["Date"]))
    cash: dict[str, dict[str, Decimal]] = {"Overpayments": {}, "Prepayments": {}}
    for key, credit_id in org.inv_cash.get(invoice_id, ()):
        credit = org.table(key)[credit_id]
        for alloc in credit["Allocations"]:
            if alloc["Invoice"]["InvoiceID"] == invoice_id and not alloc["IsDeleted"]:
                credits.append((credit, alloc["Amount"], alloc["Date"]))
                cash[key][credit_id] = cash[key].get(credit_id, ZERO) + alloc["Amount"]
    paid = sum((p["Amount"] for p in live), ZERO)
    # AmountCredited: "sum of all credit notes, over-payments and pre-payments applied"
    credited = sum((c[1] for c in credits), ZERO)
    inv["Payments"] = [_payment_summary(p) for p in live]
    applied: dict[str, Decimal] = {}
    for note, amount, _ in credits:
        if "CreditNoteID" in note:
            applied[note["CreditNoteID"]] = applied.get(note["CreditNoteID"], ZERO) + amount
    inv["CreditNotes"] = [_credit_summary(org.credit_notes[n], a) for n, a in applied.items()]
    for key, by_id in cash.items():
        table = org.table(key)
        inv[key] = [_cash_summary(table[c], a) for c, a in by_id.items()]
    inv["AmountPaid"] = paid
    inv["AmountCredited"] = credited
    if inv["Status"] in ("VOIDED", "DELETED"):
        inv["AmountDue"] = ZERO
    else:
        inv["AmountDue"] = inv["Total"] - paid - credited
    inv.pop("FullyPaidOnDate", None)
    if inv["Status"] in ("AUTHORISED", "PAID"):
        if inv["AmountDue"] <= 0 and (live or credits):
            inv["Status"] = "PAID"
            dates = [p["Date"] for p in live] + [c[2] for c in credits]
            inv["FullyPaidOnDate"] = max(dates, key=dotnet_ms)
        else:
            inv["Status"] = "AUTHORISED"
    return inv


def settle_credit_note(note: Record) -> Record:
    """Recompute ``RemainingCredit`` and PAID/AUTHORISED from the live allocations (credit
    notes, overpayments and prepayments alike)."""
    if note["Status"] in ("VOIDED", "DELETED", "DRAFT", "SUBMITTED"):
        return note
    used = sum((a["Amount"] for a in note["Allocations"] if not a["IsDeleted"]), ZERO)
    note["RemainingCredit"] = note["Total"] - used
    note.pop("FullyPaidOnDate", None)
    if note["RemainingCredit"] <= 0 and note["Allocations"]:
        note["Status"] = "PAID"
        if "CreditNoteID" in note:  # the Overpayment and Prepayment schemas have no such field
            note["FullyPaidOnDate"] = max((a["Date"] for a in note["Allocations"]),
                                          key=dotnet_ms)
    else:
        note["Status"] = "AUTHORISED"
    return note


def contact_balances(org: Org, contact_id: str, today_ms: int) -> Record:
    """``Balances`` of one contact: open AUTHORISED documents in their own currencies, raw.

    The spec says these are not converted; the sum mixes currencies only for contacts that
    trade in several, which the generator never produces.
    """
    rec_out = rec_over = pay_out = pay_over = ZERO
    for inv_id in org.contact_docs.get(contact_id, ()):
        inv = org.invoices[inv_id]
        if inv["Status"] != "AUTHORISED":
            continue
        due = inv["AmountDue"]
        overdue = dotnet_ms(inv["DueDate"]) < today_ms
        if inv["Type"] == "ACCREC":
            rec_out += due
            rec_over += due if overdue else ZERO
        else:
            pay_out += due
            pay_over += due if overdue else ZERO
    return {"AccountsReceivable": {"Outstanding": rec_out, "Overdue": rec_over},
            "AccountsPayable": {"Outstanding": pay_out, "Overdue": pay_over}}


def set_balances(contact: Record, balances: Record) -> None:
    """Put ``Balances`` on a contact only when something is outstanding, as Xero does.

    In the recorded live ``GET /Contacts`` (63 contacts) only the 17 with an amount
    outstanding, receivable or payable, carry ``Balances``; the others — customers among them,
    such as Hamilton Smith Ltd in ``tests/fixtures/xero_recorded/contacts.json`` — have no key.
    When it comes back it takes its place after ``DefaultCurrency`` (the recorded key order).
    """
    if not (balances["AccountsReceivable"]["Outstanding"]
            or balances["AccountsPayable"]["Outstanding"]):
        contact.pop("Balances", None)
        return
    if "Balances" in contact:
        contact["Balances"] = balances
        return
    items = list(contact.items())
    after = "DefaultCurrency" if "DefaultCurrency" in contact else None
    contact.clear()
    for key, value in items:
        if key in ("PaymentTerms", "ContactPersons") and "Balances" not in contact:
            contact["Balances"] = balances
        contact[key] = value
        if key == after:
            contact["Balances"] = balances
    contact.setdefault("Balances", balances)


def refresh_contact(org: Org, contact_id: str, today_ms: int) -> None:
    """Recompute Balances/IsCustomer/IsSupplier of a contact without bumping UpdatedDateUTC.

    Xero: "Contact fields pulled from other sources such as Balances, IsSupplier, and
    isCustomer" do not change ``UpdatedDateUTC``
    (https://developer.xero.com/documentation/api/accounting/requests-and-responses).
    """
    contact = org.contacts[contact_id]
    kinds = {org.invoices[i]["Type"] for i in org.contact_docs.get(contact_id, ())}
    contact["IsSupplier"] = "ACCPAY" in kinds
    contact["IsCustomer"] = "ACCREC" in kinds
    set_balances(contact, contact_balances(org, contact_id, today_ms))
    org.contacts.touch(contact_id)


def organisation(org: Org) -> Record:
    """The ``GET /Organisation`` record (key order as the recorded live response)."""
    version = {"NZ": "NZ", "AU": "AU", "GB": "UK", "US": "US"}.get(org.country_code, "GLOBAL")
    return {
        "Name": org.name, "LegalName": org.name, "PaysTax": True, "Version": version,
        "OrganisationType": "COMPANY", "BaseCurrency": org.base_currency,
        "CountryCode": org.country_code, "IsDemoCompany": False, "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 31, "FinancialYearEndMonth": 3, "SalesTaxBasis": "INVOICE",
        "SalesTaxPeriod": "TWOMONTHS", "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive", "CreatedDateUTC": dotnet_date(org.created, False),
        "OrganisationEntityType": "COMPANY", "Timezone": org.timezone,
        "ShortCode": org.short_code, "OrganisationID": org.tenant_id, "Edition": "BUSINESS",
        "Class": "PREMIUM", "Addresses": [], "Phones": [], "ExternalLinks": [],
        "PaymentTerms": {"Bills": {"Day": 20, "Type": "OFFOLLOWINGMONTH"},
                         "Sales": {"Day": 20, "Type": "OFFOLLOWINGMONTH"}},
    }


def history_record(when: datetime, changes: str, details: str,
                   user: str = "System Generated") -> Record:
    """One ``HistoryRecords`` entry (spec example shape)."""
    return {"Changes": changes, "DateUTCString": when.strftime("%Y-%m-%dT%H:%M:%S"),
            "DateUTC": dotnet_date(when), "User": user, "Details": details}


def strip(record: Record, *keys: str) -> dict[str, Any]:
    """A shallow copy without ``keys``."""
    return {k: v for k, v in record.items() if k not in keys}
