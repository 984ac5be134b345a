"""Per-customer payment-behaviour metrics, computed in SQL as of a run date.

The contract (names, units, meanings) is shared with the rules: see ``METRIC_KEYS``. Every figure
comes from a few set-based statements grouped by customer; Python only converts the per-customer
rows. Sums run on integer cents (SQLite stores ``Numeric`` as a float; summing cents keeps money
exact) and ratios are divided in Python from those exact sums, so SQLite and PostgreSQL agree to
the cent and, for day figures, to the last of the 4 decimals.

Formula sources (the vendors' public documentation):

* ``avg_days_to_pay`` — Average Days to Pay: mean(paid date − invoice date) over invoices paid in
  full in the window (Microsoft Dynamics GP ``SalesAmounts.AverageDaysToPay``,
  https://learn.microsoft.com/en-us/previous-versions/dynamicsgp/developer/cc533976(v=msdn.10);
  Tesorio "Average Days Collected",
  https://help.tesorio.com/en/articles/12730170-customer-score-vs-average-days-collected).
* ``avg_days_to_pay_weighted`` — Weighted Average Days Paid: Σ(amount × (paid − invoice date)) /
  Σ amount (Oracle Advanced Collections, appendix "Metrics",
  https://docs.oracle.com/cd/E18727_01/doc.121/e13452/T387641T387664.htm).
* ``days_late_weighted`` — Upflow's Average Payment Delay: Σ(amount × (paid date − due date)) /
  Σ amount, open overdue invoices counted with the run date as paid date and their amount due
  ("Your customer's average payment delay",
  https://docs.upflow.io/en-us/core-entities/customers/your-customers-average-payment-delay);
  negative values allowed.
* ``days_late_weighted_paid`` — Weighted Average Days Late over closed items (Oracle Advanced
  Collections WADL, same appendix; JD Edwards "Average Days Late" is the same idea over receipts).
* ``late_share`` — % of invoices paid late (JD Edwards A/R statistics, F03B16: "Understanding
  Accounts Receivable Statistics",
  https://docs.oracle.com/en/applications/jd-edwards/financials/9.2/eoaar/understanding-accounts-receivable-statistics.html).
* aging buckets — current, 1–30, 31–60, 61–90, 91+ days past the due date (NetSuite customer
  ``aging``..``aging4``; CRF "aged on actual due date").
* ``exposure_months`` — the open balance over the average monthly sales: exposure measured
  against the customer's own size, as credit limits set from monthly sales are (the credit
  limit formulas of docs/segments.md section 3); None when the customer owes without a sale in
  the last 12 months.
* ``turnover_12m``, ``first_invoice_date``/``tenure_days``, ``credit_note_ratio``,
  ``payment_method_mix`` — per-customer statistics (JD Edwards A/R statistics, as above).
* ``trend`` — the Upflow delay over items due in the last 90 days minus the same over items due
  earlier in the window (issue 3: "weighted days late over the last 90 days minus the same over the
  window before").
* ``disputed_share`` — share of the invoices issued in the window that are disputed (Oracle
  Advanced Collections counts disputed items beside delinquent ones, same appendix).

Attributes (``ATTRIBUTE_KEYS``: text values the rules compare with ``in``/``eq``, not numbers):

* ``delivery_mode`` — the customer's column as the mapping stores it (paper, electronic, email…).
* ``payment_method`` — the dominant method of ``payment_method_mix`` (the largest amount received;
  ties: alphabetical), or the customer's own ``payment_method`` column when no payment counts.
* ``country`` — ``customer.extra.country`` (mappings/xero.yaml: the contact's address country;
  mappings/csv_ibm.yaml: ``countryCode``); a list gives its first non-empty value; else None.
* ``currency`` — the customer's ``default_currency``, else the currency of most of its invoices
  issued in the window (ties: alphabetical), else None.
* ``group`` — the customer's groups (Xero contact groups), a sorted list; ``[]`` without any.
* ``attributes`` — consultant-defined values a mapping puts into ``customer.extra.attributes``
  (an object: name -> text, number, true/false or a list of them); ``{}`` without any.

Assumptions (documented here because the rules depend on them):

* Statuses and payment kinds are the store's words (:mod:`arconnect.store.vocabulary`), whatever
  the platform. An invoice counts when ``kind = 'invoice'``, not ``is_deleted`` and its status is
  not ``draft``, ``voided`` or ``deleted``. An invoice without a due date is due on its issue date.
* Paid date: ``fully_paid_on`` when set, else the date of the non-deleted allocation (payments and
  credit notes, in the document's currency) that brings the allocated sum to ≥ ``total``;
  allocations of the same day count together. Otherwise the invoice is unpaid.
* "Paid in the window": issued in the window (run_date − window_days, run_date] and paid on a date
  in that window too (a payment after the run date has not happened yet as of the run date).
* Open item: an invoice with status ``open`` and ``amount_due_base > 0`` (any age); overdue when
  its due date is before the run date. The open overdue items enter ``days_late_weighted`` and
  ``trend`` whatever their issue date — an old unpaid invoice is the strongest delinquency signal
  (JD Edwards' paid-only average lets a non-payer look good).
* As of an earlier day (``point_in_time``: a back-dated run, or an imported history): nothing
  dated after the run date counts, and the current status and amount due are not read — an
  invoice is open when issued on or before the run date and not settled by then (no
  ``fully_paid_on`` on or before it), for its total less its allocations dated on or before it
  (in base currency); aging and overdue are measured at the run date. Unapplied credit is a
  credit document's total less its allocations dated by then (refunds paid out of it are not
  dated allocations and are not subtracted).
* Unapplied credit: remaining credit (Xero ``RemainingCredit``) of ``open`` credit notes,
  overpayments and prepayments: money or credit the customer holds that no invoice used yet.
  ``net_exposure`` = open balance − unapplied credit, floored at zero (what the customer would
  still owe if its credit were applied).
  Their allocations to invoices count towards the invoices' paid dates like any other.
* Rounding: ratios are divided in Python from the exact integer sums and rounded with
  ``round(x, 4)``; ``late_share`` and the day figures are None without paid invoices (or zero
  weight); ``credit_note_ratio`` is 0.0 without invoices; ``avg_monthly_sales`` is rounded half
  up to the cent. Weights are base-currency amounts, counts and days are whole numbers.
* Last payment: the latest non-deleted allocation with ``source_kind`` ``payment`` (an ERP's
  payment) or ``settlement`` (an imported history's settled date, ``mappings/csv_ibm.yaml``)
  dated on or before the run date.
* Payment-method mix: non-deleted payments dated in the window with a mapped ``method``, shares of
  their base amount; refunds and credit applications (payment kinds other than ``receipt``:
  ``NOT_RECEIVED_KINDS``) are left out.
* Disputes: an invoice is disputed when ``document.extra.disputed`` is JSON ``true`` (the IBM CSV
  mapping writes it from its ``Disputed`` column); the flag is read as stored now, it has no
  date. ``disputed_share`` is None for every customer when no counted invoice of the tenant
  issued in the window carries the flag (true or false) — the platform has no disputes to count —
  and None for a customer without invoices in the window; otherwise invoices without the flag
  count as not disputed.
* Attributes are the surviving customer's own (a merged or rolled-up customer's are not read).
* Customers: every customer of the tenant is a key, except merged ones (their documents are
  counted for the survivor) and, with ``rollup_parents``, sub-customers whose parent exists in the
  tenant: their history counts for the parent and they get no key of their own (one level).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, text

from arconnect.store.vocabulary import EXCLUDED_STATUSES, NOT_RECEIVED_KINDS, OPEN, sql_words

__all__ = ["ATTRIBUTE_KEYS", "METRIC_KEYS", "compute_metrics", "empty_metrics"]

METRIC_KEYS: tuple[str, ...] = (
    "invoice_count", "paid_invoice_count", "avg_days_to_pay", "avg_days_to_pay_weighted",
    "days_late_weighted", "days_late_weighted_paid", "late_share", "open_balance",
    "overdue_balance", "aging_current", "aging_1_30", "aging_31_60", "aging_61_90",
    "aging_91_plus", "oldest_overdue_days", "unapplied_credit", "net_exposure", "turnover_12m",
    "avg_monthly_sales", "exposure_months", "first_invoice_date", "tenure_days",
    "days_since_last_payment", "trend", "credit_note_ratio", "disputed_share", "terms_days",
    "delivery_mode", "payment_method_mix", "payment_method", "country", "currency", "group",
    "attributes",
)
# The built-in attributes (keys of the metrics dict holding text, or a list of text for
# ``group``) a rule compares with ``in``/``eq``; consultant-defined ones are in ``attributes``.
ATTRIBUTE_KEYS: tuple[str, ...] = ("delivery_mode", "payment_method", "country", "currency",
                                   "group")

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
# Documents not counted: not approved, cancelled or gone (connector/store/vocabulary.py).
_EXCLUDED_STATUSES = sql_words(EXCLUDED_STATUSES)
_OPEN = f"'{OPEN}'"
# Refunds paid out of credits and payments that only apply a credit: not money received.
_NOT_RECEIVED = sql_words(NOT_RECEIVED_KINDS)
# Documents whose remaining credit the customer holds (unapplied credit).
_CREDIT_KINDS = "('credit_note', 'overpayment', 'prepayment')"
_TREND_DAYS = 90
# An invoice without a due date is due on its issue date.
_DUE = "COALESCE(doc.due_date, doc.issue_date)"
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

    def least(self, a: str, b: str) -> str:
        """The smaller of two values (SQLite's scalar MIN, PostgreSQL's LEAST)."""
        return f"MIN({a}, {b})" if self.sqlite else f"LEAST({a}, {b})"

    def cents(self, money: str) -> str:
        """A money column as exact integer cents (SQLite keeps Numeric as a float)."""
        if self.sqlite:
            return f"CAST(ROUND({money} * 100) AS INTEGER)"
        return f"CAST({money} * 100 AS BIGINT)"

    def json_flag(self, column: str, key: str) -> str:
        """1 when the JSON object in ``column`` holds ``key: true``, 0 for ``false``, else NULL
        (missing, not an object, or not a JSON boolean: the text "true" is no flag on either)."""
        if self.sqlite:
            return f"CASE json_type({column}, '$.{key}') WHEN 'true' THEN 1 WHEN 'false' THEN 0 END"
        return (f"CASE WHEN json_typeof({column} -> '{key}') = 'boolean' THEN"
                f" CASE WHEN ({column} ->> '{key}') = 'true' THEN 1 ELSE 0 END END")


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


# (column, how per-customer values fold into a group); every pass yields all of them.
_COLUMNS: tuple[tuple[str, str], ...] = (
    ("n_inv", "SUM"), ("n_paid", "SUM"), ("sum_dtp", "SUM"), ("sum_w_dtp", "SUM"),
    ("sum_w_paid", "SUM"), ("late_paid_n", "SUM"), ("late_paid_w", "SUM"),
    ("late_open_n", "SUM"), ("late_open_w", "SUM"), ("n_late", "SUM"), ("open_bal", "SUM"),
    ("aging_cur", "SUM"), ("a30", "SUM"), ("a60", "SUM"), ("a90", "SUM"), ("a91", "SUM"),
    ("oldest", "MAX"), ("unapplied", "SUM"), ("turnover", "SUM"), ("first_issue", "MIN"),
    ("inv_window", "SUM"), ("cn_window", "SUM"), ("rec_n", "SUM"), ("rec_w", "SUM"),
    ("ear_n", "SUM"), ("ear_w", "SUM"),
)


# The type of a MIN/MAX column in a pass that does not compute it (PostgreSQL types a bare
# NULL in the first branch of a UNION as text).
_TYPED_NULL = {"oldest": "CAST(NULL AS INTEGER)", "first_issue": "CAST(NULL AS DATE)"}


def allocated_by_sql(d: _Dialect) -> tuple[str, str, str]:
    """What was allocated to each invoice ``doc`` on or before ``:run_date``, in integer cents
    of the base currency (in the document's currency when it is the base one, else in base
    amounts): ``(cte, expression, join)``. ``cte`` (empty, or one CTE ending in a comma) goes
    into the statement's WITH list, ``join`` after ``FROM document doc``; ``expression`` is 0
    for an invoice without allocations. The metrics and the worklist's items share it."""
    rd = d.day("run_date")
    tb = f"COALESCE({d.cents('doc.total_base')}, 0)"
    if d.sqlite:
        # One index probe per invoice (SQLite has no hash join; the probes read
        # ix_allocation_running alone).
        expression = f"""COALESCE(CASE WHEN {d.cents("doc.total")} = {tb} THEN
                  (SELECT SUM({d.cents("a.amount")}) FROM allocation a
                   WHERE a.tenant_id = :tenant AND a.document_external_id = doc.external_id
                     AND a.allocated_on <= {rd} AND NOT a.is_deleted)
                ELSE
                  (SELECT SUM({d.cents("COALESCE(a.amount_base, a.amount)")}) FROM allocation a
                   WHERE a.tenant_id = :tenant AND a.document_external_id = doc.external_id
                     AND a.allocated_on <= {rd} AND NOT a.is_deleted)
                END, 0)"""
        return "", expression, ""
    # PostgreSQL: one grouped pass over the allocations, hash-joined (with a probe per open
    # invoice the as-of documents statement took 18 s on bench/segment.py's 2 M invoices; this
    # way 14 s).
    cte = f"""
alloc_at AS MATERIALIZED (
  SELECT a.document_external_id AS doc, SUM({d.cents("a.amount")}) AS amt,
         SUM({d.cents("COALESCE(a.amount_base, a.amount)")}) AS amt_base
  FROM allocation a
  WHERE a.tenant_id = :tenant AND a.document_external_id IS NOT NULL
    AND a.allocated_on <= {rd} AND NOT a.is_deleted
  GROUP BY a.document_external_id
),"""
    expression = (f"COALESCE(CASE WHEN {d.cents('doc.total')} = {tb} THEN al.amt"
                  " ELSE al.amt_base END, 0)")
    return cte, expression, "\n  LEFT JOIN alloc_at al ON al.doc = doc.external_id"


