"""Fixtures for write-back tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from arconnect.clock import Clock, set_clock
from arconnect.sandbox.xero import OrgSpec
from arconnect.segmenter.service import segment_tenant
from arconnect.services import find_tenants, sync_tenants
from arconnect.store.models import Tenant
from tests.sync.conftest import XeroEnv, sandbox_env
from tests.writeback.helpers import prepare


@pytest.fixture
def wb_env(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[XeroEnv]:
    """A small organisation (its own groups included), synced and segmented; SQLite store."""
    org = OrgSpec(name="Acme Wholesale", customers=40, invoices=500, payments=400, suppliers=3,
                  bills=20)
    # Write-back makes more calls than a small sync: a scaled clock keeps the client's pacing
    # (60 calls a minute) from making the tests wait.
    set_clock(Clock(600.0))
    try:
        with sandbox_env(monkeypatch, sqlite_url, org=org) as env:
            prepare(env)
            yield env
    finally:
        set_clock(None)


@pytest.fixture
def two_orgs(monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[tuple[XeroEnv, Tenant]]:
    """One grant connecting two organisations, both synced and segmented; on SQLite and on
    PostgreSQL (the production store)."""
    orgs = [OrgSpec(name="Acme Wholesale", customers=30, invoices=360, payments=300, suppliers=2,
                    bills=10),
            OrgSpec(name="Acme Retail", customers=25, invoices=300, payments=250, suppliers=2,
                    bills=10)]
    set_clock(Clock(600.0))
    try:
        with sandbox_env(monkeypatch, db_url, orgs=orgs) as env:
            tenants = find_tenants(env.db)
            assert len(tenants) == 2
            results = sync_tenants(env.db)
            assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
            for tenant in tenants:
                segment_tenant(env.db, tenant)
            other = next(t for t in tenants if t.id != env.tenant.id)
            yield env, other
    finally:
        set_clock(None)
