"""Deterministic synthetic companies: customers with distinct payment habits, suppliers, bills.

Everything derives from ``(seed, org index)`` and the sizes in :class:`OrgSpec`, so two runs
with the same inputs produce byte-identical records and ids. Customers follow archetypes:

======================  =============================================================
``early``               pays 1–12 days before the due date
``on_time``             pays around the due date (±a few days)
``late``                pays 30–60 days after the due date
``deteriorating``       paid early at first; each later invoice is paid later
``new``                 first invoice within the last 90 days
``partial``             pays part at once, the rest much later or never
``non_payer``           rarely pays; what is paid is paid 2–5 months late
======================  =============================================================

Around a fifth of customers invoice in a foreign currency (each document carries its own
``CurrencyRate``: foreign units per one base unit). Some invoices are DRAFT/SUBMITTED (recent),
VOIDED or DELETED; some get credit notes with allocations; a few payments are DELETED and
re-entered; a few contacts are archived and one is merged into another (``MergedToContactID``);
customers belong to 2–3 contact groups of the organisation's own. ``payments`` caps the number of
payments: when behaviour implies more, the most recent ones are left unpaid.
"""

from __future__ import annotations

import gc
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from random import Random
from typing import Any

from arconnect.sandbox.xero import records as R
from arconnect.sandbox.xero.model import Org, OrgSpec, Record
from arconnect.sandbox.xero.wire import dotnet_date, dotnet_ms, money, ms_of, new_id

ARCHETYPES = ("early", "on_time", "late", "deteriorating", "new", "partial", "non_payer")
ARCHETYPE_WEIGHTS = (15, 30, 18, 10, 10, 9, 8)

# Units of each currency per one USD (mid rates, late 2026 order of magnitude). The spec's own
# quote examples fix two cross rates: AUD 0.937053 per NZD and NZD 1.547150 per USD.
PER_USD = {"USD": 1.0, "NZD": 1.547150, "AUD": 1.547150 * 0.937053, "GBP": 0.79,
           "EUR": 0.92, "CAD": 1.36, "SGD": 1.34}
FOREIGN = {"NZD": ("AUD", "USD", "GBP"), "AUD": ("NZD", "USD", "GBP"),
           "USD": ("NZD", "EUR", "GBP"), "GBP": ("EUR", "USD", "AUD")}
TERMS = ((20, "OFFOLLOWINGMONTH"), (30, "DAYSAFTERBILLDATE"), (14, "DAYSAFTERBILLDATE"),
         (7, "DAYSAFTERBILLDATE"))

_ADJ = ("Harbour", "Summit", "Kauri", "Southern", "Coastal", "Pacific", "Totara", "Alpine",
        "Riverside", "Northern", "Golden", "Silver", "Redwood", "Beacon", "Canterbury",
        "Matai", "Waitemata", "Highland", "Rimu", "Eastside", "Orchard", "Meridian", "Tasman")
_NOUN = ("Bakery", "Builders", "Electrical", "Cafe", "Motors", "Plumbing", "Design", "Logistics",
         "Pharmacy", "Florists", "Brewing", "Joinery", "Dental", "Traders", "Media", "Print",
         "Engineering", "Gardens", "Outfitters", "Kitchens", "Surveyors", "Labs", "Fitness")
_SUFFIX = ("Ltd", "Limited", "& Co", "Group", "Partners", "NZ", "Services", "Studio")
_FIRST = ("Aroha", "Ben", "Chloe", "Daniel", "Ella", "Finn", "Grace", "Hemi", "Isla", "Jack",
          "Kiri", "Liam", "Mia", "Noah", "Olivia", "Priya", "Quinn", "Ruby", "Sam", "Tama")
_LAST = ("Smith", "Ngata", "Williams", "Brown", "Wilson", "Taylor", "Patel", "Walker", "Chen",
         "Kumar", "Thompson", "White", "Harris", "Martin", "Clarke", "Young", "King")
_GOODS = ("Consulting services", "Monthly retainer", "Supplies", "Installation",
          "Maintenance visit", "Delivery", "Equipment hire", "Design work", "Training session")