def _documents_sql(d: _Dialect, rollup_parents: bool, window_days: int = 365,
                   point_in_time: bool = False) -> str:
    """One statement: every document-based metric, as exact integer sums per customer group.

    Each metric needs only a slice of the documents, so the statement is a UNION ALL of passes,
    each evaluating its sums on its own slice, over covering indexes in customer order (grouping
    needs no sort, rows no table lookup):

    * invoices issued in the window: counts, and the paid-invoice metrics of those with
      ``fully_paid_on``;
    * ``derived``: windowed invoices without ``fully_paid_on``, paid on the day the running sum
      of their allocations reaches the total — the paid-invoice metrics of those;
    * open invoices, any age: balances, aging, the open part of the delay;
    * all counted documents: tenure and turnover (invoices), credit notes.

    With ``point_in_time`` (a run as of an earlier day) the open invoices and the unapplied
    credit are rebuilt from dates instead of read from the current status and amount due
    (``open_at``, ``used_at``): an invoice issued by the run date is open for its total less
    its allocations dated by then, unless ``fully_paid_on`` is on or before the run date; a
    credit document issued by then holds its total less what it allocated by then.

    The outer query folds the per-customer rows into the id their history counts for (``cmap``).
    """
    rd, ws = d.day("run_date"), d.day("window_start")
    t90, y365 = d.day("trend_start"), d.day("year_start")
    d30, d60, d90 = d.day("due_30"), d.day("due_60"), d.day("due_90")
    counted = (
        f"doc.tenant_id = :tenant AND NOT doc.is_deleted AND doc.status NOT IN {_EXCLUDED_STATUSES}"
    )
    invoice = f"{counted} AND doc.kind = 'invoice'"
    issued_in_window = f"doc.issue_date > {ws} AND doc.issue_date <= {rd}"
    due = _DUE
    tb = f"COALESCE({d.cents('doc.total_base')}, 0)"
    adb = d.cents("doc.amount_due_base")

    def total(cond: str, value: str = "1") -> str:
        return f"SUM(CASE WHEN {cond} THEN {value} ELSE 0 END)"

    def paid_metrics(paid_on: str, issue: str, due: str, tb: str) -> dict[str, str]:
        """Days to pay and the paid part of the Upflow delay (amount total, paid - due)."""
        paid = f"{paid_on} > {ws} AND {paid_on} <= {rd}"
        dtp, late = d.days(paid_on, issue), d.days(paid_on, due)
        with_due = f"{paid} AND {due} IS NOT NULL"
        recent = f"{with_due} AND {due} > {t90} AND {due} <= {rd}"
        earlier = f"{with_due} AND {due} > {ws} AND {due} <= {t90}"
        return {
            "n_paid": total(paid),
            "sum_dtp": total(paid, dtp),
            "sum_w_dtp": total(paid, f"{tb} * {dtp}"),
            "sum_w_paid": total(paid, tb),
            "late_paid_n": total(with_due, f"{tb} * {late}"),
            "late_paid_w": total(with_due, tb),
            "n_late": total(f"{with_due} AND {late} > 0"),
            "rec_n": total(recent, f"{tb} * {late}"),
            "rec_w": total(recent, tb),
            "ear_n": total(earlier, f"{tb} * {late}"),
            "ear_w": total(earlier, tb),
        }

    window_pass = {
        "n_inv": "COUNT(*)",
        "inv_window": f"SUM({tb})",
        # With the default window the year's turnover is the window's: one pass fewer.
        **({"turnover": f"SUM({tb})"} if window_days == _TURNOVER_DAYS else {}),
        **paid_metrics("doc.fully_paid_on", "doc.issue_date", due, tb),
    }
    derived_pass = paid_metrics("dv.paid_on", "dv.issue_date", "dv.due", "dv.tb")
    # Open invoices, any age: balances, aging by due date, the open part of the Upflow delay
    # (amount due, run date - due date) and of the trend.
    if point_in_time:
        due, adb = "oa.due", "oa.adb"
    overdue = f"{due} < {rd}"
    dpd = d.days(rd, due)
    open_pass = {
        "open_bal": f"SUM({adb})",
        "aging_cur": total(f"NOT ({overdue}) OR {due} IS NULL", adb),
        "a30": total(f"{overdue} AND {due} >= {d30}", adb),
        "a60": total(f"{due} < {d30} AND {due} >= {d60}", adb),
        "a90": total(f"{due} < {d60} AND {due} >= {d90}", adb),
        "a91": total(f"{due} < {d90}", adb),
        "late_open_n": total(overdue, f"{adb} * {dpd}"),
        "late_open_w": total(overdue, adb),
        "oldest": f"MAX(CASE WHEN {overdue} THEN {dpd} END)",
        "rec_n": total(f"{overdue} AND {due} > {t90}", f"{adb} * {dpd}"),
        "rec_w": total(f"{overdue} AND {due} > {t90}", adb),
        "ear_n": total(f"{due} > {ws} AND {due} <= {t90}", f"{adb} * {dpd}"),
        "ear_w": total(f"{due} > {ws} AND {due} <= {t90}", adb),
    }
    inv, cn = "doc.kind = 'invoice'", "doc.kind = 'credit_note'"
    credit = f"doc.kind IN {_CREDIT_KINDS}"
    history_pass = {
        **({} if window_days == _TURNOVER_DAYS else {
            "turnover": total(f"{inv} AND doc.issue_date > {y365} AND doc.issue_date <= {rd}", tb),
        }),
        "first_issue": f"MIN(CASE WHEN {inv} AND doc.issue_date <= {rd} THEN doc.issue_date END)",
        # as of the run date: a credit document's total less what it allocated by then
        "unapplied": total(f"{credit} AND doc.issue_date <= {rd}",
                           f"{tb} - " + d.least(tb, "COALESCE(u.used, 0)"))
        if point_in_time else total(f"{credit} AND doc.status = {_OPEN}", adb),
        "cn_window": total(f"{cn} AND {issued_in_window}", tb),
    }

    def select(values: dict[str, str], cust: str, source: str, where: str) -> str:
        cols = ",\n    ".join(
            f"{values.get(name, '0' if fold == 'SUM' else _TYPED_NULL[name])} AS {name}"
            for name, fold in _COLUMNS
        )
        return (
            f"  SELECT {cust} AS cust,\n    {cols}\n  FROM {source}\n"
            f"  WHERE {where}\n  GROUP BY {cust}"
        )

    # SQLite: read the documents from the covering index in customer order (the planner
    # otherwise prefers the narrower ix_document_customer and looks every row up).
    doc = "document doc INDEXED BY ix_document_segmenter" if d.sqlite else "document doc"
    open_select = (
        select(open_pass, "oa.cust", "open_at oa", "oa.adb > 0") if point_in_time else
        select(open_pass, "doc.customer_external_id", doc,
               f"{invoice} AND doc.status = {_OPEN} AND doc.amount_due_base > 0"))
    passes = "\n  UNION ALL\n".join([
        select(window_pass, "doc.customer_external_id", doc, f"{invoice} AND {issued_in_window}"),
        select(derived_pass, "dv.cust", "derived dv", "1 = 1"),
        open_select,
        # as of a date, joined to what each credit document allocated by then (a join, not a
        # correlated look-up: PostgreSQL scans a CTE once per look-up)
        select(history_pass, "doc.customer_external_id",
               f"{doc} LEFT JOIN used_at u ON u.kind = doc.kind AND u.src = doc.external_id"
               if point_in_time else doc,
               f"{counted} AND doc.kind IN ('invoice', {_CREDIT_KINDS[1:-1]})"),
    ])
    alloc_cte, allocated_by, alloc_join = allocated_by_sql(d)
    as_of_ctes = f"""{alloc_cte}
open_at AS MATERIALIZED (
  -- Once per invoice (every pass column reads adb).
  SELECT doc.customer_external_id AS cust, {_DUE} AS due, {tb} - {allocated_by} AS adb
  FROM document doc{alloc_join}
  WHERE {invoice} AND doc.issue_date <= {rd}
    AND (doc.fully_paid_on IS NULL OR doc.fully_paid_on > {rd})
),
used_at AS MATERIALIZED (
  SELECT a.source_kind AS kind, a.source_external_id AS src,
         SUM({d.cents("COALESCE(a.amount_base, a.amount)")}) AS used
  FROM allocation a
  WHERE a.tenant_id = :tenant AND a.source_kind IN {_CREDIT_KINDS}
    AND NOT a.is_deleted AND a.allocated_on <= {rd}
  GROUP BY a.source_kind, a.source_external_id
),""" if point_in_time else ""
    outer = ",\n  ".join(f"{fold}(pc.{name})" for name, fold in _COLUMNS)
    return f"""
WITH {_customer_map(rollup_parents)},
per_doc AS (
  SELECT doc.external_id AS doc, MIN(doc.customer_external_id) AS cust,
         MIN(doc.issue_date) AS issue_date, MIN({_DUE}) AS due, MIN({tb}) AS tb,
         MIN({d.cents("doc.total")}) AS total, SUM({d.cents("a.amount")}) AS allocated,
         MIN(a.allocated_on) AS first_on, MAX(a.allocated_on) AS last_on
  FROM document doc
  JOIN allocation a ON a.tenant_id = doc.tenant_id AND a.document_external_id = doc.external_id
  WHERE {invoice} AND doc.fully_paid_on IS NULL AND {issued_in_window}
    AND NOT a.is_deleted AND a.allocated_on IS NOT NULL
  GROUP BY doc.external_id
),
derived AS MATERIALIZED (
  -- Allocations on one day (nearly all invoices): paid that day if they cover the total.
  -- Several days: the first day whose running sum covers it.
  SELECT pd.doc, pd.cust, pd.issue_date, pd.due, pd.tb,
         CASE WHEN pd.first_on = pd.last_on THEN
                CASE WHEN pd.allocated >= pd.total THEN pd.last_on END
              ELSE (
                SELECT MIN(a.allocated_on) FROM allocation a
                WHERE a.tenant_id = :tenant AND a.document_external_id = pd.doc
                  AND NOT a.is_deleted AND a.allocated_on IS NOT NULL
                  AND (SELECT SUM({d.cents("b.amount")}) FROM allocation b
                       WHERE b.tenant_id = :tenant AND b.document_external_id = pd.doc
                         AND NOT b.is_deleted AND b.allocated_on <= a.allocated_on
                      ) >= pd.total)
         END AS paid_on
  FROM per_doc pd
),
{as_of_ctes}
per_customer AS (
{passes}
)
SELECT m.grp,
  {outer}
FROM per_customer pc
JOIN cmap m ON m.ext = pc.cust
GROUP BY m.grp
"""


