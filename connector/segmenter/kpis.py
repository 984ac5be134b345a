"""Receivables KPIs per segment: what a credit manager reads off a segment run.

A KPI table has one row per segment (members: the customers in it at the run) and a row for
the whole ledger. Amounts are in the organisation's base currency; the period of DSO and CEI is
the ``period_days`` days up to the run date, (run_date - period_days, run_date] (90 unless
asked otherwise).

Definitions and their public sources:

* **overdue share** — overdue / open receivables at the run date.
* **DSO**, days sales outstanding, the period method — open receivables at the run date /
  credit sales of the period x days in the period (Oracle Advanced Collections, appendix
  "Metrics", "Conventional DSO": the current receivables x 30 / the prior period's sales,
  https://docs.oracle.com/cd/E18727_01/doc.121/e13452/T387641T387664.htm; the period here is
  the last ``period_days`` days). None without sales in the period.
* **CEI**, collection effectiveness index — (opening receivables + credit sales of the period
  - closing receivables) / (opening receivables + credit sales - closing *current*
  receivables) x 100 (Oracle Advanced Collections, same appendix, "Collection Effectiveness
  Index", with N = 1: the sales of the whole period). Opening receivables are the open balance
  at the period start, rebuilt as of that day from issue, paid and allocation dates
  (the open items :func:`arconnect.segmenter.metrics.compute_metrics` rebuilds with
  ``point_in_time``, summed by one statement of their own); closing current receivables are
  the open amount not yet due at the run date (``aging_current``). None when the denominator
  is not positive.
* **credit sales of the period** — the base-currency total of the invoices issued in the
  period, counted as the metrics count invoices (not deleted, not ``draft``, ``voided`` or
  ``deleted``), summed per customer group as the metrics group them (sub-customers for their parent,
  merged customers for the survivor).
* **average days late** — the members' ``days_late_weighted_paid`` (amount-weighted days after
  the due date over the invoices paid in the window: Oracle's Weighted Average Days Late, same
  appendix), pooled with each member's number of paid invoices as its weight: a store keeps
  each customer's average, not the amount it paid.
* **late share** — pooled over the members' paid invoices in the window: Σ paid late / Σ paid
  (JD Edwards A/R statistics, "Understanding Accounts Receivable Statistics",
  https://docs.oracle.com/en/applications/jd-edwards/financials/9.2/eoaar/understanding-accounts-receivable-statistics.html).
  A member's count paid late is its ``late_share`` x ``paid_invoice_count`` (its share is
  rounded to 4 decimals, exact below 5,000 paid invoices).
* **credit limits** — the total of the members' credit limits.

A run's closing figures are its metrics: read from the current status and amount due for a
run as of today, rebuilt from dates for a back-dated one (see the metrics module). The opening
figures are always rebuilt from dates, so a run as of today compares a rebuilt opening with the
ERP's own closing balance (they agree unless the ERP changed an amount due without a dated
allocation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from arconnect.errors import NotFoundError
from arconnect.segmenter.metrics import (  # the same counted invoices and customer groups
    _EXCLUDED_STATUSES,
    _customer_map,
    _Dialect,
    allocated_by_sql,
)
from arconnect.segmenter.rules import Rules
from arconnect.segmenter.service import SegmentRun, segment_tenant
from arconnect.store.models import Customer, SegmentAssignment, Tenant
from arconnect.timezones import today_in

__all__ = ["AGING_BUCKETS", "KPI_PERIOD_DAYS", "LEDGER", "KpiReport", "Kpis", "Member",
           "Snapshot", "kpis_of", "segment_kpis", "snapshot"]

KPI_PERIOD_DAYS = 90
# The whole-ledger row's name (a segment of that name would still be its own row).
LEDGER = "All customers"
# The aging buckets, oldest last, as the metrics name them.
AGING_BUCKETS: tuple[tuple[str, str], ...] = (
    ("aging_current", "current"), ("aging_1_30", "1–30"), ("aging_31_60", "31–60"),
    ("aging_61_90", "61–90"), ("aging_91_plus", "91+"),
)
_ASSIGNMENTS = SegmentAssignment.__table__  # type: ignore[attr-defined]
_CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Member:
    """One customer at a run: its segment, credit limit and metrics."""

    customer_id: str
    name: str | None
    segment: str
    credit_limit: Decimal | None
    metrics: Mapping[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """Every customer's segment and metrics at one run: the stored last run, or one computed
    as of a date (nothing stored).

    Attributes:
        run_date: the as-of date of the run.
        rules: the rules' name (computed) or reference (stored: a preset name or a path).
        stored: read from the stored assignments.
        notes: one-line messages for the user (the date chosen, an empty window).
    """

    tenant: Tenant
    run_date: date
    rules: str
    members: list[Member]
    stored: bool
    notes: tuple[str, ...] = ()
    window_days: int | None = None  # of a computed run (a stored run does not record it)


@dataclass(frozen=True)
class Kpis:
    """The KPIs of one segment (or of the whole ledger, named :data:`LEDGER`).

    Money in base currency; ``opening`` and ``sales`` are over the KPI period; ratios are None
    where their denominator is zero (see the module's definitions)."""

    segment: str
    customers: int
    open: Decimal
    overdue: Decimal
    current: Decimal
    opening: Decimal
    sales: Decimal
    credit_limits: Decimal
    aging: tuple[Decimal, ...]
    paid_invoices: int
    overdue_share: float | None
    dso: float | None
    cei: float | None
    avg_days_late: float | None
    late_share: float | None

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON documents carry it (amounts as Decimal)."""
        return {
            "segment": self.segment, "customers": self.customers, "open": self.open,
            "overdue": self.overdue, "overdue_share": self.overdue_share, "dso": self.dso,
            "cei": self.cei, "avg_days_late": self.avg_days_late, "late_share": self.late_share,
            "credit_limits": self.credit_limits, "paid_invoices": self.paid_invoices,
            "opening_receivables": self.opening, "sales": self.sales,
            "current_receivables": self.current,
            "aging": {key.removeprefix("aging_"): amount
                      for (key, _), amount in zip(AGING_BUCKETS, self.aging, strict=True)},
        }


@dataclass(frozen=True)
class KpiReport:
    """The KPIs of a run: a row per segment (most customers first) and the whole ledger."""

    run_date: date
    period_days: int
    segments: list[Kpis]
    ledger: Kpis
    notes: tuple[str, ...] = field(default=())

    @property
    def period_start(self) -> date:
        """The day before the period's first day: the opening receivables are as of it."""
        return self.run_date - timedelta(days=self.period_days)


# -- snapshots -------------------------------------------------------------------------------


def _money(value: Any) -> Decimal:
    """A stored or computed amount as a Decimal to the cent (JSON keeps it as a number)."""
    if value is None:
        return _ZERO
    return Decimal(str(value)).quantize(Decimal("0.01"))


def snapshot_of_run(run: SegmentRun) -> Snapshot:
    """A run just computed (or written) by :func:`segment_tenant`."""
    return Snapshot(run.tenant, run.run_date, run.rules_name, [
        Member(r.customer_id, r.name, r.assignment.segment, r.assignment.credit_limit, r.metrics)
        for r in run.results], stored=False, notes=run.notes, window_days=run.window_days)


def snapshot(db: Engine, tenant: Tenant, *, rules: Rules | None = None,
             run_date: date | None = None, window_days: int | None = None,
             notes: list[str] | None = None) -> Snapshot:
    """The customers' segments and metrics: the stored last run when neither ``rules``,
    ``run_date`` nor ``window_days`` is given; else computed as of ``run_date`` over
    ``window_days`` with ``rules`` (a dry run: nothing is written). ``notes`` receives the
    run's notes.

    Raises:
        NotFoundError: the stored run is asked for and ``tenant`` has none yet.
    """
    if rules is not None or run_date is not None or window_days is not None:
        run = segment_tenant(db, tenant, rules=rules, run_date=run_date, dry_run=True,
                             window_days=window_days)
        if notes is not None:
            notes.extend(run.notes)
        return snapshot_of_run(run)
    return _stored(db, tenant)


def _stored(db: Engine, tenant: Tenant) -> Snapshot:
    a, c = _ASSIGNMENTS.c, _CUSTOMERS.c
    with db.connect() as conn:
        rows = conn.execute(
            select(a.customer_external_id, c.name, a.segment, a.credit_limit, a.metrics,
                   a.rules, a.computed_at)
            .select_from(_ASSIGNMENTS.outerjoin(_CUSTOMERS, (c.tenant_id == a.tenant_id)
                                                & (c.external_id == a.customer_external_id)))
            .where(a.tenant_id == tenant.id)
        ).all()
    if not rows:
        raise NotFoundError(f"tenant {tenant.name}: no segment run stored yet; run `arconnect "
                            "segment` first, or pass --as-of to compute one")
    members = [Member(r[0], r[1], r[2], None if r[3] is None else _money(r[3]), r[4] or {})
               for r in rows]
    refs = sorted({r[5] for r in rows if r[5]})
    latest = max(r[6] for r in rows)
    return Snapshot(tenant, _stored_run_date(members, latest, tenant), ", ".join(refs) or "—",
                    members, stored=True)


def _stored_run_date(members: Iterable[Member], computed_at: datetime, tenant: Tenant) -> date:
    """The as-of date of the stored run. The store keeps the metrics, and each customer with
    an invoice has its first invoice date and its tenure in days as of the run date: their sum
    is that date (a back-dated run's too; the most common one, should rows of an older run
    remain). Without any invoice: the day the run was made, in the organisation's time zone."""
    dates: Counter[date] = Counter()
    for m in members:
        first, tenure = m.metrics.get("first_invoice_date"), m.metrics.get("tenure_days")
        if first and tenure is not None:
            dates[date.fromisoformat(str(first)[:10]) + timedelta(days=int(tenure))] += 1
    if dates:
        return dates.most_common(1)[0][0]
    if computed_at.tzinfo is None:  # SQLite gives naive UTC back
        computed_at = computed_at.replace(tzinfo=UTC)
    return today_in(tenant.timezone, computed_at)


def paid_and_late(metrics: Mapping[str, Any]) -> tuple[int, int]:
    """(invoices paid in the window, of them paid late) from a customer's metrics:
    ``late_share`` is late / paid."""
    paid = int(metrics.get("paid_invoice_count") or 0)
    share = metrics.get("late_share")
    return paid, (round(float(share) * paid) if share is not None and paid else 0)


# -- the period's figures --------------------------------------------------------------------


def _sales_sql(d: _Dialect) -> str:
    """Credit sales: the base-currency cents of the counted invoices issued in (start, end],
    per customer group (as :func:`compute_metrics` groups customers)."""
    return f"""
WITH {_customer_map(True)},
per_customer AS (
  SELECT doc.customer_external_id AS cust, SUM(COALESCE({d.cents("doc.total_base")}, 0)) AS cents
  FROM document doc
  WHERE doc.tenant_id = :tenant AND NOT doc.is_deleted
    AND doc.status NOT IN {_EXCLUDED_STATUSES} AND doc.kind = 'invoice'
    AND doc.issue_date > {d.day("start")} AND doc.issue_date <= {d.day("end")}
  GROUP BY doc.customer_external_id
)
SELECT m.grp, SUM(pc.cents)
FROM per_customer pc JOIN cmap m ON m.ext = pc.cust
GROUP BY m.grp
"""


def _period(conn: Connection, tenant_id: int, run_date: date, period_days: int
            ) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Per customer: the open receivables at the period start (rebuilt as of that day) and
    the credit sales of the period."""
    start = run_date - timedelta(days=period_days)
    d = _Dialect(sqlite=conn.dialect.name == "sqlite")
    opening = {grp: Decimal(int(cents or 0)).scaleb(-2) for grp, cents in conn.execute(
        text(_opening_sql(d)), {"tenant": tenant_id, "run_date": start.isoformat()})}
    sales = {grp: Decimal(int(cents or 0)).scaleb(-2) for grp, cents in conn.execute(
        text(_sales_sql(d)),
        {"tenant": tenant_id, "start": start.isoformat(), "end": run_date.isoformat()})}
    return opening, sales


def _opening_sql(d: _Dialect) -> str:
    """Open receivables as of ``:run_date`` (the period's start), per customer group: every
    counted invoice issued by then and not settled by then, for its total less its allocations
    dated by then — the open items :func:`compute_metrics` rebuilds as of a date
    (``point_in_time``), summed alone instead of measured with every other metric."""
    alloc_cte, allocated, join = allocated_by_sql(d)
    tb = f"COALESCE({d.cents('doc.total_base')}, 0)"
    rd = d.day("run_date")
    return f"""
WITH {alloc_cte}{_customer_map(True)},
open_at AS (
  SELECT doc.customer_external_id AS cust, {tb} - {allocated} AS adb
  FROM document doc{join}
  WHERE doc.tenant_id = :tenant AND NOT doc.is_deleted
    AND doc.status NOT IN {_EXCLUDED_STATUSES} AND doc.kind = 'invoice'
    AND doc.issue_date <= {rd} AND (doc.fully_paid_on IS NULL OR doc.fully_paid_on > {rd})
)
SELECT m.grp, SUM(oa.adb)
FROM open_at oa JOIN cmap m ON m.ext = oa.cust
WHERE oa.adb > 0
GROUP BY m.grp
"""


# -- the KPIs --------------------------------------------------------------------------------


def _ratio(num: Decimal | float, den: Decimal | float, scale: float = 1.0,
           digits: int = 4) -> float | None:
    return None if not den else round(float(num) / float(den) * scale, digits)


def _row(name: str, members: Sequence[Member], opening: Mapping[str, Decimal],
         sales: Mapping[str, Decimal], period_days: int) -> Kpis:
    open_, overdue, current, first, sold, limits = (_ZERO,) * 6
    aging = [_ZERO] * len(AGING_BUCKETS)
    paid = late = 0
    late_days = 0.0
    late_weight = 0
    for m in members:
        x = m.metrics
        open_ += _money(x.get("open_balance"))
        overdue += _money(x.get("overdue_balance"))
        current += _money(x.get("aging_current"))
        for i, (key, _) in enumerate(AGING_BUCKETS):
            aging[i] += _money(x.get(key))
        first += opening.get(m.customer_id, _ZERO)
        sold += sales.get(m.customer_id, _ZERO)
        limits += m.credit_limit or _ZERO
        n, n_late = paid_and_late(x)
        paid += n
        late += n_late
        if n and x.get("days_late_weighted_paid") is not None:
            late_days += float(x["days_late_weighted_paid"]) * n
            late_weight += n
    collectable = first + sold - current
    return Kpis(
        segment=name, customers=len(members), open=open_, overdue=overdue, current=current,
        opening=first, sales=sold, credit_limits=limits, aging=tuple(aging), paid_invoices=paid,
        overdue_share=_ratio(overdue, open_),
        dso=_ratio(open_, sold, period_days, 1),
        cei=None if collectable <= 0 else _ratio(first + sold - open_, collectable, 100, 1),
        avg_days_late=_ratio(late_days, late_weight, digits=1),
        late_share=_ratio(late, paid),
    )


def kpis_of(db: Engine, snap: Snapshot, *, period_days: int = KPI_PERIOD_DAYS) -> KpiReport:
    """The KPIs of ``snap``: one row per segment, most customers first, and the ledger.

    Reads the opening receivables and the period's sales (two set-based statements, whatever
    the number of customers)."""
    assert snap.tenant.id is not None
    with db.connect() as conn:
        opening, sales = _period(conn, snap.tenant.id, snap.run_date, period_days)
    by_segment: dict[str, list[Member]] = {}
    for m in snap.members:
        by_segment.setdefault(m.segment, []).append(m)
    ordered = sorted(by_segment.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return KpiReport(
        snap.run_date, period_days,
        [_row(name, members, opening, sales, period_days) for name, members in ordered],
        _row(LEDGER, snap.members, opening, sales, period_days), snap.notes)


def segment_kpis(db: Engine, tenant: Tenant, *, run: SegmentRun | None = None,
                 rules: Rules | None = None, run_date: date | None = None,
                 window_days: int | None = None, period_days: int = KPI_PERIOD_DAYS,
                 notes: list[str] | None = None) -> KpiReport:
    """The KPIs per segment of ``run`` when given (a run just made); else of the stored last
    run, or, with ``rules``, ``run_date`` or ``window_days``, of one computed as of that date
    (see :func:`snapshot`).

    Raises:
        NotFoundError: the stored run is asked for and ``tenant`` has none yet.
    """
    snap = (snapshot_of_run(run) if run is not None else
            snapshot(db, tenant, rules=rules, run_date=run_date, window_days=window_days,
                     notes=notes))
    return kpis_of(db, snap, period_days=period_days)
