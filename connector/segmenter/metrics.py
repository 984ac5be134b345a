"""Per-customer payment-behaviour metrics, computed in SQL as of a run date.

The contract (names, units, meanings) is shared with the rules: see ``METRIC_KEYS``. Every figure
comes from a few set-based statements grouped by customer; Python only converts the per-customer
rows. Sums run on integer cents (SQLite stores ``Numeric`` as a float; summing cents keeps money
exact) and ratios are divided in Python from those exact sums, so SQLite and PostgreSQL agree to
the cent and, for day figures, to the last of the 4 decimals.

Formula sources (``/shared/reference/ar-domain.md`` §1):

* ``avg_days_to_pay`` — Average Days to Pay: mean(paid date − invoice date) over invoices paid in
  full in the window (Microsoft Dynamics GP ``AverageDaysToPay``; Tesorio "Average Days
  Collected").
* ``avg_days_to_pay_weighted`` — Weighted Average Days Paid: Σ(amount × (paid − invoice date)) /
  Σ amount (Oracle Advanced Collections metrics).
* ``days_late_weighted`` — Upflow's Average Payment Delay: Σ(amount × (paid date − due date)) /
  Σ amount, open overdue invoices counted with the run date as paid date and their amount due
  (docs.upflow.io "Your customer's average payment delay"); negative values allowed.
* ``days_late_weighted_paid`` — Weighted Average Days Late over closed items (Oracle Advanced
  Collections WADL; JD Edwards "Average Days Late" is the same idea over receipts).
* ``late_share`` — % of invoices paid late (JD Edwards A/R statistics, F03B16).
* aging buckets — current, 1–30, 31–60, 61–90, 91+ days past the due date (NetSuite customer
  ``aging``..``aging4``; CRF "aged on actual due date").
* ``turnover_12m``, ``first_invoice_date``/``tenure_days``, ``credit_note_ratio``,
  ``payment_method_mix`` — per-customer statistics listed in §1.5 (JD Edwards A/R statistics).
* ``trend`` — the Upflow delay over items due in the last 90 days minus the same over items due
  earlier in the window (issue 3: "weighted days late over the last 90 days minus the same over the
  window before").

Assumptions (documented here because the rules depend on them):

* An invoice counts when ``kind = 'invoice'``, not ``is_deleted`` and its status is not DRAFT,
  SUBMITTED, DELETED or VOIDED. An invoice without a due date is due on its issue date.
* Paid date: ``fully_paid_on`` when set, else the date of the non-deleted allocation (payments and
  credit notes, in the document's currency) that brings the allocated sum to ≥ ``total``;
  allocations of the same day count together. Otherwise the invoice is unpaid.
* "Paid in the window": issued in the window (run_date − window_days, run_date] and paid on a date
  in that window too (a payment after the run date has not happened yet as of the run date).
* Open item: an invoice with status AUTHORISED and ``amount_due_base > 0`` (any age); overdue when
  its due date is before the run date. The open overdue items enter ``days_late_weighted`` and
  ``trend`` whatever their issue date — an old unpaid invoice is the strongest delinquency signal
  (JD Edwards' paid-only average lets a non-payer look good).
* Unapplied credit: remaining credit of AUTHORISED credit notes (Xero ``RemainingCredit``).
* Last payment: the latest non-deleted allocation with ``source_kind = 'payment'`` dated on or
  before the run date.
* Payment-method mix: non-deleted payments dated in the window with a mapped ``method``, shares of
  their base amount; refunds (Xero payment types on credit notes, overpayments and prepayments)
  are left out.
* Customers: every customer of the tenant is a key, except merged ones (their documents are
  counted for the survivor) and, with ``rollup_parents``, sub-customers whose parent exists in the
  tenant: their history counts for the parent and they get no key of their own (one level).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, text

__all__ = ["METRIC_KEYS", "compute_metrics", "empty_metrics"]

METRIC_KEYS: tuple[str, ...] = (
    "invoice_count", "paid_invoice_count", "avg_days_to_pay", "avg_days_to_pay_weighted",
    "days_late_weighted", "days_late_weighted_paid", "late_share", "open_balance",
    "overdue_balance", "aging_current", "aging_1_30", "aging_31_60", "aging_61_90",
    "aging_91_plus", "oldest_overdue_days", "unapplied_credit", "turnover_12m",
    "avg_monthly_sales", "first_invoice_date", "tenure_days", "days_since_last_payment", "trend",
    "credit_note_ratio", "terms_days", "delivery_mode", "payment_method_mix",
)

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_EXCLUDED_STATUSES = "('DRAFT', 'SUBMITTED', 'DELETED', 'VOIDED')"
# Refunds paid out against credit notes, overpayments and prepayments, not money received:
# https://developer.xero.com/documentation/api/accounting/types#payments
_REFUND_TYPES = "('ARCREDITPAYMENT', 'AROVERPAYMENTPAYMENT', 'ARPREPAYMENTPAYMENT')"
_TREND_DAYS = 90
_TURNOVER_DAYS = 365


@dataclass(frozen=True)
class _Dialect:
    """The only SQL that differs between SQLite and PostgreSQL: dates and cents."""

    sqlite: bool

    def day(self, param: str) -> str:
        """A date bound parameter (ISO text on SQLite, a DATE on PostgreSQL)."""
        return f":{param}" if self.sqlite else f"CAST(:{param} AS DATE)"

    def days(self, later: str, earlier: str) -> str:
        """Whole days from ``earlier`` to ``later`` (NULL when either is NULL)."""
        if self.sqlite:
            # Dates are ISO text; julianday() of a date is exact, so is the difference.
            return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
        return f"({later} - {earlier})"

    def cents(self, money: str) -> str:
        """A money column as exact integer cents (SQLite keeps Numeric as a float)."""
        if self.sqlite:
            return f"CAST(ROUND({money} * 100) AS INTEGER)"
        return f"CAST({money} * 100 AS BIGINT)"


def _customer_map(rollup_parents: bool) -> str:
    """SQL of the ``cmap`` CTE: customer id -> the id its history counts for (``grp``)."""
    parent_join = (
        "LEFT JOIN customer p ON p.tenant_id = c.tenant_id"
        " AND p.external_id = c.parent_external_id AND p.external_id <> c.external_id"
        if rollup_parents
        else "LEFT JOIN customer p ON 1 = 0"
    )
    return f"""
