"""The collections worklist: who a credit controller calls first, and what to do about it.

Every customer with an open overdue amount, ranked by **priority**, with its open overdue items
(document, issue and due date, days overdue, amount due), the reason in words and the next step
of its segment's dunning policy (:mod:`arconnect.segmenter.dunning`).

Priority is an expected-loss style score, in base currency::

    priority = late_probability × overdue_balance × (1 + oldest_overdue_days / 30)

The age factor (:data:`AGE_MONTH_DAYS`) adds the overdue amount once more for every 30 days the
oldest item is past due: a 90-day-old debt weighs four times a fresh one of the same size.
Collections practice agrees that older debt is harder to recover; how much harder is a
judgement call — linear in months is simple to explain and to reproduce by hand, and lets a
large fresh balance still outrank a small old one. A logarithmic factor would flatten old debt
further; change :data:`AGE_MONTH_DAYS` (or the function :func:`priority`) to taste.

``late_probability`` is not a fitted model: Xero's developer terms forbid training
machine-learning models on data from its API
(https://developer.xero.com/xero-developer-platform-terms-conditions, "What can't I do with
the developer platform?"). It is the customer's own share of invoices paid late, shrunk
towards its segment's::

    late_probability = (late_c + K × segment_late_share) / (paid_c + K)

with ``paid_c`` the customer's invoices paid in the window, ``late_c`` those paid after their
due date (``late_share × paid_invoice_count`` of the metrics), and ``segment_late_share`` the
pooled share of the segment's members, Σ late / Σ paid over all of them (overdue or not).
:data:`SHRINKAGE` (K = 3) is the weight of the segment: a customer with 3 paid invoices counts
half its own history, half its segment's; one with none gets the segment's share. A segment
without any paid invoice falls back to the whole ledger's pooled share, and a ledger without
any to 0.5 (no evidence either way).

Two sources, as ``arconnect export`` has: by default the stored assignments of the last
``segment`` run (their metrics and segment; items as of that run's date); with a date, a
window or rules, computed as of that date without storing anything
(:func:`arconnect.segmenter.service.segment_tenant` with ``dry_run``). Items as of an earlier
day than the organisation's today are rebuilt from dates exactly as the metrics rebuild them
(``open_at`` in :mod:`arconnect.segmenter.metrics`): an invoice issued by then and not settled
by then, for its total less its allocations dated by then — never its current status.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from arconnect.errors import NotFoundError
from arconnect.segmenter.dunning import DunningStatus, dunning_status, status_words
from arconnect.segmenter.kpis import Member, Snapshot, _money, paid_and_late, snapshot
from arconnect.segmenter.metrics import (  # the same counted invoices and customer groups
    _DUE,
    _EXCLUDED_STATUSES,
    _customer_map,
    _Dialect,
    allocated_by_sql,
)
from arconnect.segmenter.rules import Rules
from arconnect.segmenter.service import _csv_cell, run_date_for, stored_rules
from arconnect.store.models import Tenant
from arconnect.store.vocabulary import OPEN

__all__ = ["AGE_MONTH_DAYS", "SHRINKAGE", "Worklist", "WorklistItem", "WorklistRow",
           "build_worklist", "late_probability", "priority", "worklist_csv"]


# K of the shrunk late probability: the segment's share weighs as much as K paid invoices.
SHRINKAGE = 3
# The age factor is 1 + oldest_overdue_days / AGE_MONTH_DAYS.
AGE_MONTH_DAYS = 30
# The late probability when neither the segment nor the ledger has a paid invoice.
_NO_EVIDENCE = 0.5
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class WorklistItem:
    """One open overdue invoice as of the worklist's date (amount due in base currency)."""

    document_id: str
    number: str | None
    issue_date: date | None
    due_date: date
    days_overdue: int
    amount_due: Decimal


@dataclass
class WorklistRow:
    """One overdue customer of the worklist.

    Attributes:
        rank: 1 for the customer to call first.
        priority: ``late_probability × overdue_balance × (1 + oldest_overdue_days / 30)``.
        late_probability: the shrunk estimate of the module's docstring (0..1).
        paid_invoices, late_invoices: the customer's own history behind it.
        reason: why it ranks where it does, in words.
        next_step: its segment's dunning step in words (or that the segment has none).
        dunning: the step reached and the next one (``None``: no policy for the segment).
        items: its open overdue invoices, oldest first.
    """

    rank: int
    customer_id: str
    name: str | None
    segment: str
    priority: Decimal
    late_probability: float
    overdue_balance: Decimal
    oldest_overdue_days: int
    open_balance: Decimal
    paid_invoices: int
    late_invoices: int
    reason: str
    next_step: str
    dunning: DunningStatus | None = None
    items: list[WorklistItem] = field(default_factory=list)


