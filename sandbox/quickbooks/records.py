"""QBO-shaped record builders and the settlement rules that keep balances consistent.

Key names and order follow the recorded sandbox responses kept in
``tests/fixtures/qbo_recorded/`` (Customer, Invoice, Payment, CreditMemo) and Intuit's
Customer and Batch reference samples; RefundReceipt, Term, CustomerType, CompanyInfo and
Preferences, which no recording shows, follow the field names of Intuit's v3 XSD
(https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/term and the
sibling entity pages), in the same envelope order (``domain``, ``sparse``, ``Id``,
``SyncToken``, ``MetaData`` …).

Settlement: an invoice's ``Balance`` is its ``TotalAmt`` less every Payment line linked to it;
a credit memo's ``RemainingCredit`` (= ``Balance``) is its ``TotalAmt`` less the lines of the
$0 Payments that apply it; a Payment's ``UnappliedAmt`` is ``TotalAmt`` less its invoice lines
plus its credit memo lines; a customer's ``Balance`` is its open invoices less its open credit
(in the customer's currency) and ``BalanceWithJobs`` adds its sub-customers'.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

from arconnect.sandbox.quickbooks.model import Company, Record
from arconnect.sandbox.quickbooks.wire import ZERO, money, stamp

CURRENCY_NAMES = {"USD": "United States Dollar", "NZD": "New Zealand Dollar",
                  "AUD": "Australian Dollar", "GBP": "British Pound Sterling", "EUR": "Euro",
                  "CAD": "Canadian Dollar", "SGD": "Singapore Dollar"}
UNDEPOSITED_FUNDS = "4"  # DepositToAccountRef of the recorded payments
LINK_NOTE = "Created by QB Online to link credits to charges."
CUSTOMER_MEMO = "Thank you for your business and have a great day!"


def ref(value: str, name: str | None = None) -> Record:
    """A reference type ``{"value": …, "name": …}``."""
    return {"value": value} if name is None else {"value": value, "name": name}


def meta(company: Company, created: datetime, updated: datetime) -> Record:
    """``MetaData`` with ``CreateTime`` and ``LastUpdatedTime`` in the company's offset."""
    return {"CreateTime": stamp(created, company.tz),
            "LastUpdatedTime": stamp(updated, company.tz)}


def currency_ref(code: str) -> Record:
    """``CurrencyRef`` as recorded: ``{"value": "USD", "name": "United States Dollar"}``."""
    return ref(code, CURRENCY_NAMES.get(code, code))


def address(addr_id: str, street: str, city: str, region: str, postcode: str) -> Record:
    """A physical address (``BillAddr``/``ShipAddr``)."""
    return {"Id": addr_id, "Line1": street, "City": city, "CountrySubDivisionCode": region,
            "PostalCode": postcode}


def doc_bill_addr(cust: Record) -> Record:
    """A sales document's ``BillAddr``: free-form lines (contact, company, street, "City, ST
    ZIP"), as the recorded invoices and credit memos show it."""
    addr = cust["BillAddr"]
    person = f"{cust.get('GivenName', '')} {cust.get('FamilyName', '')}".strip()
    return {"Id": str(int(addr["Id"]) + 1000), "Line1": person or cust["DisplayName"],
            "Line2": cust["CompanyName"], "Line3": addr["Line1"],
            "Line4": f"{addr['City']}, {addr['CountrySubDivisionCode']}  {addr['PostalCode']}"}


def pseudonym(realm_id: str, cust_id: str) -> str:
    """``V4IDPseudonym``: an opaque, stable 38-hex-digit value per customer."""
    return "00" + hashlib.sha256(f"{realm_id}:{cust_id}".encode()).hexdigest()[:36]


