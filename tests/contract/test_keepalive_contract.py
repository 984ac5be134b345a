"""Keeping an idle grant alive is a port operation every OAuth platform passes: a grant unused
for almost its platform's idle lifetime (Xero 60 days, QuickBooks 100) is refreshed — the
rotated token stored, the tenant still syncing — and a recently used one is left alone. A
platform whose grants cannot be kept alive (NetSuite's authorization-code grants lapse 7 days
after consent, used or not) has its grants listed as such and left untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from arconnect.auth.tokens import credential_table
from arconnect.platforms import get_platform
from arconnect.services import keep_alive, sync_tenants

from .conftest import Env


def test_an_idle_grant_is_refreshed_before_it_lapses(env: Env) -> None:
    cred = credential_table()
    idle = get_platform(env.harness.platform).idle_expiry_days
    now = datetime.now(UTC)
    if idle is None:
        result = keep_alive(env.db, now=now + timedelta(days=365))
        label = f"credential {env.tenant.credential_id} ({env.harness.platform})"
        assert result.cannot == [label] and result.refreshed == [], result
        return
    with env.db.connect() as conn:
        before = conn.execute(select(cred.c.version, cred.c.refresh_token_enc)
                              .where(cred.c.id == env.tenant.credential_id)).one()

    # used a day ago: nothing to do
    assert keep_alive(env.db, now=now).refreshed == []

    # unused for all but five days of its lifetime: refreshed now
    with env.db.begin() as conn:
        conn.execute(update(cred).where(cred.c.id == env.tenant.credential_id)
                     .values(updated_at=now - timedelta(days=idle - 5)))
    result = keep_alive(env.db, now=now)
    assert result.refreshed == [f"credential {env.tenant.credential_id} "
                                f"({env.harness.platform})"], result
    with env.db.connect() as conn:
        after = conn.execute(select(cred.c.version, cred.c.refresh_token_enc)
                             .where(cred.c.id == env.tenant.credential_id)).one()
    assert after.version == before.version + 1
    with env.db.connect() as conn:
        lapses = conn.execute(select(cred.c.refresh_expires_at)
                              .where(cred.c.id == env.tenant.credential_id)).scalar_one()
    if lapses is not None:  # where the platform says when (QuickBooks): a full lifetime again
        lapses = lapses if lapses.tzinfo else lapses.replace(tzinfo=UTC)
        assert lapses > now + timedelta(days=idle - 2), lapses
    [synced] = sync_tenants(env.db, [env.key])
    assert synced.ok, synced.error
