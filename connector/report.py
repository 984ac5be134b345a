"""``arconnect report``: one self-contained HTML page about a tenant's segments.

The page holds everything it shows: inline CSS, charts as inline SVG drawn here
(:mod:`arconnect.charts`), no script, no font, image or style sheet from anywhere, no link —
it can be mailed, archived or opened offline. Sections: a header (tenant, as-of date, rules,
when it was made), the segments (customers and open amount), aging by segment, moves between
segments from the segment history, the KPI table (:mod:`arconnect.segmenter.kpis`) and the top
of the worklist (:mod:`arconnect.segmenter.worklist`).

Every value that comes from an ERP, a CSV file or a rules file (tenant, customer and segment
names, reasons) is text: it is written through :func:`html.escape`, quotes included, so a
customer called ``<script>`` is shown as typed.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, select

from arconnect.charts import bar_chart, stacked_bar_chart
from arconnect.segmenter.kpis import AGING_BUCKETS, KpiReport, Kpis, kpis_of, snapshot
from arconnect.segmenter.rules import Rules
from arconnect.segmenter.worklist import Worklist, build_worklist
from arconnect.store.models import SegmentHistory, Tenant

__all__ = ["Moves", "Report", "WORKLIST_ROWS", "build_report", "render_report", "segment_moves"]

_HISTORY = SegmentHistory.__table__  # type: ignore[attr-defined]
# The worklist's first rows the page lists, and the run dates the moves chart shows.
WORKLIST_ROWS = 15
MOVE_DATES = 12
_FIRST = "(first assignment)"


def _e(value: object) -> str:
    """Text for the page: ``None`` as a dash, the rest escaped (quotes too)."""
    return "—" if value is None else html.escape(str(value), quote=True)


@dataclass
class Moves:
    """Moves between segments from the segment history (a change of segment; a new tag or
    limit in the same segment is not a move), by the UTC date the history row was written.

    Attributes:
        dates: the last :data:`MOVE_DATES` dates with a move or a first assignment, in order.
        into: per segment, the customers that moved into it on each of ``dates``.
        first: per date, the customers assigned a segment for the first time.
        matrix: from → to counts over every date shown.
    """

    dates: list[date] = field(default_factory=list)
    into: dict[str, list[int]] = field(default_factory=dict)
    first: list[int] = field(default_factory=list)
    matrix: dict[tuple[str, str], int] = field(default_factory=dict)


def _day(value: datetime | str) -> date:
    if isinstance(value, str):  # SQLite without type detection
        value = datetime.fromisoformat(value)
    return (value.astimezone(UTC) if value.tzinfo else value).date()


def segment_moves(db: Engine, tenant: Tenant, through: date | None = None) -> Moves:
    """The moves of ``tenant``'s customers (history dated up to ``through`` when given).

    One grouped statement: a run writes all its history rows at one instant, so there are as
    many groups as runs and locks times segment pairs, whatever the number of customers."""
    h = _HISTORY.c
    query = (select(h.changed_at, h.from_segment, h.to_segment, func.count())
             .where(h.tenant_id == tenant.id)
             .group_by(h.changed_at, h.from_segment, h.to_segment))
    if through is not None:
        end = datetime(through.year, through.month, through.day, tzinfo=UTC) + timedelta(days=1)
        query = query.where(h.changed_at < end)
    with db.connect() as conn:
        rows = conn.execute(query).all()
    counts: dict[date, Counter[tuple[str | None, str]]] = {}
    for changed_at, before, after, n in rows:
        if before == after:
            continue
        counts.setdefault(_day(changed_at), Counter())[(before, after)] += int(n)
    dates = sorted(counts)[-MOVE_DATES:]
    segments = sorted({after for day in dates for _, after in counts[day]})
    moves = Moves(dates=dates, first=[sum(n for (b, _), n in counts[d].items() if b is None)
                                      for d in dates])
    for s in segments:
        moves.into[s] = [sum(n for (b, a), n in counts[d].items() if a == s and b is not None)
                         for d in dates]
    for d in dates:
        for (before, after), n in counts[d].items():
            key = (before or _FIRST, after)
            moves.matrix[key] = moves.matrix.get(key, 0) + n
    return moves


# -- the page --------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;
color:#1a1a1a;line-height:1.4}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #ccc;padding-bottom:.2rem}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;margin:.5rem 0}
dl.meta dt{color:#555}dl.meta dd{margin:0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e2e2e2;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:600;border-top:2px solid #999}
p.note{background:#fff6d6;padding:.4rem .6rem}
p.small,caption{font-size:.85rem;color:#555;text-align:left}
figure{margin:.5rem 0}.scroll{overflow-x:auto}
"""


