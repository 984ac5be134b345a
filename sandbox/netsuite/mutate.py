"""Changes to an account after generation: what happens in NetSuite between two syncs.

:class:`Mutator` (``sb.mutate(account_id)``) offers the primitives (new customer, new invoice,
edit, payment in full or in part, credit memo applied, void, delete, customer made inactive)
and :meth:`Mutator.random` makes a mix of them. Every record a change saves gets
``lastmodifieddate`` = the sandbox now: a payment applied to an invoice saves the invoice too
(its amounts change). A delete leaves a ``deletedrecord`` row and takes the record's links with
it. Customer balances follow without a stamp.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from random import Random

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.netsuite.model import (
    CREDIT,
    DELETED_TYPES,
    INVOICE,
    PAYMENT,
    ZERO,
    Account,
    Row,
)

KINDS = ("new_invoice", "pay_invoice", "partial_payment", "edit_invoice", "void_invoice",
         "delete", "apply_credit", "add_customer", "deactivate_customer")
WEIGHTS = (26, 18, 10, 10, 5, 5, 6, 6, 4)
CENT = Decimal("0.01")


class Mutator:
    """Primitive changes to one account (each takes the account lock).

    Args:
        account: the account.
        clock: the sandbox clock (the stamp of every change).
        seed: seeds the random choices (amounts, names).
    """

    def __init__(self, account: Account, clock: SandboxClock, seed: int = 1) -> None:
        self.a = account
        self.clock = clock
        self.rng = Random(f"ns-mutate:{account.account_id}:{seed}")
        self._pool: dict[str, list[int]] = {}

    def _now(self) -> datetime:
        return self.clock.now().replace(microsecond=0)

    def _today(self) -> date:
        return self._now().astimezone(self.a.tz).date()

    def _customer(self, customer_id: int) -> Row:
        row = self.a.customers.get(customer_id)
        if row is None:
            raise KeyError(f"no customer {customer_id} in account {self.a.account_id}")
        return row

    def _txn(self, txn_id: int, kind: str | None = None) -> Row:
        row = self.a.transactions.get(txn_id)
        if row is None or (kind is not None and row["type"] != kind):
            raise KeyError(f"no {kind or 'transaction'} {txn_id} in account "
                           f"{self.a.account_id}")
        return row

    def _new_txn(self, kind: str, cust: Row, total: Decimal, now: datetime) -> Row:
        a = self.a
        txn_id = a.next_id("transaction")
        day = now.astimezone(a.tz).date()
        base = a.tables["currency"].get(cust["currency"])
        rate = Decimal(1) if base is None or base["isbasecurrency"] else self._rate_of(cust)
        row: Row = {
            "id": txn_id, "tranid": None, "type": kind, "entity": cust["id"], "trandate": day,
            "duedate": None, "status": "A", "currency": cust["currency"],
            "exchangerate": rate, "foreigntotal": total, "foreignamountpaid": None,
            "foreignamountunpaid": None, "foreignpaymentamountused": None,
            "foreignpaymentamountunused": None, "voided": False, "memo": None,
            "otherrefnum": None, "createddate": now, "lastmodifieddate": now}
        a.transactions.put(row)
        a.customer_docs.setdefault(cust["id"], []).append(txn_id)
        return row

    def _rate_of(self, cust: Row) -> Decimal:
        """The rate of the customer's latest transaction (or 1)."""
        for doc_id in reversed(self.a.customer_docs.get(cust["id"], [])):
            row = self.a.transactions.get(doc_id)
            if row is not None and row["exchangerate"]:
                return Decimal(row["exchangerate"])
        return Decimal(1)

    def _settle_invoice(self, inv: Row) -> None:
        paid = sum((link["foreignamount"] for link in self.a.links
                    if link["previousdoc"] == inv["id"]), ZERO)
        inv["foreignamountpaid"] = paid.quantize(CENT)
        inv["foreignamountunpaid"] = (inv["foreigntotal"] - paid).quantize(CENT)
        inv["status"] = "V" if inv["voided"] else (
            "B" if inv["foreignamountunpaid"] <= 0 else "A")

    def _link(self, inv: Row, doc: Row, amount: Decimal, day: date) -> None:
        self.a.links.put({
            "previousdoc": inv["id"], "previousline": 0, "previoustype": INVOICE,
            "nextdoc": doc["id"], "nextline": 0, "nexttype": doc["type"],
            "linktype": "Payment", "foreignamount": amount,
            "amount": (amount * (doc["exchangerate"] or 1)).quantize(CENT), "linkdate": day})

    # ---- primitives --------------------------------------------------------------------------
    def add_customer(self, name: str | None = None) -> Row:
        """A new customer in the base currency on the root subsidiary."""
        a = self.a
        with a.lock:
            now = self._now()
            cust_id = a.next_id("entity")
            name = name or f"New Customer {cust_id}"
            base = next((r["id"] for r in a.tables["currency"] if r["isbasecurrency"]), 1)
            row: Row = {column: None for column in a.customers.columns}
            row.update({
                "id": cust_id, "entityid": name, "companyname": name,
                "email": f"ap@customer{cust_id}.example", "isinactive": False,
                "isperson": False, "currency": base, "terms": 2,
                "creditholdoverride": "AUTO", "subsidiary": 1 if a.spec.oneworld else None,
                "balance": ZERO, "datecreated": now, "lastmodifieddate": now})
            return a.customers.put(row)

    def new_invoice(self, customer_id: int | None = None, amount: Decimal | None = None
                    ) -> Row:
        """A new open invoice (due in 30 days) for a customer (default: a random active
        one)."""
        a = self.a
        with a.lock:
            now = self._now()
            if customer_id is None:
                active = [r for r in a.customers if not r["isinactive"]]
                cust = self.rng.choice(active)
            else:
                cust = self._customer(customer_id)
            total = amount if amount is not None else Decimal(
                str(round(self.rng.uniform(50, 5000), 2)))
            total = total.quantize(CENT)
            row = self._new_txn(INVOICE, cust, total, now)
            row.update(tranid=f"INV-N{row['id']}", duedate=row["trandate"] + timedelta(days=30),
                       foreignamountpaid=ZERO, foreignamountunpaid=total)
            a.settle_customer(cust["id"])
            return row

    def edit_invoice(self, invoice_id: int, amount: Decimal | None = None) -> Row:
        """Change an invoice's total (default: +10 %) and memo."""
        a = self.a
        with a.lock:
            inv = self._txn(invoice_id, INVOICE)
            if inv["voided"]:
                raise ValueError(f"invoice {invoice_id} is voided")
            total = (amount if amount is not None else inv["foreigntotal"] * Decimal("1.1"))
            inv["foreigntotal"] = max(total.quantize(CENT), inv["foreignamountpaid"] or ZERO)
            inv["memo"] = "Edited"
            self._settle_invoice(inv)
            a.touch(inv, self._now())
            a.settle_customer(inv["entity"])
            return inv

    def pay_invoice(self, invoice_id: int, amount: Decimal | None = None) -> Row:
        """A customer payment applied to an invoice: all it owes, or ``amount`` of it
        (partial). The invoice is saved too."""
        return self._apply_to(invoice_id, PAYMENT, amount, lambda owed: owed)

    def apply_credit(self, invoice_id: int, amount: Decimal | None = None) -> Row:
        """A new credit memo applied to an invoice (default: half of what it owes)."""
        return self._apply_to(invoice_id, CREDIT, amount, lambda owed: owed / 2)

    def _apply_to(self, invoice_id: int, kind: str, amount: Decimal | None,
                  default: Callable[[Decimal], Decimal]) -> Row:
        """A new payment or credit memo of ``amount`` (else ``default`` of what the invoice
        owes; never more than it owes), applied to the invoice, which is saved too."""
        a = self.a
        with a.lock:
            inv = self._txn(invoice_id, INVOICE)
            owed = inv["foreignamountunpaid"] or ZERO
            if inv["voided"] or owed <= 0:
                raise ValueError(f"invoice {invoice_id} owes nothing")
            applied = min(amount if amount is not None else default(owed), owed).quantize(CENT)
            now = self._now()
            cust = self._customer(inv["entity"])
            doc = self._new_txn(kind, cust, applied, now)
            doc.update(exchangerate=inv["exchangerate"], currency=inv["currency"],
                       foreignpaymentamountused=applied, foreignpaymentamountunused=ZERO)
            if kind == PAYMENT:
                doc.update(tranid=f"PYMT-N{doc['id']}", status="C")
            else:
                doc.update(tranid=f"CM-N{doc['id']}", status="B",
                           memo=f"Credit for {inv['tranid']}")
            self._link(inv, doc, applied, doc["trandate"])
            self._settle_invoice(inv)
            a.touch(inv, now)
            a.settle_customer(cust["id"])
            return doc

    def void_invoice(self, invoice_id: int) -> Row:
        """Void an invoice: it keeps its id, its amounts become 0 and ``voided`` T. Payments
        and credits applied to it are unapplied (their amounts become unused credit)."""
        a = self.a
        with a.lock:
            inv = self._txn(invoice_id, INVOICE)
            now = self._now()
            for link in a.links.drop_where(lambda r: r["previousdoc"] == invoice_id):
                doc = a.transactions.get(link["nextdoc"])
                if doc is not None:
                    self._unapply(doc, link["foreignamount"], now)
            inv.update(voided=True, foreigntotal=ZERO, foreignamountpaid=ZERO,
                       foreignamountunpaid=ZERO, status="V")
            a.touch(inv, now)
            a.settle_customer(inv["entity"])
            return inv

    def _unapply(self, doc: Row, amount: Decimal, now: datetime) -> None:
        doc["foreignpaymentamountused"] = (doc["foreignpaymentamountused"] or ZERO) - amount
        doc["foreignpaymentamountunused"] = (doc["foreignpaymentamountunused"] or ZERO) + amount
        if doc["type"] == CREDIT:
            doc["status"] = "A"
        self.a.touch(doc, now)

    def delete(self, txn_id: int) -> None:
        """Delete a transaction (a ``deletedrecord`` row; its links go, and what it linked to
        is saved with the amounts recomputed)."""
        a = self.a
        with a.lock:
            row = self._txn(txn_id)
            now = self._now()
            gone = a.links.drop_where(
                lambda r: r["previousdoc"] == txn_id or r["nextdoc"] == txn_id)
            a.transactions.drop(txn_id)
            for link in gone:
                if link["previousdoc"] == txn_id:
                    doc = a.transactions.get(link["nextdoc"])
                    if doc is not None:
                        self._unapply(doc, link["foreignamount"], now)
                else:
                    inv = a.transactions.get(link["previousdoc"])
                    if inv is not None:
                        self._settle_invoice(inv)
                        a.touch(inv, now)
            a.tombstone(DELETED_TYPES[row["type"]], txn_id, row["tranid"], now)
            a.settle_customer(row["entity"])

    def delete_customer(self, customer_id: int) -> None:
        """Delete a customer without transactions (NetSuite refuses to delete one with
        transactions)."""
        a = self.a
        with a.lock:
            cust = self._customer(customer_id)
            if any(d in a.transactions for d in a.customer_docs.get(customer_id, ())):
                raise ValueError(f"customer {customer_id} has transactions")
            a.customers.drop(customer_id)
            a.tombstone("customer", customer_id, cust["entityid"], self._now())

    def deactivate_customer(self, customer_id: int) -> Row:
        """Make a customer inactive."""
        a = self.a
        with a.lock:
            cust = self._customer(customer_id)
            cust["isinactive"] = True
            a.touch(cust, self._now())
            return cust

    # ---- a mix --------------------------------------------------------------------------------
    def random(self, n: int) -> Counter[str]:
        """``n`` random changes; returns how many of each kind were made."""
        done: Counter[str] = Counter()
        self._pool = {}  # candidates by transaction type, read once per mix
        for _ in range(n):
            kind = self.rng.choices(KINDS, WEIGHTS)[0]
            if self._one(kind):
                done[kind] += 1
        return done

    @staticmethod
    def _live(row: Row) -> bool:
        """Not voided; an invoice still owes something."""
        if row["voided"]:
            return False
        return row["type"] != INVOICE or (row["foreignamountunpaid"] or ZERO) > 0

    def _pick(self, kind: str) -> Row | None:
        """A random live transaction of ``kind`` (invoices: open ones)."""
        pool = self._pool.get(kind)
        if pool is None:
            pool = self._pool[kind] = [r["id"] for r in self.a.transactions
                                       if r["type"] == kind and self._live(r)]
        while pool:
            k = self.rng.randrange(len(pool))
            row = self.a.transactions.get(pool[k])
            if row is not None and self._live(row):
                return row
            pool[k] = pool[-1]
            pool.pop()
        return None

    def _one(self, kind: str) -> bool:
        rng = self.rng
        a = self.a
        with a.lock:
            if kind == "add_customer":
                self.add_customer()
                return True
            if kind == "new_invoice":
                if not any(not r["isinactive"] for r in a.customers):
                    return False
                self.new_invoice()
                return True
            if kind == "deactivate_customer":
                active = [r["id"] for r in a.customers if not r["isinactive"]]
                if not active:
                    return False
                self.deactivate_customer(rng.choice(active))
                return True
            if kind == "delete":
                payment = self._pick(PAYMENT)
                if payment is None:
                    return False
                self.delete(payment["id"])
                return True
            inv = self._pick(INVOICE)
            if inv is None:
                return False
            if kind == "pay_invoice":
                self.pay_invoice(inv["id"])
            elif kind == "partial_payment":
                part = (inv["foreignamountunpaid"] * Decimal(str(rng.uniform(0.2, 0.8))))
                self.pay_invoice(inv["id"], max(part.quantize(CENT), CENT))
            elif kind == "edit_invoice":
                self.edit_invoice(inv["id"])
            elif kind == "void_invoice":
                self.void_invoice(inv["id"])
            else:
                self.apply_credit(inv["id"])
            return True
