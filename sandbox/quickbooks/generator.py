"""Deterministic synthetic QBO companies, translated from the Xero sandbox's generator.

The customers, invoices, payments and credits are those :func:`arconnect.sandbox.xero.
generator.generate_org` makes for the same seed, index and sizes (so segments compare across
platforms), translated to QBO's entities:

==========================  ====================================================================
Xero                        QBO
==========================  ====================================================================
contact (ACTIVE/ARCHIVED)   Customer (``Active`` true/false; inactive names get " (deleted)")
contact group               CustomerType (``CustomerTypeRef``; one per customer)
payment terms               Term (``SalesTermRef``): Net 7/14/30, 20th of next month
ACCREC invoice              Invoice (DRAFT/SUBMITTED are ordinary invoices: QBO has no drafts)
VOIDED invoice              Invoice with ``TotalAmt``/``Balance`` 0, ``PrivateNote`` "Voided"
DELETED invoice / payment   gone; a CDC tombstone for 30 days
payment                     Payment, one ``Line`` linking the invoice
credit note + allocation    CreditMemo + a $0 Payment linking the invoice and the memo
overpayment / prepayment    Payment with ``UnappliedAmt`` (its allocations as lines)
``CurrencyRate`` r          ``ExchangeRate`` 1/r (QBO: home amount = amount x ExchangeRate)
==========================  ====================================================================

QBO-only additions come from their own random stream (the translated records do not change
with them): about one customer in twelve becomes a sub-customer (``ParentRef``, ``Job``,
``Level``) of another in its currency, and about one in thirty got a RefundReceipt.
"""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from random import Random
from typing import Any

from arconnect.sandbox.quickbooks import records as R
from arconnect.sandbox.quickbooks.model import Company, CompanySpec, Record, Tombstone
from arconnect.sandbox.quickbooks.wire import money
from arconnect.sandbox.xero.generator import _GOODS, ARCHETYPES, generate_org
from arconnect.sandbox.xero.model import Org, OrgSpec
from arconnect.sandbox.xero.wire import dotnet_ms

# (name, DueDays, DayOfMonthDue): QBO's default terms plus the Xero sandbox's.
TERMS = (("Due on receipt", 0, None), ("Net 7", 7, None), ("Net 14", 14, None),
         ("Net 15", 15, None), ("Net 30", 30, None), ("Net 60", 60, None),
         ("20th of next month", None, 20))
XERO_TERMS = {(7, "DAYSAFTERBILLDATE"): "Net 7", (14, "DAYSAFTERBILLDATE"): "Net 14",
              (30, "DAYSAFTERBILLDATE"): "Net 30", (20, "OFFOLLOWINGMONTH"): "20th of next month"}
TYPE_NAME_LIMIT = 15  # CustomerType.Name, Intuit's v3 XSD
_STREETS = ("Ocean Dr.", "Main St.", "Cypress Hill Ave.", "Finch St.", "Easy St.", "Twin Lane",
            "Harbor Blvd.", "Elm St.", "Market St.", "Lincoln Ave.")
_CITIES = (("Half Moon Bay", "94213"), ("Middlefield", "94303"), ("Bayshore", "94326"),
           ("San Mateo", "94401"), ("Palo Alto", "94301"), ("Sunnyvale", "94086"))


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(microsecond=0)


def _day(text: str) -> date:
    return date.fromisoformat(text[:10])


def _rate(xero_rate: Any) -> Decimal | None:
    """QBO ``ExchangeRate`` (home per foreign unit) from Xero's ``CurrencyRate`` (foreign per
    home unit); None for the home currency (rendered as 1 when multicurrency is on)."""
    rate = Decimal(str(xero_rate or 0))
    if rate in (0, 1):
        return None
    return (Decimal(1) / rate).quantize(Decimal("0.000001"))


def realm_id_for(seed: int, index: int) -> str:
    """A 16-digit realm id, stable per seed and company index (sandbox realms start 9341)."""
    rng = Random(f"arconnect-qbo-realm:{seed}:{index}")
    return "9341" + "".join(str(rng.randrange(10)) for _ in range(12))


