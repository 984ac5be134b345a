"""What only Xero's sync has to get right, end to end against the Xero sandbox: paging through
records stamped in the same second, merges and archives, the daily limit, one grant reaching
several organisations, contacts that become customers silently, the reconcile pass.

What every platform must do (full and incremental syncs against the ground truth, a SIGKILL and
resume on changed data, 429 storms, token rotation across processes, revoked grants, malformed
pages) is the contract suite's, ``tests/contract``, which runs it on Xero too."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from arconnect.clock import get_clock
from arconnect.sandbox.xero import OrgSpec
from arconnect.services import find_tenants, sync_tenants
from arconnect.sync import Progress, SyncResult

from .conftest import (  # type: ignore[import-not-found]
    XeroEnv,
    assert_store_equals_truth,
    sandbox_env,
    stored,
    stored_cursor,
)


def _sync(env: XeroEnv, *, full: bool = False, progress: Progress | None = None) -> SyncResult:
    [result] = sync_tenants(env.db, [str(env.tenant.id)], full=full, progress=progress)
    return result


def _tenant_status(env: XeroEnv) -> str:
    [tenant] = find_tenants(env.db, [str(env.tenant.id)])
    return tenant.status


@pytest.mark.parametrize("xero_env", [{"page_size": 25}], indirect=True)
def test_more_than_a_page_updated_in_the_same_second(xero_env: XeroEnv) -> None:
    env = xero_env
    assert _sync(env, full=True).ok
    env.sandbox.clock.advance(3600)
    env.sandbox.mutate(env.tenant.external_id, n=90, seed=9, same_second=True)
    stamps = [ms for t in (env.org.invoices, env.org.payments) for ms in t.updated.values()]
    newest = max(stamps)
    assert sum(1 for ms in stamps if ms // 1000 == newest // 1000) > 25  # over a page
    result = _sync(env)
    assert result.ok, result.error
    assert_store_equals_truth(env.db, env.tenant.id, env.org)


def test_deletes_voids_archives_and_merges_are_reflected(xero_env: XeroEnv) -> None:
    env = xero_env
    assert _sync(env, full=True).ok
    env.sandbox.clock.advance(3600)
    env.sandbox.mutate(env.tenant.external_id, n=120, seed=3)
    assert _sync(env).ok
    got = stored(env.db, env.tenant.id)
    statuses = {r["status"] for r in got["document"].values()}
    assert {"voided", "deleted"} & statuses
    assert any(r["is_deleted"] for r in got["payment"].values())
    assert any(r["status"] == "ARCHIVED" for r in got["customer"].values())
    merged = {k for k, r in got["customer"].items() if r["merged_into_external_id"]}
    assert merged, "the sandbox history holds a merged contact"
    for table in ("document", "payment", "allocation"):
        assert not [r for r in got[table].values() if r["customer_external_id"] in merged]
    assert_store_equals_truth(env.db, env.tenant.id, env.org)


def test_daily_limit_stops_the_run_and_the_next_run_resumes(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    # Each run reads at least one page of each of the six entities (the overlap): the day
    # must allow a little more than that for a run to get further.
    with sandbox_env(monkeypatch, sqlite_url, strict_limits=True, day_limit=9, page_size=40) as env:
        result = _sync(env, full=True)
        assert result.status == "rate_limited_daily"
        assert "daily" in (result.error or "").lower()
        assert _tenant_status(env) == "rate_limited_daily"
        for _ in range(20):  # a day passes for Xero and for us; each run gets further
            env.sandbox.clock.advance(86400)
            get_clock().advance(86400)
            result = _sync(env)
            if result.ok:
                break
            assert result.status == "rate_limited_daily"
        assert result.ok
        assert _tenant_status(env) == "active"
        assert_store_equals_truth(env.db, env.tenant.id, env.org)


def test_two_processes_on_one_grant_keep_the_rotated_token(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    # One grant reaching two organisations, each synced by its own process at the same moment
    # (one sync per tenant at a time is the rule; the grant's token is shared): both must
    # refresh the expired token at once, and the rotated refresh token must survive.
    orgs = [OrgSpec(name="Acme Wholesale", customers=20, invoices=200, payments=150),
            OrgSpec(name="Acme Retail", customers=15, invoices=150, payments=100)]
    with sandbox_env(monkeypatch, sqlite_url, orgs=orgs) as env:
        env.sandbox.faults.expire_tokens()  # both processes must refresh at once
        tenants = find_tenants(env.db)
        assert len(tenants) == 2
        procs = [subprocess.Popen([sys.executable, "-m", "arconnect.cli", "sync", str(t.id)],
                                  env=os.environ.copy(), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT) for t in tenants]
        outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        # Long after the grace period, the stored refresh token must still work.
        env.sandbox.clock.advance(3 * 3600)
        env.sandbox.faults.expire_tokens()
        results = sync_tenants(env.db)
        assert all(r.ok for r in results), [r.error for r in results]
        for tenant in tenants:
            org = next(o for o in env.sandbox.orgs if o.tenant_id == tenant.external_id)
            assert_store_equals_truth(env.db, tenant.id, org)


def test_one_sync_per_tenant_at_a_time(xero_env: XeroEnv) -> None:
    from arconnect.store.locks import tenant_lock

    env = xero_env
    assert env.tenant.id is not None
    with tenant_lock(env.db, "sync", env.tenant.id):  # another process is syncing it
        busy = _sync(env)
        assert busy.status == "busy" and "another sync" in (busy.error or "")
        assert stored(env.db, env.tenant.id)["document"] == {}
    assert _sync(env).ok


def test_an_unknown_status_fails_the_run_and_changes_nothing(xero_env: XeroEnv) -> None:
    # A Status outside Xero's documented codes is refused like a malformed page (the contract
    # suite, tests/contract, breaks a page's JSON and its ids on every platform).
    env = xero_env
    assert _sync(env, full=True).ok
    env.sandbox.clock.advance(3600)
    env.sandbox.mutate(env.tenant.external_id, n=30, seed=2)
    cursor_before = stored_cursor(env, "invoices")
    docs_before = stored(env.db, env.tenant.id)["document"]
    env.sandbox.faults.malformed(1, kind="unknown_status", path_contains="Invoices")
    result = _sync(env)
    assert result.status == "failed"
    assert "entity invoices, page 1" in (result.error or "")
    assert env.tenant.name in (result.error or "")
    assert "Status" in (result.error or "")
    assert stored_cursor(env, "invoices") == cursor_before
    after = stored(env.db, env.tenant.id)["document"]
    assert {k: v["status"] for k, v in after.items()} == {
        k: v["status"] for k, v in docs_before.items()}
    # the fault is gone: the next run completes
    assert _sync(env).ok
    assert_store_equals_truth(env.db, env.tenant.id, env.org)


def _supplier_only(org: Any) -> dict[str, Any]:
    return next(c for c in org.contacts.values()
                if c.get("IsSupplier") and not c.get("IsCustomer")
                and c.get("ContactStatus") == "ACTIVE")


def test_contact_that_becomes_a_customer_silently_is_fetched(xero_env: XeroEnv) -> None:
    env = xero_env
    assert _sync(env, full=True).ok
    org = env.org
    supplier = _supplier_only(org)
    # Xero derives IsCustomer from transactions without bumping the contact's UpdatedDateUTC.
    supplier["IsCustomer"] = True
    org.contacts.touch(supplier["ContactID"])
    env.sandbox.clock.advance(3600)
    template = next(i for i in org.invoices.values()
                    if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED")
    invoice = dict(template, InvoiceID="0b6c1f8e-4f7a-4c1e-9a51-6d2f3c1e9a01",
                   InvoiceNumber="INV-SILENT",
                   Contact={"ContactID": supplier["ContactID"], "Name": supplier["Name"]},
                   UpdatedDateUTC=f"/Date({int(env.sandbox.clock.now().timestamp() * 1000)}"
                                  "+0000)/")
    org.invoices.put(invoice)
    assert _sync(env).ok
    got = stored(env.db, env.tenant.id)["customer"][supplier["ContactID"]]
    assert got["name"] == supplier["Name"]
    assert_store_equals_truth(env.db, env.tenant.id, org)


def test_reconcile_catches_edits_without_a_new_timestamp(xero_env: XeroEnv) -> None:
    env = xero_env
    assert _sync(env, full=True).ok
    org = env.org
    invoice = next(i for i in org.invoices.values()
                   if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED")
    # A due date moved on a partly paid invoice: Xero keeps UpdatedDateUTC as it was.
    invoice["DueDate"] = "/Date(1893456000000+0000)/"  # 2030-01-01
    invoice["DueDateString"] = "2030-01-01T00:00:00"
    org.invoices.touch(invoice["InvoiceID"])
    assert _sync(env).ok
    doc = stored(env.db, env.tenant.id)["document"][invoice["InvoiceID"]]
    assert str(doc["due_date"])[:10] != "2030-01-01"  # an incremental read cannot see it
    result = sync_tenants(env.db, [str(env.tenant.id)], reconcile=True)[0]
    assert result.ok and result.records["reconciled"] > 0
    doc = stored(env.db, env.tenant.id)["document"][invoice["InvoiceID"]]
    assert str(doc["due_date"])[:10] == "2030-01-01"
    assert_store_equals_truth(env.db, env.tenant.id, org)


def test_one_grant_two_organisations_sync_at_once(db_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    orgs = [OrgSpec(name="North Ltd", customers=15, invoices=150, payments=100),
            OrgSpec(name="South Pty", base_currency="AUD", timezone="AUSEASTERNSTANDARDTIME",
                    customers=15, invoices=150, payments=100)]
    with sandbox_env(monkeypatch, db_url, orgs=orgs, page_size=30) as env:
        tenants = find_tenants(env.db)
        assert sorted(t.name for t in tenants) == ["North Ltd", "South Pty"]
        results = sync_tenants(env.db, None, full=True, workers=2)
        assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
        for tenant in tenants:
            org = next(o for o in env.sandbox.orgs if o.tenant_id == tenant.external_id)
            assert_store_equals_truth(env.db, tenant.id, org)
        assert {t.base_currency for t in find_tenants(env.db)} == {"NZD", "AUD"}
