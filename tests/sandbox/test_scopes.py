"""OAuth scopes: the sandbox refuses what a token's scopes do not allow, as Xero does, arconnect's
default scopes allow every call it makes, and a missing scope reaches the user as one clear
error (no token refresh, no retry)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from sqlalchemy import text

from arconnect.adapters.base import TenantInfo
from arconnect.adapters.xero import XeroAdapter
from arconnect.adapters.xero.settings import XeroSettings, xero_settings
from arconnect.auth.service import add_grant
from arconnect.auth.vault import get_vault
from arconnect.clock import Clock, set_clock
from arconnect.errors import ScopeMissing
from arconnect.sandbox.xero import OrgSpec, XeroSandbox
from arconnect.segmenter.service import segment_tenant
from arconnect.services import client_for, sync_tenants
from arconnect.settings import get_settings
from arconnect.store.db import dispose_engines, get_engine
from arconnect.writeback import service as wb
from tests.sync.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    XeroEnv,
    assert_store_equals_truth,
    point_settings_at,
    start_sandbox,
)
from tests.writeback.helpers import assert_segment_groups, context

from .conftest import Client

DEFAULT_SCOPES = XeroSettings.model_fields["scopes"].default
OLD_APP_SCOPES = ("offline_access accounting.contacts accounting.transactions.read "
                  "accounting.settings.read")
TINY = OrgSpec(name="Acme Wholesale", customers=12, invoices=120, payments=90, suppliers=2,
               bills=10)


def scoped(sb: XeroSandbox, scope: str) -> Client:
    return Client(sb, tokens=sb.create_grant(scope=scope))


# -- the sandbox ---------------------------------------------------------------------------


def test_a_token_without_the_contacts_scope_gets_xeros_401(shared_sb: XeroSandbox) -> None:
    c = scoped(shared_sb, "offline_access accounting.invoices.read accounting.settings.read")
    r = c.get("Contacts", {"page": 1})
    assert r.status_code == 401
    body = r.json()
    # Xero's body for a scope the token lacks (XeroAPI/xero-ruby-oauth2-app #82,
    # XeroAPI/Xero-NetStandard #298): key order and values as quoted there.
    assert list(body) == ["Type", "Title", "Status", "Detail", "Instance", "Extensions"]
    assert {k: v for k, v in body.items() if k != "Instance"} == {
        "Type": None, "Title": "Unauthorized", "Status": 401,
        "Detail": "AuthorizationUnsuccessful", "Extensions": {}}
    assert "WWW-Authenticate" not in r.headers  # the token itself is fine
    assert c.get("Invoices", {"page": 1}).status_code == 200
    assert c.get("Organisation").status_code == 200
    group = next(iter(shared_sb.orgs[0].contact_groups))
    assert c.get(f"ContactGroups/{group}").status_code == 401


def test_read_scopes_allow_reads_and_only_read_write_scopes_allow_writes(
        shared_sb: XeroSandbox) -> None:
    org = shared_sb.orgs[0]
    contact = next(iter(org.contacts))
    reader = scoped(shared_sb, "accounting.contacts.read")
    assert reader.get("Contacts", {"page": 1}).status_code == 200
    assert reader.get(f"Contacts/{contact}/History").status_code == 200
    assert reader.get("ContactGroups").status_code == 200
    for method, path, body in (
            ("PUT", "ContactGroups", {"ContactGroups": [{"Name": "never made"}]}),
            ("POST", f"Contacts/{contact}", {"Contacts": [{"Name": "never renamed"}]}),
            ("PUT", f"Contacts/{contact}/History", {"HistoryRecords": [{"Details": "x"}]})):
        r = reader.send(method, path, body)
        assert r.status_code == 401 and r.json()["Detail"] == "AuthorizationUnsuccessful", path
    assert all(g["Name"] != "never made" for g in org.contact_groups.values())
    assert org.contacts[contact]["Name"] != "never renamed"


@pytest.mark.parametrize("scope", ["accounting.transactions.read", "accounting.transactions",
                                   "accounting.invoices.read accounting.payments.read"])
def test_broad_and_granular_transaction_scopes_allow_documents_and_payments(
        shared_sb: XeroSandbox, scope: str) -> None:
    c = scoped(shared_sb, scope)
    for path in ("Invoices", "CreditNotes", "Payments", "Overpayments", "Prepayments"):
        assert c.get(path, {"page": 1}).status_code == 200, (scope, path)
    for path in ("Contacts", "Organisation", "Currencies"):
        assert c.get(path, {"page": 1}).status_code == 401, (scope, path)


def test_granular_scopes_are_separate(shared_sb: XeroSandbox) -> None:
    invoices = scoped(shared_sb, "accounting.invoices.read")
    assert invoices.get("Invoices", {"page": 1}).status_code == 200
    assert invoices.get("Payments", {"page": 1}).status_code == 401
    payments = shared_sb.orgs[0].payments
    payment = next(p for p, rec in payments.items() if rec["Status"] != "DELETED")
    # deleting a payment is a write: a .read scope is not enough, even the broad one
    r = scoped(shared_sb, "accounting.transactions.read").send(
        "POST", f"Payments/{payment}", {"Payments": [{"Status": "DELETED"}]})
    assert r.status_code == 401
    assert payments[payment]["Status"] != "DELETED"


def test_control_api_grants_take_a_scope(shared_sb: XeroSandbox) -> None:
    tokens = requests.post(f"{shared_sb.url}/_sandbox/grants",
                           json={"scope": "accounting.settings.read"}, timeout=5).json()
    assert tokens["scope"] == "accounting.settings.read" and "refresh_token" not in tokens
    c = Client(shared_sb, tokens=tokens)
    assert c.get("Organisation").status_code == 200
    assert c.get("Invoices", {"page": 1}).status_code == 401


# -- arconnect against scoped grants --------------------------------------------------------


@contextmanager
def scoped_env(monkeypatch: pytest.MonkeyPatch, db_url: str, scope: str,
               org: OrgSpec = TINY) -> Iterator[XeroEnv]:
    """A sandbox whose one grant holds exactly ``scope``, connected to a fresh store."""
    sandbox = start_sandbox(org=org)
    point_settings_at(monkeypatch, sandbox.url, db_url)
    try:
        db = get_engine(db_url)
        grant = sandbox.create_grant(scope=scope)
        tenants = add_grant(db, "xero", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                                 refresh_token=grant["refresh_token"], vault=get_vault())
        yield XeroEnv(sandbox, db, tenants[0], db_url)
    finally:
        sandbox.stop()
        dispose_engines()


def test_default_scopes_cover_every_call_of_sync_and_write_back(
        monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    assert xero_settings(get_settings()).scopes == DEFAULT_SCOPES
    org = OrgSpec(name="Acme Wholesale", customers=30, invoices=360, payments=300, suppliers=2,
                  bills=10)
    set_clock(Clock(600.0))  # write-back paces at 60 calls a minute: a scaled clock
    try:
        with scoped_env(monkeypatch, sqlite_url, DEFAULT_SCOPES, org) as env:
            [result] = sync_tenants(env.db)
            assert result.status == "ok", result.error
            # every customer stored, those Xero sends without Balances (nothing owed) too
            assert any(c["IsCustomer"] and "Balances" not in c
                       for c in env.org.contacts.values())
            assert_store_equals_truth(env.db, env.tenant.id, env.org)
            segment_tenant(env.db, env.tenant)
            ctx = context(env)
            plan = wb.build_plan(ctx)
            wb.save_plan(env.db, plan)
            applied = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
            assert applied.status == "applied", applied.errors
            assert applied.write_calls > 0
            assert_segment_groups(env)
            # every kind of call write-back makes was among them, and none was refused
            paths = env.sandbox.stats.as_dict()[env.tenant.external_id]["paths"]
            for call in ("GET /api.xro/2.0/Organisation", "GET /api.xro/2.0/Contacts",
                         "GET /api.xro/2.0/Invoices", "GET /api.xro/2.0/CreditNotes",
                         "GET /api.xro/2.0/Payments", "GET /api.xro/2.0/Overpayments",
                         "GET /api.xro/2.0/Prepayments", "GET /api.xro/2.0/ContactGroups",
                         "PUT /api.xro/2.0/ContactGroups"):
                assert call in paths, call
            assert any(p.startswith("PUT /api.xro/2.0/ContactGroups/") for p in paths)
    finally:
        set_clock(None)


def test_an_old_app_with_the_broad_read_scope_syncs(monkeypatch: pytest.MonkeyPatch,
                                                     sqlite_url: str) -> None:
    with scoped_env(monkeypatch, sqlite_url, OLD_APP_SCOPES) as env:
        [result] = sync_tenants(env.db)
        assert result.status == "ok", result.error
        assert_store_equals_truth(env.db, env.tenant.id, env.org)


def test_a_missing_scope_is_one_clear_error_without_refresh_or_retry(
        monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    scope = "offline_access accounting.invoices.read accounting.payments.read " \
            "accounting.settings.read"
    with scoped_env(monkeypatch, sqlite_url, scope) as env:
        client = client_for(env.db, env.tenant)
        info = TenantInfo(env.tenant.external_id, env.tenant.name)
        with pytest.raises(ScopeMissing) as caught:
            next(XeroAdapter().fetch(client, info, "contacts", None))
        message = str(caught.value)
        assert message == (
            "tenant Acme Wholesale: Xero refused GET Contacts: the connection lacks scope "
            "accounting.contacts (or accounting.contacts.read) — reconnect with `arconnect "
            "tenants connect xero` to grant it (ARCONNECT_XERO_SCOPES asks for it; this "
            "connection was made with fewer scopes)")
        assert caught.value.scopes == ("accounting.contacts.read", "accounting.contacts")
        assert (client.calls, client.refreshes, client.retries) == (1, 0, 0)
        # a sync stops there with that message, and says so once
        [result] = sync_tenants(env.db)
        assert result.status == "failed" and result.error == message


def test_a_scope_arconnect_does_not_ask_for_names_the_setting(
        monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    with scoped_env(monkeypatch, sqlite_url, "offline_access accounting.settings.read") as env:
        monkeypatch.setenv("ARCONNECT_XERO_SCOPES", "offline_access accounting.settings.read")
        get_settings.cache_clear()
        client = client_for(env.db, env.tenant)
        with pytest.raises(ScopeMissing, match=(
                r"refused GET Invoices: the connection lacks scope accounting.invoices.read "
                r"\(or .*accounting.transactions.read.*\) — add accounting.invoices.read to "
                r"ARCONNECT_XERO_SCOPES and reconnect")):
            client.request("GET", "/api.xro/2.0/Invoices",
                           headers=XeroAdapter.headers(TenantInfo(env.tenant.external_id, "")))


def test_an_expired_token_still_refreshes_once(monkeypatch: pytest.MonkeyPatch,
                                               sqlite_url: str) -> None:
    with scoped_env(monkeypatch, sqlite_url, DEFAULT_SCOPES) as env:
        client = client_for(env.db, env.tenant)
        headers: dict[str, Any] = XeroAdapter.headers(TenantInfo(env.tenant.external_id, ""))
        env.sandbox.faults.expire_tokens()
        r = client.request("GET", "/api.xro/2.0/Organisation", headers=headers)
        assert r.status_code == 200 and client.refreshes == 1


def test_write_back_without_the_write_scope_stops_at_the_first_write(
        monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    read_only = DEFAULT_SCOPES.replace("accounting.contacts", "accounting.contacts.read")
    set_clock(Clock(600.0))
    try:
        with scoped_env(monkeypatch, sqlite_url, read_only) as env:
            [result] = sync_tenants(env.db)
            assert result.status == "ok", result.error
            segment_tenant(env.db, env.tenant)
            ctx = context(env)
            plan = wb.build_plan(ctx)
            wb.save_plan(env.db, plan)
            env.sandbox.stats.reset()
            with pytest.raises(ScopeMissing, match=(
                    "^tenant Acme Wholesale: Xero refused PUT ContactGroups: the connection "
                    "lacks scope accounting.contacts — reconnect with `arconnect tenants "
                    "connect xero`")):
                wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
            # the refused write was the only call after the plan's own reads: not retried
            assert ctx.client.refreshes == 0 and ctx.client.retries == 0
            assert not any(g["Name"].startswith("AR: ")
                           for g in env.org.contact_groups.values())
            # the plan says why it stopped, and is taken up again once reconnected
            stopped = wb.load_plan(env.db, env.tenant, plan.id)
            assert stopped.status == "partial"
            assert wb.pending_plan(env.db, env.tenant).id == plan.id
            with env.db.connect() as conn:
                detail = conn.execute(text("SELECT error FROM writeback_plan"
                                           " WHERE id = :p"), {"p": plan.id}).scalar()
            assert "lacks scope accounting.contacts" in detail
    finally:
        set_clock(None)