def _last_payment_sql(d: _Dialect, rollup_parents: bool) -> str:
    """The latest payment allocation on or before the run date, per customer group.

    One index probe per customer and kind (``ix_allocation_payments`` ends in
    ``allocated_on``, so the latest one is found from the end of the customer's range) instead
    of a scan of them all: one probe per source kind, as an equality (PostgreSQL does not read
    an ``IN`` list backwards from the end of each range: 6.4 s instead of 1.6 s at 2 M
    invoices).
    """
    probes = "\n  UNION ALL\n".join(f"""  SELECT c.external_id AS cust,
         (SELECT MAX(a.allocated_on) FROM allocation a
          WHERE a.tenant_id = c.tenant_id AND a.source_kind = '{kind}'
            AND a.customer_external_id = c.external_id
            AND a.allocated_on <= {d.day("run_date")} AND NOT a.is_deleted) AS last_paid
  FROM customer c
  WHERE c.tenant_id = :tenant""" for kind in ("payment", "settlement"))
    return f"""
WITH {_customer_map(rollup_parents)},
per_customer AS (
{probes}
)
SELECT m.grp, MAX(pc.last_paid)
FROM per_customer pc JOIN cmap m ON m.ext = pc.cust
GROUP BY m.grp
"""


def _method_mix_sql(d: _Dialect, rollup_parents: bool) -> str:
    """Base-currency cents received per payment method in the window, per customer group."""
    return f"""
WITH {_customer_map(rollup_parents)},
per_customer AS (
  SELECT p.customer_external_id AS cust, p.method, SUM({d.cents("p.amount_base")}) AS cents
  FROM payment p
  WHERE p.tenant_id = :tenant AND NOT p.is_deleted AND p.method IS NOT NULL
    AND (p.payment_type IS NULL OR p.payment_type NOT IN {_NOT_RECEIVED})
    AND p.paid_on > {d.day("window_start")} AND p.paid_on <= {d.day("run_date")}
  GROUP BY p.customer_external_id, p.method
)
SELECT m.grp, pc.method, SUM(pc.cents)
FROM per_customer pc JOIN cmap m ON m.ext = pc.cust
GROUP BY m.grp, pc.method
"""


