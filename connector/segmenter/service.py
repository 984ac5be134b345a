"""Segment runs: metrics ─▶ rules ─▶ one assignment per customer, a history row per change.

The CLI, the demo, the scheduler and the web app call these functions. Metrics come from SQL
(:mod:`arconnect.segmenter.metrics`), decisions from the pure rules engine
(:mod:`arconnect.segmenter.rules`); this module owns reading the previous assignments and locks
and writing the new ones, in one transaction per run.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import hashlib
import io
import json
import multiprocessing as mp
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    Connection,
    Engine,
    String,
    any_,
    bindparam,
    func,
    select,
    true,
    union_all,
    update,
)

from arconnect.errors import ArconnectError, NotFoundError
from arconnect.segmenter.dunning import dunning_doc
from arconnect.segmenter.metrics import compute_metrics
from arconnect.segmenter.rules import (
    Assignment,
    Lock,
    PreviousAssignment,
    Rules,
    assign,
    load_rules,
)
from arconnect.store.db import json_dumps
from arconnect.store.models import (
    Allocation,
    Customer,
    Document,
    SegmentAssignment,
    SegmentHistory,
    Tenant,
)
from arconnect.store.upsert import insert_rows, upsert
from arconnect.timezones import today_in

_ASSIGNMENTS = SegmentAssignment.__table__  # type: ignore[attr-defined]
_HISTORY = SegmentHistory.__table__  # type: ignore[attr-defined]
_CUSTOMERS = Customer.__table__  # type: ignore[attr-defined]
_DOCUMENTS = Document.__table__  # type: ignore[attr-defined]
_ALLOCATIONS = Allocation.__table__  # type: ignore[attr-defined]
# The platform of imported AR histories (arconnect.csv_import.PLATFORM).
_IMPORTED = "csv"

# The metrics every export carries (the public contract), in this order; others follow.
EXPORT_METRICS = (
    "avg_days_to_pay", "avg_days_to_pay_weighted", "days_late_weighted", "open_balance",
    "overdue_balance", "aging_current", "aging_1_30", "aging_31_60", "aging_61_90",
    "aging_91_plus",
)


@dataclass
class CustomerResult:
    """One customer's outcome of a run."""

    customer_id: str
    name: str | None
    assignment: Assignment
    metrics: dict[str, Any]
    previous_segment: str | None
    changed: bool


@dataclass
class SegmentRun:
    """What a segment run decided (and wrote, unless it was a dry run)."""

    tenant: Tenant
    run_date: date
    rules_name: str
    results: list[CustomerResult] = field(default_factory=list)
    seconds: float = 0.0
    window_days: int = 365
    notes: tuple[str, ...] = ()

    @property
    def changes(self) -> int:
        return sum(1 for r in self.results if r.changed)

    def by_segment(self) -> dict[str, dict[str, Any]]:
        """Per segment: customers, open and overdue balance, total credit limit."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.results:
            s = out.setdefault(r.assignment.segment, {"customers": 0, "open": Decimal(0),
                                                      "overdue": Decimal(0), "limit": Decimal(0)})
            s["customers"] += 1
            s["open"] += r.metrics.get("open_balance") or Decimal(0)
            s["overdue"] += r.metrics.get("overdue_balance") or Decimal(0)
            s["limit"] += r.assignment.credit_limit or Decimal(0)
        return dict(sorted(out.items(), key=lambda kv: -kv[1]["customers"]))


def _previous(conn: Connection, tenant_id: int) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        select(_ASSIGNMENTS.c.customer_external_id, _ASSIGNMENTS.c.segment,
               _ASSIGNMENTS.c.tags, _ASSIGNMENTS.c.since, _ASSIGNMENTS.c.locked,
               _ASSIGNMENTS.c.locked_until, _ASSIGNMENTS.c.credit_limit,
               _ASSIGNMENTS.c.terms_days, _ASSIGNMENTS.c.credit_hold, _ASSIGNMENTS.c.digest)
        .where(_ASSIGNMENTS.c.tenant_id == tenant_id)
    ).mappings()
    return {r["customer_external_id"]: dict(r) for r in rows}


def _names(conn: Connection, tenant_id: int) -> dict[str, str | None]:
    rows = conn.execute(select(_CUSTOMERS.c.external_id, _CUSTOMERS.c.name)
                        .where(_CUSTOMERS.c.tenant_id == tenant_id))
    return {r[0]: r[1] for r in rows}


def run_date_for(tenant: Tenant) -> date:
    """Today in the organisation's time zone."""
    return today_in(tenant.timezone)


