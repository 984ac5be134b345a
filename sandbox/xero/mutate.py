"""Changes to an organisation after generation: what happens in Xero between two syncs.

The primitives here (new invoice, payment, payment deletion, edit, void, delete, credit note
with allocation, archive, merge) are shared by :meth:`XeroSandbox.mutate` and the write
endpoints. Every record a change touches gets ``UpdatedDateUTC`` = the change's stamp (sandbox
clock); contact balances follow without a stamp, as in Xero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from random import Random

from arconnect.sandbox.common.clock import SandboxClock
from arconnect.sandbox.xero import records as R
from arconnect.sandbox.xero.generator import _GOODS, due_date
from arconnect.sandbox.xero.model import Org, Record
from arconnect.sandbox.xero.wire import dotnet_date, dotnet_ms, money, new_id

KINDS = ("new_invoice", "payment", "partial_payment", "edit", "void", "delete_draft",
         "payment_deleted", "credit_note", "archive_contact", "merge_contact", "overpayment",
         "apply_credit")
WEIGHTS = (26, 18, 10, 10, 5, 5, 5, 9, 6, 6, 3, 3)


@dataclass
class MutationSummary:
    """What :meth:`XeroSandbox.mutate` changed.

    Attributes:
        tenant_id: the organisation.
        counts: changes made per kind (``new_invoice``, ``payment``, ``partial_payment``,
            ``edit``, ``void``, ``delete_draft``, ``payment_deleted``, ``credit_note``,
            ``archive_contact``, ``merge_contact``, ``overpayment``, ``apply_credit``).
        contacts / invoices / credit_notes / payments / overpayments / prepayments: ids of
            touched records.
        first_ms / last_ms: the lowest and highest ``UpdatedDateUTC`` stamped (Unix ms).
    """

    tenant_id: str
    counts: Counter[str] = field(default_factory=Counter)
    contacts: set[str] = field(default_factory=set)
    invoices: set[str] = field(default_factory=set)
    credit_notes: set[str] = field(default_factory=set)
    payments: set[str] = field(default_factory=set)
    overpayments: set[str] = field(default_factory=set)
    prepayments: set[str] = field(default_factory=set)
    first_ms: int | None = None
    last_ms: int | None = None

    @property
    def touched(self) -> int:
        """Records whose ``UpdatedDateUTC`` changed."""
        return (len(self.contacts) + len(self.invoices) + len(self.credit_notes)
                + len(self.payments) + len(self.overpayments) + len(self.prepayments))

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (the control API returns it)."""
        return {"tenant_id": self.tenant_id, "counts": dict(self.counts),
                "contacts": sorted(self.contacts), "invoices": sorted(self.invoices),
                "credit_notes": sorted(self.credit_notes), "payments": sorted(self.payments),
                "overpayments": sorted(self.overpayments),
                "prepayments": sorted(self.prepayments),
                "touched": self.touched, "first_ms": self.first_ms, "last_ms": self.last_ms}

    def __str__(self) -> str:
        parts = [f"{n} {k.replace('_', ' ')}" for k, n in sorted(self.counts.items()) if n]
        return ", ".join(parts) + f" ({self.touched} records touched)" if parts else "no changes"


class Stamper:
    """Hands out ``UpdatedDateUTC`` stamps for one batch of changes.

    Args:
        clock: the sandbox clock.
        same_second: every stamp falls in the second of the batch's start (ms spread inside
            it, never after now); otherwise each stamp is the clock's now when it is taken.
    """

    def __init__(self, clock: SandboxClock, same_second: bool = False) -> None:
        self.clock = clock
        self.same_second = same_second
        self._start = clock.now_ms()
        self._second = self._start - self._start % 1000
        self._n = 0

    def __call__(self) -> int:
        if not self.same_second:
            return self.clock.now_ms()
        span = self._start - self._second
        ms = self._second + min(self._n, span)
        self._n += 1
        return ms


