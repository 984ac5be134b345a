"""Disconnecting a tenant is a port operation every platform passes: the platform drops the
grant's link to it (Xero: its connection; the grant itself with its last organisation) or
revokes the grant (QuickBooks: a grant is one company's), the stored tokens are erased, the
tenant is marked disconnected and its data stays."""

from __future__ import annotations

from sqlalchemy import select

from arconnect.auth.service import disconnect_tenant
from arconnect.auth.tokens import credential_table
from arconnect.auth.vault import get_vault
from arconnect.services import sync_tenants

from .conftest import Env, stored, tenant_status


def test_disconnect_revokes_at_the_platform_and_keeps_the_data(env: Env) -> None:
    [synced] = sync_tenants(env.db, [env.key], full=True)
    assert synced.ok, synced.error
    vault = get_vault()
    cred = credential_table()
    with env.db.connect() as conn:
        row = conn.execute(select(cred).where(cred.c.id == env.tenant.credential_id)).one()
    refresh_token = vault.decrypt(row.refresh_token_enc)

    done = disconnect_tenant(env.db, env.tenant, vault, by="contract")
    assert "revoked" in done, done
    assert tenant_status(env) == "disconnected"
    with env.db.connect() as conn:
        row = conn.execute(select(cred).where(cred.c.id == env.tenant.credential_id)).one()
    assert row.status == "revoked" and row.refresh_token_enc is None
    # the platform no longer honours the grant
    assert env.harness.refresh_refused(refresh_token)
    # the synced data stays; a sync of every tenant leaves the disconnected one out
    assert stored(env.db, env.tenant.id)["document"]
    assert sync_tenants(env.db) == []