def _money(value: Decimal | float | int) -> str:
    return f"{value:,.0f}"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _table(headers: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]],
           caption: str = "", total: Sequence[str] | None = None) -> str:
    """A table; ``headers`` are (text, numeric); cells are already escaped."""
    head = "".join(f'<th scope="col"{" class=n" if n else ""}>{_e(h)}</th>'
                   for h, n in headers)
    body = []
    for row, css in [(r, "") for r in rows] + ([(total, ' class="total"')] if total else []):
        cells = "".join(
            (f'<th scope="row">{c}</th>' if i == 0 else
             f'<td{" class=n" if headers[i][1] else ""}>{c}</td>')
            for i, c in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return (f'<div class="scroll"><table>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _kpi_row(k: Kpis) -> list[str]:
    return [_e(k.segment), f"{k.customers:,}", _money(k.open), _money(k.overdue),
            _share(k.overdue_share), _num(k.dso), _num(k.cei), _num(k.avg_days_late),
            _share(k.late_share), _money(k.credit_limits), _money(k.opening), _money(k.sales)]


def _kpi_section(kpis: KpiReport, currency: str) -> str:
    c = f" {currency}" if currency else ""
    headers = [("Segment", False), ("Customers", True), (f"Open{c}", True),
               (f"Overdue{c}", True), ("Overdue share", True), ("DSO (days)", True),
               ("CEI (%)", True), ("Avg days late", True), ("Late share", True),
               (f"Credit limits{c}", True), (f"Opening receivables{c}", True),
               (f"Credit sales{c}", True)]
    table = _table(headers, [_kpi_row(k) for k in kpis.segments], total=_kpi_row(kpis.ledger),
                   caption=f"KPI period: the {kpis.period_days} days after "
                           f"{kpis.period_start} through {kpis.run_date}")
    return (
        f"<section><h2>KPIs per segment</h2>{table}"
        '<p class="small">Overdue share = overdue / open. DSO = open receivables / credit sales '
        f"of the period × {kpis.period_days}. CEI = (opening receivables + credit sales − "
        "closing receivables) / (opening receivables + credit sales − closing current "
        "receivables) × 100, the opening receivables as of the period's start. Average days "
        "late: amount-weighted days after the due date over paid invoices; late share: paid "
        "late / paid, both over the members' invoices paid in the window. Each segment "
        "counts the customers in it at the run.</p></section>")


def _distribution(kpis: KpiReport, currency: str) -> str:
    names = [k.segment for k in kpis.segments]
    unit = f" {currency}" if currency else ""
    return (
        "<section><h2>Segments</h2>"
        f"<figure>{bar_chart('Customers per segment', names, [k.customers for k in kpis.segments])}"
        "<figcaption>Customers per segment</figcaption></figure>"
        f"<figure>{bar_chart('Open amount per segment', names, [float(k.open) for k in kpis.segments], unit=unit)}"  # noqa: E501
        f"<figcaption>Open amount per segment{_e(unit)}</figcaption></figure></section>")


def _aging(kpis: KpiReport, currency: str) -> str:
    names = [k.segment for k in kpis.segments]
    unit = f" {currency}" if currency else ""
    series = [(label, [float(k.aging[i]) for k in kpis.segments])
              for i, (_, label) in enumerate(AGING_BUCKETS)]
    headers = [("Segment", False)] + [(f"{label} days" if i else label, True)
                                      for i, (_, label) in enumerate(AGING_BUCKETS)]
    rows = [[_e(k.segment), *(_money(a) for a in k.aging)] for k in kpis.segments]
    total = [_e(kpis.ledger.segment), *(_money(a) for a in kpis.ledger.aging)]
    chart = stacked_bar_chart("Open amount by days past due, per segment", names, series,
                              unit=unit)
    return (f"<section><h2>Aging by segment</h2><figure>{chart}<figcaption>Open amount by days "
            f"past due{_e(unit)}: current, 1–30, 31–60, 61–90, 91+ (left to right)"
            f"</figcaption></figure>{_table(headers, rows, total=total)}</section>")


def _moves(moves: Moves) -> str:
    if not moves.dates:
        return ("<section><h2>Moves between segments</h2><p>No segment history yet: each "
                "`arconnect segment` run records who moved.</p></section>")
    labels = [d.isoformat() for d in moves.dates]
    series: list[tuple[str, Sequence[float]]] = [
        (f"into {s}", values) for s, values in moves.into.items()]
    series.append(("first assignment", moves.first))
    chart = stacked_bar_chart("Customers moved into each segment, per run date", labels,
                              series)
    headers = [("Run date (UTC)", False), ("First assignments", True)] + [
        (f"Into {s}", True) for s in moves.into]
    rows = [[_e(label), f"{moves.first[i]:,}",
             *(f"{values[i]:,}" for values in moves.into.values())]
            for i, label in enumerate(labels)]
    matrix_rows = [[_e(before), _e(after), f"{n:,}"] for (before, after), n in
                   sorted(moves.matrix.items(), key=lambda kv: (-kv[1], kv[0]))]
    return (
        "<section><h2>Moves between segments</h2>"
        f"<figure>{chart}<figcaption>Customers moved into each segment per run date (UTC), "
        "and customers given a segment for the first time</figcaption></figure>"
        f"{_table(headers, rows)}"
        f"{_table([('From', False), ('To', False), ('Customers', True)], matrix_rows, caption=f'From → to over the {len(labels)} run date(s) shown')}"  # noqa: E501
        "</section>")


def _worklist(worklist: Worklist | None, currency: str) -> str:
    if worklist is None or not worklist.rows:
        return ("<section><h2>Worklist</h2><p>No customer has an open overdue amount."
                "</p></section>")
    c = f" {currency}" if currency else ""
    headers = [("#", False), ("Customer", False), ("Segment", False), (f"Overdue{c}", True),
               ("Oldest (days)", True), ("Late probability", True), ("Priority", True),
               ("Why", False), ("Next step", False)]
    rows = [[str(r.rank), _e(r.name or r.customer_id), _e(r.segment),
             _money(r.overdue_balance), f"{r.oldest_overdue_days:,}",
             _share(r.late_probability), _money(r.priority), _e(r.reason), _e(r.next_step)]
            for r in worklist.rows]
    return (f"<section><h2>Worklist: who to call first</h2>"
            f"{_table(headers, rows, caption=f'The first {len(rows)} of {worklist.customers:,} customers with an overdue amount ({_money(worklist.total_overdue)}{c} in all)')}"  # noqa: E501
            '<p class="small">Priority = late probability × overdue amount × (1 + oldest '
            "days overdue / 30); see <code>arconnect worklist</code> for every customer and "
            "their items.</p></section>")


def render_report(tenant: Tenant, kpis: KpiReport, moves: Moves, worklist: Worklist | None,
                  *, rules: str, stored: bool, generated_at: datetime,
                  notes: Sequence[str] = ()) -> str:
    """The page, from figures already computed (see :func:`build_report`)."""
    currency = tenant.base_currency or ""
    source = "the last stored segment run" if stored else "computed for this date (not stored)"
    meta = [("Tenant", tenant.name), ("As of", kpis.run_date.isoformat()), ("Rules", rules),
            ("Source", source), ("Currency", currency or "—"),
            ("Generated", generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))]
    notes_html = "".join(f'<p class="note">{_e(n)}</p>' for n in notes)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Segment report: {_e(tenant.name)}, {kpis.run_date}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<header><h1>Segment report: {_e(tenant.name)}</h1><dl class=\"meta\">"
        + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta)
        + f"</dl>{notes_html}</header><main>"
        + _distribution(kpis, currency) + _aging(kpis, currency) + _kpi_section(kpis, currency)
        + _moves(moves) + _worklist(worklist, currency)
        + "</main></body></html>\n")


