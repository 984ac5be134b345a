"""Grants that lapse: when, shown by `tenants list`, warned about before, in words that say how
to reconnect."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from arconnect.auth.tokens import credential_table
from arconnect.auth.vault import TokenVault
from arconnect.services import find_tenants, grant_expiry, grant_warning
from arconnect.settings import load_settings
from arconnect.store import db
from tests.auth.helpers import KEY, T0, store_grant


@pytest.fixture
def engine(sqlite_url: str) -> Engine:
    return db.get_engine(sqlite_url)


def _lapses_at(engine: Engine, cid: int, when: object) -> None:
    cred = credential_table()
    with engine.begin() as conn:
        conn.execute(update(cred).where(cred.c.id == cid).values(refresh_expires_at=when))


def test_a_grant_without_a_stated_expiry_is_never_warned_about(engine: Engine) -> None:
    store_grant(engine, TokenVault([KEY]))
    tenant = find_tenants(engine)[0]
    assert grant_expiry(engine, tenant) is None
    assert grant_warning(engine, tenant, now=T0) is None


def test_warned_within_the_configured_days_then_told_it_lapsed(engine: Engine) -> None:
    cid = store_grant(engine, TokenVault([KEY]))
    tenant = find_tenants(engine)[0]
    _lapses_at(engine, cid, T0 + timedelta(days=5))
    settings = load_settings(grant_warn_days=2)
    assert grant_expiry(engine, tenant) == T0 + timedelta(days=5)
    assert grant_warning(engine, tenant, settings=settings, now=T0) is None
    soon = grant_warning(engine, tenant, settings=settings, now=T0 + timedelta(days=3, hours=1))
    assert soon is not None
    assert "lapses at 2026-11-28 09:00 UTC (in 47 h" in soon
    assert f"`arconnect tenants connect xero --tenant-id {tenant.external_id}`" in soon
    late = grant_warning(engine, tenant, settings=settings, now=T0 + timedelta(days=6))
    assert late is not None and "lapsed at 2026-11-28 09:00 UTC" in late
