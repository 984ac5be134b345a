"""Segment runs on synced sandbox data: assignments, history, locks, export, both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from arconnect.auth.service import add_grant
from arconnect.auth.vault import get_vault
from arconnect.errors import NotFoundError
from arconnect.sandbox.xero import OrgSpec, SandboxConfig, XeroSandbox
from arconnect.segmenter.rules import load_rules
from arconnect.segmenter.service import (
    export_rows,
    export_text,
    lock_customer,
    segment_tenant,
    unlock_customer,
)
from arconnect.services import find_tenants, sync_tenants
from arconnect.settings import get_settings
from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.models import SegmentAssignment, SegmentHistory, Tenant

RUN_DATE = date(2026, 11, 23)


def _synced(db_url: str, monkeypatch: pytest.MonkeyPatch, sandbox: XeroSandbox | None = None
            ) -> Iterator[tuple[Engine, Tenant]]:
    """A store holding a full sync of ``sandbox`` (default: a 40-customer company)."""
    sandbox = sandbox or XeroSandbox(SandboxConfig(
        seed=21, orgs=[OrgSpec(name="Segment Co", customers=40, invoices=700, payments=1400)],
        client_id="cid", client_secret="secret", strict_limits=False))
    sandbox.start(port=0)
    for key, value in {"ARCONNECT_DATABASE_URL": db_url, "ARCONNECT_SECRET_KEY": "k",
                       "ARCONNECT_XERO_API_URL": sandbox.url,
                       "ARCONNECT_XERO_IDENTITY_URL": sandbox.url,
                       "ARCONNECT_XERO_LOGIN_URL": sandbox.url}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        db = get_engine(db_url)
        add_grant(db, "xero", client_id="cid", client_secret="secret",
                       refresh_token=sandbox.create_grant()["refresh_token"], vault=get_vault())
        assert sync_tenants(db, None, full=True)[0].ok
        yield db, find_tenants(db)[0]
    finally:
        sandbox.stop()
        dispose_engines()


@pytest.fixture
def synced(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, Tenant]]:
    yield from _synced(sqlite_url, monkeypatch)


def _history_count(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(
            SegmentHistory.__table__)).scalar() or 0)  # type: ignore[attr-defined]


def test_every_customer_gets_one_assignment_and_reruns_change_nothing(
    synced: tuple[Engine, Tenant]
) -> None:
    db, tenant = synced
    first = segment_tenant(db, tenant, run_date=RUN_DATE)
    assert first.results and first.changes == len(first.results)
    assert _history_count(db) == len(first.results)
    assert {r.assignment.segment for r in first.results} <= {
        s.name for s in load_rules().segments}
    again = segment_tenant(db, tenant, run_date=RUN_DATE)
    assert again.changes == 0 and _history_count(db) == len(first.results)
    # another rule set moves customers: one history row per change, with the reasons
    moved = segment_tenant(db, tenant, run_date=RUN_DATE, rules=load_rules("upflow"))
    assert moved.changes > 0
    assert _history_count(db) == len(first.results) + moved.changes


def test_dry_run_writes_nothing(synced: tuple[Engine, Tenant]) -> None:
    db, tenant = synced
    run = segment_tenant(db, tenant, run_date=RUN_DATE, dry_run=True)
    assert run.results and _history_count(db) == 0 and export_rows(db, tenant) == []


def test_lock_is_honoured_until_it_ends(synced: tuple[Engine, Tenant]) -> None:
    db, tenant = synced
    run = segment_tenant(db, tenant, run_date=RUN_DATE)
    victim = next(r for r in run.results if r.assignment.segment != "At risk")
    until = RUN_DATE + timedelta(days=10)
    lock_customer(db, tenant, victim.customer_id, segment="At risk", until=until)
    locked = _row(db, tenant, victim.customer_id)
    assert locked["segment"] == "At risk" and locked["locked"]
    during = segment_tenant(db, tenant, run_date=RUN_DATE + timedelta(days=3))
    held = next(r for r in during.results if r.customer_id == victim.customer_id)
    assert held.assignment.segment == "At risk"
    assert any("Locked to At risk" in reason for reason in held.assignment.reasons)
    after_day = until + timedelta(days=1)
    rules_say = next(r for r in segment_tenant(db, tenant, run_date=after_day, dry_run=True,
                                               rules=load_rules()).results
                     if r.customer_id == victim.customer_id)
    after = segment_tenant(db, tenant, run_date=after_day)
    freed = next(r for r in after.results if r.customer_id == victim.customer_id)
    assert any("lock ended" in reason for reason in freed.assignment.reasons)
    assert not any("Locked to" in reason for reason in freed.assignment.reasons)
    assert not _row(db, tenant, victim.customer_id)["locked"]
    assert rules_say.assignment.segment == freed.assignment.segment
    # unlock by name works too, and a bad segment or customer is a clear error
    lock_customer(db, tenant, victim.name or victim.customer_id)
    unlock_customer(db, tenant, victim.customer_id)
    assert not _row(db, tenant, victim.customer_id)["locked"]
    with pytest.raises(NotFoundError, match="no segment 'Gold'"):
        lock_customer(db, tenant, victim.customer_id, segment="Gold")
    with pytest.raises(NotFoundError, match="no customer 'nobody'"):
        lock_customer(db, tenant, "nobody")


def _row(db: Engine, tenant: Tenant, customer_id: str) -> dict[str, Any]:
    return next(r for r in export_rows(db, tenant) if r["customer_id"] == customer_id)


def test_export_is_the_public_contract(synced: tuple[Engine, Tenant]) -> None:
    db, tenant = synced
    segment_tenant(db, tenant, run_date=RUN_DATE)
    rows = json.loads(export_text(export_rows(db, tenant), "json"))
    assert rows
    for row in rows:
        assert {"customer_id", "name", "segment", "tags", "credit_limit", "terms_days",
                "credit_hold", "reasons", "metrics"} <= set(row)
        assert {"avg_days_to_pay", "avg_days_to_pay_weighted", "days_late_weighted",
                "open_balance", "overdue_balance", "aging_current", "aging_1_30",
                "aging_31_60", "aging_61_90", "aging_91_plus"} <= set(row["metrics"])
        assert row["reasons"] and isinstance(row["tags"], list)
    header = export_text(rows, "csv").splitlines()[0]
    assert header.startswith("customer_id,name,segment,tags,credit_limit,terms_days")


def test_sqlite_and_postgresql_give_identical_assignments(
    sqlite_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = []
    for url in (sqlite_url, pg_url):
        for db, tenant in _synced(url, monkeypatch):
            segment_tenant(db, tenant, run_date=RUN_DATE)
            exports.append(export_rows(db, tenant))
    assert exports[0] == exports[1]


def test_rules_in_two_processes_match_one(synced: tuple[Engine, Tenant],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import arconnect.segmenter.service as service

    db, tenant = synced
    serial = segment_tenant(db, tenant, run_date=RUN_DATE, dry_run=True)
    monkeypatch.setattr(service, "PARALLEL_RULES_MIN", 1)
    forked = segment_tenant(db, tenant, run_date=RUN_DATE, dry_run=True)
    assert [(r.customer_id, r.assignment) for r in forked.results] == [
        (r.customer_id, r.assignment) for r in serial.results]


def _stored(db: Engine, tenant: Tenant) -> dict[str, tuple[Any, ...]]:
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with db.connect() as conn:
        rows = conn.execute(select(t.c.customer_external_id, t.c.digest, t.c.reasons,
                                   t.c.computed_at).where(t.c.tenant_id == tenant.id)).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_a_rerun_rewrites_only_the_rows_whose_content_moved(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for db, tenant in _synced(db_url, monkeypatch):
        segment_tenant(db, tenant, run_date=RUN_DATE)
        first = _stored(db, tenant)
        assert all(digest for digest, _, _ in first.values())
        # Mark every row behind the run's back (its digest stays): a row the next run rewrites
        # loses the mark.
        t = SegmentAssignment.__table__  # type: ignore[attr-defined]
        with db.begin() as conn:
            conn.execute(update(t).values(reasons=["mark"]))
        segment_tenant(db, tenant, run_date=RUN_DATE)
        same_day = _stored(db, tenant)
        assert {c: v[:2] for c, v in same_day.items()} == {
            c: (v[0], ["mark"]) for c, v in first.items()}
        assert all(same_day[c][2] > first[c][2] for c in first)  # computed_at moves on
        # A month later the days and the aging move: those rows are rewritten, whole.
        later = segment_tenant(db, tenant, run_date=RUN_DATE + timedelta(days=30))
        month = _stored(db, tenant)
        # (a customer whose first document came after RUN_DATE is new in the later run)
        moved = {c for c in month if c not in first or month[c][0] != first[c][0]}
        assert moved
        for r in later.results:
            digest, reasons, _ = month[r.customer_id]
            if r.customer_id in moved:
                assert reasons == list(r.assignment.reasons)
            else:
                assert reasons == ["mark"]