def _disputes_sql(d: _Dialect, rollup_parents: bool) -> str:
    """Per customer group and invoice currency: the invoices issued in the window, how many are
    disputed and how many carry the flag at all (``document.extra.disputed``). One grouped
    statement for ``disputed_share`` and the invoice currency of ``currency``."""
    flag = d.json_flag("doc.extra", "disputed")
    return f"""
WITH {_customer_map(rollup_parents)},
per_customer AS (
  SELECT doc.customer_external_id AS cust, doc.currency AS currency, COUNT(*) AS n,
         SUM({flag}) AS disputed, COUNT({flag}) AS known
  FROM document doc
  WHERE doc.tenant_id = :tenant AND NOT doc.is_deleted
    AND doc.status NOT IN {_EXCLUDED_STATUSES} AND doc.kind = 'invoice'
    AND doc.issue_date > {d.day("window_start")} AND doc.issue_date <= {d.day("run_date")}
  GROUP BY doc.customer_external_id, doc.currency
)
SELECT m.grp, pc.currency, SUM(pc.n), SUM(pc.disputed), SUM(pc.known)
FROM per_customer pc JOIN cmap m ON m.ext = pc.cust
GROUP BY m.grp, pc.currency
"""


# The metrics of a customer without history, copied per customer (a copy of a dict is a fifth
# of the cost of building it: 100,000 customers are measured in one run).
_EMPTY: dict[str, Any] = {
    "invoice_count": 0, "paid_invoice_count": 0, "avg_days_to_pay": None,
    "avg_days_to_pay_weighted": None, "days_late_weighted": None,
    "days_late_weighted_paid": None, "late_share": None, "open_balance": _ZERO,
    "overdue_balance": _ZERO, "aging_current": _ZERO, "aging_1_30": _ZERO,
    "aging_31_60": _ZERO, "aging_61_90": _ZERO, "aging_91_plus": _ZERO,
    "oldest_overdue_days": 0, "unapplied_credit": _ZERO, "net_exposure": _ZERO,
    "turnover_12m": _ZERO, "avg_monthly_sales": _ZERO, "exposure_months": 0.0,
    "first_invoice_date": None, "tenure_days": None, "days_since_last_payment": None,
    "trend": None, "credit_note_ratio": 0.0, "disputed_share": None, "terms_days": None,
    "delivery_mode": None, "payment_method_mix": {}, "payment_method": None, "country": None,
    "currency": None, "group": [], "attributes": {},
}