cmap AS (
  SELECT c.external_id AS ext,
         COALESCE(c.merged_into_external_id, p.external_id, c.external_id) AS grp
  FROM customer c {parent_join}
  WHERE c.tenant_id = :tenant
)"""


def _documents_sql(d: _Dialect, rollup_parents: bool) -> str:
    """One statement: every document-based metric, as exact integer sums per customer group."""
    rd, ws = d.day("run_date"), d.day("window_start")
    t90, y365 = d.day("trend_start"), d.day("year_start")
    paid_in_window = (
        f"x.inv = 1 AND x.issue_date > {ws} AND x.issue_date <= {rd}"
        f" AND x.paid_on > {ws} AND x.paid_on <= {rd}"
    )
    overdue = f"x.inv = 1 AND x.status = 'AUTHORISED' AND x.adb > 0 AND x.due < {rd}"
    open_item = "x.inv = 1 AND x.status = 'AUTHORISED' AND x.adb > 0"
    dpd = d.days(rd, "x.due")

    # The item set of the Upflow delay: paid-in-window invoices (amount total, paid - due) and
    # open overdue ones (amount due, run date - due). ``late_w``/``late_n`` are the weight and
    # weighted days of one row for it (0 when the row is neither).
    late_w = (
        f"(CASE WHEN {paid_in_window} AND x.late IS NOT NULL THEN x.tb ELSE 0 END"
        f" + CASE WHEN {overdue} THEN x.adb ELSE 0 END)"
    )
    late_n = (
        f"(CASE WHEN {paid_in_window} AND x.late IS NOT NULL THEN x.tb * x.late ELSE 0 END"
        f" + CASE WHEN {overdue} THEN x.adb * {dpd} ELSE 0 END)"
    )
    recent = f"x.due > {t90} AND x.due <= {rd}"
    earlier = f"x.due > {ws} AND x.due <= {t90}"

    return f"""
