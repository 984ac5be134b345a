"""Disconnecting a tenant: write-back's removal is offered first, Xero drops the connection,
the grant is revoked with its last organisation, the store keeps the data."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner, Result

from arconnect.cli import app
from arconnect.errors import ArconnectError
from arconnect.services import find_tenants, sync_tenants
from arconnect.store.models import Credential, Tenant
from arconnect.writeback import service as wb
from tests.sync.conftest import XeroEnv
from tests.writeback.helpers import sandbox_groups
from tests.writeback.test_writeback import apply_all


def connected(env: XeroEnv) -> set[str]:
    """Organisations (tenant ids) the sandbox's live grants still reach."""
    return {c.tenant_id for g in env.sandbox.identity.grants.values() if not g.revoked
            for c in g.connections}


def user_error(result: Result) -> str:
    """The one-line error ``arconnect`` prints for a user's mistake (``main`` prints it)."""
    assert isinstance(result.exception, ArconnectError), result.output
    return str(result.exception)


def status(env: XeroEnv, tenant: Tenant) -> str:
    return next(t.status for t in find_tenants(env.db) if t.id == tenant.id)


def test_disconnect_removes_what_write_back_wrote_then_the_connection(
        two_orgs: tuple[XeroEnv, Tenant]) -> None:
    env, other = two_orgs
    runner = CliRunner()
    own = {n: m for n, m in sandbox_groups(env).items() if not n.startswith("AR: ")}
    terms = {k: dict(c.get("PaymentTerms") or {}) for k, c in env.org.contacts.items()}
    assert apply_all(env).status == "applied"
    assert wb.has_written(env.db, env.tenant)
    name = env.tenant.name

    # Not asked and not told what to do with what was written: a clear error, nothing changes.
    undecided = runner.invoke(app, ["tenants", "disconnect", name])
    message = user_error(undecided)
    assert "--remove-writeback" in message and "Nothing was changed" in message
    assert status(env, env.tenant) == "active"
    assert env.tenant.external_id in connected(env)

    gone = runner.invoke(app, ["tenants", "disconnect", name, "--remove-writeback", "--yes",
                               "--by", "it-admin"])
    assert gone.exit_code == 0, gone.output
    assert "disconnected" in gone.output
    # our groups are gone, the organisation's own untouched, the contacts' own terms back
    assert sandbox_groups(env) == own
    assert {k: dict(c.get("PaymentTerms") or {}) for k, c in env.org.contacts.items()} == terms
    assert not wb.has_written(env.db, env.tenant)
    # Xero dropped that organisation only; the grant still serves the other one
    assert connected(env) == {other.external_id}
    tenant = next(t for t in find_tenants(env.db) if t.id == env.tenant.id)
    assert tenant.status == "disconnected" and "it-admin" in (tenant.status_detail or "")
    # the store keeps the data; syncs of every tenant skip it, naming it is a clear error
    results = sync_tenants(env.db)
    assert [(r.tenant_id, r.status) for r in results] == [(other.id, "ok")]
    named = runner.invoke(app, ["sync", name])
    assert "Acme Wholesale is disconnected" in user_error(named)
    refused = runner.invoke(app, ["writeback", name, "--dry-run"])
    assert "nothing can be written" in user_error(refused)

    # The grant's last organisation: the grant is revoked and its tokens erased.
    last = runner.invoke(app, ["tenants", "disconnect", other.name, "--yes"])
    assert last.exit_code == 0, last.output
    assert "revoked" in last.output
    assert connected(env) == set()
    with env.db.connect() as conn:
        creds = conn.execute(select(Credential.status, Credential.refresh_token_enc,
                                    Credential.access_token_enc)).all()
    assert [tuple(c) for c in creds] == [("revoked", None, None)]
    assert {t.status for t in find_tenants(env.db)} == {"disconnected"}
    again = runner.invoke(app, ["tenants", "disconnect", other.name, "--yes"])
    assert again.exit_code == 0 and "already disconnected" in again.output


def test_disconnect_when_xero_already_revoked_the_grant(wb_env: XeroEnv) -> None:
    # The user removed the app in Xero: nothing is left to ask Xero; the tenant is still
    # marked disconnected so syncs stop trying it.
    wb_env.sandbox.identity.revoke_all()
    result = CliRunner().invoke(app, ["tenants", "disconnect", wb_env.tenant.name, "--yes"])
    assert result.exit_code == 0, result.output
    assert "nothing was asked of Xero" in " ".join(result.output.split())
    assert status(wb_env, wb_env.tenant) == "disconnected"
    assert sync_tenants(wb_env.db) == []