def empty_metrics(terms_days: int | None = None, delivery_mode: str | None = None
                  ) -> dict[str, Any]:
    """The metrics of a customer without any history (zeros for money and counts, else None;
    no attributes but its terms and delivery mode)."""
    m = _EMPTY.copy()
    m["terms_days"], m["delivery_mode"] = terms_days, delivery_mode
    # fresh containers: each customer's are its own
    m["payment_method_mix"], m["group"], m["attributes"] = {}, [], {}
    return m


def _json(value: Any) -> Any:
    """A JSON column read through ``text()``: SQLite gives the text, psycopg the value."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _text(value: Any) -> str | None:
    """An attribute's text: numbers as written, blanks as None; a list gives its first one."""
    if isinstance(value, list):
        return next((t for v in value if (t := _text(v)) is not None), None)
    if value is None or isinstance(value, dict | bool):
        return None
    text_ = str(value).strip()
    return text_ or None


def _attribute_value(value: Any) -> Any:
    """A consultant-defined attribute as the rules read it: text, a number, true/false or a
    list of those (blanks and nested objects dropped); None when nothing is left."""
    if isinstance(value, list):
        items = [v for v in (_attribute_value(x) for x in value)
                 if v is not None and not isinstance(v, list)]
        return items or None
    if isinstance(value, bool | int | float):
        return value
    return _text(value)