@dataclass(frozen=True)
class AsOf:
    """The day a run measures at and its window, as resolved by :func:`resolve_as_of`.

    Attributes:
        run_date: the as-of date: nothing dated after it is read.
        window_days: the behaviour window, (run_date - window_days, run_date].
        point_in_time: the run date is before the organisation's today: open items are rebuilt
            from dates (see :func:`arconnect.segmenter.metrics.compute_metrics`).
        notes: one-line messages for the user (the date chosen for them, an empty window).
    """

    run_date: date
    window_days: int
    point_in_time: bool
    notes: tuple[str, ...] = ()


def last_activity(conn: Connection, tenant_id: int) -> date | None:
    """The latest issue, paid or allocation date in the tenant's data (None without any)."""
    d, a = _DOCUMENTS.c, _ALLOCATIONS.c
    dates = union_all(
        select(func.max(d.issue_date).label("day")).where(d.tenant_id == tenant_id,
                                                          ~d.is_deleted),
        select(func.max(d.fully_paid_on)).where(d.tenant_id == tenant_id, ~d.is_deleted),
        select(func.max(a.allocated_on)).where(a.tenant_id == tenant_id, ~a.is_deleted),
    ).subquery()
    value = conn.execute(select(func.max(dates.c.day))).scalar()
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _window_has_activity(conn: Connection, tenant_id: int, start: date, end: date) -> bool:
    """Whether a document was issued or money allocated in (start, end]."""
    d, a = _DOCUMENTS.c, _ALLOCATIONS.c
    issued = select(true()).where(d.tenant_id == tenant_id, ~d.is_deleted,
                                  d.issue_date > start, d.issue_date <= end).limit(1)
    allocated = select(true()).where(a.tenant_id == tenant_id, ~a.is_deleted,
                                     a.allocated_on > start, a.allocated_on <= end).limit(1)
    return (conn.execute(issued).first() is not None
            or conn.execute(allocated).first() is not None)


def resolve_as_of(conn: Connection, tenant: Tenant, rules: Rules, as_of: date | None = None,
                  window_days: int | None = None) -> AsOf:
    """The run date and window of a run of ``tenant``.

    ``as_of`` when given; else, for an imported history (platform ``csv``, whose data ends
    when the export was made), the last activity in its data; else the organisation's today.
    ``window_days`` overrides the rules' ``window_days``. A window holding no issued document
    and no allocation gives a note: every customer would be New for lack of history.
    """
    assert tenant.id is not None
    today = run_date_for(tenant)
    notes: list[str] = []
    run_date = as_of
    if run_date is None and tenant.platform == _IMPORTED:
        last = last_activity(conn, tenant.id)
        if last is not None and last < today:
            run_date = last
            notes.append(f"{tenant.name}: as of {last.isoformat()}, the last activity in this "
                         "tenant's data; --as-of to change")
    run_date = run_date or today
    window = window_days or rules.window_days
    start = run_date - timedelta(days=window)
    if not _window_has_activity(conn, tenant.id, start, run_date):
        last = last_activity(conn, tenant.id)
        hint = (f"the data's last activity is {last.isoformat()}: give --as-of that date or a "
                "longer --window-days" if last is not None else "the tenant holds no documents")
        notes.append(f"{tenant.name}: no invoice or payment between {start.isoformat()} and "
                     f"{run_date.isoformat()} (the {window}-day window): every customer lacks "
                     f"history; {hint}")
    return AsOf(run_date, window, run_date < today, tuple(notes))


# Above this many customers the rules run in two processes (a forked child takes half): they
# are pure Python, and the database is idle meanwhile.
PARALLEL_RULES_MIN = 20_000
_Work = tuple[Rules, list[tuple[dict[str, Any], "PreviousAssignment | None", "Lock | None"]],
              date]