_BILL_GOODS = ("Stock purchase", "Freight", "Office supplies", "Software subscription",
               "Power", "Rent", "Cleaning", "Repairs")


def rate_for(base: str, currency: str) -> float:
    """Mid rate: units of ``currency`` per one unit of ``base``."""
    return PER_USD[currency] / PER_USD[base]


def due_date(day: date, terms: tuple[int, str]) -> date:
    """Due date under Xero payment terms (``Day``, ``Type``)."""
    days, kind = terms
    if kind == "DAYSAFTERBILLDATE":
        return day + timedelta(days=days)
    if kind == "OFFOLLOWINGMONTH":
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return _clamp_day(year, month, days)
    if kind == "OFCURRENTMONTH":
        return _clamp_day(day.year, day.month, days)
    # DAYSAFTERBILLMONTH: days after the end of the invoice month
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, 1) + timedelta(days=days - 1)


def _clamp_day(year: int, month: int, day: int) -> date:
    for d in range(min(day, 31), 27, -1):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    return date(year, month, min(day, 28))


def _pay_plan(rng: Random, cust: _Customer, day: date, due: date, total: Decimal,
              today: date) -> list[tuple[date, Decimal]]:
    """When and how much a customer pays on one invoice; payments after ``today`` are dropped."""
    kind = cust.archetype
    plan: list[tuple[float, Decimal]] = []
    if kind == "early":
        plan = [(-rng.randint(1, 12), total)]
    elif kind in ("on_time", "new"):
        plan = [(rng.gauss(1, 3), total)]
    elif kind == "late":
        plan = [(rng.uniform(30, 60), total)]
    elif kind == "deteriorating":
        span = max((today - cust.first).days, 1)
        progress = (day - cust.first).days / span
        plan = [(-5 + 75 * progress**2 + rng.gauss(0, 4), total)]
    elif kind == "partial":
        first = money(total * Decimal(str(round(rng.uniform(0.3, 0.7), 2))))
        plan = [(rng.gauss(5, 5), first)]
        if rng.random() < 0.6:
            plan.append((rng.uniform(20, 80), total - first))
    elif kind == "non_payer" and rng.random() < 0.35:
        plan = [(rng.uniform(60, 150), total)]
    out = []
    for delay, amount in plan:
        pay_day = max(due + timedelta(days=round(delay)), day)
        if pay_day < today and amount > 0:
            out.append((pay_day, amount))
    return out


class _Customer:
    __slots__ = ("record", "archetype", "weight", "currency", "terms", "first", "size")

    def __init__(self, record: Record, archetype: str, weight: float, currency: str,
                 terms: tuple[int, str], first: date, size: float) -> None:
        self.record = record
        self.archetype = archetype
        self.weight = weight
        self.currency = currency
        self.terms = terms
        self.first = first
        self.size = size