WITH {_customer_map(rollup_parents)},
derived AS (
  SELECT q.doc, MIN(q.allocated_on) AS paid_on
  FROM (
    SELECT a.document_external_id AS doc, a.allocated_on,
           SUM({d.cents("a.amount")}) OVER (
             PARTITION BY a.document_external_id ORDER BY a.allocated_on
           ) AS allocated,
           {d.cents("dd.total")} AS total
    FROM allocation a
    JOIN document dd ON dd.tenant_id = a.tenant_id AND dd.external_id = a.document_external_id
    WHERE a.tenant_id = :tenant AND NOT a.is_deleted AND a.allocated_on IS NOT NULL
      AND dd.kind = 'invoice' AND dd.fully_paid_on IS NULL
  ) q
  WHERE q.allocated >= q.total
  GROUP BY q.doc
),
x AS (
  SELECT m.grp,
         CASE WHEN doc.kind = 'invoice' THEN 1 ELSE 0 END AS inv,
         CASE WHEN doc.kind = 'credit_note' THEN 1 ELSE 0 END AS cn,
         doc.status, doc.issue_date,
         COALESCE(doc.due_date, doc.issue_date) AS due,
         COALESCE(doc.fully_paid_on, dv.paid_on) AS paid_on,
         {d.days("COALESCE(doc.fully_paid_on, dv.paid_on)", "doc.issue_date")} AS dtp,
         {d.days("COALESCE(doc.fully_paid_on, dv.paid_on)",
                 "COALESCE(doc.due_date, doc.issue_date)")} AS late,
         COALESCE({d.cents("doc.total_base")}, 0) AS tb,
         COALESCE({d.cents("doc.amount_due_base")}, 0) AS adb
  FROM document doc
  JOIN cmap m ON m.ext = doc.customer_external_id
  LEFT JOIN derived dv ON dv.doc = doc.external_id
  WHERE doc.tenant_id = :tenant AND NOT doc.is_deleted
    AND doc.status NOT IN {_EXCLUDED_STATUSES}
    AND doc.kind IN ('invoice', 'credit_note')
)
SELECT x.grp,
  SUM(CASE WHEN x.inv = 1 AND x.issue_date > {ws} AND x.issue_date <= {rd} THEN 1 ELSE 0 END),
  SUM(CASE WHEN {paid_in_window} THEN 1 ELSE 0 END),
  SUM(CASE WHEN {paid_in_window} THEN x.dtp ELSE 0 END),
  SUM(CASE WHEN {paid_in_window} THEN x.tb * x.dtp ELSE 0 END),
  SUM(CASE WHEN {paid_in_window} THEN x.tb ELSE 0 END),
  SUM(CASE WHEN {paid_in_window} AND x.late IS NOT NULL THEN x.tb * x.late ELSE 0 END),
  SUM(CASE WHEN {paid_in_window} AND x.late IS NOT NULL THEN x.tb ELSE 0 END),
  SUM(CASE WHEN {overdue} THEN x.adb * {dpd} ELSE 0 END),
  SUM(CASE WHEN {overdue} THEN x.adb ELSE 0 END),
  SUM(CASE WHEN {paid_in_window} AND x.late > 0 THEN 1 ELSE 0 END),
  SUM(CASE WHEN {open_item} THEN x.adb ELSE 0 END),
  SUM(CASE WHEN {open_item} AND (x.due IS NULL OR x.due >= {rd}) THEN x.adb ELSE 0 END),
  SUM(CASE WHEN {overdue} AND {dpd} BETWEEN 1 AND 30 THEN x.adb ELSE 0 END),
  SUM(CASE WHEN {overdue} AND {dpd} BETWEEN 31 AND 60 THEN x.adb ELSE 0 END),
  SUM(CASE WHEN {overdue} AND {dpd} BETWEEN 61 AND 90 THEN x.adb ELSE 0 END),
  SUM(CASE WHEN {overdue} AND {dpd} >= 91 THEN x.adb ELSE 0 END),
  MAX(CASE WHEN {overdue} THEN {dpd} END),
  SUM(CASE WHEN x.cn = 1 AND x.status = 'AUTHORISED' THEN x.adb ELSE 0 END),
  SUM(CASE WHEN x.inv = 1 AND x.issue_date > {y365} AND x.issue_date <= {rd}
      THEN x.tb ELSE 0 END),
  MIN(CASE WHEN x.inv = 1 AND x.issue_date <= {rd} THEN x.issue_date END),
  SUM(CASE WHEN x.inv = 1 AND x.issue_date > {ws} AND x.issue_date <= {rd}
      THEN x.tb ELSE 0 END),
  SUM(CASE WHEN x.cn = 1 AND x.issue_date > {ws} AND x.issue_date <= {rd}
      THEN x.tb ELSE 0 END),
  SUM(CASE WHEN {recent} THEN {late_n} ELSE 0 END),
  SUM(CASE WHEN {recent} THEN {late_w} ELSE 0 END),
  SUM(CASE WHEN {earlier} THEN {late_n} ELSE 0 END),
  SUM(CASE WHEN {earlier} THEN {late_w} ELSE 0 END)