@dataclass
class Worklist:
    """A tenant's worklist as of ``run_date``.

    Attributes:
        rows: the overdue customers, highest priority first (``limit`` of them at most).
        total_overdue: the overdue balance of every overdue customer (not only those listed).
        customers: how many customers are overdue (not only those listed).
        segment_late_share: per segment, the pooled late share the estimates shrink towards.
        stored: True when read from the last ``segment`` run, False when computed.
        rules_name: the rules the segments (and dunning policies) come from, if known.
    """

    tenant: Tenant
    run_date: date
    rows: list[WorklistRow]
    total_overdue: Decimal
    customers: int = 0
    segment_late_share: dict[str, float] = field(default_factory=dict)
    stored: bool = True
    rules_name: str | None = None
    window_days: int | None = None


def late_probability(paid: int, late: int, segment_share: float) -> float:
    """``(late + K × segment_share) / (paid + K)``, K = :data:`SHRINKAGE` (see the module's
    docstring), rounded to 4 decimals."""
    return round((late + SHRINKAGE * segment_share) / (paid + SHRINKAGE), 4)


def priority(probability: float, overdue: Decimal, oldest_days: int) -> Decimal:
    """``probability × overdue × (1 + oldest_days / 30)``, to the cent."""
    factor = 1 + Decimal(max(oldest_days, 0)) / AGE_MONTH_DAYS
    return (Decimal(str(probability)) * overdue * factor).quantize(_CENT, ROUND_HALF_UP)


# -- the items ---------------------------------------------------------------------------------


def _items_sql(d: _Dialect, point_in_time: bool) -> str:
    """Open overdue invoices per customer group as of ``:run_date``, in integer cents of the
    base currency: the ``open_at`` rows of :mod:`arconnect.segmenter.metrics` (as of an
    earlier day) or its current open items (status ``open``, amount due), overdue when due
    before the run date. The same customer groups (merged customers and sub-customers count
    for the customer their history counts for)."""
    rd = d.day("run_date")
    invoice = (f"doc.tenant_id = :tenant AND NOT doc.is_deleted AND doc.status NOT IN "
               f"{_EXCLUDED_STATUSES} AND doc.kind = 'invoice'")
    tb = f"COALESCE({d.cents('doc.total_base')}, 0)"
    alloc_cte, alloc_join = "", ""
    if point_in_time:
        alloc_cte, allocated, alloc_join = allocated_by_sql(d)
        amount = f"{tb} - {allocated}"
        open_now = (f"doc.issue_date <= {rd} AND (doc.fully_paid_on IS NULL "
                    f"OR doc.fully_paid_on > {rd})")
    else:
        amount = d.cents("doc.amount_due_base")
        open_now = f"doc.status = '{OPEN}' AND doc.amount_due_base > 0"
    return f"""
WITH {alloc_cte}{_customer_map(True)}
SELECT m.grp, doc.external_id, doc.number, doc.issue_date, {_DUE} AS due, {amount} AS cents
FROM document doc{alloc_join}
JOIN cmap m ON m.ext = doc.customer_external_id
WHERE {invoice} AND {open_now} AND {_DUE} < {rd}
"""


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _items(conn: Connection, tenant: Tenant, run_date: date, point_in_time: bool,
           customers: set[str]) -> dict[str, list[WorklistItem]]:
    """The open overdue items of ``customers`` as of ``run_date``, oldest first."""
    d = _Dialect(sqlite=conn.dialect.name == "sqlite")
    out: dict[str, list[WorklistItem]] = {}
    rows = conn.execute(text(_items_sql(d, point_in_time)),
                        {"tenant": tenant.id, "run_date": run_date.isoformat()})
    for grp, ext, number, issued, due, cents in rows:
        due_date = _as_date(due)
        if grp not in customers or due_date is None or int(cents or 0) <= 0:
            continue
        out.setdefault(grp, []).append(WorklistItem(
            str(ext), number, _as_date(issued), due_date, (run_date - due_date).days,
            Decimal(int(cents)).scaleb(-2)))
    for items in out.values():
        items.sort(key=lambda i: (-i.days_overdue, i.number or "", i.document_id))
    return out


# -- the worklist ------------------------------------------------------------------------------


def _pooled(members: Iterable[Member]) -> tuple[dict[str, float], float]:
    """Per segment, Σ late / Σ paid over its members; and the same over the ledger."""
    paid: Counter[str] = Counter()
    late: Counter[str] = Counter()
    for m in members:
        p, n = paid_and_late(m.metrics)
        paid[m.segment] += p
        late[m.segment] += n
    total_paid, total_late = sum(paid.values()), sum(late.values())
    ledger = total_late / total_paid if total_paid else _NO_EVIDENCE
    return ({s: round(late[s] / paid[s], 4) if paid[s] else round(ledger, 4)
             for s in paid}, ledger)


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _reason(row: WorklistRow, share: float) -> str:
    n = len(row.items)
    items = (f"{n} item{'s' if n != 1 else ''} overdue, oldest {row.oldest_overdue_days} "
             f"day{'s' if row.oldest_overdue_days != 1 else ''}")
    history = (f"pays late {row.late_invoices} of {row.paid_invoices} times"
               if row.paid_invoices else "no invoice paid in the window")
    return f"{items}; {history}; segment {row.segment} (pays late {share:.0%})"