_work: _Work | None = None


def _assign_slice(bounds: tuple[int, int]) -> list[Assignment]:
    assert _work is not None
    rules, items, run_date = _work
    return [assign(rules, m, before, lock, run_date) for m, before, lock in
            items[bounds[0]:bounds[1]]]


def _assign_all(rules: Rules, items: list[tuple[dict[str, Any], PreviousAssignment | None,
                                                Lock | None]], run_date: date) -> list[Assignment]:
    """``assign`` for every item, in order; split over two processes when there are many."""
    global _work
    _work = (rules, items, run_date)
    try:
        if len(items) < PARALLEL_RULES_MIN or not hasattr(os, "fork"):
            return _assign_slice((0, len(items)))
        half = len(items) // 2
        with mp.get_context("fork").Pool(1) as pool:
            second = pool.apply_async(_assign_slice, ((half, len(items)),))
            first = _assign_slice((0, half))
            return first + second.get()
    finally:
        _work = None


def evaluate(
    conn: Connection, tenant: Tenant, rules: Rules, run_date: date, *,
    window_days: int | None = None, point_in_time: bool = False,
) -> tuple[list[CustomerResult], dict[str, dict[str, Any]]]:
    """Metrics and rules for every customer of ``tenant`` as of ``run_date``; reads only.

    An assignment made as of a later day than ``run_date`` (a back-dated run after a current
    one) is not the customer's past: it gives no hysteresis and no days in the segment. As of
    an earlier day, a customer with nothing dated on or before it (no invoice, payment, open
    item or credit yet) was not a customer then and is left out, not shown as New.
    """
    assert tenant.id is not None
    metrics = compute_metrics(conn, tenant.id, run_date, parallel=True,
                              window_days=window_days or rules.window_days,
                              point_in_time=point_in_time)
    if point_in_time:
        metrics = {c: m for c, m in metrics.items() if _active_by(m)}
    previous = _previous(conn, tenant.id)
    names = _names(conn, tenant.id)
    items: list[tuple[dict[str, Any], PreviousAssignment | None, Lock | None]] = []
    for customer_id, m in metrics.items():
        prev = previous.get(customer_id)
        before = None
        lock = None
        if prev is not None:
            since = prev["since"]
            before = PreviousAssignment(
                prev["segment"], tuple(prev["tags"] or ()),
                since.date() if isinstance(since, datetime) else since,
            )
            if before.since is not None and before.since > run_date:
                before = None
            if prev["locked"]:
                lock = Lock(prev["segment"], prev["locked_until"])
                if not lock.active(run_date):
                    # A lock that just ended releases the customer to the rules at once:
                    # the days it spent locked must not count as hysteresis.
                    before = None
        items.append((m, before, lock))
    results = []
    for (customer_id, m), a in zip(metrics.items(), _assign_all(rules, items, run_date),
                                   strict=True):
        prev = previous.get(customer_id)
        changed = prev is None or (
            a.segment != prev["segment"] or list(a.tags) != list(prev["tags"] or [])
            or _money(a.credit_limit) != _money(prev["credit_limit"])
            or a.terms_days != prev["terms_days"] or a.credit_hold != prev["credit_hold"]
        )
        results.append(CustomerResult(customer_id, names.get(customer_id), a, m,
                                      prev["segment"] if prev else None, changed))
    return results, previous


