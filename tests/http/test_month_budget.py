"""A platform that budgets calls by the month (QuickBooks Online's Builder tier: 500,000 read
calls) gets a client that stops at what is left of the month's budget, counted from the calls
the tenant's syncs recorded since the 1st (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, update

from arconnect.auth.tokens import credential_table, tenant_table
from arconnect.auth.vault import TokenVault, generate_key
from arconnect.services import calls_this_month, client_for
from arconnect.settings import get_settings
from arconnect.store import db
from arconnect.store.models import SyncRun, Tenant
from tests.auth.helpers import store_grant


@pytest.fixture
def engine(db_url: str) -> Engine:
    return db.get_engine(db_url)


def _run(engine: Engine, tenant_id: int, at: datetime, calls: int) -> None:
    with engine.begin() as conn:
        conn.execute(insert(SyncRun.__table__).values(  # type: ignore[attr-defined]
            tenant_id=tenant_id, status="ok", started_at=at, api_calls=calls))


def test_calls_this_month_count_from_the_first(engine: Engine,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv("ARCONNECT_SECRET_KEY", key)
    get_settings.cache_clear()
    cid = store_grant(engine, TokenVault([key]))
    ten = tenant_table()
    with engine.begin() as conn:
        conn.execute(update(ten).where(ten.c.credential_id == cid).values(platform="quickbooks"))
        tenant_id = conn.execute(ten.select().where(ten.c.credential_id == cid)).one().id
        conn.execute(update(credential_table()).where(credential_table().c.id == cid)
                     .values(platform="quickbooks"))
    now = datetime.now(UTC)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    _run(engine, tenant_id, first - timedelta(seconds=1), 400_000)  # last month: not counted
    _run(engine, tenant_id, first + timedelta(seconds=1), 120_000)
    _run(engine, tenant_id, now, 30_000)
    tenant = Tenant(id=tenant_id, platform="quickbooks", external_id="x", name="Org A",
                    credential_id=cid)
    assert calls_this_month(engine, tenant) == 150_000
    client = client_for(engine, tenant, get_settings())
    assert client.max_calls == 500_000 - 150_000  # Intuit's Builder tier budget, the default
    xero = Tenant(id=tenant_id, platform="xero", external_id="x", name="Org A",
                  credential_id=cid)
    assert client_for(engine, xero, get_settings()).max_calls is None  # no monthly budget