def build_worklist(db: Engine, tenant: Tenant, *, rules: Rules | None = None,
                   run_date: date | None = None, window_days: int | None = None,
                   limit: int | None = None, notes: list[str] | None = None,
                   snap: Snapshot | None = None) -> Worklist:
    """The ranked worklist of ``tenant``'s overdue customers (see the module's docstring).

    Without ``rules``, ``run_date`` and ``window_days``: the stored assignments of the last
    ``segment`` run, their segments and metrics, items as of that run's date, dunning steps
    from the rules that run recorded. With any of them: computed as of ``run_date`` (default as
    ``segment`` resolves it) over ``window_days`` with ``rules`` (default: the shipped rules),
    nothing stored. ``limit`` keeps the first rows; ``notes`` receives the run's notes.
    ``snap``: the customers of a snapshot already made (:func:`arconnect.segmenter.kpis.snapshot`;
    the report's), instead of reading or computing them again.

    Raises:
        NotFoundError: no ``segment`` run is stored for the tenant (and no date was given).
    """
    assert tenant.id is not None
    notes = notes if notes is not None else []
    if snap is None:
        try:
            snap = snapshot(db, tenant, rules=rules, run_date=run_date,
                            window_days=window_days, notes=notes)
        except NotFoundError:
            raise NotFoundError(
                f"tenant {tenant.name}: no segment run is stored yet: run `arconnect "
                f"segment {tenant.arg}` first, or pass --as-of DATE to compute the "
                "worklist as of a date") from None
    members, day, window = snap.members, snap.run_date, snap.window_days
    rules_used: Rules | None
    if snap.stored:
        with db.connect() as conn:
            rules_used = stored_rules(conn, tenant, notes)
    else:
        rules_used = rules
        if rules_used is None:
            from arconnect.segmenter.rules import load_rules

            rules_used = load_rules()
    shares, ledger = _pooled(members)
    overdue = [m for m in members if _money(m.metrics.get("overdue_balance")) > 0]
    rows = []
    for m in overdue:
        paid, late = paid_and_late(m.metrics)
        prob = late_probability(paid, late, shares.get(m.segment, ledger))
        amount = _money(m.metrics.get("overdue_balance"))
        oldest = int(m.metrics.get("oldest_overdue_days") or 0)
        rows.append(WorklistRow(0, m.customer_id, m.name, m.segment,
                                priority(prob, amount, oldest), prob, amount, oldest,
                                _money(m.metrics.get("open_balance")), paid, late, "", ""))
    rows.sort(key=lambda r: (-r.priority, -r.overdue_balance, -r.oldest_overdue_days,
                             (r.name or "").lower(), r.customer_id))
    total = sum((r.overdue_balance for r in rows), Decimal("0.00"))
    count = len(rows)
    rows = rows[:limit] if limit is not None else rows
    with db.connect() as conn:
        items = _items(conn, tenant, day, day < run_date_for(tenant),
                       {r.customer_id for r in rows})
    for rank, row in enumerate(rows, 1):
        row.rank = rank
        row.items = items.get(row.customer_id, [])
        row.reason = _reason(row, shares.get(row.segment, ledger))
        segment = rules_used.segment(row.segment) if rules_used is not None else None
        policy = segment.dunning if segment is not None else None
        if policy is None:
            row.next_step = f"no dunning policy for segment {row.segment}"
        else:
            row.dunning = dunning_status(policy, row.oldest_overdue_days)
            row.next_step = status_words(row.dunning, day)
    return Worklist(tenant, day, rows, total, count, shares, snap.stored,
                    rules_used.name if rules_used is not None else None, window)


# -- CSV ---------------------------------------------------------------------------------------

CSV_COLUMNS = ("rank", "customer_id", "name", "segment", "priority", "late_probability",
               "overdue_balance", "oldest_overdue_days", "open_balance", "paid_invoices",
               "late_invoices", "overdue_items", "documents", "reason", "next_step")


def worklist_csv(worklist: Worklist) -> str:
    """One row per customer (:data:`CSV_COLUMNS`; ``documents`` lists its overdue items'
    numbers, oldest first, separated by ``;``). Text a spreadsheet would run as a formula is
    neutralised as the export does (:func:`arconnect.segmenter.service._csv_cell`)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for r in worklist.rows:
        writer.writerow([_csv_cell(v) for v in (
            r.rank, r.customer_id, r.name, r.segment, float(r.priority), r.late_probability,
            float(r.overdue_balance), r.oldest_overdue_days, float(r.open_balance),
            r.paid_invoices, r.late_invoices, len(r.items),
            ";".join(i.number or i.document_id for i in r.items), r.reason, r.next_step)])
    return buf.getvalue()