def customer(company: Company, *, cust_id: str, display: str, given: str, family: str,
             email: str, addr: Record, currency: str, created: datetime,
             updated: datetime, parent: Record | None = None,
             term: Record | None = None, ctype: Record | None = None,
             active: bool = True) -> Record:
    """A Customer in the recorded key order (2026 sandbox ``SELECT * FROM Customer``)."""
    rec: Record = {"Taxable": False, "BillAddr": addr, "ShipAddr": dict(addr),
                   "Job": parent is not None, "BillWithParent": False}
    if parent is not None:
        rec["ParentRef"] = ref(parent["Id"])
        rec["Level"] = 1
    qualified = f"{parent['DisplayName']}:{display}" if parent is not None else display
    rec.update({
        "Balance": ZERO, "BalanceWithJobs": ZERO, "CurrencyRef": currency_ref(currency),
        "PreferredDeliveryMethod": "Email", "IsProject": False, "ClientEntityId": "0",
        "domain": "QBO", "sparse": False, "Id": cust_id, "SyncToken": "0",
        "MetaData": meta(company, created, updated), "GivenName": given,
        "FamilyName": family, "FullyQualifiedName": qualified, "CompanyName": display,
        "DisplayName": display, "PrintOnCheckName": display, "Active": active,
        "V4IDPseudonym": pseudonym(company.realm_id, cust_id),
        "PrimaryEmailAddr": {"Address": email},
    })
    if term is not None:
        rec["SalesTermRef"] = ref(term["Id"], term["Name"])
    if ctype is not None:
        rec["CustomerTypeRef"] = ref(ctype["Id"], ctype["Name"])
    return rec


def sales_lines(items: list[tuple[str, str, Decimal, Decimal, Decimal]]) -> list[Record]:
    """``Line[]``: one SalesItemLineDetail per (item id, description, qty, unit price,
    amount), then the SubTotalLineDetail line, as recorded."""
    lines: list[Record] = []
    total = ZERO
    for n, (item_id, text, qty, unit, amount) in enumerate(items, start=1):
        total += amount
        lines.append({"Id": str(n), "LineNum": n, "Description": text, "Amount": amount,
                      "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": ref(item_id, text), "UnitPrice": unit,
                                              "Qty": qty, "TaxCodeRef": ref("TAX")}})
    lines.append({"Amount": total, "DetailType": "SubTotalLineDetail",
                  "SubTotalLineDetail": {}})
    return lines


def tax_detail(net: Decimal, tax: Decimal) -> Record:
    """``TxnTaxDetail``: ``{"TotalTax": 0}`` without tax, else one percent-based tax line."""
    if tax == 0:
        return {"TotalTax": ZERO}
    percent = (tax / net * 100).quantize(Decimal("0.01")) if net else ZERO
    return {"TxnTaxCodeRef": ref("2"), "TotalTax": tax,
            "TaxLine": [{"Amount": tax, "DetailType": "TaxLineDetail",
                         "TaxLineDetail": {"TaxRateRef": ref("3"), "PercentBased": True,
                                           "TaxPercent": percent, "NetAmountTaxable": net}}]}


def _sales_doc_head(company: Company, txn_id: str, created: datetime, updated: datetime,
                    number: str, day: date, currency: str, rate: Decimal | None) -> Record:
    rec: Record = {"domain": "QBO", "sparse": False, "Id": txn_id, "SyncToken": "0",
                   "MetaData": meta(company, created, updated), "CustomField": [],
                   "DocNumber": number, "TxnDate": day.isoformat(),
                   "CurrencyRef": currency_ref(currency)}
    if company.multicurrency:
        rec["ExchangeRate"] = rate if rate is not None else Decimal(1)
    return rec


def invoice(company: Company, *, txn_id: str, number: str, cust: Record, day: date,
            due: date, lines: list[Record], tax: Decimal, currency: str,
            rate: Decimal | None, created: datetime, updated: datetime,
            term: Record | None) -> Record:
    """An Invoice in the recorded key order (``Balance`` set by :func:`settle_invoice`)."""
    net = lines[-1]["Amount"]
    rec: Record = {"AllowIPNPayment": False, "AllowOnlinePayment": False,
           "AllowOnlineCreditCardPayment": False, "AllowOnlineACHPayment": False}
    rec.update(_sales_doc_head(company, txn_id, created, updated, number, day, currency, rate))
    rec.update({"LinkedTxn": [], "Line": lines, "TxnTaxDetail": tax_detail(net, tax),
                "CustomerRef": ref(cust["Id"], cust["DisplayName"]),
                "CustomerMemo": {"value": CUSTOMER_MEMO}, "BillAddr": doc_bill_addr(cust),
                "ShipAddr": dict(cust["ShipAddr"])})
    if term is not None:
        rec["SalesTermRef"] = ref(term["Id"], term["Name"])
    rec.update({"DueDate": due.isoformat(), "TotalAmt": money(net + tax),
                "ApplyTaxAfterDiscount": False, "PrintStatus": "NotSet",
                "EmailStatus": "EmailSent", "BillEmail": dict(cust["PrimaryEmailAddr"]),
                "Balance": money(net + tax)})
    return rec