FROM x
GROUP BY x.grp
"""


def _last_payment_sql(d: _Dialect, rollup_parents: bool) -> str:
    return f"""
WITH {_customer_map(rollup_parents)}
SELECT m.grp, MAX(a.allocated_on)
FROM allocation a JOIN cmap m ON m.ext = a.customer_external_id
WHERE a.tenant_id = :tenant AND a.source_kind = 'payment' AND NOT a.is_deleted
  AND a.allocated_on <= {d.day("run_date")}
GROUP BY m.grp
"""


def _method_mix_sql(d: _Dialect, rollup_parents: bool) -> str:
    return f"""
WITH {_customer_map(rollup_parents)}
SELECT m.grp, p.method, SUM({d.cents("p.amount_base")})
FROM payment p JOIN cmap m ON m.ext = p.customer_external_id
WHERE p.tenant_id = :tenant AND NOT p.is_deleted AND p.method IS NOT NULL
  AND (p.payment_type IS NULL OR p.payment_type NOT IN {_REFUND_TYPES})
  AND p.paid_on > {d.day("window_start")} AND p.paid_on <= {d.day("run_date")}
GROUP BY m.grp, p.method
"""


def empty_metrics(
    terms_days: int | None = None, delivery_mode: str | None = None
) -> dict[str, Any]:
    """The metrics of a customer without any history (zeros for money and counts, else None)."""
    return {
        "invoice_count": 0, "paid_invoice_count": 0, "avg_days_to_pay": None,
        "avg_days_to_pay_weighted": None, "days_late_weighted": None,
        "days_late_weighted_paid": None, "late_share": None, "open_balance": _ZERO,
        "overdue_balance": _ZERO, "aging_current": _ZERO, "aging_1_30": _ZERO,
        "aging_31_60": _ZERO, "aging_61_90": _ZERO, "aging_91_plus": _ZERO,
        "oldest_overdue_days": 0, "unapplied_credit": _ZERO, "turnover_12m": _ZERO,
        "avg_monthly_sales": _ZERO, "first_invoice_date": None, "tenure_days": None,
        "days_since_last_payment": None, "trend": None, "credit_note_ratio": 0.0,
        "terms_days": terms_days, "delivery_mode": delivery_mode, "payment_method_mix": {},
    }


def _money(cents: Any) -> Decimal:
    return (Decimal(int(cents or 0)) / 100).quantize(_CENT)


def _ratio(num: Any, den: Any) -> float | None:
    """``num / den`` rounded to 4 decimals from exact integer sums (None when den is 0)."""
    n, m = int(num or 0), int(den or 0)
    return None if m == 0 else round(n / m, 4)


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def compute_metrics(
    conn: Connection,
    tenant_id: int,
    run_date: date,
    *,
    window_days: int = 365,
    rollup_parents: bool = True,
) -> dict[str, dict[str, Any]]:
    """Metrics of every customer of ``tenant_id`` as of ``run_date``, keyed by external id.

    Owns reading the store in a few set-based statements; never writes, never commits, and
    never loops over invoices in Python. Merged customers and (with ``rollup_parents``) rolled-up
    sub-customers get no key; a customer without history gets :func:`empty_metrics`.

    Args:
        conn: an open connection to a migrated store (SQLite or PostgreSQL).
        tenant_id: the ``tenant.id`` whose customers are measured.
        run_date: the day the figures are as of (the organisation's today).
        window_days: the behaviour window (run_date - window_days, run_date].
        rollup_parents: count a sub-customer's history for its parent.
    """
    d = _Dialect(sqlite=conn.dialect.name == "sqlite")
    params = {
        "tenant": tenant_id,
        "run_date": run_date.isoformat(),
        "window_start": (run_date - timedelta(days=window_days)).isoformat(),
        "trend_start": (run_date - timedelta(days=_TREND_DAYS)).isoformat(),
        "year_start": (run_date - timedelta(days=_TURNOVER_DAYS)).isoformat(),
    }
    parent_cond = (
        "c.parent_external_id IS NOT NULL AND c.parent_external_id <> c.external_id"
        " AND EXISTS (SELECT 1 FROM customer p WHERE p.tenant_id = c.tenant_id"
        " AND p.external_id = c.parent_external_id)"
        if rollup_parents
        else "1 = 0"
    )
    out: dict[str, dict[str, Any]] = {}
    customers = conn.execute(
        text(
            "SELECT c.external_id, c.terms_days, c.delivery_mode FROM customer c"
            " WHERE c.tenant_id = :tenant AND c.merged_into_external_id IS NULL"
            f" AND NOT ({parent_cond})"
        ),
        {"tenant": tenant_id},
    )
    for ext, terms, mode in customers:
        out[ext] = empty_metrics(terms, mode)

    for row in conn.execute(text(_documents_sql(d, rollup_parents)), params):
        m = out.get(row[0])
        if m is None:  # a survivor or parent id that is not itself a customer row
            continue
        (n_inv, n_paid, sum_dtp, sum_w_dtp, sum_w_paid, late_paid_n, late_paid_w,
         late_open_n, late_open_w, n_late, open_bal, aging_cur, a30, a60, a90, a91, oldest,
         unapplied, turnover, first, inv_window, cn_window, rec_n, rec_w, ear_n,
         ear_w) = row[1:]
        n_paid = int(n_paid or 0)
        turnover_c = int(turnover or 0)
        first_date = _as_date(first)
        m.update(
            invoice_count=int(n_inv or 0),
            paid_invoice_count=n_paid,
            avg_days_to_pay=_ratio(sum_dtp, n_paid),
            avg_days_to_pay_weighted=_ratio(sum_w_dtp, sum_w_paid),
            days_late_weighted=_ratio(
                int(late_paid_n or 0) + int(late_open_n or 0),
                int(late_paid_w or 0) + int(late_open_w or 0),
            ),
            days_late_weighted_paid=_ratio(late_paid_n, late_paid_w),
            late_share=_ratio(n_late, n_paid),
            open_balance=_money(open_bal),
            overdue_balance=_money(late_open_w),
            aging_current=_money(aging_cur),
            aging_1_30=_money(a30),
            aging_31_60=_money(a60),
            aging_61_90=_money(a90),
            aging_91_plus=_money(a91),
            oldest_overdue_days=int(oldest or 0),
            unapplied_credit=_money(unapplied),
            turnover_12m=_money(turnover_c),
            avg_monthly_sales=(Decimal(turnover_c) / 1200).quantize(_CENT, ROUND_HALF_UP),
            first_invoice_date=first_date.isoformat() if first_date else None,
            tenure_days=(run_date - first_date).days if first_date else None,
            credit_note_ratio=_ratio(cn_window, inv_window) or 0.0,
        )
        recent, earlier = _ratio(rec_n, rec_w), _ratio(ear_n, ear_w)
        m["trend"] = None if recent is None or earlier is None else round(recent - earlier, 4)

    for grp, last in conn.execute(text(_last_payment_sql(d, rollup_parents)), params):
        last_date = _as_date(last)
        if grp in out and last_date is not None:
            out[grp]["days_since_last_payment"] = (run_date - last_date).days

    mix: dict[str, dict[str, int]] = {}
    for grp, method, cents in conn.execute(text(_method_mix_sql(d, rollup_parents)), params):
        if grp in out:
            mix.setdefault(grp, {})[method] = int(cents or 0)
    for grp, by_method in mix.items():
        total = sum(by_method.values())
        if total > 0:
            out[grp]["payment_method_mix"] = {
                k: round(v / total, 4) for k, v in sorted(by_method.items())
            }
    return out