def generate_company(spec: CompanySpec, index: int, seed: int, start: datetime) -> Company:
    """Build one company's history up to ``start`` (deterministic).

    Raises:
        ValueError: a customer type name longer than 15 characters, or a bad offset.
    """
    for name in spec.customer_types:
        if not name or len(name) > TYPE_NAME_LIMIT:
            raise ValueError(f"customer type {name!r}: QBO names are 1-{TYPE_NAME_LIMIT} "
                             "characters; shorten it in CompanySpec.customer_types")
    org = generate_org(OrgSpec(name=spec.name, base_currency=spec.home_currency,
                               customers=spec.customers, invoices=spec.invoices,
                               payments=spec.payments, suppliers=0, bills=0,
                               country_code=spec.country), index, seed, start)
    company = Company.empty(realm_id_for(seed, index), spec)
    enabled = gc.isenabled()
    gc.disable()  # as generate_org: millions of new containers, no cycles to find
    try:
        _Builder(company, org, Random(f"arconnect-qbo:{seed}:{index}"), start).build()
    finally:
        if enabled:
            gc.enable()
    return company


class _Builder:
    """One translation pass (holds the id maps)."""

    def __init__(self, company: Company, org: Org, rng: Random, start: datetime) -> None:
        self.c = company
        self.org = org
        self.rng = rng
        self.start = start.astimezone(UTC)
        self.customer_of: dict[str, Record] = {}     # Xero ContactID -> Customer
        self.txn_of: dict[str, str] = {}             # Xero document id -> QBO Id
        self.terms: dict[str, Record] = {}
        self.types: list[Record] = []
        self.created = _utc(min((dotnet_ms(c["UpdatedDateUTC"]) for c in org.contacts.values()),
                                default=int(self.start.timestamp() * 1000))) - timedelta(days=30)

    def build(self) -> None:
        c = self.c
        c.multicurrency = any(x.get("DefaultCurrency", c.home_currency) != c.home_currency
                              for x in self.org.contacts.values())
        for code in self.org.currencies or [c.home_currency]:
            c.currencies[code] = R.CURRENCY_NAMES.get(code, code)
        for code, rate in self.org.rates.items():
            c.rates[code] = (Decimal(1) / Decimal(str(rate))).quantize(Decimal("0.000001"))
        c.tables["CompanyInfo"].put(R.company_info(c, self.created), self.created,
                                    self.created)
        c.tables["Preferences"].put(R.preferences(c, self.created), self.created,
                                    self.created)
        for name, days, dom in TERMS:
            rec = R.term(c, term_id=c.next_id("Term"), name=name, days=days, day_of_month=dom,
                         created=self.created)
            c.tables["Term"].put(rec, self.created, self.created)
            self.terms[name] = rec
        for name in c.spec.customer_types:
            rec = R.customer_type(c, type_id=c.next_id("CustomerType"), name=name,
                                  created=self.created)
            c.tables["CustomerType"].put(rec, self.created, self.created)
            self.types.append(rec)
        self._customers()
        self._transactions()
        for inv in c.tables["Invoice"].values():
            if inv.get("PrivateNote") != "Voided":
                R.settle_invoice(c, inv)
        for memo in c.tables["CreditMemo"].values():
            R.settle_credit_memo(c, memo)
        R.settle_customers(c)

    # ---- customers ----------------------------------------------------------------------------
    def _customers(self) -> None:
        c, rng = self.c, self.rng
        group_names = [g["Name"] for g in self.org.contact_groups.values()]
        tops: list[Record] = []
        for n, contact in enumerate(self.org.contacts.values()):
            when = _utc(dotnet_ms(contact["UpdatedDateUTC"]))
            terms = (contact.get("PaymentTerms") or {}).get("Sales")
            term = self.terms.get(XERO_TERMS.get((terms["Day"], terms["Type"]), "")) \
                if terms else None
            ctype = None
            if contact["ContactGroups"] and self.types:
                k = group_names.index(contact["ContactGroups"][0]["Name"])
                ctype = self.types[k % len(self.types)]
            currency = contact.get("DefaultCurrency") or c.home_currency
            parent = None
            if n >= len(ARCHETYPES) and tops and rng.random() < 0.08:
                same = [t for t in tops if t["CurrencyRef"]["value"] == currency]
                parent = rng.choice(same) if same else None
            city, postcode = rng.choice(_CITIES)
            cust_id = c.next_id("Customer")
            addr = R.address(str(100 + int(cust_id)), f"{rng.randint(1, 9999)} "
                             f"{rng.choice(_STREETS)}", city, "CA", postcode)
            active = contact["ContactStatus"] == "ACTIVE"
            display = contact["Name"] if active else f"{contact['Name']} (deleted)"
            rec = R.customer(c, cust_id=cust_id, display=display,
                             given=contact.get("FirstName", ""),
                             family=contact.get("LastName", ""),
                             email=contact.get("EmailAddress", ""), addr=addr,
                             currency=currency, created=when, updated=when, parent=parent,
                             term=term, ctype=ctype, active=active)
            c.tables["Customer"].put(rec, when, when)
            self.customer_of[contact["ContactID"]] = rec
            if contact["ContactID"] in self.org.archetypes:
                c.archetypes[cust_id] = self.org.archetypes[contact["ContactID"]]
            if parent is None and active:
                tops.append(rec)

    # ---- transactions -------------------------------------------------------------------------
    def _transactions(self) -> None:
        """Every transaction gets its Id from the shared sequence in creation order."""
        org, rng = self.org, self.rng
        todo: list[tuple[datetime, str, str, Any]] = []  # (created, kind, key, payload)
        for inv in org.invoices.values():
            if inv["Type"] != "ACCREC":
                continue
            updated = _utc(dotnet_ms(inv["UpdatedDateUTC"]))
            day = datetime.combine(_day(inv["DateString"]), datetime.min.time(), UTC)
            created = min(day + timedelta(hours=rng.randint(15, 23)), updated)
            todo.append((created, "invoice", inv["InvoiceID"], inv))
        for memo in org.credit_notes.values():
            if memo["Type"] != "ACCRECCREDIT":
                continue
            created = _utc(dotnet_ms(memo["UpdatedDateUTC"]))
            todo.append((created, "memo", memo["CreditNoteID"], memo))
            for k, alloc in enumerate(memo["Allocations"]):
                todo.append((created + timedelta(seconds=1 + k), "link",
                             alloc["AllocationID"], (memo, alloc)))
        for pay in org.payments.values():
            if pay["PaymentType"] != "ACCRECPAYMENT":
                continue
            todo.append((_utc(dotnet_ms(pay["UpdatedDateUTC"])), "payment", pay["PaymentID"],
                         pay))
        for key in ("Overpayments", "Prepayments"):
            for credit in org.table(key).values():
                todo.append((_utc(dotnet_ms(credit["UpdatedDateUTC"])), "cash", credit["ID"],
                             credit))
        refunds = Random(f"arconnect-qbo-refunds:{self.c.realm_id}")
        for contact_id, cust in self.customer_of.items():
            if contact_id in org.archetypes and refunds.random() < 1 / 30:
                day = self.start - timedelta(days=refunds.randint(3, 300))
                amount = money(refunds.uniform(20, 400))
                todo.append((day.replace(microsecond=0), "refund", f"refund:{cust['Id']}",
                             (cust, amount)))
        order = {"invoice": 0, "memo": 1, "link": 2, "payment": 3, "cash": 4, "refund": 5}
        todo.sort(key=lambda t: (t[0], order[t[1]], t[2]))
        for _created, _kind, key, _payload in todo:
            self.txn_of[key] = self.c.next_id("txn")
        for created, kind, key, payload in todo:
            getattr(self, f"_{kind}")(self.txn_of[key], created, payload)

    def _doc(self, txn_id: str, entity: str, cust: Record, rec: Record, created: datetime,
             updated: datetime) -> None:
        self.c.tables[entity].put(rec, created, updated)
        self.c.cust_docs.setdefault(cust["Id"], []).append((entity, txn_id))

    def _lines(self, doc: Record) -> list[Record]:
        items = []
        for line in doc["LineItems"]:
            text = line["Description"]
            item = str(_GOODS.index(text) + 1) if text in _GOODS else "1"
            items.append((item, text, Decimal(line["Quantity"]), Decimal(line["UnitAmount"]),
                          Decimal(line["LineAmount"])))
        return R.sales_lines(items)

    def _invoice(self, txn_id: str, created: datetime, inv: Record) -> None:
        c = self.c
        updated = max(_utc(dotnet_ms(inv["UpdatedDateUTC"])), created)
        if inv["Status"] == "DELETED":
            c.tombstones[("Invoice", txn_id)] = Tombstone("Invoice", txn_id, updated)
            return
        cust = self.customer_of[inv["Contact"]["ContactID"]]
        term_ref = cust.get("SalesTermRef")
        term = c.tables["Term"][term_ref["value"]] if term_ref else None
        rec = R.invoice(c, txn_id=txn_id, number=c.next_doc_number(), cust=cust,
                        day=_day(inv["DateString"]), due=_day(inv["DueDateString"]),
                        lines=self._lines(inv), tax=Decimal(inv["TotalTax"]),
                        currency=inv["CurrencyCode"], rate=_rate(inv["CurrencyRate"]),
                        created=created, updated=updated, term=term)
        if inv["Status"] == "VOIDED":
            R.void(rec)
        if updated > created:
            rec["SyncToken"] = str(1 + len(inv.get("Payments", [])))
        self._doc(txn_id, "Invoice", cust, rec, created, updated)

    def _memo(self, txn_id: str, created: datetime, memo: Record) -> None:
        c = self.c
        cust = self.customer_of[memo["Contact"]["ContactID"]]
        rec = R.credit_memo(c, txn_id=txn_id, number=c.next_doc_number(), cust=cust,
                            day=_day(memo["DateString"]), lines=self._lines(memo),
                            tax=Decimal(memo["TotalTax"]), currency=memo["CurrencyCode"],
                            rate=_rate(memo["CurrencyRate"]), created=created,
                            updated=created)
        self._doc(txn_id, "CreditMemo", cust, rec, created, created)

    def _link(self, txn_id: str, created: datetime, payload: tuple[Record, Record]) -> None:
        """A credit memo applied to an invoice: QBO's $0 Payment linking both."""
        memo, alloc = payload
        c = self.c
        inv_id = self.txn_of[alloc["Invoice"]["InvoiceID"]]
        memo_id = self.txn_of[memo["CreditNoteID"]]
        cust = self.customer_of[memo["Contact"]["ContactID"]]
        amount = Decimal(alloc["Amount"])
        rec = R.payment(c, txn_id=txn_id, cust=cust, day=_day(memo["DateString"]),
                        total=Decimal(0),
                        links=[(inv_id, "Invoice", amount), (memo_id, "CreditMemo", amount)],
                        currency=memo["CurrencyCode"], rate=_rate(memo["CurrencyRate"]),
                        created=created, updated=created, note=R.LINK_NOTE)
        for target in (inv_id, memo_id):
            c.links.setdefault(target, []).append(txn_id)
        self._doc(txn_id, "Payment", cust, rec, created, created)

    def _payment(self, txn_id: str, created: datetime, pay: Record) -> None:
        c = self.c
        if pay["Status"] == "DELETED":
            c.tombstones[("Payment", txn_id)] = Tombstone("Payment", txn_id, created)
            return
        xinv = self.org.invoices[pay["Invoice"]["InvoiceID"]]
        inv_id = self.txn_of[xinv["InvoiceID"]]
        cust = self.customer_of[xinv["Contact"]["ContactID"]]
        amount = Decimal(pay["Amount"])
        reference = pay.get("Reference", "")
        rec = R.payment(c, txn_id=txn_id, cust=cust, day=_day_of(pay["Date"]), total=amount,
                        links=[(inv_id, "Invoice", amount)], currency=xinv["CurrencyCode"],
                        rate=_rate(pay["CurrencyRate"]), created=created, updated=created,
                        ref_num=reference.removeprefix("Ref ") or None,
                        method=self.rng.choice(("1", "2", "3")))
        c.links.setdefault(inv_id, []).append(txn_id)
        self._doc(txn_id, "Payment", cust, rec, created, created)

    def _cash(self, txn_id: str, created: datetime, credit: Record) -> None:
        """An overpayment or prepayment: a Payment whose unapplied part is open credit."""
        c = self.c
        cust = self.customer_of[credit["Contact"]["ContactID"]]
        links = []
        for alloc in credit["Allocations"]:
            inv_id = self.txn_of[alloc["Invoice"]["InvoiceID"]]
            links.append((inv_id, "Invoice", Decimal(alloc["Amount"])))
            c.links.setdefault(inv_id, []).append(txn_id)
        rec = R.payment(c, txn_id=txn_id, cust=cust, day=_day(credit["DateString"]),
                        total=Decimal(credit["Total"]), links=links,
                        currency=credit["CurrencyCode"], rate=_rate(credit["CurrencyRate"]),
                        created=created, updated=created, ref_num=None, method="1",
                        note=credit.get("Reference") or None)
        self._doc(txn_id, "Payment", cust, rec, created, created)

    def _refund(self, txn_id: str, created: datetime, payload: tuple[Record, Decimal]) -> None:
        c = self.c
        cust, amount = payload
        currency = cust["CurrencyRef"]["value"]
        rate = c.rates.get(currency) if currency != c.home_currency else None
        rec = R.refund_receipt(c, txn_id=txn_id, number=c.next_doc_number(), cust=cust,
                               day=created.astimezone(c.tz).date(), amount=amount,
                               currency=currency, rate=rate, created=created, updated=created)
        self._doc(txn_id, "RefundReceipt", cust, rec, created, created)

def _day_of(dotnet: str) -> date:
    return datetime.fromtimestamp(dotnet_ms(dotnet) / 1000, UTC).date()