def generate_org(spec: OrgSpec, index: int, seed: int, start: datetime) -> Org:
    """Build one organisation's full history up to ``start`` (deterministic).

    The cyclic garbage collector is paused meanwhile: building ~10 containers per record
    otherwise triggers full collections over an ever larger heap (3x slower at 100k invoices).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(spec, index, seed, start)
    finally:
        if enabled:
            gc.enable()


def _generate(spec: OrgSpec, index: int, seed: int, start: datetime) -> Org:
    rng = Random(f"arconnect-xero:{seed}:{index}")
    rand = rng.random

    def randint(lo: int, hi: int) -> int:  # Random.randint is slow; same idea, one call
        return lo + int(rand() * (hi - lo + 1))

    start = start.astimezone(UTC)
    today = start.date()
    start_ms = ms_of(start)
    origin = today - timedelta(days=3 * 365)
    org = Org(
        tenant_id=new_id(rng), name=spec.name, base_currency=spec.base_currency,
        timezone=spec.timezone, country_code=spec.country_code,
        short_code="!" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(5)),
        created=datetime(origin.year, origin.month, origin.day, tzinfo=UTC) - timedelta(days=30),
    )
    base = spec.base_currency
    foreign = FOREIGN.get(base, ("USD", "EUR"))
    org.currencies = [base, *foreign]
    org.rates = {c: round(rate_for(base, c), 6) for c in foreign}
    tax = R.TAX.get(base, R.NO_TAX)
    names: set[str] = set()

    def stamp(day: date, lo_s: int = 3600, hi_s: int = 20 * 3600) -> int:
        """A moment on ``day`` (UTC ms), never after the sandbox start."""
        ms = ms_of(day) + randint(lo_s, hi_s) * 1000 + randint(0, 999)
        return min(ms, start_ms - randint(1, 3600) * 1000)

    def company_name() -> str:
        for _ in range(20):
            name = f"{rng.choice(_ADJ)} {rng.choice(_NOUN)} {rng.choice(_SUFFIX)}"
            if name not in names:
                names.add(name)
                return name
        # the word lists are running out: number the rest (a number makes it unique)
        name = f"{name} {len(names) + 1}"
        names.add(name)
        return name

    def new_contact(name: str, created: date, currency: str, sales: tuple[int, str] | None,
                    bills: tuple[int, str] | None) -> Record:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        email_domain = "".join(ch for ch in name.lower() if ch.isalnum())[:20] or "example"
        terms: Record = {}
        if bills:
            terms["Bills"] = {"Day": bills[0], "Type": bills[1]}
        if sales:
            terms["Sales"] = {"Day": sales[0], "Type": sales[1]}
        record: Record = {
            "ContactID": new_id(rng), "AccountNumber": f"C{len(org.contacts) + 1:05d}",
            "ContactStatus": "ACTIVE", "Name": name, "FirstName": first, "LastName": last,
            "EmailAddress": f"{first.lower()}@{email_domain}.example",
            "Addresses": [{"AddressType": "POBOX"}, {"AddressType": "STREET"}],
            "Phones": [{"PhoneType": "DDI"}, {"PhoneType": "DEFAULT"}, {"PhoneType": "FAX"},
                       {"PhoneType": "MOBILE"}],
            "UpdatedDateUTC": dotnet_date(stamp(created)), "ContactGroups": [],
            "IsSupplier": False, "IsCustomer": False, "DefaultCurrency": currency,
            "Balances": {},
        }
        # key order: recorded GET /Contacts; PaymentTerms sits after Balances in the spec's
        # getContact example
        if terms:
            record["PaymentTerms"] = terms
        record.update({"ContactPersons": [], "HasAttachments": False,
                       "HasValidationErrors": False})
        org.contacts.load([record])
        when = datetime.fromtimestamp(dotnet_ms(record["UpdatedDateUTC"]) / 1000, UTC)
        org.history[record["ContactID"]] = [R.history_record(
            when, "Created", f"Contact {name} created", user=f"{first} {last}")]
        return record

    # ---- customers -------------------------------------------------------------------------
    customers: list[_Customer] = []
    n_customers = max(spec.customers, 1)
    for i in range(n_customers):
        archetype = rng.choices(ARCHETYPES, ARCHETYPE_WEIGHTS)[0]
        if i < len(ARCHETYPES):  # every archetype present even in a tiny company
            archetype = ARCHETYPES[i]
        currency = base if rng.random() < 0.8 or i < len(ARCHETYPES) else rng.choice(foreign)
        terms = rng.choice(TERMS)
        if archetype == "new":
            first = today - timedelta(days=randint(10, 90))
        else:
            first = origin + timedelta(days=randint(0, 500))
        size = math.exp(rng.gauss(6.3, 0.9))
        record = new_contact(company_name(), first - timedelta(days=randint(1, 20)),
                             currency, terms, None)
        weight = rng.lognormvariate(0, 0.8) * (0.35 if archetype == "new" else 1.0)
        customers.append(_Customer(record, archetype, weight, currency, terms, first, size))
        org.archetypes[record["ContactID"]] = archetype

    suppliers: list[_Customer] = []
    for _ in range(spec.suppliers):
        terms = rng.choice(((20, "OFFOLLOWINGMONTH"), (30, "DAYSAFTERBILLDATE")))
        first = origin + timedelta(days=randint(0, 200))
        record = new_contact(company_name(), first - timedelta(days=5), base, None, terms)
        suppliers.append(_Customer(record, "supplier", 1.0, base, terms, first,
                                   math.exp(rng.gauss(6.0, 0.8))))

    # ---- sales invoices and their payment plans --------------------------------------------
    plans: list[tuple[int, str, date, Decimal]] = []  # (invoice ms, invoice id, pay day, amount)
    weights = [c.weight for c in customers]
    picks = rng.choices(range(len(customers)), weights, k=spec.invoices) if customers else []
    lines_per_doc = (1, 1, 1, 2, 2, 3)
    made: list[tuple[Record, _Customer]] = []
    for n in range(spec.invoices):
        cust = customers[picks[n]]
        span = max((today - cust.first).days, 1)
        day = cust.first + timedelta(days=randint(0, span - 1))
        roll = rng.random()
        status = "AUTHORISED"
        if roll < 0.02:
            status = "DRAFT" if rng.random() < 0.75 else "SUBMITTED"
            day = today - timedelta(days=randint(0, 20))
        elif roll < 0.03:
            status = "DELETED"
        elif roll < 0.042:
            status = "VOIDED"
        rate = Decimal(1)
        if cust.currency != base:
            rate = Decimal(str(round(org.rates[cust.currency] * rng.uniform(0.97, 1.03), 6)))
        lines = []
        for _ in range(rng.choice(lines_per_doc)):
            unit = money(cust.size * rng.lognormvariate(0, 0.5) * float(rate))
            qty = Decimal(rng.choice((1, 1, 1, 2, 3, 5)))
            lines.append(R.line_item(new_id(rng), rng.choice(_GOODS), qty, unit, tax, True))
        due = due_date(day, cust.terms)
        inv = R.invoice(
            invoice_id=new_id(rng), kind="ACCREC", number=org.next_number("INV-"),
            reference=f"PO {randint(1000, 99999)}" if rng.random() < 0.4 else "",
            contact=cust.record, day=day, due=due, status=status, lines=lines,
            currency=cust.currency, rate=rate, updated_ms=stamp(day),
        )
        made.append((inv, cust))
        if status != "AUTHORISED":
            continue
        total = inv["Total"]
        for pay_day, amount in _pay_plan(rng, cust, day, due, total, today):
            plans.append((ms_of(day), inv["InvoiceID"], pay_day, amount))
    org.invoices.load(inv for inv, _ in made)
    for inv, cust in made:
        org.contact_docs.setdefault(cust.record["ContactID"], []).append(inv["InvoiceID"])

    # ---- supplier bills ---------------------------------------------------------------------
    bills: list[Record] = []
    for _ in range(spec.bills if suppliers else 0):
        sup = rng.choice(suppliers)
        day = sup.first + timedelta(days=randint(0, max((today - sup.first).days - 1, 1)))
        roll = rng.random()
        status = ("DRAFT" if roll < 0.03 else "DELETED" if roll < 0.045
                  else "VOIDED" if roll < 0.06 else "AUTHORISED")
        if status == "DRAFT":
            day = today - timedelta(days=randint(0, 15))
        lines = [R.line_item(new_id(rng), rng.choice(_BILL_GOODS), Decimal(1),
                             money(sup.size * rng.lognormvariate(0, 0.4)), tax, False)]
        due = due_date(day, sup.terms)
        bill = R.invoice(
            invoice_id=new_id(rng), kind="ACCPAY", number=f"SUP-{randint(100, 9999)}",
            reference="", contact=sup.record, day=day, due=due, status=status, lines=lines,
            currency=base, rate=Decimal(1), updated_ms=stamp(day),
        )
        bills.append(bill)
        org.contact_docs.setdefault(sup.record["ContactID"], []).append(bill["InvoiceID"])
        if status == "AUTHORISED":
            pay_day = due + timedelta(days=randint(-5, 4))
            if pay_day < today:
                plans.append((ms_of(day), bill["InvoiceID"], max(pay_day, day), bill["Total"]))
    org.invoices.load(bills)

    # ---- credit notes with allocations -----------------------------------------------------
    notes: list[Record] = []
    credited: dict[str, Decimal] = {}
    for inv, cust in made:
        if inv["Status"] != "AUTHORISED" or rng.random() >= 0.03:
            continue
        share = Decimal(str(rng.choice((0.1, 0.2, 0.25, 0.5, 1.0))))
        amount = money(inv["SubTotal"] * share)
        lines = [R.line_item(new_id(rng), "Credit: " + inv["LineItems"][0]["Description"],
                             Decimal(1), amount, tax, True)]
        day = date.fromisoformat(inv["DateString"][:10]) + timedelta(days=randint(3, 40))
        if day >= today:
            continue
        note = R.credit_note(
            note_id=new_id(rng), kind="ACCRECCREDIT", number=org.next_number("CN-"),
            reference=f"Credit for {inv['InvoiceNumber']}", contact=cust.record, day=day,
            lines=lines, currency=inv["CurrencyCode"], rate=inv["CurrencyRate"],
            updated_ms=stamp(day),
        )
        applied = min(note["Total"], inv["Total"])
        note["Allocations"].append(R.allocation(new_id(rng), applied, day, inv))
        R.settle_credit_note(note)
        notes.append(note)
        credited[inv["InvoiceID"]] = applied
        org.inv_credits.setdefault(inv["InvoiceID"], []).append(note["CreditNoteID"])
    # a few unallocated credit notes (open credit) and supplier credits
    for cust in rng.sample(customers, k=min(len(customers), max(1, len(customers) // 40))):
        day = today - timedelta(days=randint(5, 200))
        lines = [R.line_item(new_id(rng), "Goodwill credit", Decimal(1),
                             money(cust.size * 0.2), tax, True)]
        notes.append(R.credit_note(
            note_id=new_id(rng), kind="ACCRECCREDIT", number=org.next_number("CN-"),
            reference="Goodwill", contact=cust.record, day=day, lines=lines,
            currency=cust.currency,
            rate=Decimal(1) if cust.currency == base else Decimal(str(org.rates[cust.currency])),
            updated_ms=stamp(day)))
    for sup in suppliers[:2]:
        day = today - timedelta(days=randint(5, 300))
        lines = [R.line_item(new_id(rng), "Returned goods", Decimal(1), money(sup.size * 0.3),
                             tax, False)]
        notes.append(R.credit_note(
            note_id=new_id(rng), kind="ACCPAYCREDIT", number=f"SC-{randint(100, 999)}",
            reference="", contact=sup.record, day=day, lines=lines, currency=base,
            rate=Decimal(1), updated_ms=stamp(day)))
    org.credit_notes.load(notes)

    # ---- overpayments and prepayments (their own random stream: the rest is unchanged) ----
    _cash_credits(org, made, customers, credited, today, start_ms,
                  Random(f"arconnect-xero-cash:{seed}:{index}"))

    # ---- payments: the cap keeps the oldest; the rest stay open -----------------------------
    plans.sort(key=lambda p: (p[2], p[0], p[1]))
    if len(plans) > spec.payments:
        plans = plans[: max(spec.payments, 0)]
    pays: list[Record] = []
    paid: dict[str, Decimal] = {}
    for _, inv_id, pay_day, amount in plans:
        if len(pays) >= spec.payments:
            break
        inv = org.invoices[inv_id]
        left = inv["Total"] - credited.get(inv_id, R.ZERO) - paid.get(inv_id, R.ZERO)
        amount = min(amount, left)
        if amount <= 0:
            continue
        paid[inv_id] = paid.get(inv_id, R.ZERO) + amount
        rate = Decimal(0)
        if inv["CurrencyCode"] != base:
            rate = Decimal(str(round(org.rates[inv["CurrencyCode"]] * rng.uniform(0.97, 1.03),
                                     6)))
        if rng.random() < 0.02 and len(pays) + 2 <= spec.payments:
            # entered, deleted, entered again (a classic correction)
            wrong = R.payment(payment_id=new_id(rng), inv=inv, day=pay_day, amount=amount,
                              rate=rate, base_currency=base, reference="Ref (entered twice)",
                              status="DELETED", updated_ms=stamp(pay_day), reconciled=False)
            org.inv_payments.setdefault(inv_id, []).append(wrong["PaymentID"])
            pays.append(wrong)
        pay = R.payment(payment_id=new_id(rng), inv=inv, day=pay_day, amount=amount, rate=rate,
                        base_currency=base, reference=f"Ref {randint(10000, 99999)}",
                        status="AUTHORISED", updated_ms=stamp(pay_day),
                        reconciled=pay_day < today - timedelta(days=7))
        org.inv_payments.setdefault(inv_id, []).append(pay["PaymentID"])
        pays.append(pay)
    org.payments.load(pays)

    # ---- settle: amounts, statuses, FullyPaidOnDate, UpdatedDateUTC -----------------------
    touched = set(org.inv_payments) | set(org.inv_credits) | set(org.inv_cash)
    for inv_id in touched:
        inv = R.settle_invoice(org, inv_id)
        last = max([org.payments.updated[p] for p in org.inv_payments.get(inv_id, ())]
                   + [org.credit_notes.updated[n] for n in org.inv_credits.get(inv_id, ())]
                   + [org.table(k).updated[c] for k, c in org.inv_cash.get(inv_id, ())]
                   + [org.invoices.updated[inv_id]])
        inv["UpdatedDateUTC"] = dotnet_date(last)
    # some records share a second with the one before (bulk edits in the Xero UI)
    ids = list(org.invoices)
    for k in range(1, len(ids)):
        if rng.random() < 0.03:
            org.invoices[ids[k]]["UpdatedDateUTC"] = org.invoices[ids[k - 1]]["UpdatedDateUTC"]
    org.invoices.load(list(org.invoices.values()))

    # ---- contacts: groups, archive, merge, balances ----------------------------------------
    group_names = ("Wholesale", "Retail", "Key accounts")[: 2 + (seed + index) % 2]
    groups: list[dict[str, Any]] = []
    for name in group_names:
        group: dict[str, Any] = {"ContactGroupID": new_id(rng), "Name": name, "Status": "ACTIVE",
                 "Contacts": [], "HasValidationErrors": False}
        groups.append(group)
        org.group_members[group["ContactGroupID"]] = {}
    org.contact_groups.load(groups)
    for cust in customers:
        if rng.random() < 0.45 and groups:
            group = rng.choice(groups)
            org.group_members[group["ContactGroupID"]][cust.record["ContactID"]] = None
            cust.record["ContactGroups"].append(R.group_ref(group))
    archivable = [c for c in customers if c.archetype not in ("new",)]
    for cust in rng.sample(archivable, k=min(len(archivable), max(1, len(customers) // 50))):
        open_docs = [i for i in org.contact_docs.get(cust.record["ContactID"], ())
                     if org.invoices[i]["Status"] == "AUTHORISED"]
        if not open_docs:
            cust.record["ContactStatus"] = "ARCHIVED"
    if customers:
        target = customers[len(customers) // 2].record
        dup = new_contact(target["Name"] + " (duplicate)", today - timedelta(days=400),
                          target["DefaultCurrency"], (20, "OFFOLLOWINGMONTH"), None)
        dup["ContactStatus"] = "ARCHIVED"
        dup["MergedToContactID"] = target["ContactID"]
        dup["UpdatedDateUTC"] = dotnet_date(stamp(today - timedelta(days=randint(30, 300))))
    for contact_id in list(org.contacts):
        R.refresh_contact(org, contact_id, start_ms)
    org.contacts.load(list(org.contacts.values()))
    return org


def _cash_credits(org: Org, made: list[tuple[Record, _Customer]], customers: list[_Customer],
                  credited: dict[str, Decimal], today: date, start_ms: int,
                  rng: Random) -> None:
    """Overpayments and prepayments from a few customers.

    About one customer in 40 overpaid once (a payment beyond what was owed); a third of those
    overpayments were partly applied to a later open invoice. About one in 60 paid a deposit
    (prepayment) before an invoice: most are applied to that invoice, the rest wait for the
    next one. Allocations add to ``credited`` so the payments that follow pay only the rest.
    """
    base = org.base_currency
    by_customer: dict[str, list[Record]] = {}
    for inv, cust in made:
        by_customer.setdefault(cust.record["ContactID"], []).append(inv)

    def stamp(day: date) -> int:
        ms = ms_of(day) + rng.randint(3600, 20 * 3600) * 1000
        return min(ms, start_ms - rng.randint(1, 3600) * 1000)

    def rate(currency: str) -> Decimal:
        return Decimal(1) if currency == base else Decimal(str(org.rates[currency]))

    def open_left(inv: Record) -> Decimal:
        return Decimal(inv["Total"]) - credited.get(inv["InvoiceID"], R.ZERO)

    def allocate(credit: Record, key: str, inv: Record, amount: Decimal, day: date) -> None:
        credit["Allocations"].append(R.allocation(new_id(rng), amount, day, inv))
        R.settle_credit_note(credit)
        credit["UpdatedDateUTC"] = dotnet_date(stamp(day))
        credited[inv["InvoiceID"]] = credited.get(inv["InvoiceID"], R.ZERO) + amount
        org.inv_cash.setdefault(inv["InvoiceID"], []).append((key, credit["ID"]))

    def usable(cust: _Customer, after: date) -> list[Record]:
        return [i for i in by_customer.get(cust.record["ContactID"], ())
                if i["Status"] == "AUTHORISED" and i["CurrencyCode"] == cust.currency
                and date.fromisoformat(i["DateString"][:10]) >= after and open_left(i) > 1]

    overpayments: list[Record] = []
    prepayments: list[Record] = []
    if not customers:
        return
    for cust in rng.sample(customers, k=min(len(customers), max(1, len(customers) // 40))):
        day = today - timedelta(days=rng.randint(5, 300))
        credit = R.cash_credit(
            kind="overpayment", credit_id=new_id(rng), reference="Paid twice",
            contact=cust.record, day=day, amount=money(cust.size * rng.uniform(0.05, 0.3)),
            currency=cust.currency, rate=rate(cust.currency), updated_ms=stamp(day))
        later = usable(cust, day)
        if later and rng.random() < 0.35:
            inv = rng.choice(later)
            when = max(day, date.fromisoformat(inv["DateString"][:10])) + timedelta(
                days=rng.randint(0, 10))
            if when < today:
                amount = min(credit["Total"], money(open_left(inv) * Decimal("0.5")))
                allocate(credit, "Overpayments", inv, amount, when)
        overpayments.append(credit)
    for cust in rng.sample(customers, k=min(len(customers), max(1, len(customers) // 60))):
        mine = usable(cust, today - timedelta(days=400))
        if mine and rng.random() < 0.75:
            inv = rng.choice(mine)
            issued = date.fromisoformat(inv["DateString"][:10])
            day = issued - timedelta(days=rng.randint(1, 20))
            share = Decimal(str(rng.choice((0.2, 0.3, 0.5))))
            credit = R.cash_credit(
                kind="prepayment", credit_id=new_id(rng), reference="Deposit",
                contact=cust.record, day=day, amount=money(inv["Total"] * share),
                currency=cust.currency, rate=rate(cust.currency), updated_ms=stamp(day))
            allocate(credit, "Prepayments", inv, min(credit["Total"], open_left(inv)), issued)
        else:
            day = today - timedelta(days=rng.randint(2, 45))
            credit = R.cash_credit(
                kind="prepayment", credit_id=new_id(rng), reference="Deposit",
                contact=cust.record, day=day, amount=money(cust.size * 0.25),
                currency=cust.currency, rate=rate(cust.currency), updated_ms=stamp(day))
        prepayments.append(credit)
    org.overpayments.load(overpayments)
    org.prepayments.load(prepayments)