def credit_memo(company: Company, *, txn_id: str, number: str, cust: Record, day: date,
                lines: list[Record], tax: Decimal, currency: str, rate: Decimal | None,
                created: datetime, updated: datetime) -> Record:
    """A CreditMemo in the recorded key order (``RemainingCredit`` leads, as recorded)."""
    net = lines[-1]["Amount"]
    total = money(net + tax)
    rec: Record = {"RemainingCredit": total}
    rec.update(_sales_doc_head(company, txn_id, created, updated, number, day, currency, rate))
    rec.update({"Line": lines, "TxnTaxDetail": tax_detail(net, tax),
                "CustomerRef": ref(cust["Id"], cust["DisplayName"]),
                "CustomerMemo": {"value": CUSTOMER_MEMO}, "BillAddr": doc_bill_addr(cust),
                "ShipAddr": dict(cust["ShipAddr"]), "TotalAmt": total,
                "ApplyTaxAfterDiscount": False, "PrintStatus": "NotSet",
                "EmailStatus": "NotSet", "BillEmail": dict(cust["PrimaryEmailAddr"]),
                "Balance": total})
    return rec


def payment(company: Company, *, txn_id: str, cust: Record, day: date, total: Decimal,
            links: list[tuple[str, str, Decimal]], currency: str, rate: Decimal | None,
            created: datetime, updated: datetime, ref_num: str | None = None,
            method: str | None = None, note: str | None = None) -> Record:
    """A Payment in the recorded key order; ``links`` are (TxnId, TxnType, Amount) lines."""
    rec: Record = {"CustomerRef": ref(cust["Id"], cust["DisplayName"])}
    if total != 0:
        rec["DepositToAccountRef"] = ref(UNDEPOSITED_FUNDS)
    if method is not None:
        rec["PaymentMethodRef"] = ref(method)
    if ref_num is not None:
        rec["PaymentRefNum"] = ref_num
    rec.update({"TotalAmt": total, "UnappliedAmt": ZERO, "ProcessPayment": False,
                "domain": "QBO", "sparse": False, "Id": txn_id, "SyncToken": "0",
                "MetaData": meta(company, created, updated), "TxnDate": day.isoformat(),
                "CurrencyRef": currency_ref(currency)})
    if company.multicurrency:
        rec["ExchangeRate"] = rate if rate is not None else Decimal(1)
    if note is not None:
        rec["PrivateNote"] = note
    rec["Line"] = [{"Amount": amount, "LinkedTxn": [{"TxnId": tid, "TxnType": kind}]}
                   for tid, kind, amount in links]
    settle_payment(rec)
    return rec


def refund_receipt(company: Company, *, txn_id: str, number: str, cust: Record, day: date,
                   amount: Decimal, currency: str, rate: Decimal | None, created: datetime,
                   updated: datetime) -> Record:
    """A RefundReceipt (money paid back to a customer; it does not touch receivables)."""
    rec = _sales_doc_head(company, txn_id, created, updated, number, day, currency, rate)
    rec.update({"PrivateNote": "Refund", "Line": sales_lines([("1", "Refund", Decimal(1), amount,
                                                                amount)]),
                "TxnTaxDetail": {"TotalTax": ZERO},
                "CustomerRef": ref(cust["Id"], cust["DisplayName"]),
                "BillAddr": doc_bill_addr(cust), "TotalAmt": amount,
                "ApplyTaxAfterDiscount": False, "PrintStatus": "NotSet", "Balance": ZERO,
                "PaymentMethodRef": ref("2"), "DepositToAccountRef": ref("35")})
    return rec