def _active_by(m: dict[str, Any]) -> bool:
    """Whether a customer's metrics as of a date show anything dated by then."""
    return bool(m.get("first_invoice_date") or m.get("days_since_last_payment") is not None
                or m.get("open_balance") or m.get("unapplied_credit"))


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def segment_tenant(
    db: Engine, tenant: Tenant, *, rules: Rules | None = None, run_date: date | None = None,
    dry_run: bool = False, window_days: int | None = None,
) -> SegmentRun:
    """Assign every customer of ``tenant`` as of ``run_date``; write assignments and history
    unless ``dry_run``.

    ``run_date`` (the as-of date) and ``window_days`` default as :func:`resolve_as_of` says.
    One transaction: a run is recorded whole or not at all.
    """
    assert tenant.id is not None
    started = time.monotonic()
    rules = rules or load_rules()
    now = datetime.now(UTC)
    with _gc_paused(), db.begin() as conn:
        at = resolve_as_of(conn, tenant, rules, run_date, window_days)
        results, previous = evaluate(conn, tenant, rules, at.run_date,
                                     window_days=at.window_days,
                                     point_in_time=at.point_in_time)
        if not dry_run:
            _write(conn, tenant.id, results, previous, at.run_date,
                   _midnight(at.run_date) if at.point_in_time else now, now, rules)
    return SegmentRun(tenant, at.run_date, rules.name, results, time.monotonic() - started,
                      at.window_days, at.notes)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a run: it allocates millions of small objects that
    live to the end (metrics, assignments, rows), and the collector would scan them again and
    again (a fifth of a 100,000-customer run). Whatever cycles the run leaves are collected
    when it ends."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _write(conn: Connection, tenant_id: int, results: list[CustomerResult],
           previous: dict[str, dict[str, Any]], run_date: date, changed_at: datetime,
           now: datetime, rules: Rules) -> None:
    """Assignments (only the rows whose content moved; the others get the new
    ``computed_at``) and a history row per change, dated ``changed_at`` (the as-of date of a
    back-dated run, so that history reads in the data's time). Every row records ``rules``
    (which file or preset, and the SHA-256 of its text): previews name the rules of the stored
    results (:mod:`arconnect.segmenter.preview`)."""
    entered = _midnight(run_date)
    recorded = {"rules": rules.ref or rules.source, "rules_digest": rules.digest}
    rows, history, unchanged = [], [], []
    for r in results:
        a, prev = r.assignment, previous.get(r.customer_id)
        moved = prev is None or prev["segment"] != a.segment
        since = entered if moved else prev["since"]  # type: ignore[index]
        if _as_utc(since) > entered:  # entered after the run date: in it by the run date
            since = entered
        locked_until = prev["locked_until"] if prev else None
        lock_holds = bool(prev and prev["locked"] and (
            locked_until is None or run_date <= locked_until))
        row = {
            "tenant_id": tenant_id, "customer_external_id": r.customer_id,
            "segment": a.segment, "tags": list(a.tags), "credit_limit": a.credit_limit,
            "terms_days": a.terms_days, "credit_hold": a.credit_hold,
            "locked": lock_holds, "locked_until": locked_until if lock_holds else None,
            "metrics": r.metrics, "reasons": list(a.reasons),
            "since": since, "computed_at": now,
        }
        row["digest"] = _digest(row)
        row.update(recorded)
        if prev is not None and prev["digest"] == row["digest"]:
            unchanged.append({"key": r.customer_id})
        else:
            rows.append(row)
        if r.changed:
            history.append({
                "tenant_id": tenant_id, "customer_external_id": r.customer_id,
                "from_segment": prev["segment"] if prev else None, "to_segment": a.segment,
                "from_tags": list(prev["tags"] or []) if prev else None,
                "to_tags": list(a.tags),
                "from_credit_limit": prev["credit_limit"] if prev else None,
                "to_credit_limit": a.credit_limit, "reasons": list(a.reasons),
                "changed_at": changed_at,
            })
    upsert(conn, _ASSIGNMENTS, rows, ("tenant_id", "customer_external_id"))
    if unchanged and conn.dialect.name == "postgresql":
        # one statement (an executemany is a round trip per row on PostgreSQL)
        conn.execute(update(_ASSIGNMENTS).where(
            _ASSIGNMENTS.c.tenant_id == tenant_id,
            _ASSIGNMENTS.c.customer_external_id == any_(
                bindparam("keys", [u["key"] for u in unchanged], type_=ARRAY(String)))
        ).values(computed_at=now, **recorded))
    elif unchanged:
        conn.execute(update(_ASSIGNMENTS).where(
            _ASSIGNMENTS.c.tenant_id == tenant_id,
            _ASSIGNMENTS.c.customer_external_id == bindparam("key")
        ).values(computed_at=now, **recorded), unchanged)
    insert_rows(conn, _HISTORY, history)