class Changes:
    """Primitive changes to one organisation, stamped and recorded in a summary.

    Call with ``org.lock`` held.
    """

    def __init__(self, org: Org, stamp: Stamper, rng: Random,
                 summary: MutationSummary | None = None) -> None:
        self.org = org
        self.stamp = stamp
        self.rng = rng
        self.summary = summary or MutationSummary(org.tenant_id)
        self._keys: dict[str, list[str]] = {}

    def keys(self, table: str) -> list[str]:
        """Ids of ``table`` at the start of the batch (new invoices appended)."""
        if table not in self._keys:
            self._keys[table] = list(getattr(self.org, table))
        return self._keys[table]

    # ---- helpers ------------------------------------------------------------------------
    def today(self) -> date:
        return datetime.fromtimestamp(self.stamp.clock.now_ms() / 1000, UTC).date()

    def _mark(self, table: str, key: str, ms: int) -> None:
        getattr(self.summary, table).add(key)
        s = self.summary
        s.first_ms = ms if s.first_ms is None else min(s.first_ms, ms)
        s.last_ms = ms if s.last_ms is None else max(s.last_ms, ms)

    def touch_invoice(self, inv_id: str) -> None:
        ms = self.stamp()
        inv = R.settle_invoice(self.org, inv_id)
        inv["UpdatedDateUTC"] = dotnet_date(ms)
        self.org.invoices.touch(inv_id)
        self._mark("invoices", inv_id, ms)
        R.refresh_contact(self.org, inv["Contact"]["ContactID"], self.stamp.clock.now_ms())

    def touch_contact(self, contact_id: str) -> None:
        ms = self.stamp()
        self.org.contacts[contact_id]["UpdatedDateUTC"] = dotnet_date(ms)
        self.org.contacts.touch(contact_id)
        self._mark("contacts", contact_id, ms)

    def _rate(self, currency: str) -> Decimal:
        if currency == self.org.base_currency:
            return Decimal(1)
        mid = self.org.rates.get(currency, 1.0)
        return Decimal(str(round(mid * self.rng.uniform(0.98, 1.02), 6)))

    # ---- primitives ---------------------------------------------------------------------
    def new_invoice(self, contact_id: str) -> str:
        """A new AUTHORISED (sometimes DRAFT) sales invoice dated today."""
        org, rng = self.org, self.rng
        contact = org.contacts[contact_id]
        currency = contact.get("DefaultCurrency") or org.base_currency
        rate = self._rate(currency)
        tax = R.TAX.get(org.base_currency, R.NO_TAX)
        day = self.today()
        terms = contact.get("PaymentTerms", {}).get("Sales")
        due = due_date(day, (terms["Day"], terms["Type"])) if terms else day + timedelta(30)
        lines = [R.line_item(new_id(rng), rng.choice(_GOODS), Decimal(rng.choice((1, 2, 3))),
                             money(rng.uniform(50, 2500) * float(rate)), tax, True)]
        ms = self.stamp()
        inv = R.invoice(invoice_id=new_id(rng), kind="ACCREC", number=org.next_number("INV-"),
                        reference="", contact=contact, day=day, due=due,
                        status="DRAFT" if rng.random() < 0.15 else "AUTHORISED", lines=lines,
                        currency=currency, rate=rate, updated_ms=ms)
        org.invoices.put(inv)
        org.contact_docs.setdefault(contact_id, []).append(inv["InvoiceID"])
        self._mark("invoices", inv["InvoiceID"], ms)
        R.refresh_contact(org, contact_id, self.stamp.clock.now_ms())
        return str(inv["InvoiceID"])

    def pay(self, inv_id: str, amount: Decimal | None = None, reference: str = "") -> str:
        """A payment today of ``amount`` (default: everything due)."""
        org, rng = self.org, self.rng
        inv = org.invoices[inv_id]
        amount = inv["AmountDue"] if amount is None else min(amount, inv["AmountDue"])
        rate = Decimal(0)
        if inv["CurrencyCode"] != org.base_currency:
            rate = self._rate(inv["CurrencyCode"])
        ms = self.stamp()
        pay = R.payment(payment_id=new_id(rng), inv=inv, day=self.today(), amount=amount,
                        rate=rate, base_currency=org.base_currency,
                        reference=reference or f"Ref {rng.randint(10000, 99999)}",
                        status="AUTHORISED", updated_ms=ms, reconciled=False)
        org.payments.put(pay)
        org.inv_payments.setdefault(inv_id, []).append(pay["PaymentID"])
        self._mark("payments", pay["PaymentID"], ms)
        self.touch_invoice(inv_id)
        return str(pay["PaymentID"])

    def delete_payment(self, payment_id: str) -> None:
        """Payment → DELETED; its invoice owes again (PAID → AUTHORISED)."""
        pay = self.org.payments[payment_id]
        ms = self.stamp()
        pay["Status"] = "DELETED"
        pay["UpdatedDateUTC"] = dotnet_date(ms)
        self.org.payments.touch(payment_id)
        self._mark("payments", payment_id, ms)
        self.touch_invoice(pay["Invoice"]["InvoiceID"])

    def edit(self, inv_id: str) -> None:
        """A user edit: new reference and a due date a week later."""
        inv = self.org.invoices[inv_id]
        inv["Reference"] = f"PO {self.rng.randint(1000, 99999)}"
        due = datetime.fromtimestamp(dotnet_ms(inv["DueDate"]) / 1000, UTC).date()
        due += timedelta(days=7)
        inv["DueDate"], inv["DueDateString"] = dotnet_date(due), f"{due.isoformat()}T00:00:00"
        self.touch_invoice(inv_id)

    def set_status(self, inv_id: str, status: str) -> None:
        """VOIDED (AUTHORISED, nothing paid), DELETED (DRAFT/SUBMITTED) or AUTHORISED."""
        inv = self.org.invoices[inv_id]
        inv["Status"] = status
        self.touch_invoice(inv_id)

    def credit(self, inv_id: str, share: Decimal) -> str:
        """A credit note for ``share`` of the invoice's subtotal, allocated to it today."""
        org, rng = self.org, self.rng
        inv = org.invoices[inv_id]
        contact = org.contacts[inv["Contact"]["ContactID"]]
        tax = R.TAX.get(org.base_currency, R.NO_TAX)
        lines = [R.line_item(new_id(rng), "Credit: adjustment", Decimal(1),
                             money(inv["SubTotal"] * share), tax, True)]
        ms = self.stamp()
        note = R.credit_note(note_id=new_id(rng), kind="ACCRECCREDIT",
                             number=org.next_number("CN-"),
                             reference=f"Credit for {inv['InvoiceNumber']}", contact=contact,
                             day=self.today(), lines=lines, currency=inv["CurrencyCode"],
                             rate=inv["CurrencyRate"], updated_ms=ms)
        applied = min(note["Total"], inv["AmountDue"])
        if applied > 0:
            note["Allocations"].append(R.allocation(new_id(rng), applied, self.today(), inv))
            org.inv_credits.setdefault(inv_id, []).append(note["CreditNoteID"])
        R.settle_credit_note(note)
        org.credit_notes.put(note)
        self._mark("credit_notes", note["CreditNoteID"], ms)
        self.touch_invoice(inv_id)
        return str(note["CreditNoteID"])

    def archive(self, contact_id: str) -> None:
        """Contact → ARCHIVED."""
        self.org.contacts[contact_id]["ContactStatus"] = "ARCHIVED"
        self.touch_contact(contact_id)

    def merge(self, source_id: str, target_id: str) -> None:
        """Merge ``source`` into ``target``: its documents move, it is archived with
        ``MergedToContactID`` (Xero's merge)."""
        org = self.org
        target = org.contacts[target_id]
        for inv_id in org.contact_docs.pop(source_id, []):
            inv = org.invoices[inv_id]
            inv["Contact"] = R.contact_ref(target)
            org.contact_docs.setdefault(target_id, []).append(inv_id)
            self.touch_invoice(inv_id)
            for pay_id in org.inv_payments.get(inv_id, ()):
                pay = org.payments[pay_id]
                pay["Invoice"]["Contact"] = R.contact_ref(target)
                ms = self.stamp()
                pay["UpdatedDateUTC"] = dotnet_date(ms)
                org.payments.touch(pay_id)
                self._mark("payments", pay_id, ms)
        for name, table in (("credit_notes", org.credit_notes),
                            ("overpayments", org.overpayments),
                            ("prepayments", org.prepayments)):
            for credit_id, credit in list(table.items()):
                if credit["Contact"]["ContactID"] == source_id:
                    credit["Contact"] = R.contact_ref(target)
                    ms = self.stamp()
                    credit["UpdatedDateUTC"] = dotnet_date(ms)
                    table.touch(credit_id)
                    self._mark(name, credit_id, ms)
        source = org.contacts[source_id]
        source["ContactStatus"] = "ARCHIVED"
        source["MergedToContactID"] = target_id
        R.refresh_contact(org, source_id, self.stamp.clock.now_ms())
        self.touch_contact(source_id)
        self.touch_contact(target_id)

    def overpay(self, contact_id: str) -> str:
        """A customer pays more than it owes today: a new RECEIVE-OVERPAYMENT, unapplied."""
        org, rng = self.org, self.rng
        contact = org.contacts[contact_id]
        currency = contact.get("DefaultCurrency") or org.base_currency
        rate = self._rate(currency)
        ms = self.stamp()
        credit = R.cash_credit(kind="overpayment", credit_id=new_id(rng), reference="Paid twice",
                               contact=contact, day=self.today(),
                               amount=money(rng.uniform(20, 500) * float(rate)),
                               currency=currency, rate=rate, updated_ms=ms)
        org.overpayments.put(credit)
        self._mark("overpayments", credit["OverpaymentID"], ms)
        return str(credit["OverpaymentID"])

    def apply_credit(self, key: str, credit_id: str, inv_id: str) -> None:
        """Apply an overpayment's or prepayment's remaining credit to an open invoice today
        (as much as both allow)."""
        org = self.org
        table = org.table(key)
        credit, inv = table[credit_id], org.invoices[inv_id]
        amount = min(credit["RemainingCredit"], inv["AmountDue"])
        credit["Allocations"].append(R.allocation(new_id(self.rng), amount, self.today(), inv))
        R.settle_credit_note(credit)
        ms = self.stamp()
        credit["UpdatedDateUTC"] = dotnet_date(ms)
        table.touch(credit_id)
        self._mark(key.lower(), credit_id, ms)
        org.inv_cash.setdefault(inv_id, []).append((key, credit_id))
        self.touch_invoice(inv_id)


