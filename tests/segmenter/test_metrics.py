"""Segmenter metrics: SQL against an independent plain-Python reference, and worked examples.

The property tests generate random AR histories (invoices of every status, partial payments and
credit-note allocations, with and without ``fully_paid_on``, open and overdue items, a parent
with a sub-customer, a merged customer, a customer without history), store them as a new tenant
of one store per test and compare every metric of :func:`compute_metrics` with
:func:`reference`, written here from the contract with plain loops and fractions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from arconnect.segmenter.metrics import METRIC_KEYS, compute_metrics, empty_metrics
from arconnect.store import db
from arconnect.store.models import Allocation, Customer, Document, Payment, Tenant

RUN = date(2026, 6, 30)
NOW = datetime(2026, 6, 30, tzinfo=UTC)
# The store's words (connector/store/vocabulary.py), written out: the reference does not
# import what it checks.
EXCLUDED = {"draft", "voided", "deleted"}
# Refunds and credit applications: not money received.
REFUNDS = {"credit_note_refund", "overpayment_refund", "prepayment_refund", "refund",
           "credit_application"}
_ids = itertools.count(1)


# --- the history model shared by the generator, the loader and the reference ----------------


@dataclass
class Cust:
    ext: str
    parent: str | None = None
    merged_into: str | None = None
    terms_days: int | None = None
    delivery_mode: str | None = None
    payment_method: str | None = None
    default_currency: str | None = None
    groups: list[str] | None = None
    extra: dict[str, Any] | None = None


@dataclass
class Alloc:
    ext: str
    source_kind: str
    allocated_on: date | None
    cents: int
    is_deleted: bool = False
    method: str | None = None
    payment_type: str | None = "receipt"


@dataclass
class Doc:
    ext: str
    kind: str
    cust: str
    status: str
    is_deleted: bool
    issue_date: date
    due_date: date | None
    fully_paid_on: date | None
    total: int  # cents, document currency
    total_base: int  # cents, base currency
    amount_due_base: int
    allocs: list[Alloc] = field(default_factory=list)
    currency: str | None = None
    disputed: bool | None = None  # document.extra.disputed; None: no flag


@dataclass
class History:
    customers: list[Cust]
    docs: list[Doc]


def cents(value: int) -> Decimal:
    return Decimal(value).scaleb(-2)


# --- the reference ------------------------------------------------------------------------


def _q(num: int | Fraction, den: int | Fraction) -> float | None:
    return None if den == 0 else round(float(Fraction(num) / Fraction(den)), 4)


def _paid_on(doc: Doc) -> date | None:
    if doc.fully_paid_on is not None:
        return doc.fully_paid_on
    by_day: dict[date, int] = {}
    for a in doc.allocs:
        if not a.is_deleted and a.allocated_on is not None:
            by_day[a.allocated_on] = by_day.get(a.allocated_on, 0) + a.cents
    running = 0
    for day in sorted(by_day):
        running += by_day[day]
        if running >= doc.total:
            return day
    return None


def reference(h: History, run: date, window_days: int = 365,
              rollup: bool = True) -> dict[str, dict[str, Any]]:
    """The contract, computed the slow and obvious way."""
    ids = {c.ext for c in h.customers}
    group: dict[str, str] = {}
    for c in h.customers:
        if c.merged_into:
            group[c.ext] = c.merged_into
        elif rollup and c.parent and c.parent in ids and c.parent != c.ext:
            group[c.ext] = c.parent
        else:
            group[c.ext] = c.ext
    keys = [c for c in h.customers if group[c.ext] == c.ext and not c.merged_into]
    start, t90, y365 = (run - timedelta(days=n) for n in (window_days, 90, 365))

    def in_window(day: date | None, lo: date = start) -> bool:
        return day is not None and lo < day <= run

    # The tenant flags disputes: a counted invoice of the window carries the flag.
    flagged = any(d.disputed is not None for d in h.docs if d.kind == "invoice"
                  and not d.is_deleted and d.status not in EXCLUDED and in_window(d.issue_date)
                  and group.get(d.cust) in {k.ext for k in keys})

    out: dict[str, dict[str, Any]] = {}
    for c in keys:
        docs = [d for d in h.docs if group.get(d.cust) == c.ext and not d.is_deleted
                and d.status not in EXCLUDED]
        invoices = [d for d in docs if d.kind == "invoice"]
        credits = [d for d in docs if d.kind == "credit_note"]
        # credit notes, overpayments and prepayments: credit the customer still holds
        held = [d for d in docs if d.kind in ("credit_note", "overpayment", "prepayment")]
        windowed = [d for d in invoices if in_window(d.issue_date)]
        paid = [(d, p) for d in windowed if in_window(p := _paid_on(d))]
        open_items = [d for d in invoices if d.status == "open" and d.amount_due_base > 0]
        owed = sum(d.amount_due_base for d in open_items)

        def due(d: Doc) -> date:
            return d.due_date or d.issue_date

        overdue = [d for d in open_items if due(d) < run]
        # (weight, days late, due date) of every item of the Upflow delay
        paid_items = [(d.total_base, (p - due(d)).days, due(d)) for d, p in paid]
        open_late = [(d.amount_due_base, (run - due(d)).days, due(d)) for d in overdue]
        items = paid_items + open_late

        def delay(rows: list[tuple[int, int, date]]) -> float | None:
            return _q(sum(w * x for w, x, _ in rows), sum(w for w, _, _ in rows))

        recent = delay([r for r in items if t90 < r[2] <= run])
        earlier = delay([r for r in items if start < r[2] <= t90])
        aging = {"current": 0, "1_30": 0, "31_60": 0, "61_90": 0, "91_plus": 0}
        for d in open_items:
            days = (run - due(d)).days
            bucket = ("current" if days <= 0 else "1_30" if days <= 30 else "31_60"
                      if days <= 60 else "61_90" if days <= 90 else "91_plus")
            aging[bucket] += d.amount_due_base
        turnover = sum(d.total_base for d in invoices if in_window(d.issue_date, y365))
        issued = [d.issue_date for d in invoices if d.issue_date <= run]
        first = min(issued) if issued else None
        last_pay = [a.allocated_on for d in h.docs for a in d.allocs
                    if a.source_kind == "payment" and not a.is_deleted
                    and a.allocated_on is not None and a.allocated_on <= run
                    and group.get(d.cust) == c.ext]
        mix: dict[str, int] = {}
        for d in h.docs:
            for a in d.allocs:
                if (a.source_kind == "payment" and group.get(d.cust) == c.ext
                        and not a.is_deleted and a.method and a.payment_type not in REFUNDS
                        and in_window(a.allocated_on)):
                    mix[a.method] = mix.get(a.method, 0) + a.cents
        mix_total = sum(mix.values())
        inv_window = sum(d.total_base for d in windowed)
        by_currency: dict[str, int] = {}
        for d in windowed:
            if d.currency:
                by_currency[d.currency] = by_currency.get(d.currency, 0) + 1
        extra = c.extra or {}
        country = extra.get("country")
        if isinstance(country, list):
            country = next((x for x in country if x), None)
        w_paid = sum(d.total_base for d, _ in paid)
        out[c.ext] = {
            "invoice_count": len(windowed),
            "paid_invoice_count": len(paid),
            "avg_days_to_pay": _q(sum((p - d.issue_date).days for d, p in paid), len(paid)),
            "avg_days_to_pay_weighted": _q(
                sum(d.total_base * (p - d.issue_date).days for d, p in paid), w_paid),
            "days_late_weighted": delay(items),
            "days_late_weighted_paid": delay(paid_items),
            "late_share": _q(sum(1 for d, p in paid if p > due(d)), len(paid)),
            "open_balance": cents(sum(d.amount_due_base for d in open_items)),
            "overdue_balance": cents(sum(d.amount_due_base for d in overdue)),
            **{f"aging_{k}": cents(v) for k, v in aging.items()},
            "oldest_overdue_days": max(((run - due(d)).days for d in overdue), default=0),
            "unapplied_credit": cents(sum(d.amount_due_base for d in held
                                          if d.status == "open")),
            "net_exposure": cents(max(sum(d.amount_due_base for d in open_items) - sum(
                d.amount_due_base for d in held if d.status == "open"), 0)),
            "turnover_12m": cents(turnover),
            "avg_monthly_sales": (Decimal(turnover) / 1200).quantize(Decimal("0.01"),
                                                                      "ROUND_HALF_UP"),
            "exposure_months": (0.0 if not owed else _q(owed * 12, turnover) if turnover
                                else None),
            "first_invoice_date": first.isoformat() if first else None,
            "tenure_days": (run - first).days if first else None,
            "days_since_last_payment": (run - max(last_pay)).days if last_pay else None,
            "trend": None if recent is None or earlier is None else round(recent - earlier, 4),
            "credit_note_ratio": _q(sum(d.total_base for d in credits
                                        if in_window(d.issue_date)), inv_window) or 0.0,
            "disputed_share": _q(sum(1 for d in windowed if d.disputed), len(windowed))
            if flagged else None,
            "terms_days": c.terms_days,
            "delivery_mode": c.delivery_mode,
            "payment_method_mix": {k: round(v / mix_total, 4) for k, v in sorted(mix.items())}
            if mix_total > 0 else {},
            # the largest amount received, ties alphabetical; else the customer's own
            "payment_method": min(mix, key=lambda k: (-mix[k], k)) if mix_total > 0
            else c.payment_method,
            "country": country or None,
            "currency": c.default_currency or (
                min(by_currency, key=lambda k: (-by_currency[k], k)) if by_currency else None),
            "group": sorted(set(c.groups or [])),
            "attributes": dict(extra.get("attributes") or {}),
        }
    return out


# --- the store ----------------------------------------------------------------------------


def store(engine: Engine, h: History) -> int:
    """Insert ``h`` as a new tenant; its id."""
    n = next(_ids)
    with engine.begin() as conn:
        tenant_id = conn.execute(Tenant.__table__.insert().values(  # type: ignore[attr-defined]
            platform="xero", external_id=f"org-{n}", name=f"Org {n}", created_at=NOW,
            updated_at=NOW)).inserted_primary_key[0]
        conn.execute(Customer.__table__.insert(), [  # type: ignore[attr-defined]
            {"tenant_id": tenant_id, "external_id": c.ext, "parent_external_id": c.parent,
             "merged_into_external_id": c.merged_into, "terms_days": c.terms_days,
             "delivery_mode": c.delivery_mode, "payment_method": c.payment_method,
             "default_currency": c.default_currency, "groups": c.groups, "extra": c.extra,
             "synced_at": NOW, "is_archived": False}
            for c in h.customers])
        docs, allocs, pays = [], [], []
        for d in h.docs:
            docs.append({
                "tenant_id": tenant_id, "external_id": d.ext, "kind": d.kind,
                "customer_external_id": d.cust, "status": d.status, "is_deleted": d.is_deleted,
                "issue_date": d.issue_date, "due_date": d.due_date,
                "fully_paid_on": d.fully_paid_on, "total": cents(d.total),
                "total_base": cents(d.total_base), "amount_due_base": cents(d.amount_due_base),
                "currency": d.currency,
                "extra": None if d.disputed is None else {"disputed": d.disputed},
                "synced_at": NOW})
            for a in d.allocs:
                allocs.append({
                    "tenant_id": tenant_id, "external_id": a.ext, "source_kind": a.source_kind,
                    "source_external_id": a.ext, "document_external_id": d.ext,
                    "customer_external_id": d.cust, "allocated_on": a.allocated_on,
                    "amount": cents(a.cents), "amount_base": cents(a.cents),
                    "is_deleted": a.is_deleted, "synced_at": NOW})
                if a.source_kind == "payment":
                    pays.append({
                        "tenant_id": tenant_id, "external_id": a.ext,
                        "payment_type": a.payment_type, "document_external_id": d.ext,
                        "customer_external_id": d.cust, "is_deleted": a.is_deleted,
                        "paid_on": a.allocated_on, "amount": cents(a.cents),
                        "amount_base": cents(a.cents), "method": a.method, "synced_at": NOW})
        for table, rows in ((Document, docs), (Allocation, allocs), (Payment, pays)):
            if rows:
                conn.execute(table.__table__.insert(), rows)  # type: ignore[attr-defined]
    return int(tenant_id)


def measure(engine: Engine, tenant_id: int, **kw: Any) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return compute_metrics(conn, tenant_id, RUN, **kw)


# --- the generator ------------------------------------------------------------------------

CUSTOMERS = [
    Cust("P", terms_days=30, delivery_mode="email", payment_method="cheque",
         groups=["Wholesale", "Export"],
         extra={"country": "NZ", "attributes": {"industry": "retail", "tier": 2}}),
    # a sub-customer: its attributes are not read, the parent's are
    Cust("K", parent="P", terms_days=14, default_currency="AUD", extra={"country": "AU"}),
    Cust("S", terms_days=None, delivery_mode="paper", default_currency="USD",
         extra={"country": ["", "US"]}),
    Cust("M", merged_into="S"),  # merged: its documents count for S
    Cust("Q", parent="nobody", groups=["Retail"]),  # a parent that is not a customer
    Cust("E", terms_days=60, payment_method="card"),  # no history at all
]
ACTIVE = ["P", "K", "S", "M", "Q"]


# Offsets from the run date on the edges of the window, the trend split and the aging buckets.
EDGES = [-366, -365, -364, -181, -180, -179, -91, -90, -89, -61, -60, -59, -31, -30, -29,
         -1, 0, 1]


def _day(draw: st.DrawFn, lo: int = -500, hi: int = 5) -> date:
    """A date near the run date, often exactly on an edge."""
    offset = draw(st.one_of(st.integers(lo, hi), st.sampled_from(EDGES)))
    return RUN + timedelta(days=offset)


@st.composite
def histories(draw: st.DrawFn) -> History:
    docs: list[Doc] = []
    n = draw(st.integers(0, 14))
    flags = draw(st.booleans())  # whether the tenant's documents carry dispute flags
    for i in range(n):
        kind = draw(st.sampled_from(["invoice"] * 4 + ["credit_note", "overpayment",
                                                          "prepayment"]))
        status = draw(st.sampled_from(
            ["open"] * 3 + ["paid"] * 3 + ["draft", "draft", "voided", "deleted"]))
        # A mapping flags voided and deleted documents; a stray flag on another status counts too.
        deleted = status in {"voided", "deleted"} or draw(st.integers(0, 20)) == 0
        issue = _day(draw)
        due = draw(st.sampled_from([
            None, issue + timedelta(days=draw(st.sampled_from([0, 7, 14, 30, 60]))),
            _day(draw, -400, 60)]))
        total = draw(st.integers(0, 500_000))
        rate = draw(st.sampled_from([Fraction(1), Fraction(1), Fraction(3, 2)]))
        total_base = int(total * rate)
        allocs: list[Alloc] = []
        for j in range(draw(st.integers(0, 3))):
            src = draw(st.sampled_from(["payment", "payment", "credit_note", "overpayment",
                                        "prepayment"]))
            when = draw(st.sampled_from([
                None, issue + timedelta(days=draw(st.integers(0, 150))), _day(draw)]))
            allocs.append(Alloc(
                ext=f"A{i}-{j}", source_kind=src, allocated_on=when,
                cents=draw(st.sampled_from([total // 2, total - total // 2, total,
                                            draw(st.integers(0, 500_000))])),
                is_deleted=draw(st.integers(0, 7)) == 0,
                method=draw(st.sampled_from([None, "card", "bank_transfer"])),
                payment_type=draw(st.sampled_from(["receipt"] * 4 + ["credit_note_refund"])),
            ))
        fully = draw(st.sampled_from([
            None, None, issue + timedelta(days=draw(st.integers(0, 200))), _day(draw)]))
        amount_due = draw(st.sampled_from([0, total, total_base // 3, total_base]))
        docs.append(Doc(
            ext=f"D{i}", kind=kind, cust=draw(st.sampled_from(ACTIVE)), status=status,
            is_deleted=deleted, issue_date=issue, due_date=due, fully_paid_on=fully,
            total=total, total_base=total_base, amount_due_base=amount_due, allocs=allocs,
            currency=draw(st.sampled_from([None, "NZD", "USD"])),
            disputed=draw(st.sampled_from([None, True, False])) if flags else None))
    return History(customers=CUSTOMERS, docs=docs)


def _compare(got: dict[str, dict[str, Any]], want: dict[str, dict[str, Any]]) -> None:
    assert sorted(got) == sorted(want)
    for ext, metrics in want.items():
        assert set(got[ext]) == set(METRIC_KEYS)
        for key in METRIC_KEYS:
            assert got[ext][key] == metrics[key], (ext, key, got[ext][key], metrics[key])
            assert type(got[ext][key]) is type(metrics[key]) or metrics[key] is None, (ext, key)


_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture,
                                                          HealthCheck.too_slow]}


@settings(max_examples=150, **_SETTINGS)  # type: ignore[arg-type]
@given(h=histories(), window=st.sampled_from([365, 365, 180, 60]), rollup=st.booleans())
def test_sql_matches_the_reference_on_sqlite(sqlite_url: str, h: History, window: int,
                                             rollup: bool) -> None:
    engine = db.get_engine(sqlite_url)
    tenant_id = store(engine, h)
    _compare(measure(engine, tenant_id, window_days=window, rollup_parents=rollup),
             reference(h, RUN, window, rollup))


@pytest.mark.postgres
@settings(max_examples=40, **_SETTINGS)  # type: ignore[arg-type]
@given(h=histories(), window=st.sampled_from([365, 180]), rollup=st.booleans())
def test_sql_matches_the_reference_on_postgres(pg_url: str, h: History, window: int,
                                               rollup: bool) -> None:
    engine = db.get_engine(pg_url)
    tenant_id = store(engine, h)
    _compare(measure(engine, tenant_id, window_days=window, rollup_parents=rollup),
             reference(h, RUN, window, rollup))


# --- worked examples ----------------------------------------------------------------------


def _worked() -> History:
    d = date.fromisoformat

    def pay(ext: str, on: str, amount: int, method: str) -> Alloc:
        return Alloc(ext, "payment", d(on), amount, method=method)

    docs = [
        # Paid 10 days late (40 days after issue), Xero's FullyPaidOnDate set.
        Doc("INV1", "invoice", "A", "paid", False, d("2026-01-01"), d("2026-01-31"),
            d("2026-02-10"), 100_000, 100_000, 0, [pay("PAY1", "2026-02-10", 100_000, "card")]),
        # No paid date: a payment of 1,000 then a credit note of 2,000 settle it on 5 April
        # (35 days after issue, 5 days late).
        Doc("INV2", "invoice", "A", "paid", False, d("2026-03-01"), d("2026-03-31"), None,
            300_000, 300_000, 0,
            [pay("PAY2", "2026-03-20", 100_000, "bank_transfer"),
             Alloc("CN1-1", "credit_note", d("2026-04-05"), 200_000)]),
        # Open, 30 days past due; open, not yet due.
        Doc("INV3", "invoice", "A", "open", False, d("2026-05-01"), d("2026-05-31"), None,
            50_000, 50_000, 50_000),
        Doc("INV4", "invoice", "A", "open", False, d("2026-06-20"), d("2026-07-20"), None,
            20_000, 20_000, 20_000),
        # Not counted: a draft and a voided invoice.
        Doc("INV5", "invoice", "A", "draft", False, d("2026-06-01"), d("2026-07-01"), None,
            999_900, 999_900, 999_900),
        Doc("INV6", "invoice", "A", "voided", True, d("2026-02-01"), d("2026-03-01"), None,
            999_900, 999_900, 999_900),
        # A used credit note and one with 100.00 left to apply.
        Doc("CN1", "credit_note", "A", "paid", False, d("2026-04-05"), d("2026-04-05"), None,
            200_000, 200_000, 0),
        Doc("CN2", "credit_note", "A", "open", False, d("2026-06-01"), d("2026-06-01"),
            None, 10_000, 10_000, 10_000),
        # The sub-customer's invoice, and one of the merged customer (already folded into A).
        Doc("INV7", "invoice", "B", "open", False, d("2026-06-25"), d("2026-07-25"), None,
            10_000, 10_000, 10_000),
    ]
    customers = [Cust("A", terms_days=30, delivery_mode="email"), Cust("B", parent="A"),
                 Cust("C", terms_days=15), Cust("D", merged_into="A")]
    return History(customers, docs)


WORKED_A = {
    "invoice_count": 4,
    "paid_invoice_count": 2,
    "avg_days_to_pay": 37.5,  # (40 + 35) / 2
    "avg_days_to_pay_weighted": 36.25,  # (1000 × 40 + 3000 × 35) / 4000
    "days_late_weighted": 8.8889,  # (1000 × 10 + 3000 × 5 + 500 × 30) / 4500
    "days_late_weighted_paid": 6.25,  # (1000 × 10 + 3000 × 5) / 4000
    "late_share": 1.0,
    "open_balance": Decimal("700.00"),
    "overdue_balance": Decimal("500.00"),
    "aging_current": Decimal("200.00"),
    "aging_1_30": Decimal("500.00"),
    "aging_31_60": Decimal("0.00"),
    "aging_61_90": Decimal("0.00"),
    "aging_91_plus": Decimal("0.00"),
    "oldest_overdue_days": 30,
    "unapplied_credit": Decimal("100.00"),
    "net_exposure": Decimal("600.00"),  # 700 owed − 100 of credit held
    "turnover_12m": Decimal("4700.00"),
    "avg_monthly_sales": Decimal("391.67"),  # 4700 / 12 = 391.666…
    "exposure_months": 1.7872,  # 700 owed / (4700 / 12) a month
    "first_invoice_date": "2026-01-01",
    "tenure_days": 180,
    "days_since_last_payment": 102,  # 20 March ─▶ 30 June
    # due in the last 90 days: INV3 (30 days) − due before: INV1, INV2 (6.25)
    "trend": 23.75,
    "credit_note_ratio": 0.4468,  # (2000 + 100) / 4700
    "disputed_share": None,  # no invoice carries a dispute flag
    "terms_days": 30,
    "delivery_mode": "email",
    "payment_method_mix": {"bank_transfer": 0.5, "card": 0.5},
    "payment_method": "bank_transfer",  # 1,000 each: the alphabetically first
    "country": None,
    "currency": None,
    "group": [],
    "attributes": {},
}


def test_worked_example_by_hand(db_url: str) -> None:
    engine = db.get_engine(db_url)
    h = _worked()
    h.docs = [doc for doc in h.docs if doc.cust == "A"]
    tenant_id = store(engine, h)
    got = measure(engine, tenant_id)
    assert sorted(got) == ["A", "C"]  # B rolls up into A, D was merged into A
    assert got["A"] == WORKED_A
    assert got["C"] == empty_metrics(15)
    assert got["C"]["open_balance"] == Decimal("0.00") and got["C"]["tenure_days"] is None


def test_sub_customers_roll_up_unless_disabled(db_url: str) -> None:
    engine = db.get_engine(db_url)
    tenant_id = store(engine, _worked())
    rolled = measure(engine, tenant_id)
    assert sorted(rolled) == ["A", "C"]
    assert rolled["A"]["invoice_count"] == 5
    assert rolled["A"]["open_balance"] == Decimal("800.00")
    assert rolled["A"]["aging_current"] == Decimal("300.00")

    apart = measure(engine, tenant_id, rollup_parents=False)
    assert sorted(apart) == ["A", "B", "C"]
    assert {k: apart["A"][k] for k in WORKED_A} == WORKED_A
    assert apart["B"]["invoice_count"] == 1
    assert apart["B"]["open_balance"] == Decimal("100.00")
    assert apart["B"]["first_invoice_date"] == "2026-06-25"
    assert apart["B"]["trend"] is None  # nothing due in either period


def test_window_and_run_date_bound_the_figures(db_url: str) -> None:
    engine = db.get_engine(db_url)
    h = _worked()
    tenant_id = store(engine, h)
    with engine.connect() as conn:
        short = compute_metrics(conn, tenant_id, RUN, window_days=90)["A"]
        before = compute_metrics(conn, tenant_id, date(2026, 3, 25))["A"]
    # Issued after 1 April: INV3, INV4 and the sub-customer's INV7; none paid.
    assert short["invoice_count"] == 3 and short["paid_invoice_count"] == 0
    assert short["avg_days_to_pay"] is None and short["trend"] is None
    assert short["turnover_12m"] == Decimal("4800.00")  # the year, whatever the window
    # On 25 March INV2 is not settled yet: only INV1 is paid, and nothing later exists.
    assert before["invoice_count"] == 2 and before["paid_invoice_count"] == 1
    assert before["days_since_last_payment"] == 5
    assert before["first_invoice_date"] == "2026-01-01"


def test_paid_dates_derived_from_allocations(db_url: str) -> None:
    d = date.fromisoformat
    jan1, due = d("2026-01-01"), d("2026-01-31")

    def inv(ext: str, *allocs: tuple[str, int, bool]) -> Doc:
        return Doc(ext, "invoice", "F", "open", False, jan1, due, None, 10_000, 10_000, 0,
                   [Alloc(f"{ext}-{i}", "payment", d(on), amount, deleted)
                    for i, (on, amount, deleted) in enumerate(allocs)])

    docs = [
        inv("X1", ("2026-02-01", 10_000, False)),  # one payment of the total: paid that day
        inv("X2", ("2026-02-01", 9_999, False)),  # a cent short: unpaid
        inv("X3", ("2026-02-05", 4_000, False), ("2026-02-05", 6_000, False)),  # same day
        # half, a deleted 30 % that does not count, the other half
        inv("X4", ("2026-02-10", 5_000, False), ("2026-02-11", 3_000, True),
            ("2026-02-20", 5_000, False)),
        inv("X5", ("2026-03-02", 10_000, False), ("2026-03-09", 1_000, False)),  # then more
        inv("X6"),  # nothing allocated
    ]
    tenant_id = store(engine := db.get_engine(db_url), History([Cust("F")], docs))
    f = measure(engine, tenant_id)["F"]
    # paid on 1 Feb, 5 Feb, 20 Feb and 2 March: 31, 35, 50 and 60 days after issue
    assert f["paid_invoice_count"] == 4
    assert f["avg_days_to_pay"] == 44.0
    assert f["days_late_weighted_paid"] == 14.0  # 1, 5, 20 and 30 days late
    assert f["late_share"] == 1.0