_DIGESTED = ("segment", "tags", "credit_limit", "terms_days", "credit_hold", "locked",
             "locked_until", "metrics", "reasons", "since")


def _as_utc(value: datetime) -> datetime:
    """SQLite gives naive UTC back."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _digest(row: dict[str, Any]) -> str:
    """A hash of an assignment row's content (not when it was computed)."""
    since = row["since"]
    if isinstance(since, datetime) and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # SQLite gives naive UTC back
    values = [row[k] for k in _DIGESTED[:-1]] + [since]
    data = orjson.dumps(values, default=_digest_default, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _digest_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


# -- locks -----------------------------------------------------------------------------------


def lock_customer(db: Engine, tenant: Tenant, customer: str, *, segment: str | None = None,
                  until: date | None = None, rules: Rules | None = None) -> str:
    """Hold ``customer`` in ``segment`` (default: where it is now) until ``until`` (inclusive;
    default: until unlocked). Returns the locked segment. The next run honours it."""
    assert tenant.id is not None
    rules = rules or load_rules()
    if segment is not None and rules.segment(segment) is None:
        known = ", ".join(s.name for s in rules.segments)
        raise NotFoundError(f"no segment {segment!r} in the rules ({rules.name}); known: {known}")
    with db.begin() as conn:
        customer_id = _customer_id(conn, tenant, customer)
        prev = _previous(conn, tenant.id).get(customer_id)
        if prev is None and segment is None:
            raise NotFoundError(
                f"customer {customer} has no segment yet: run `arconnect segment` first or "
                "lock it with --segment"
            )
        locked = segment or prev["segment"]  # type: ignore[index]
        now = datetime.now(UTC)
        if prev is None:
            conn.execute(_ASSIGNMENTS.insert().values(
                tenant_id=tenant.id, customer_external_id=customer_id, segment=locked, tags=[],
                credit_hold=False, locked=True, locked_until=until, since=now, computed_at=now,
                reasons=[f"Locked to {locked} by a manual lock"]))
        else:
            conn.execute(update(_ASSIGNMENTS).where(
                _ASSIGNMENTS.c.tenant_id == tenant.id,
                _ASSIGNMENTS.c.customer_external_id == customer_id,
            ).values(segment=locked, locked=True, locked_until=until))
        if prev is None or prev["segment"] != locked:
            conn.execute(_HISTORY.insert().values(
                tenant_id=tenant.id, customer_external_id=customer_id,
                from_segment=prev["segment"] if prev else None, to_segment=locked,
                reasons=[f"Locked to {locked} by a manual lock"], changed_at=now))
    return locked


def unlock_customer(db: Engine, tenant: Tenant, customer: str) -> None:
    """Release a manual lock; the next run applies the rules again."""
    with db.begin() as conn:
        customer_id = _customer_id(conn, tenant, customer)
        conn.execute(update(_ASSIGNMENTS).where(
            _ASSIGNMENTS.c.tenant_id == tenant.id,
            _ASSIGNMENTS.c.customer_external_id == customer_id,
        ).values(locked=False, locked_until=None))


def _customer_id(conn: Connection, tenant: Tenant, key: str) -> str:
    """A customer's ERP id from its id, name or number (exact match)."""
    c = _CUSTOMERS.c
    rows = conn.execute(select(c.external_id, c.name).where(
        c.tenant_id == tenant.id,
        (c.external_id == key) | (c.name == key) | (c.number == key),
    )).all()
    if not rows:
        raise NotFoundError(f"tenant {tenant.name}: no customer {key!r} (use its id, name or "
                            "number as `arconnect export` shows them)")
    if len(rows) > 1:
        ids = ", ".join(r[0] for r in rows[:5])
        raise NotFoundError(f"tenant {tenant.name}: {key!r} names several customers ({ids}); "
                            "use the id")
    return str(rows[0][0])


# -- export ----------------------------------------------------------------------------------


def stored_rules(conn: Connection, tenant: Tenant, notes: list[str] | None = None
                 ) -> Rules | None:
    """The rules the stored results came from (the ones most of the tenant's assignments
    record), loaded again for what an assignment does not hold: its segment's dunning policy.

    ``None`` when no run recorded its rules, or when they cannot be loaded any more (a file
    moved or made invalid since; ``notes`` says so). A note too when the file's text changed
    since the run: what it says now is used.
    """
    a = _ASSIGNMENTS.c
    found = conn.execute(
        select(a.rules, a.rules_digest, func.count().label("n"))
        .where(a.tenant_id == tenant.id, a.rules.is_not(None))
        .group_by(a.rules, a.rules_digest).order_by(func.count().desc()).limit(1)
    ).first()
    if found is None:
        return None
    ref, digest = str(found[0]), found[1]
    try:
        rules = load_rules(ref)
    except ArconnectError as err:
        if notes is not None:
            notes.append(f"{tenant.name}: the rules of the last segment run ({ref}) cannot be "
                         f"read now ({str(err).splitlines()[0]}): no dunning steps; run "
                         "`arconnect segment` again")
        return None
    if digest and rules.digest != digest and notes is not None:
        notes.append(f"{tenant.name}: {ref} changed since the last segment run; the dunning "
                     "steps are its current ones")
    return rules


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else date.fromisoformat(str(value)[:10])


def export_rows(db: Engine, tenant: Tenant, *, run_date: date | None = None,
                window_days: int | None = None, rules: Rules | None = None,
                notes: list[str] | None = None) -> list[dict[str, Any]]:
    """The public export: per customer its ERP id, name, segment, tags, credit limit, terms,
    hold, reasons and metrics (amounts in base currency), sorted by name.

    Without ``run_date`` and ``window_days``: the stored assignments (the last segment run).
    With either: computed afresh as of that date over that window (a dry run: nothing is
    written); ``notes`` receives the run's notes.

    ``dunning`` is the segment's dunning policy with the step the customer has reached
    (:func:`arconnect.segmenter.dunning.dunning_doc`; ``None`` when the segment has none), from
    ``rules`` (stored results: the rules the last run recorded, :func:`stored_rules`)."""
    if run_date is not None or window_days is not None:
        assert tenant.id is not None
        rules = rules or load_rules()
        run = segment_tenant(db, tenant, rules=rules, run_date=run_date, dry_run=True,
                             window_days=window_days)
        if notes is not None:
            notes.extend(run.notes)
        with db.connect() as conn:
            stored = _previous(conn, tenant.id)

        def locked(customer_id: str) -> bool:
            p = stored.get(customer_id)
            return bool(p and p["locked"] and (p["locked_until"] is None
                                               or run.run_date <= _as_date(p["locked_until"])))

        # the metrics as a stored assignment holds them (JSON: Decimal as a number)
        return _sorted([_export_row({
            "customer_external_id": r.customer_id, "name": r.name,
            "segment": r.assignment.segment, "tags": r.assignment.tags,
            "credit_limit": r.assignment.credit_limit, "terms_days": r.assignment.terms_days,
            "credit_hold": r.assignment.credit_hold, "locked": locked(r.customer_id),
            "reasons": r.assignment.reasons, "metrics": orjson.loads(json_dumps(r.metrics)),
        }, rules) for r in run.results])
    a, c = _ASSIGNMENTS.c, _CUSTOMERS.c
    with db.connect() as conn:
        rows = conn.execute(
            select(a.customer_external_id, c.name, a.segment, a.tags, a.credit_limit,
                   a.terms_days, a.credit_hold, a.reasons, a.metrics, a.locked)
            .select_from(_ASSIGNMENTS.outerjoin(_CUSTOMERS, (c.tenant_id == a.tenant_id)
                                                & (c.external_id == a.customer_external_id)))
            .where(a.tenant_id == tenant.id)
        ).mappings().all()
        recorded = stored_rules(conn, tenant, notes) if rows else None
    return _sorted([_export_row(r, recorded) for r in rows])


def _export_row(r: Mapping[Any, Any], rules: Rules | None = None) -> dict[str, Any]:
    metrics = dict(r["metrics"] or {})
    ordered = {k: metrics.get(k) for k in EXPORT_METRICS}
    ordered.update({k: v for k, v in metrics.items() if k not in ordered})
    segment = rules.segment(r["segment"]) if rules is not None else None
    policy = segment.dunning if segment is not None else None
    days = int(metrics.get("oldest_overdue_days") or 0)
    return {
        "customer_id": r["customer_external_id"], "name": r["name"],
        "segment": r["segment"], "tags": list(r["tags"] or []),
        "credit_limit": float(r["credit_limit"]) if r["credit_limit"] is not None else None,
        "terms_days": r["terms_days"], "credit_hold": bool(r["credit_hold"]),
        "locked": bool(r["locked"]), "reasons": list(r["reasons"] or []),
        "metrics": ordered,
        "dunning": dunning_doc(policy, days),
    }


def _sorted(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out.sort(key=lambda x: ((x["name"] or "").lower(), x["customer_id"]))
    return out


# A spreadsheet runs a cell that starts with one of these as a formula (``=HYPERLINK(...)`` in a
# customer's name would be a link in the consultant's Excel): OWASP's advice is a leading single
# quote, which shows the text as typed (https://owasp.org/www-community/attacks/CSV_Injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Control characters other than tab and line breaks (which CSV quotes): an escape sequence in a
# name would clear the terminal of whoever prints the file.
_CSV_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# JSON escapes C0 controls itself; DEL, the C1 controls (0x9b is a one-byte CSI to some
# terminals) and the bidirectional overrides are escaped too, so that printing the export to
# a terminal is safe. Each is still the same character to a JSON reader.
_JSON_CONTROLS = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _csv_cell(value: Any) -> Any:
    """A CSV cell: control characters other than tab and line breaks are removed, and text that
    a spreadsheet would run as a formula gets a leading ``'``.

    Only text is changed: amounts and counts are written as numbers (a negative balance stays
    ``-12.5``), and a number is never a formula.
    """
    if not isinstance(value, str):
        return value
    value = _CSV_CONTROLS.sub("", value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def json_text(doc: Any, **kwargs: Any) -> str:
    """``doc`` as JSON (``json.dumps`` arguments), non-ASCII text kept as is but every control
    character escaped (``\\u001b``, ``\\u009b``): safe to print to a terminal."""
    text = json.dumps(doc, ensure_ascii=False, **kwargs)
    return _JSON_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def export_text(rows: Iterable[dict[str, Any]], fmt: str) -> str:
    """``rows`` from :func:`export_rows` as JSON (a list) or CSV (metrics as columns; text that
    a spreadsheet would run as a formula is neutralised, see :func:`_csv_cell`)."""
    rows = list(rows)
    if fmt == "json":
        return json_text(rows, indent=2) + "\n"
    buf = io.StringIO()
    metric_keys = list(EXPORT_METRICS) + sorted(
        {k for r in rows for k in r["metrics"] if k not in EXPORT_METRICS and k != "attributes"})
    # Consultant-defined attributes (metrics["attributes"]): a column each, attribute.<name>.
    own = sorted({k for r in rows for k in (r["metrics"].get("attributes") or {})})
    writer = csv.writer(buf)
    writer.writerow(["customer_id", "name", "segment", "tags", "credit_limit", "terms_days",
                     "credit_hold", "locked", "reasons", "next_step", *metric_keys,
                     *(f"attribute.{k}" for k in own)])
    for r in rows:
        attributes = r["metrics"].get("attributes") or {}
        writer.writerow([_csv_cell(value) for value in (
            r["customer_id"], r["name"], r["segment"], ";".join(r["tags"]), r["credit_limit"],
            r["terms_days"], r["credit_hold"], r["locked"], " | ".join(r["reasons"]),
            (r.get("dunning") or {}).get("next_step") or "",
            *(_csv_value(r["metrics"].get(k)) for k in metric_keys),
            *(_csv_value(attributes.get(k)) for k in own),
        )])
    return buf.getvalue()


def _csv_value(value: Any) -> Any:
    """A metric or attribute in a CSV cell: an object as JSON (payment_method_mix), a list as
    its items joined by ``;`` (group, as tags are), anything else as it is."""
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return value
