"""Changes to a company after generation: what happens in QBO between two syncs.

:class:`Mutator` (``sb.mutate(realm_id)``) offers the primitives (new customer, new invoice,
edit, payment, void, delete, credit applied, customer made inactive) and :meth:`Mutator.random`
makes a mix of them, as the Xero sandbox's ``mutate`` does. Every object a change touches gets
``SyncToken`` + 1 and ``MetaData.LastUpdatedTime`` = the sandbox now; a delete leaves a CDC
tombstone; customer balances follow without a stamp.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from random import Random

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.quickbooks import records as R
from arconnect.sandbox.quickbooks.model import Company, Record, Tombstone
from arconnect.sandbox.quickbooks.wire import ZERO, money

KINDS = ("new_invoice", "payment", "partial_payment", "edit_invoice", "void_invoice",
         "delete_payment", "apply_credit", "new_customer", "deactivate_customer")
WEIGHTS = (26, 18, 10, 10, 5, 5, 6, 6, 4)


class Mutator:
    """Primitive changes to one company (each takes the company lock).

    Args:
        company: the company.
        clock: the sandbox clock (the stamp of every change).
        seed: seeds the random choices (amounts, names).
    """

    def __init__(self, company: Company, clock: SandboxClock, seed: int = 1) -> None:
        self.c = company
        self.clock = clock
        self.rng = Random(f"qbo-mutate:{company.realm_id}:{seed}")

    def _now(self) -> datetime:
        return self.clock.now().replace(microsecond=0)

    def _today(self) -> date:
        return self._now().astimezone(self.c.tz).date()

    def _customer(self, cust_id: str) -> Record:
        try:
            return self.c.tables["Customer"][cust_id]
        except KeyError:
            raise KeyError(f"no Customer {cust_id} in realm {self.c.realm_id}") from None

    def _invoice(self, inv_id: str) -> Record:
        try:
            return self.c.tables["Invoice"][inv_id]
        except KeyError:
            raise KeyError(f"no Invoice {inv_id} in realm {self.c.realm_id}") from None

    def _settle(self, cust_id: str) -> None:
        R.settle_customers(self.c, [cust_id])

    # ---- customers ---------------------------------------------------------------------------
    def add_customer(self, display_name: str | None = None, currency: str | None = None,
                     parent_id: str | None = None) -> str:
        """A new active customer; returns its Id."""
        c = self.c
        with c.lock:
            now = self._now()
            cust_id = c.next_id("Customer")
            name = display_name or f"New Customer {cust_id}"
            parent = self._customer(parent_id) if parent_id else None
            addr = R.address(str(100 + int(cust_id)), "1 Market St.", "San Mateo", "CA",
                             "94401")
            rec = R.customer(c, cust_id=cust_id, display=name, given="Pat", family="Lee",
                             email=f"ar@customer{cust_id}.example", addr=addr,
                             currency=currency or c.home_currency, created=now, updated=now,
                             parent=parent)
            c.tables["Customer"].put(rec, now, now)
            return cust_id

    def add_customer_type(self, name: str) -> str:
        """A new CustomerType, as a user creates one in QBO's screens (the API cannot);
        returns its Id (an existing type of that name is returned as is).

        Raises:
            ValueError: an empty name or one over 15 characters.
        """
        c = self.c
        if not name or len(name) > 15:
            raise ValueError(f"customer type {name!r}: QBO names are 1-15 characters")
        with c.lock:
            for rec in c.tables["CustomerType"].values():
                if rec["Name"].lower() == name.lower():
                    return str(rec["Id"])
            now = self._now()
            rec = R.customer_type(c, type_id=c.next_id("CustomerType"), name=name, created=now)
            c.tables["CustomerType"].put(rec, now, now)
            return str(rec["Id"])

    def deactivate_customer(self, cust_id: str) -> None:
        """Make a customer inactive (QBO appends " (deleted)" to its names)."""
        c = self.c
        with c.lock:
            rec = self._customer(cust_id)
            if rec["Active"]:
                rec["Active"] = False
                for key in ("DisplayName", "FullyQualifiedName"):
                    rec[key] = f"{rec[key]} (deleted)"
                R.bump(c, "Customer", rec, self._now())

    # ---- invoices ----------------------------------------------------------------------------
    def new_invoice(self, cust_id: str, amount: Decimal | None = None,
                    days: int = 30) -> str:
        """A new invoice dated today, due in ``days``; returns its Id."""
        c, rng = self.c, self.rng
        with c.lock:
            cust = self._customer(cust_id)
            now = self._now()
            total = money(amount if amount is not None else rng.uniform(50, 2500))
            txn_id = c.next_id("txn")
            currency = cust["CurrencyRef"]["value"]
            rate = None if currency == c.home_currency else c.rates.get(currency, Decimal(1))
            lines = R.sales_lines([("1", "Consulting services", Decimal(1), total, total)])
            rec = R.invoice(c, txn_id=txn_id, number=c.next_doc_number(), cust=cust,
                            day=self._today(), due=self._today() + timedelta(days=days),
                            lines=lines, tax=ZERO, currency=currency, rate=rate, created=now,
                            updated=now, term=None)
            c.tables["Invoice"].put(rec, now, now)
            c.cust_docs.setdefault(cust_id, []).append(("Invoice", txn_id))
            self._settle(cust_id)
            return txn_id

    def edit_invoice(self, inv_id: str, due_date: date | None = None,
                     note: str | None = None) -> None:
        """A user edit: a new due date (default a week later) and/or a private note."""
        c = self.c
        with c.lock:
            inv = self._invoice(inv_id)
            due = due_date or date.fromisoformat(inv["DueDate"]) + timedelta(days=7)
            inv["DueDate"] = due.isoformat()
            if note is not None:
                R.with_note(inv, note)
            R.bump(c, "Invoice", inv, self._now())

    def pay_invoice(self, inv_id: str, amount: Decimal | None = None) -> str:
        """A payment today of ``amount`` (default: the whole balance); returns its Id.

        Raises:
            ValueError: nothing is left to pay.
        """
        c = self.c
        with c.lock:
            inv = self._invoice(inv_id)
            amount = inv["Balance"] if amount is None else min(money(amount), inv["Balance"])
            if amount <= 0:
                raise ValueError(f"Invoice {inv_id} has nothing left to pay")
            now = self._now()
            txn_id = self._new_payment(inv, amount, [(inv_id, "Invoice", amount)], now,
                                       ref_num=str(self.rng.randint(10000, 99999)), method="2")
            R.settle_invoice(c, inv)
            R.bump(c, "Invoice", inv, now)
            self._settle(inv["CustomerRef"]["value"])
            return txn_id

    def void_invoice(self, inv_id: str) -> None:
        """Void an invoice: Id kept, amounts 0, ``PrivateNote`` "Voided"; payments that were
        linked to it become unapplied credit (assumed)."""
        c = self.c
        with c.lock:
            inv = self._invoice(inv_id)
            now = self._now()
            self._unlink(inv_id, now)
            R.void(inv)
            R.bump(c, "Invoice", inv, now)
            self._settle(inv["CustomerRef"]["value"])

    def apply_credit(self, memo_id: str, inv_id: str) -> str:
        """Apply a credit memo's remaining credit to an invoice: QBO's $0 Payment linking both
        (``PrivateNote`` "Created by QB Online to link credits to charges."); returns its Id.

        Raises:
            ValueError: no credit left or nothing owed.
        """
        c = self.c
        with c.lock:
            memo = c.tables["CreditMemo"][memo_id]
            inv = self._invoice(inv_id)
            amount = min(memo["RemainingCredit"], inv["Balance"])
            if amount <= 0:
                raise ValueError(f"CreditMemo {memo_id} cannot apply to Invoice {inv_id}")
            now = self._now()
            txn_id = self._new_payment(
                inv, ZERO, [(inv_id, "Invoice", amount), (memo_id, "CreditMemo", amount)], now,
                note=R.LINK_NOTE)
            R.settle_invoice(c, inv)
            R.settle_credit_memo(c, memo)
            R.bump(c, "Invoice", inv, now)
            R.bump(c, "CreditMemo", memo, now)
            self._settle(inv["CustomerRef"]["value"])
            return txn_id

    def _new_payment(self, inv: Record, total: Decimal, links: list[tuple[str, str, Decimal]],
                     now: datetime, ref_num: str | None = None, method: str | None = None,
                     note: str | None = None) -> str:
        """Store a Payment made ``now`` by ``inv``'s customer, in its currency, of ``links``
        (TxnId, TxnType, Amount), linked both ways; returns its Id. The caller settles."""
        c = self.c
        cust = self._customer(inv["CustomerRef"]["value"])
        txn_id = c.next_id("txn")
        rec = R.payment(c, txn_id=txn_id, cust=cust, day=self._today(), total=total,
                        links=links, currency=inv["CurrencyRef"]["value"],
                        rate=inv.get("ExchangeRate"), created=now, updated=now, ref_num=ref_num,
                        method=method, note=note)
        c.tables["Payment"].put(rec, now, now)
        for target, _, _ in links:
            c.links.setdefault(target, []).append(txn_id)
        c.cust_docs.setdefault(cust["Id"], []).append(("Payment", txn_id))
        return txn_id

    # ---- deletes -----------------------------------------------------------------------------
    def delete(self, entity: str, obj_id: str) -> None:
        """Delete a transaction (``Invoice``, ``Payment``, ``CreditMemo``, ``RefundReceipt``):
        it leaves the tables and CDC reports ``status: Deleted`` for 30 days. A deleted
        payment's invoices owe again; payments linked to a deleted invoice or memo lose those
        lines (assumed).

        Raises:
            ValueError: a name-list entity (customers are made inactive, not deleted).
            KeyError: no such object.
        """
        c = self.c
        if entity not in ("Invoice", "Payment", "CreditMemo", "RefundReceipt"):
            raise ValueError(f"{entity} objects are made inactive in QBO, not deleted")
        with c.lock:
            table = c.tables[entity]
            if obj_id not in table:
                raise KeyError(f"no {entity} {obj_id} in realm {c.realm_id}")
            now = self._now()
            rec = table.remove(obj_id)
            c.tombstones[(entity, obj_id)] = Tombstone(entity, obj_id, now)
            cust_id = rec["CustomerRef"]["value"]
            if entity == "Payment":
                for line in rec["Line"]:
                    for link in line["LinkedTxn"]:
                        target = c.tables[link["TxnType"]].get(link["TxnId"])
                        if target is None:
                            continue
                        if link["TxnType"] == "Invoice":
                            R.settle_invoice(c, target)
                        else:
                            R.settle_credit_memo(c, target)
                        R.bump(c, link["TxnType"], target, now)
            else:
                self._unlink(obj_id, now)
            self._settle(cust_id)

    def _unlink(self, txn_id: str, now: datetime) -> None:
        """Payments linked to ``txn_id`` drop those lines (their amounts become unapplied)."""
        c = self.c
        for pay_id in c.links.pop(txn_id, []):
            pay = c.tables["Payment"].get(pay_id)
            if pay is None:
                continue
            pay["Line"] = [ln for ln in pay["Line"]
                           if all(t["TxnId"] != txn_id for t in ln["LinkedTxn"])]
            R.settle_payment(pay)
            R.bump(c, "Payment", pay, now)

    # ---- a mix -------------------------------------------------------------------------------
    def random(self, n: int = 50) -> Counter[str]:
        """Make ``n`` changes: the first cover every kind once, the rest drawn by weight;
        returns how many of each kind were made."""
        c, rng = self.c, self.rng
        done: Counter[str] = Counter()
        plan = list(KINDS[:n]) + rng.choices(KINDS, WEIGHTS, k=max(n - len(KINDS), 0))
        with c.lock:
            for kind in plan:
                if self._one(kind):
                    done[kind] += 1
        return done

    def _pick(self, entity: str, accept: object = None) -> str | None:
        keys = [k for k, v in self.c.tables[entity].items()
                if accept is None or callable(accept) and accept(v)]
        return keys[self.rng.randrange(len(keys))] if keys else None

    def _one(self, kind: str) -> bool:
        active = self._pick("Customer", lambda v: v["Active"])
        open_inv = self._pick("Invoice", lambda v: v["Balance"] > 0
                              and v.get("PrivateNote") != "Voided")
        if kind == "new_invoice" and active:
            self.new_invoice(active)
        elif kind in ("payment", "partial_payment") and open_inv:
            inv = self.c.tables["Invoice"][open_inv]
            share = Decimal(str(round(self.rng.uniform(0.2, 0.8), 2)))
            self.pay_invoice(open_inv, money(inv["Balance"] * share)
                             if kind == "partial_payment" else None)
        elif kind == "edit_invoice" and open_inv:
            self.edit_invoice(open_inv)
        elif kind == "void_invoice":
            unpaid = self._pick("Invoice", lambda v: v["Balance"] > 0
                                and v["Balance"] == v["TotalAmt"] and not v["LinkedTxn"])
            if unpaid is None:
                return False
            self.void_invoice(unpaid)
        elif kind == "delete_payment":
            pay = self._pick("Payment", lambda v: v["TotalAmt"] > 0)
            if pay is None:
                return False
            self.delete("Payment", pay)
        elif kind == "apply_credit":
            memo = self._pick("CreditMemo", lambda v: v["RemainingCredit"] > 0)
            if memo is None:
                return False
            cust = self.c.tables["CreditMemo"][memo]["CustomerRef"]["value"]
            target = self._pick("Invoice", lambda v: v["Balance"] > 0
                                and v["CustomerRef"]["value"] == cust)
            if target is None:
                return False
            self.apply_credit(memo, target)
        elif kind == "new_customer":
            self.add_customer()
        elif kind == "deactivate_customer":
            idle = self._pick("Customer", lambda v: v["Active"] and v["Balance"] == 0)
            if idle is None:
                return False
            self.deactivate_customer(idle)
        else:
            return False
        return True