def term(company: Company, *, term_id: str, name: str, days: int | None,
         day_of_month: int | None, created: datetime) -> Record:
    """A Term: STANDARD (``DueDays``) or DATE_DRIVEN (``DayOfMonthDue``)."""
    rec: Record = {"Name": name, "Active": True}
    if day_of_month is None:
        rec.update({"Type": "STANDARD", "DueDays": days or 0})
    else:
        rec.update({"Type": "DATE_DRIVEN", "DayOfMonthDue": day_of_month,
                    "DueNextMonthDays": 0})
    rec.update({"domain": "QBO", "sparse": False, "Id": term_id, "SyncToken": "0",
                "MetaData": meta(company, created, created)})
    return rec


def customer_type(company: Company, *, type_id: str, name: str,
                  created: datetime) -> Record:
    """A CustomerType (read and query only in the API)."""
    return {"Name": name, "Active": True, "domain": "QBO", "sparse": False, "Id": type_id,
            "SyncToken": "0", "MetaData": meta(company, created, created)}


def company_info(company: Company, created: datetime) -> Record:
    """``CompanyInfo`` (Id 1)."""
    name = company.name
    return {"CompanyName": name, "LegalName": name,
            "CompanyAddr": address("1", "2500 Garcia Ave", "Mountain View", "CA", "94043"),
            "CustomerCommunicationAddr": address("1", "2500 Garcia Ave", "Mountain View", "CA",
                                                 "94043"),
            "LegalAddr": address("1", "2500 Garcia Ave", "Mountain View", "CA", "94043"),
            "PrimaryPhone": {}, "CompanyStartDate": created.date().isoformat(),
            "FiscalYearStartMonth": "January", "Country": company.spec.country,
            "Email": {"Address": "noreply@quickbooks.com"}, "WebAddr": {},
            "SupportedLanguages": "en", "NameValue": [], "domain": "QBO", "sparse": False,
            "Id": "1", "SyncToken": "0", "MetaData": meta(company, created, created)}


def preferences(company: Company, created: datetime) -> Record:
    """``Preferences`` (Id 1): the currency settings and the sales-form custom fields."""
    fields = [{"Name": f"SalesFormsPrefs.SalesCustomName{k}", "Type": "StringType",
               "StringValue": name}
              for k, name in enumerate(company.spec.custom_fields, start=1)]
    return {"SalesFormsPrefs": {"CustomField": [{"CustomField": fields}],
                                "AllowDeposit": False, "AllowDiscount": True,
                                "DefaultTerms": ref("3")},
            "CurrencyPrefs": {"MultiCurrencyEnabled": company.multicurrency,
                              "HomeCurrency": ref(company.home_currency)},
            "domain": "QBO", "sparse": False, "Id": "1", "SyncToken": "0",
            "MetaData": meta(company, created, created)}


# ---- settlement -------------------------------------------------------------------------------
def _applied(company: Company, txn_id: str, kind: str) -> Decimal:
    payments = company.tables["Payment"]
    total = ZERO
    for pay_id in company.links.get(txn_id, ()):
        pay = payments.get(pay_id)
        if pay is None:
            continue
        for line in pay["Line"]:
            for link in line["LinkedTxn"]:
                if link["TxnId"] == txn_id and link["TxnType"] == kind:
                    total += line["Amount"]
    return total


def settle_invoice(company: Company, inv: Record) -> None:
    """``Balance`` and ``LinkedTxn`` from the payments linked to the invoice."""
    links = [p for p in company.links.get(inv["Id"], ()) if p in company.tables["Payment"]]
    inv["LinkedTxn"] = [{"TxnId": p, "TxnType": "Payment"} for p in links]
    inv["Balance"] = max(inv["TotalAmt"] - _applied(company, inv["Id"], "Invoice"), ZERO)


def settle_credit_memo(company: Company, memo: Record) -> None:
    """``RemainingCredit`` and ``Balance`` from the $0 payments applying the memo."""
    left = max(memo["TotalAmt"] - _applied(company, memo["Id"], "CreditMemo"), ZERO)
    memo["RemainingCredit"] = left
    memo["Balance"] = left