def _customer_attributes(extra: Any, groups: Any) -> dict[str, Any]:
    """``country``, ``group`` and ``attributes`` from a customer's ``extra`` and ``groups``."""
    extra = _json(extra)
    extra = extra if isinstance(extra, dict) else {}
    names = _json(groups)
    names = names if isinstance(names, list) else [names] if names is not None else []
    own = extra.get("attributes")
    return {
        "country": _text(extra.get("country")),
        "group": sorted({t for g in names if (t := _text(g)) is not None}),
        "attributes": {str(k): value for k, raw in sorted(own.items(), key=lambda kv: str(kv[0]))
                       if (value := _attribute_value(raw)) is not None}
        if isinstance(own, dict) else {},
    }


def _dominant(amounts: dict[str, int]) -> str | None:
    """The key with the largest amount (ties: the alphabetically first); None when empty."""
    return min(amounts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if amounts else None


def _money(cents: Any) -> Decimal:
    """Integer cents as a Decimal with exactly two places (``scaleb`` is exact, no rounding)."""
    return Decimal(int(cents or 0)).scaleb(-2)


def _ratio(num: Any, den: Any) -> float | None:
    """``num / den`` rounded to 4 decimals from exact integer sums (None when den is 0)."""
    n, m = int(num or 0), int(den or 0)
    return None if m == 0 else round(n / m, 4)


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _params(tenant_id: int, run_date: date, window_days: int) -> dict[str, Any]:
    """The bound parameters of the statements: the tenant and the dates bounding each slice."""

    def back(days: int) -> str:
        return (run_date - timedelta(days=days)).isoformat()

    return {
        "tenant": tenant_id,
        "run_date": run_date.isoformat(),
        "window_start": back(window_days),
        "trend_start": back(_TREND_DAYS),
        "year_start": back(_TURNOVER_DAYS),
        # Aging: 1-30 days past due is due in [run_date - 30, run_date - 1], and so on.
        "due_30": back(30),
        "due_60": back(60),
        "due_90": back(90),
    }


def _document_metrics(row: Sequence[Any], run_date: date) -> dict[str, Any]:
    """The contract's figures from one row of exact sums of :func:`_documents_sql`."""
    (n_inv, n_paid, sum_dtp, sum_w_dtp, sum_w_paid, late_paid_n, late_paid_w, late_open_n,
     late_open_w, n_late, open_bal, aging_cur, a30, a60, a90, a91, oldest, unapplied, turnover,
     first, inv_window, cn_window, rec_n, rec_w, ear_n, ear_w) = row
    first_date = _as_date(first)
    turnover_c = int(turnover or 0)
    recent, earlier = _ratio(rec_n, rec_w), _ratio(ear_n, ear_w)
    return {
        "invoice_count": int(n_inv or 0),
        "paid_invoice_count": int(n_paid or 0),
        "avg_days_to_pay": _ratio(sum_dtp, n_paid),
        "avg_days_to_pay_weighted": _ratio(sum_w_dtp, sum_w_paid),
        "days_late_weighted": _ratio(
            int(late_paid_n or 0) + int(late_open_n or 0),
            int(late_paid_w or 0) + int(late_open_w or 0),
        ),
        "days_late_weighted_paid": _ratio(late_paid_n, late_paid_w),
        "late_share": _ratio(n_late, n_paid),
        "open_balance": _money(open_bal),
        "overdue_balance": _money(late_open_w),
        "aging_current": _money(aging_cur),
        "aging_1_30": _money(a30),
        "aging_31_60": _money(a60),
        "aging_61_90": _money(a90),
        "aging_91_plus": _money(a91),
        "oldest_overdue_days": int(oldest or 0),
        "unapplied_credit": _money(unapplied),
        # what the customer owes once the credit it holds is used (never below zero)
        "net_exposure": _money(max(int(open_bal or 0) - int(unapplied or 0), 0)),
        "turnover_12m": _money(turnover_c),
        "avg_monthly_sales": (Decimal(turnover_c) / 1200).quantize(_CENT, ROUND_HALF_UP),
        # the open balance in months of the customer's usual sales: exposure judged against the
        # customer's own size (0.0 when nothing is owed; None when it owes without a sale in 12
        # months, so there is nothing to compare with)
        "exposure_months": (0.0 if not int(open_bal or 0) else
                            _ratio(int(open_bal or 0) * 12, turnover_c) if turnover_c else None),
        "first_invoice_date": first_date.isoformat() if first_date else None,
        "tenure_days": (run_date - first_date).days if first_date else None,
        "trend": None if recent is None or earlier is None else round(recent - earlier, 4),
        "credit_note_ratio": _ratio(cn_window, inv_window) or 0.0,
    }


def _no_jit(conn: Connection) -> None:
    """PostgreSQL: no JIT compilation for this transaction's statements. The metrics
    statements are large expression trees over a few seconds of scanning: compiling them costs
    more than it saves (the documents statement: 7.7 s with JIT, 5.3 s without, 2 M invoices)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL jit = off"))


class _SidePayments:
    """The last-payment, payment-method and disputes statements, run in a thread on their own
    connection (the caller's own connection when the engine is in-memory SQLite)."""

    def __init__(self, conn: Connection, d: _Dialect, rollup_parents: bool,
                 params: dict[str, Any], parallel: bool) -> None:
        self._sqls = (_last_payment_sql(d, rollup_parents), _method_mix_sql(d, rollup_parents),
                      _disputes_sql(d, rollup_parents))
        self._params = params
        self._rows: list[list[Any]] = []
        self._error: BaseException | None = None
        url = conn.engine.url
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        self._conn = conn if in_memory or not parallel else None
        self._thread: threading.Thread | None = None
        if self._conn is None:
            self._thread = threading.Thread(target=self._run, args=(conn.engine,),
                                            name="metrics-payments", daemon=True)
            self._thread.start()

    def _run(self, engine: Engine) -> None:
        try:
            with engine.connect() as side:
                _no_jit(side)
                self._rows = [list(side.execute(text(sql), self._params).all())
                              for sql in self._sqls]
        except BaseException as err:  # re-raised in the caller's thread
            self._error = err

    def result(self) -> tuple[list[Any], list[Any], list[Any]]:
        if self._thread is None:
            assert self._conn is not None
            rows = [list(self._conn.execute(text(sql), self._params).all())
                    for sql in self._sqls]
        else:
            self._thread.join()
            if self._error is not None:
                raise self._error
            rows = self._rows
        return rows[0], rows[1], rows[2]


def compute_metrics(
    conn: Connection,
    tenant_id: int,
    run_date: date,
    *,
    window_days: int = 365,
    rollup_parents: bool = True,
    parallel: bool = False,
    point_in_time: bool = False,
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
        parallel: run the payment statements on a second connection beside the documents
            one (only when ``conn`` holds no uncommitted writes the second one must see).
        point_in_time: rebuild open items and unapplied credit as they stood on ``run_date``
            from issue, paid and allocation dates (a run as of an earlier day) instead of
            reading the current status and amount due.
    """
    d = _Dialect(sqlite=conn.dialect.name == "sqlite")
    params = _params(tenant_id, run_date, window_days)
    _no_jit(conn)
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
            "SELECT c.external_id, c.terms_days, c.delivery_mode, c.payment_method,"
            " c.default_currency, c.groups, c.extra FROM customer c"
            " WHERE c.tenant_id = :tenant AND c.merged_into_external_id IS NULL"
            f" AND NOT ({parent_cond})"
        ),
        {"tenant": tenant_id},
    ).all()
    for ext, terms, mode, method, currency, groups, extra in customers:
        own = out[ext] = empty_metrics(terms, mode)
        # (most customers of a large ledger have none of these: no work for them)
        if method is not None:
            own["payment_method"] = _text(method)
        if currency is not None:
            own["currency"] = _text(currency)
        if groups is not None or extra is not None:
            own.update(_customer_attributes(extra, groups))

    # The payment statements run beside the documents one, on a second connection, so the
    # database works on both cores (sqlite3 and psycopg release the GIL while a query runs).
    # Each reads its own snapshot; a sync committing in between can only shift which payments
    # count by that commit, as if the run had started a moment later.
    side = _SidePayments(conn, d, rollup_parents, params, parallel)
    documents = _documents_sql(d, rollup_parents, window_days, point_in_time)
    # (fetched whole: a row at a time costs psycopg twice the Python time)
    for row in conn.execute(text(documents), params).all():
        m = out.get(row[0])
        if m is not None:  # else a survivor or parent id that is not itself a customer row
            m.update(_document_metrics(row[1:], run_date))
    last_rows, mix_rows, dispute_rows = side.result()

    for grp, last in last_rows:
        last_date = _as_date(last)
        if grp in out and last_date is not None:
            out[grp]["days_since_last_payment"] = (run_date - last_date).days

    mix: dict[str, dict[str, int]] = {}
    for grp, method, cents in mix_rows:
        if grp in out:
            mix.setdefault(grp, {})[method] = int(cents or 0)
    for grp, by_method in mix.items():
        total = sum(by_method.values())
        if total > 0:
            out[grp]["payment_method_mix"] = {
                k: round(v / total, 4) for k, v in sorted(by_method.items())
            }
            out[grp]["payment_method"] = _dominant(by_method)
    _disputes_and_currency(out, dispute_rows)
    return out


def _disputes_and_currency(out: dict[str, dict[str, Any]], rows: list[Any]) -> None:
    """``disputed_share`` (when the tenant flags disputes at all) and, for customers without a
    default currency, the currency of most of their invoices in the window."""
    counts: dict[str, list[int]] = {}  # group -> [invoices, disputed]
    currencies: dict[str, dict[str, int]] = {}
    flagged = False
    for grp, currency, n, disputed, known in rows:
        if grp not in out:
            continue
        c = counts.setdefault(grp, [0, 0])
        c[0] += int(n or 0)
        c[1] += int(disputed or 0)
        flagged = flagged or int(known or 0) > 0
        if (code := _text(currency)) is not None:
            by_code = currencies.setdefault(grp, {})
            by_code[code] = by_code.get(code, 0) + int(n or 0)
    for grp, (n, disputed) in counts.items():
        if flagged:
            out[grp]["disputed_share"] = _ratio(disputed, n)
        if out[grp]["currency"] is None:
            out[grp]["currency"] = _dominant(currencies.get(grp, {}))
