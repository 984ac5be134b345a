"""Deterministic synthetic NetSuite accounts, translated from the Xero sandbox's generator.

The customers, invoices, payments and credits are those :func:`arconnect.sandbox.xero.
generator.generate_org` makes for the same seed, index and sizes (the QuickBooks sandbox starts
from the same history), so the three sandboxes agree on what each customer owes:

==========================  ====================================================================
Xero                        NetSuite (SuiteQL tables)
==========================  ====================================================================
contact (ACTIVE/ARCHIVED)   ``customer`` (``isinactive`` F/T)
merged duplicate contact    a ``deletedrecord`` row (NetSuite's merge deletes the duplicate)
contact group               ``customercategory`` (``category``; by name when the account has it)
payment terms               ``term``: Net 7/14/15/30/60, Due on receipt, 20th of next month
ACCREC invoice              ``transaction`` type ``CustInvc`` (drafts are ordinary invoices)
VOIDED invoice              ``CustInvc`` with ``voided`` T, amounts 0, status ``V``
DELETED invoice / payment   gone; a ``deletedrecord`` row (``invoice`` / ``customerpayment``)
payment                     ``CustPymt`` + a ``nexttransactionlinelink`` row to the invoice;
                            same-day base-currency payments of one customer are one payment
                            applied to several invoices
credit note + allocation    ``CustCred`` + a link row per invoice it is applied to
overpayment / prepayment    ``CustPymt`` with ``foreignpaymentamountunused`` (allocations: links)
``CurrencyRate`` r          ``exchangerate`` = subsidiary currency per transaction currency unit
==========================  ====================================================================

NetSuite-only additions come from their own random stream (the translated rows do not change
with them): about one customer in twelve becomes a sub-customer (``parent``) of another in its
currency, some have a credit limit, at least one is inactive, a third follow a dunning
procedure (SuiteApp installed). Foreign-currency customers belong to the last subsidiary of a
OneWorld account.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from random import Random
from typing import Any

from arconnect.sandbox.netsuite.config import AccountSpec, NsConfig
from arconnect.sandbox.netsuite.model import (
    CREDIT,
    INVOICE,
    PAYMENT,
    PROCEDURE_TABLE,
    ZERO,
    Account,
    Row,
)
from arconnect.sandbox.xero.generator import ARCHETYPES, PER_USD, generate_org
from arconnect.sandbox.xero.model import Org, OrgSpec
from arconnect.sandbox.xero.wire import dotnet_ms

# (id, name, days until net due): NetSuite's stock terms plus the Xero sandbox's.
TERMS = ((1, "Net 15", 15), (2, "Net 30", 30), (3, "Net 60", 60), (4, "Due on receipt", 0),
         (5, "Net 7", 7), (6, "Net 14", 14), (7, "20th of next month", None))
XERO_TERMS = {(7, "DAYSAFTERBILLDATE"): 5, (14, "DAYSAFTERBILLDATE"): 6,
              (30, "DAYSAFTERBILLDATE"): 2, (20, "OFFOLLOWINGMONTH"): 7}
CURRENCY_NAMES = {"USD": "US Dollar", "NZD": "New Zealand Dollar", "AUD": "Australian Dollar",
                  "GBP": "British Pound", "EUR": "Euro", "CAD": "Canadian Dollar",
                  "SGD": "Singapore Dollar"}
FIRST_ENTITY_ID = 100       # customer internal ids start after NetSuite's built-in entities
FIRST_TRANSACTION_ID = 1000
RATE_PLACES = Decimal("0.000001")
ONE = Decimal(1)


def generate_account(spec: AccountSpec, index: int, config: NsConfig,
                     start: datetime) -> Account:
    """Build one account's history up to ``start`` (deterministic in ``config.seed``,
    ``index`` and ``spec``)."""
    org = generate_org(OrgSpec(name=spec.name, base_currency=spec.base_currency,
                               customers=spec.customers, invoices=spec.invoices,
                               payments=spec.payments, suppliers=0, bills=0,
                               country_code="US"), index, config.seed, start)
    account = Account.empty(spec, config)
    enabled = gc.isenabled()
    gc.disable()  # as generate_org: many new containers, no cycles to find
    try:
        _Builder(account, org, Random(f"arconnect-ns:{config.seed}:{index}"), start).build()
    finally:
        if enabled:
            gc.enable()
    return account


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, UTC)


def _day(text: str) -> date:
    return date.fromisoformat(text[:10])


class _Builder:
    """One translation pass (holds the id maps)."""

    def __init__(self, account: Account, org: Org, rng: Random, start: datetime) -> None:
        self.a = account
        self.org = org
        self.rng = rng
        self.start = start.astimezone(UTC).replace(microsecond=0)
        self.customer_of: dict[str, Row] = {}          # Xero ContactID -> customer row
        self.txn_of: dict[str, int] = {}               # Xero document id -> transaction id
        self.currency_id: dict[str, int] = {}
        self.category_id: dict[str, int] = {}
        self.foreign_sub: int | None = None
        self.sub_currency: dict[int, str] = {}
        self.rows: list[Row] = []
        self.link_rows: list[Row] = []
        self.pay_number = 0

    def build(self) -> None:
        a = self.a
        self._setup_tables()
        self._customers()
        self._transactions()
        for cust_id in a.customer_docs:
            a.settle_customer(cust_id)
        a.counters["entity"] = max(a.customers.last_id(), FIRST_ENTITY_ID)
        a.counters["transaction"] = max(a.transactions.last_id(), FIRST_TRANSACTION_ID)
        a.counters["customercategory"] = a.tables["customercategory"].last_id()

    # ---- lists ------------------------------------------------------------------------------
    def _setup_tables(self) -> None:
        a, spec = self.a, self.a.spec
        codes = [spec.base_currency, *self.org.currencies]
        if spec.foreign_currency:
            codes.append(spec.foreign_currency)
        for code in dict.fromkeys(codes):
            cid = len(self.currency_id) + 1
            self.currency_id[code] = cid
            a.tables["currency"].put({"id": cid, "name": CURRENCY_NAMES.get(code, code),
                                      "symbol": code,
                                      "isbasecurrency": code == spec.base_currency})
        if spec.oneworld:
            names = spec.subsidiaries or (spec.name,)
            for k, name in enumerate(names, start=1):
                code = spec.base_currency
                if k == len(names) and k > 1 and spec.foreign_currency:
                    code = spec.foreign_currency
                self.sub_currency[k] = code
                a.tables["subsidiary"].put({
                    "id": k, "name": name, "currency": self.currency_id[code],
                    "parent": None if k == 1 else 1, "iselimination": False,
                    "isinactive": False})
            if len(names) > 1:
                self.foreign_sub = len(names)
        else:
            self.sub_currency[1] = spec.base_currency
        for term_id, name, days in TERMS:
            a.tables["term"].put({"id": term_id, "name": name, "daysuntilnetdue": days})
        for k, name in enumerate(spec.categories, start=1):
            self.category_id[name] = k
            a.tables["customercategory"].put({"id": k, "name": name, "isinactive": False})
        if spec.dunning_suiteapp:
            manager = int(spec.dunning_manager)
            for name, pid in spec.dunning_procedures.items():
                a.tables[PROCEDURE_TABLE].put({
                    "id": int(pid), "name": name,
                    "custrecord_3805_default_dunning_manager": manager})

    def _rate(self, currency: str, subsidiary: int, xero_rate: Any) -> Decimal:
        """``exchangerate``: units of the subsidiary's currency per unit of ``currency``.

        Xero's ``CurrencyRate`` is units of the document currency per unit of the base one
        (0 or 1 for the base currency)."""
        sub_code = self.sub_currency.get(subsidiary, self.a.base_currency)
        if currency == sub_code:
            return ONE
        rate = Decimal(str(xero_rate or 0))
        if currency == self.a.base_currency or rate in (0, 1):
            rate = Decimal(str(PER_USD.get(currency, 1.0) / PER_USD.get(
                self.a.base_currency, 1.0)))
        base_per_unit = ONE / rate
        if sub_code != self.a.base_currency:
            sub_per_base = Decimal(str(PER_USD.get(sub_code, 1.0) / PER_USD.get(
                self.a.base_currency, 1.0)))
            base_per_unit *= sub_per_base
        return base_per_unit.quantize(RATE_PLACES)

    # ---- customers ----------------------------------------------------------------------------
    def _customers(self) -> None:
        a, rng, spec = self.a, self.rng, self.a.spec
        group_names = [g["Name"] for g in self.org.contact_groups.values()]
        categories = list(self.category_id.values())
        procedures = [int(p) for p in spec.dunning_procedures.values()]
        custom = [name.lower() for name in spec.custom_fields]
        tops: list[Row] = []
        rows: list[Row] = []
        next_id = FIRST_ENTITY_ID
        for n, contact in enumerate(self.org.contacts.values()):
            when = _utc(dotnet_ms(contact["UpdatedDateUTC"]))
            merged = contact.get("MergedToContactID")
            next_id += 1
            if merged:
                # merging a duplicate into another customer deletes the duplicate
                a.tombstone("customer", next_id, contact["Name"], when)
                continue
            sales = (contact.get("PaymentTerms") or {}).get("Sales")
            term = XERO_TERMS.get((sales["Day"], sales["Type"])) if sales else None
            category = None
            if contact["ContactGroups"] and categories:
                gname = contact["ContactGroups"][0]["Name"]
                category = self.category_id.get(gname) or categories[
                    group_names.index(gname) % len(categories)]
            currency = contact.get("DefaultCurrency") or a.base_currency
            subsidiary = 1
            if currency != a.base_currency and self.foreign_sub is not None:
                subsidiary = self.foreign_sub
            parent = None
            if n >= len(ARCHETYPES) and tops and rng.random() < 0.08:
                same = [t for t in tops if t["currency"] == self.currency_id[currency]]
                parent = rng.choice(same)["id"] if same else None
            limit = None
            if rng.random() < 0.3:
                limit = Decimal(rng.choice((1000, 2500, 5000, 10000, 25000))).quantize(ZERO)
            procedure = manager = level = None
            if procedures and rng.random() < 0.35:
                procedure = rng.choice(procedures)
                manager = int(spec.dunning_manager)
                level = rng.choice((None, 1, 2))
            active = contact["ContactStatus"] == "ACTIVE"
            created = when - timedelta(days=rng.randint(0, 30), seconds=rng.randint(0, 86399))
            row: Row = {
                "id": next_id, "entityid": contact["Name"], "companyname": contact["Name"],
                "email": contact.get("EmailAddress") or None, "isinactive": not active,
                "isperson": False, "parent": parent, "currency": self.currency_id[currency],
                "terms": term, "category": category, "creditlimit": limit,
                "creditholdoverride": "AUTO", "subsidiary": subsidiary if spec.oneworld
                else None, "balance": ZERO, "datecreated": created, "lastmodifieddate": when,
            }
            if spec.dunning_suiteapp:
                row["custentity_3805_dunning_procedure"] = procedure
                row["custentity_3805_dunning_manager"] = manager
                row["custentity_3805_dunning_level"] = level
            for name in custom:
                row[name] = None
            rows.append(row)
            self.customer_of[contact["ContactID"]] = row
            if contact["ContactID"] in self.org.archetypes:
                a.archetypes[next_id] = self.org.archetypes[contact["ContactID"]]
            if parent is None and active:
                tops.append(row)
        if rows and not any(r["isinactive"] for r in rows):
            # every account has a few inactive customers (Xero archives only idle ones)
            rng.choice(rows[len(ARCHETYPES):] or rows)["isinactive"] = True
        a.customers.load(rows)

    # ---- transactions -------------------------------------------------------------------------
    def _transactions(self) -> None:
        """Every transaction gets its id from the one sequence, in creation order."""
        org = self.org
        rand = self.rng.random  # Random.randint is slow; one call per invoice
        base = self.a.base_currency
        todo: list[tuple[int, int, str, Any]] = []   # (created ms, kind order, key, payload)
        for inv in org.invoices.values():
            if inv["Type"] != "ACCREC":
                continue
            updated = dotnet_ms(inv["UpdatedDateUTC"])
            day_ms = dotnet_ms(inv["Date"])
            created = min(day_ms + (15 + int(rand() * 9)) * 3_600_000, updated)
            todo.append((created, 0, inv["InvoiceID"], inv))
        for memo in org.credit_notes.values():
            if memo["Type"] == "ACCRECCREDIT":
                todo.append((dotnet_ms(memo["UpdatedDateUTC"]), 1, memo["CreditNoteID"], memo))
        groups: dict[tuple[str, str], list[Row]] = {}
        for pay in org.payments.values():
            if pay["PaymentType"] != "ACCRECPAYMENT":
                continue
            if pay["Status"] != "AUTHORISED":
                todo.append((dotnet_ms(pay["UpdatedDateUTC"]), 2, pay["PaymentID"], [pay]))
                continue
            contact = pay["Invoice"]["Contact"]["ContactID"]
            if pay["Invoice"]["CurrencyCode"] == base:
                same_day = (contact, pay["Date"])
                if same_day in groups:
                    groups[same_day].append(pay)
                    continue
                groups[same_day] = [pay]
                todo.append((dotnet_ms(pay["UpdatedDateUTC"]), 2, pay["PaymentID"],
                             groups[same_day]))
            else:
                todo.append((dotnet_ms(pay["UpdatedDateUTC"]), 2, pay["PaymentID"], [pay]))
        for key in ("Overpayments", "Prepayments"):
            for credit in org.table(key).values():
                todo.append((dotnet_ms(credit["UpdatedDateUTC"]), 3, credit["ID"], credit))
        todo.sort(key=lambda t: (t[0], t[1], t[2]))
        next_id = FIRST_TRANSACTION_ID
        for _created, _kind, key, _payload in todo:
            next_id += 1
            self.txn_of[key] = next_id
        rows, links = self.rows, self.link_rows
        handlers = (self._invoice, self._memo, self._payment, self._cash)
        for created, kind, key, payload in todo:
            handlers[kind](self.txn_of[key], _utc(created), payload)
        self.a.transactions.load(rows)
        links.sort(key=lambda r: (r["nextdoc"], r["previousdoc"]))
        self.a.links.load(links)

    def _row(self, txn_id: int, kind: str, cust: Row, *, tranid: str | None, trandate: date,
             currency: str, rate: Decimal, total: Decimal, created: datetime,
             updated: datetime, memo: str | None = None, otherrefnum: str | None = None,
             duedate: date | None = None) -> Row:
        row: Row = {
            "id": txn_id, "tranid": tranid, "type": kind, "entity": cust["id"],
            "trandate": trandate, "duedate": duedate, "status": "A",
            "currency": self.currency_id[currency], "exchangerate": rate,
            "foreigntotal": total, "foreignamountpaid": None, "foreignamountunpaid": None,
            "foreignpaymentamountused": None, "foreignpaymentamountunused": None,
            "voided": False, "memo": memo, "otherrefnum": otherrefnum, "createddate": created,
            "lastmodifieddate": max(updated, created),
        }
        self.rows.append(row)
        self.a.customer_docs.setdefault(cust["id"], []).append(txn_id)
        return row

    def _link(self, inv_id: int, next_id: int, next_type: str, amount: Decimal,
              rate: Decimal, day: date) -> None:
        self.link_rows.append({
            "previousdoc": inv_id, "previousline": 0, "previoustype": INVOICE,
            "nextdoc": next_id, "nextline": 0, "nexttype": next_type, "linktype": "Payment",
            "foreignamount": amount, "amount": (amount * rate).quantize(ZERO), "linkdate": day})

    def _invoice(self, txn_id: int, created: datetime, inv: Row) -> None:
        updated = _utc(dotnet_ms(inv["UpdatedDateUTC"]))
        if inv["Status"] == "DELETED":
            self.a.tombstone("invoice", txn_id, f"Invoice #{inv['InvoiceNumber']}",
                             max(updated, created))
            return
        cust = self.customer_of.get(inv["Contact"]["ContactID"])
        if cust is None:
            return
        reference = inv.get("Reference") or ""
        rate = self._rate(inv["CurrencyCode"], cust["subsidiary"] or 1, inv["CurrencyRate"])
        row = self._row(txn_id, INVOICE, cust, tranid=inv["InvoiceNumber"],
                        trandate=_day(inv["DateString"]), duedate=_day(inv["DueDateString"]),
                        currency=inv["CurrencyCode"], rate=rate, total=inv["Total"],
                        created=created, updated=updated,
                        otherrefnum=reference.removeprefix("PO ") or None)
        if inv["Status"] == "VOIDED":
            row.update(foreigntotal=ZERO, foreignamountpaid=ZERO, foreignamountunpaid=ZERO,
                       voided=True, status="V")
            return
        paid = (inv.get("AmountPaid", ZERO) + inv.get("AmountCredited", ZERO)).quantize(ZERO)
        row["foreignamountpaid"] = paid
        row["foreignamountunpaid"] = inv["Total"] - paid
        row["status"] = "B" if row["foreignamountunpaid"] <= 0 else "A"

    def _memo(self, txn_id: int, created: datetime, memo: Row) -> None:
        cust = self.customer_of.get(memo["Contact"]["ContactID"])
        if cust is None:
            return
        rate = self._rate(memo["CurrencyCode"], cust["subsidiary"] or 1, memo["CurrencyRate"])
        total = memo["Total"]
        used = ZERO
        for alloc in memo["Allocations"]:
            inv_id = self.txn_of.get(alloc["Invoice"]["InvoiceID"])
            if inv_id is None:
                continue
            used += alloc["Amount"]
            self._link(inv_id, txn_id, CREDIT, alloc["Amount"], rate,
                       _utc(dotnet_ms(alloc["Date"])).date())
        row = self._row(txn_id, CREDIT, cust, tranid=memo["CreditNoteNumber"],
                        trandate=_day(memo["DateString"]), currency=memo["CurrencyCode"],
                        rate=rate, total=total, created=created, updated=created,
                        memo=memo.get("Reference") or None)
        row["foreignpaymentamountused"] = used
        row["foreignpaymentamountunused"] = total - used
        row["status"] = "B" if total - used <= 0 else "A"

    def _payment(self, txn_id: int, created: datetime, pays: list[Row]) -> None:
        first = pays[0]
        xinv = self.org.invoices[first["Invoice"]["InvoiceID"]]
        if first["Status"] != "AUTHORISED":
            self.a.tombstone("customerpayment", txn_id, None, created)
            return
        cust = self.customer_of.get(xinv["Contact"]["ContactID"])
        if cust is None:
            return
        currency = xinv["CurrencyCode"]
        rate = self._rate(currency, cust["subsidiary"] or 1, first["CurrencyRate"])
        total = ZERO
        day = _utc(dotnet_ms(first["Date"])).date()
        for pay in pays:
            inv_id = self.txn_of[pay["Invoice"]["InvoiceID"]]
            total += pay["Amount"]
            self._link(inv_id, txn_id, PAYMENT, pay["Amount"], rate, day)
        self.pay_number += 1
        reference = first.get("Reference") or ""
        updated = max(_utc(dotnet_ms(p["UpdatedDateUTC"])) for p in pays)
        row = self._row(txn_id, PAYMENT, cust, tranid=str(self.pay_number), trandate=day,
                        currency=currency, rate=rate, total=total, created=created,
                        updated=updated, otherrefnum=reference.removeprefix("Ref ") or None)
        row.update(foreignpaymentamountused=total, foreignpaymentamountunused=ZERO,
                   status="C")

    def _cash(self, txn_id: int, created: datetime, credit: Row) -> None:
        """An overpayment or prepayment: a payment whose unapplied part is open credit."""
        cust = self.customer_of.get(credit["Contact"]["ContactID"])
        if cust is None:
            return
        rate = self._rate(credit["CurrencyCode"], cust["subsidiary"] or 1,
                          credit["CurrencyRate"])
        used = ZERO
        for alloc in credit["Allocations"]:
            inv_id = self.txn_of[alloc["Invoice"]["InvoiceID"]]
            used += alloc["Amount"]
            self._link(inv_id, txn_id, PAYMENT, alloc["Amount"], rate,
                       _utc(dotnet_ms(alloc["Date"])).date())
        self.pay_number += 1
        total = credit["Total"]
        row = self._row(txn_id, PAYMENT, cust, tranid=str(self.pay_number),
                        trandate=_day(credit["DateString"]), currency=credit["CurrencyCode"],
                        rate=rate, total=total, created=created, updated=created,
                        memo=credit.get("Reference") or None)
        row.update(foreignpaymentamountused=used, foreignpaymentamountunused=total - used,
                   status="C")


def xero_totals(org: Org) -> dict[str, Decimal]:
    """What the Xero organisation's receivables add up to (for agreement checks): invoiced
    (authorised and paid sales invoices), received (authorised payments) and still due."""
    live = [i for i in org.invoices.values()
            if i["Type"] == "ACCREC" and i["Status"] not in ("DELETED", "VOIDED")]
    return {"invoiced": _sum(i["Total"] for i in live),
            "due": _sum(i["AmountDue"] for i in live),
            "received": _sum(p["Amount"] for p in org.payments.values()
                             if p["Status"] == "AUTHORISED"
                             and p["PaymentType"] == "ACCRECPAYMENT")}


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)
