"""NetSuite write-back through the engine, against the NetSuite sandbox: sync, segment, plan,
apply with the shipped mapping; every changed customer is one PATCH; a second plan finds
nothing; the Hold of a customer the admin had set to OFF goes ON for a holding segment and comes
back as AUTO — never OFF — when write-back removes what it wrote."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from arconnect.auth.service import add_grant
from arconnect.auth.vault import get_vault
from arconnect.clock import Clock, set_clock
from arconnect.platforms import get_platform
from arconnect.sandbox.netsuite import AccountSpec, NsConfig, NsSandbox
from arconnect.segmenter.rules import load_rules
from arconnect.segmenter.service import lock_customer, segment_tenant
from arconnect.services import sync_tenants, writeback_context
from arconnect.settings import get_settings
from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.models import Tenant
from arconnect.writeback import service as wb

ACCOUNT = "1234567_SB1"
CLIENT_ID, CLIENT_SECRET = "wb-ns-client", "wb-ns-secret"
HELD = "At risk"  # the default rules' segment whose policy holds credit


@dataclass
class NsEnv:
    sandbox: NsSandbox
    db: Engine
    tenant: Tenant
    held: str  # the customer the admin had set to Hold = OFF, locked in the holding segment


@pytest.fixture
def ns_env(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[NsEnv]:
    from arconnect.adapters.netsuite.settings import get_ns_settings

    sandbox = NsSandbox(NsConfig(
        seed=5, start=datetime(2026, 11, 30, 17, 0, tzinfo=UTC), strict_limits=False,
        clock_scale=600.0, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
        accounts=[AccountSpec(account_id=ACCOUNT, customers=14, invoices=140, payments=100)]))
    sandbox.start(host="127.0.0.1", port=0)
    base = f"{sandbox.url}/{{account}}"
    for key, value in {"ARCONNECT_DATABASE_URL": sqlite_url,
                       "ARCONNECT_SECRET_KEY": "test-key-for-the-writeback-suite",
                       "ARCONNECT_NETSUITE_REST_URL": base, "ARCONNECT_NETSUITE_APP_URL": base,
                       "ARCONNECT_NETSUITE_CLIENT_ID": CLIENT_ID,
                       "ARCONNECT_NETSUITE_CLIENT_SECRET": CLIENT_SECRET,
                       "ARCONNECT_WRITEBACK_APPROVAL_SHARE": "1.0"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    get_ns_settings.cache_clear()  # type: ignore[attr-defined]
    set_clock(Clock(600.0))
    try:
        account = sandbox.account(ACCOUNT)
        with account.lock:
            row = next(r for r in account.customers if not r["isinactive"])
            row["creditholdoverride"] = "OFF"
            held = str(row["id"])
        db = get_engine(sqlite_url)
        grant = sandbox.create_grant(ACCOUNT)
        client_id, client_secret, secret = get_platform("netsuite").headless_grant(
            get_settings(), {"account": ACCOUNT, "client_id": CLIENT_ID,
                             "client_secret": CLIENT_SECRET,
                             "refresh_token": grant["refresh_token"]})
        [tenant] = add_grant(db, "netsuite", client_id=client_id, client_secret=client_secret,
                             refresh_token=secret, tenant_id=ACCOUNT, vault=get_vault())
        [synced] = sync_tenants(db)
        assert synced.ok, synced.error
        segment_tenant(db, tenant)
        lock_customer(db, tenant, held, segment=HELD, rules=load_rules("default"))
        segment_tenant(db, tenant)
        yield NsEnv(sandbox, db, tenant, held)
    finally:
        set_clock(None)
        sandbox.stop()
        dispose_engines()
        get_ns_settings.cache_clear()  # type: ignore[attr-defined]


def _hold(env: NsEnv, customer: str) -> str:
    account = env.sandbox.account(ACCOUNT)
    with account.lock:
        return str(account.customers[int(customer)]["creditholdoverride"])


def test_plan_apply_a_second_plan_is_empty_and_remove_all_gives_auto_back(
        ns_env: NsEnv) -> None:
    ctx = writeback_context(ns_env.db, ns_env.tenant)
    plan = wb.build_plan(ctx)
    slots = {op["slot"] for op in plan.ops}
    assert {"field:segment", "field:dunning", "field:hold"} <= slots
    held_ops = [op for op in plan.ops if op["customer"] == ns_env.held]
    assert ("field:hold", "OFF", "ON") in {(o["slot"], o["before"], o["after"])
                                           for o in held_ops}
    wb.save_plan(ns_env.db, plan)
    assert plan.erp is not None
    patches = ns_env.sandbox.stats.get(ACCOUNT, "record_patch")
    result = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    assert result.status == "applied", result.errors
    assert result.write_calls == wb.min_write_calls(ctx, plan, plan.erp)
    changed = {op["customer"] for op in plan.ops if op["customer"]
               and op["action"] in ("field.set", "terms.set")}
    creates = sum(1 for op in plan.ops if op["action"] == "object.create")
    assert result.write_calls == len(changed) + creates
    assert ns_env.sandbox.stats.get(ACCOUNT, "record_patch") - patches == len(changed)
    assert _hold(ns_env, ns_env.held) == "ON"

    again = wb.build_plan(writeback_context(ns_env.db, ns_env.tenant))
    assert again.ops == [] and again.drift == []

    removal = wb.plan_remove_all(ctx)
    hold_back = [op for op in removal.ops if op["slot"] == "field:hold"]
    assert [(op["customer"], op["after"]) for op in hold_back if op["customer"]
            == ns_env.held] == [(ns_env.held, "AUTO")]
    assert all(op["after"] == "AUTO" for op in hold_back)
    wb.save_plan(ns_env.db, removal)
    done = wb.apply_plan(ctx, removal, approved_by="tester")
    assert done.status == "applied", done.errors
    assert _hold(ns_env, ns_env.held) == "AUTO"  # not the OFF it had before