def settle_payment(pay: Record) -> None:
    """``UnappliedAmt`` = total less invoice lines plus credit memo lines."""
    used = ZERO
    for line in pay["Line"]:
        kind = line["LinkedTxn"][0]["TxnType"] if line["LinkedTxn"] else ""
        used += line["Amount"] if kind == "Invoice" else -line["Amount"]
    pay["UnappliedAmt"] = max(pay["TotalAmt"] - used, ZERO)


def settle_customers(company: Company, ids: list[str] | None = None) -> None:
    """``Balance`` and ``BalanceWithJobs`` (never bumps ``LastUpdatedTime``; assumed)."""
    customers = company.tables["Customer"]
    todo = list(customers) if ids is None else list(ids)
    parents = {customers[c]["ParentRef"]["value"] for c in todo
               if c in customers and "ParentRef" in customers[c]}
    for cust_id in todo:
        if cust_id not in customers:
            continue
        owed = ZERO
        for entity, txn_id in company.cust_docs.get(cust_id, ()):
            rec = company.tables[entity].get(txn_id)
            if rec is None:
                continue
            if entity == "Invoice":
                owed += rec["Balance"]
            elif entity == "CreditMemo":
                owed -= rec["RemainingCredit"]
            elif entity == "Payment":
                owed -= rec["UnappliedAmt"]
        customers[cust_id]["Balance"] = money(owed)
        customers[cust_id]["BalanceWithJobs"] = money(owed)
        customers.touch(cust_id, customers.updated[cust_id])
    children: dict[str, list[str]] = {}
    for cust_id, rec in customers.items():
        if "ParentRef" in rec:
            children.setdefault(rec["ParentRef"]["value"], []).append(cust_id)
    for parent_id in (parents | {c for c in todo if c in children}):
        rec = customers.get(parent_id)
        if rec is None:
            continue
        rec["BalanceWithJobs"] = money(rec["Balance"] + sum(
            (customers[c]["Balance"] for c in children.get(parent_id, ())), ZERO))
        customers.touch(parent_id, customers.updated[parent_id])


def bump(company: Company, entity: str, rec: Record, when: datetime) -> None:
    """A user change at ``when``: ``SyncToken`` + 1, ``LastUpdatedTime`` = ``when``."""
    rec["SyncToken"] = str(int(rec["SyncToken"]) + 1)
    rec["MetaData"]["LastUpdatedTime"] = stamp(when, company.tz)
    company.tables[entity].touch(rec["Id"], when)


def with_note(rec: Record, note: str) -> Record:
    """``rec`` with ``PrivateNote`` set, placed where QBO puts it (before ``LinkedTxn`` or
    ``Line``, after ``CurrencyRef``/``ExchangeRate``)."""
    if "PrivateNote" in rec:
        rec["PrivateNote"] = note
        return rec
    out: Record = {}
    for key, value in rec.items():
        if key in ("LinkedTxn", "Line") and "PrivateNote" not in out:
            out["PrivateNote"] = note
        out[key] = value
    rec.clear()
    rec.update(out)
    return rec


def void(rec: Record) -> None:
    """An invoice voided: Id and lines kept, quantities and amounts 0, ``LinkedTxn`` empty,
    ``PrivateNote`` "Voided" (intuit/QuickBooks-V3-PHP-SDK #167: "Void invoices will return
    with a balance and total_amount of 0.0000 and Void in the private_note"; Intuit's blog post
    "Voiding invoice objects", 2016-04-06, quoted in mcohen01/node-quickbooks #105)."""
    for line in rec["Line"]:
        line["Amount"] = ZERO
        detail = line.get("SalesItemLineDetail")
        if detail is not None:
            detail["Qty"] = ZERO
    rec["LinkedTxn"] = []
    rec["TxnTaxDetail"] = {"TotalTax": ZERO}
    rec["TotalAmt"] = ZERO
    rec["Balance"] = ZERO
    with_note(rec, "Voided")