@dataclass(frozen=True)
class Report:
    """A report page and the as-of date it shows."""

    html: str
    run_date: date


def build_report(db: Engine, tenant: Tenant, *, rules: Rules | None = None,
                 run_date: date | None = None, window_days: int | None = None,
                 notes: list[str] | None = None, generated_at: datetime | None = None
                 ) -> Report:
    """The HTML report of ``tenant``: of the stored last run when neither ``rules``,
    ``run_date`` nor ``window_days`` is given, else computed as of ``run_date`` (nothing
    stored). ``notes`` receives the run's notes (they are on the page too).

    Raises:
        NotFoundError: the stored run is asked for and ``tenant`` has none yet.
    """
    run_notes: list[str] = []
    snap = snapshot(db, tenant, rules=rules, run_date=run_date, window_days=window_days,
                    notes=run_notes)
    kpis = kpis_of(db, snap)
    # the worklist of the same customers (the run is read or computed once)
    worklist = build_worklist(db, tenant, rules=rules, limit=WORKLIST_ROWS, snap=snap)
    moves = segment_moves(db, tenant, through=run_date)
    if notes is not None:
        notes.extend(run_notes)
    page = render_report(tenant, kpis, moves, worklist, rules=snap.rules, stored=snap.stored,
                         generated_at=generated_at or datetime.now(UTC), notes=run_notes)
    return Report(page, snap.run_date)
