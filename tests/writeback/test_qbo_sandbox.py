"""QuickBooks Online write-back against the QBO sandbox, end to end: sync, segment, plan, apply;
the customers' types and terms land; a second run plans nothing and writes nothing; a missing
customer type is refused before any write, naming it and where to create it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from arconnect.auth.service import add_grant
from arconnect.auth.vault import get_vault
from arconnect.clock import Clock, set_clock
from arconnect.errors import WritebackRefused
from arconnect.sandbox.quickbooks import CompanySpec, QboConfig, QboSandbox
from arconnect.sandbox.quickbooks import records as R
from arconnect.segmenter.service import segment_tenant
from arconnect.services import sync_tenants, writeback_context
from arconnect.settings import Settings, get_settings
from arconnect.store.db import dispose_engines, get_engine
from arconnect.store.models import SegmentAssignment, Tenant
from arconnect.writeback import service as wb

CLIENT_ID, CLIENT_SECRET = "wb-qbo-client", "wb-qbo-secret"
# One type per segment of the default rules, as mappings/quickbooks.yaml names them.
OUR_TYPES = ("AR At risk", "AR Chronic late", "AR New", "AR Occas. late", "AR Prompt",
             "AR Reliable")


@dataclass
class QboEnv:
    sandbox: QboSandbox
    db: Engine
    tenant: Tenant


def _env(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, types: tuple[str, ...],
         custom_fields: dict[str, str] | None = None,
         mappings_dir: Path | None = None) -> Iterator[QboEnv]:
    from arconnect.adapters.quickbooks.settings import get_qbo_settings

    spec = CompanySpec(name="Sandbox Company US 1", customers=14, invoices=160, payments=120,
                       customer_types=("Commercial", *types),
                       custom_fields=dict(custom_fields or {}))
    sandbox = QboSandbox(QboConfig(seed=5, companies=[spec],
                                   start=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
                                   strict_limits=False, clock_scale=600.0,
                                   client_id=CLIENT_ID, client_secret=CLIENT_SECRET))
    sandbox.start(host="127.0.0.1", port=0)
    url = sandbox.url
    for key, value in {"ARCONNECT_DATABASE_URL": sqlite_url,
                       "ARCONNECT_SECRET_KEY": "test-key-for-the-writeback-suite",
                       "ARCONNECT_QBO_API_URL": url,
                       "ARCONNECT_QBO_AUTH_URL": f"{url}/connect/oauth2",
                       "ARCONNECT_QBO_TOKEN_URL": f"{url}/oauth2/v1/tokens/bearer",
                       "ARCONNECT_QBO_REVOKE_URL": f"{url}/v2/oauth2/tokens/revoke",
                       "ARCONNECT_QBO_CLIENT_ID": CLIENT_ID,
                       "ARCONNECT_QBO_CLIENT_SECRET": CLIENT_SECRET}.items():
        monkeypatch.setenv(key, value)
    if mappings_dir is not None:
        monkeypatch.setenv("ARCONNECT_MAPPINGS_DIR", str(mappings_dir))
    get_settings.cache_clear()
    get_qbo_settings.cache_clear()
    set_clock(Clock(600.0))
    try:
        db = get_engine(sqlite_url)
        grant = sandbox.create_grant()
        [tenant] = add_grant(db, "quickbooks", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                             refresh_token=grant["refresh_token"], tenant_id=grant["realmId"],
                             vault=get_vault())
        [synced] = sync_tenants(db)
        assert synced.ok, synced.error
        segment_tenant(db, tenant)
        yield QboEnv(sandbox, db, tenant)
    finally:
        set_clock(None)
        sandbox.stop()
        dispose_engines()
        get_qbo_settings.cache_clear()


@pytest.fixture
def qbo_env(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[QboEnv]:
    """A small company whose admin created one customer type per segment; synced and
    segmented."""
    yield from _env(monkeypatch, sqlite_url, OUR_TYPES)


def _customers(env: QboEnv) -> dict[str, dict[str, Any]]:
    company = env.sandbox.company(env.tenant.external_id)
    with company.lock:
        return {str(k): dict(v) for k, v in company.tables["Customer"].items()}


def _type_names(env: QboEnv) -> dict[str, str]:
    company = env.sandbox.company(env.tenant.external_id)
    with company.lock:
        return {str(t["Id"]): str(t["Name"]) for t in company.tables["CustomerType"].values()}


def _segments(env: QboEnv) -> dict[str, str]:
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with env.db.connect() as conn:
        rows = conn.execute(t.select().where(t.c.tenant_id == env.tenant.id)).mappings().all()
    return {str(r["customer_external_id"]): str(r["segment"]) for r in rows}


def test_plan_apply_then_a_second_run_writes_nothing(qbo_env: QboEnv) -> None:
    ctx = writeback_context(qbo_env.db, qbo_env.tenant)
    plan = wb.build_plan(ctx)
    types = [op for op in plan.ops if op["slot"] == "field:segment"]
    assert types and all(op["action"] == "field.set" for op in types)
    # QBO has no credit-limit field and the mapping names no custom field: listed, not written
    assert "field:credit_limit" in plan.summary["not_written"]
    wb.save_plan(qbo_env.db, plan)
    batches = qbo_env.sandbox.stats["batch"]
    assert plan.erp is not None
    result = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    assert result.status == "applied", result.errors
    assert result.write_calls == wb.min_write_calls(ctx, plan, plan.erp)
    assert qbo_env.sandbox.stats["batch"] - batches == result.write_calls

    names = _type_names(qbo_env)
    customers = _customers(qbo_env)
    slot = next(s for s in ctx.outbound.references if s.slot == "segment")
    for cid, segment in _segments(qbo_env).items():
        record = customers[cid]
        if not record.get("Active", True):
            continue
        assert names[record["CustomerTypeRef"]["value"]] == slot.names[segment], cid

    # again: the sync sees our writes, nothing is left to plan, nothing is written
    batches = qbo_env.sandbox.stats["batch"]
    ctx = writeback_context(qbo_env.db, qbo_env.tenant)
    again = wb.build_plan(ctx)
    assert again.ops == [] and again.drift == []
    wb.save_plan(qbo_env.db, again)
    second = wb.apply_plan(ctx, again, approved_by="tester", fresh=True)
    assert second.write_calls == 0
    assert qbo_env.sandbox.stats["batch"] == batches


def test_a_missing_customer_type_is_refused_before_any_write(
        monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    for env in _env(monkeypatch, sqlite_url, OUR_TYPES[:-1]):  # no "AR Reliable"
        if "Reliable" not in _segments(env).values():
            pytest.skip("no customer is Reliable in this company")
        ctx = writeback_context(env.db, env.tenant)
        writes = env.sandbox.stats["batch"] + env.sandbox.stats["write"]
        with pytest.raises(WritebackRefused) as err:
            wb.build_plan(ctx)
        assert "Sales → Customers → Customer types → New: AR Reliable" in str(err.value)
        assert "Nothing was written" in str(err.value)
        assert env.sandbox.stats["batch"] + env.sandbox.stats["write"] == writes


def test_a_refused_item_is_audited_with_qbos_message_and_retried_next_run(
        qbo_env: QboEnv) -> None:
    ctx = writeback_context(qbo_env.db, qbo_env.tenant)
    plan = wb.build_plan(ctx)
    company = qbo_env.sandbox.company(qbo_env.tenant.external_id)
    refused_type = next(op["after"] for op in plan.ops if op["slot"] == "field:segment")
    types = company.tables["CustomerType"]
    with company.lock:  # the admin makes the type inactive between plan and apply
        ctype = next(t for t in types.values() if t["Name"] == refused_type)
        ctype["Active"] = False
        types.touch(ctype["Id"], types.updated[ctype["Id"]])
    wb.save_plan(qbo_env.db, plan)
    result = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    refused = [op for op in plan.ops if op["after"] == refused_type]
    assert result.status == "applied_with_errors"
    assert result.failed == len(refused) and result.done == len(plan.ops) - len(refused)
    rows = [r for r in wb.audit_rows(qbo_env.db, qbo_env.tenant, plan_id=plan.id)
            if r["status"] == "error"]
    assert sorted(r["customer_external_id"] for r in rows) == sorted(
        op["customer"] for op in refused)
    assert all(r["response"]["status"] == 200 and r["response"]["error"] for r in rows)

    with company.lock:
        ctype["Active"] = True
        types.touch(ctype["Id"], types.updated[ctype["Id"]])
    ctx = writeback_context(qbo_env.db, qbo_env.tenant)
    again = wb.build_plan(ctx)
    assert sorted(op["customer"] for op in again.ops) == sorted(op["customer"] for op in refused)
    wb.save_plan(qbo_env.db, again)
    retried = wb.apply_plan(ctx, again, approved_by="tester", fresh=True)
    assert retried.status == "applied" and retried.write_calls == 1, retried.errors


def test_a_customer_edited_after_the_plan_is_reread_and_written(qbo_env: QboEnv) -> None:
    # no approval step (it would re-read the company): the plan is applied as it was made
    ctx = writeback_context(qbo_env.db, qbo_env.tenant,
                            settings=Settings(writeback_approval_share=1.0))
    plan = wb.build_plan(ctx)
    assert not plan.needs_approval
    wb.save_plan(qbo_env.db, plan)
    edited = next(op["customer"] for op in plan.ops if op["slot"] == "field:segment")
    company = qbo_env.sandbox.company(qbo_env.tenant.external_id)
    with company.lock:  # someone edits the customer's notes: its SyncToken moves on
        record = company.tables["Customer"][edited]
        record["Notes"] = "called about the March invoice"
        R.bump(company, "Customer", record, qbo_env.sandbox.clock.now())
    result = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    assert result.status == "applied" and not result.failed, result.errors
    assert result.write_calls == 2  # the batch, and the stale customer once more
    assert _customers(qbo_env)[edited]["Notes"] == "called about the March invoice"
    assert _type_names(qbo_env)[_customers(qbo_env)[edited]["CustomerTypeRef"]["value"]] == \
        next(op["after"] for op in plan.ops if op["customer"] == edited)


def test_the_credit_limit_goes_to_a_custom_field_when_the_company_has_one(
        monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path) -> None:
    shipped = (Path(__file__).resolve().parents[2] / "mappings" / "quickbooks.yaml").read_text(
        encoding="utf-8")
    (tmp_path / "quickbooks.yaml").write_text(shipped.replace(
        '    # field: "AR credit limit"', '    field: "AR credit limit"'), encoding="utf-8")
    for env in _env(monkeypatch, sqlite_url, OUR_TYPES, {"AR credit limit": "1"}, tmp_path):
        company = env.sandbox.company(env.tenant.external_id)
        with company.lock:  # what `include=enhancedAllCustomFields` shows: the field, empty
            table = company.tables["Customer"]
            for key, record in table.items():
                record["CustomField"] = [{"DefinitionId": "1", "Name": "AR credit limit",
                                          "Type": "StringType"}]
                table.touch(key, table.updated[key])
        ctx = writeback_context(env.db, env.tenant)
        plan = wb.build_plan(ctx)
        limits = {op["customer"]: op["after"] for op in plan.ops
                  if op["slot"] == "field:credit_limit"}
        assert limits and "not_written" not in plan.summary
        wb.save_plan(env.db, plan)
        result = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
        assert result.status == "applied", result.errors
        customers = _customers(env)
        for cid, limit in limits.items():
            [field] = customers[cid]["CustomField"]
            assert field["StringValue"] == limit
        again = wb.build_plan(writeback_context(env.db, env.tenant))
        assert again.ops == []


def test_a_type_changed_by_hand_is_drift_and_remove_all_gives_values_back(
        qbo_env: QboEnv) -> None:
    ctx = writeback_context(qbo_env.db, qbo_env.tenant)
    plan = wb.build_plan(ctx)
    wb.save_plan(qbo_env.db, plan)
    assert wb.apply_plan(ctx, plan, approved_by="tester", fresh=True).status == "applied"
    moved = next(op["customer"] for op in plan.ops if op["slot"] == "field:segment")
    company = qbo_env.sandbox.company(qbo_env.tenant.external_id)
    with company.lock:  # an admin puts the customer in the company's own type
        commercial = next(t["Id"] for t in company.tables["CustomerType"].values()
                          if t["Name"] == "Commercial")
        record = company.tables["Customer"][moved]
        record["CustomerTypeRef"] = {"value": commercial, "name": "Commercial"}
        R.bump(company, "Customer", record, qbo_env.sandbox.clock.now())

    ctx = writeback_context(qbo_env.db, qbo_env.tenant)
    again = wb.build_plan(ctx)
    assert again.ops == []
    [drift] = again.drift
    assert (drift.customer, drift.slot, drift.now) == (moved, "field:segment", "Commercial")

    # remove-all: each customer's own type and terms come back where it had some (the one
    # whose type was changed by hand keeps it), then the removal is applied and forgotten
    removal = wb.plan_remove_all(ctx)
    assert removal.needs_approval
    expected = sorted((op["customer"], op["slot"], op["before"]) for op in plan.ops
                      if op["before"] is not None and (op["customer"], op["slot"])
                      != (moved, "field:segment"))
    assert expected and sorted((op["customer"], op["slot"], op["after"])
                               for op in removal.ops) == expected
    wb.save_plan(qbo_env.db, removal)
    done = wb.apply_plan(ctx, removal, approved_by="tester", fresh=True)
    assert done.status == "applied", done.errors
    names = _type_names(qbo_env)
    customers = _customers(qbo_env)
    for cid, slot, before in expected:
        if slot == "field:segment":
            assert names[customers[cid]["CustomerTypeRef"]["value"]] == before
    assert not wb.has_written(qbo_env.db, qbo_env.tenant)