def mutate(org: Org, clock: SandboxClock, n: int = 50, seed: int = 1,
           same_second: bool = False) -> MutationSummary:
    """Make ``n`` changes to ``org``: the first ones cover every kind once, the rest are drawn
    by weight. Deterministic for the same organisation state, ``n`` and ``seed``."""
    rng = Random(f"mutate:{org.tenant_id}:{seed}:{n}")
    with org.lock:
        ch = Changes(org, Stamper(clock, same_second), rng)
        plan = list(KINDS[:n]) + rng.choices(KINDS, WEIGHTS, k=max(n - len(KINDS), 0))
        for kind in plan:
            if _apply(ch, kind):
                ch.summary.counts[kind] += 1
    return ch.summary


def _sample(rng: Random, keys: list[str], accept: Callable[[str], bool]) -> str | None:
    """A random key satisfying ``accept``: a few hundred random draws, then a full scan (keeps
    a change O(1) on a 100k-invoice organisation; deterministic for the same state and seed)."""
    if not keys:
        return None
    for _ in range(300):
        key = keys[rng.randrange(len(keys))]
        if accept(key):
            return key
    matching = [k for k in keys if accept(k)]
    return matching[rng.randrange(len(matching))] if matching else None


def _apply(ch: Changes, kind: str) -> bool:
    org, rng = ch.org, ch.rng
    inv_keys = ch.keys("invoices")
    contact_keys = ch.keys("contacts")

    def customer(key: str) -> bool:
        rec = org.contacts[key]
        return rec["ContactStatus"] == "ACTIVE" and bool(rec.get("IsCustomer"))

    def invoice(*statuses: str, unpaid: bool = False) -> str | None:
        def accept(key: str) -> bool:
            v = org.invoices[key]
            return (v["Type"] == "ACCREC" and v["Status"] in statuses
                    and (not unpaid or v["AmountPaid"] == 0))
        return _sample(rng, inv_keys, accept)

    if kind == "new_invoice":
        contact = _sample(rng, contact_keys, customer)
        if contact is None:
            return False
        inv_keys.append(ch.new_invoice(contact))
        return True
    if kind in ("payment", "partial_payment"):
        inv = invoice("AUTHORISED")
        if inv is None:
            return False
        due = org.invoices[inv]["AmountDue"]
        share = Decimal(str(round(rng.uniform(0.2, 0.8), 2)))
        ch.pay(inv, money(due * share) if kind == "partial_payment" else None)
        return True
    if kind == "edit":
        inv = invoice("AUTHORISED", "DRAFT")
        if inv is None:
            return False
        ch.edit(inv)
        return True
    if kind == "void":
        inv = invoice("AUTHORISED", unpaid=True)
        if inv is None or org.inv_credits.get(inv) or org.inv_cash.get(inv):
            return False  # Xero refuses to void an invoice with credit applied
        ch.set_status(inv, "VOIDED")
        return True
    if kind == "delete_draft":
        inv = invoice("DRAFT", "SUBMITTED")
        if inv is None:
            return False
        ch.set_status(inv, "DELETED")
        return True
    if kind == "payment_deleted":
        pay = _sample(rng, ch.keys("payments"),
                      lambda k: org.payments[k]["Status"] == "AUTHORISED"
                      and org.payments[k]["PaymentType"] == "ACCRECPAYMENT")
        if pay is None:
            return False
        ch.delete_payment(pay)
        return True
    if kind == "credit_note":
        inv = invoice("AUTHORISED")
        if inv is None:
            return False
        ch.credit(inv, Decimal(str(rng.choice((0.1, 0.25, 0.5, 1.0)))))
        return True
    if kind == "overpayment":
        contact = _sample(rng, contact_keys, customer)
        if contact is None:
            return False
        ch.overpay(contact)
        return True
    if kind == "apply_credit":
        def open_for(credit: Record) -> list[str]:
            return [i for i in org.contact_docs.get(credit["Contact"]["ContactID"], ())
                    if org.invoices[i]["Type"] == "ACCREC"
                    and org.invoices[i]["Status"] == "AUTHORISED"
                    and org.invoices[i]["AmountDue"] > 0
                    and org.invoices[i]["CurrencyCode"] == credit["CurrencyCode"]]
        held = [(key, cid) for key in ("Overpayments", "Prepayments")
                for cid, c in org.table(key).items()
                if c["Status"] == "AUTHORISED" and c["RemainingCredit"] > 0 and open_for(c)]
        if not held:
            return False
        key, cid = held[rng.randrange(len(held))]
        targets = open_for(org.table(key)[cid])
        ch.apply_credit(key, cid, targets[rng.randrange(len(targets))])
        return True
    if kind == "archive_contact":
        def idle(key: str) -> bool:
            return org.contacts[key]["ContactStatus"] == "ACTIVE" and not any(
                org.invoices[i]["Status"] == "AUTHORISED" for i in org.contact_docs.get(key, ()))
        contact = _sample(rng, contact_keys, idle)
        if contact is None:
            return False
        ch.archive(contact)
        return True
    if kind == "merge_contact":
        source = _sample(rng, contact_keys, customer)
        target = _sample(rng, contact_keys, lambda k: k != source and customer(k))
        if source is None or target is None:
            return False
        ch.merge(source, target)
        return True
    raise ValueError(f"unknown change {kind!r}")
