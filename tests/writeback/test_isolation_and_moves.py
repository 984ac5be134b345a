"""Write-back: two organisations on one grant never write to each other; a run cut in the
middle of a move (removed from the old group, not yet added to the new) completes on resume."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from arconnect.clock import Clock, get_clock, set_clock
from arconnect.sandbox.xero import OrgSpec
from arconnect.segmenter.service import lock_customer, segment_tenant
from arconnect.services import sync_tenants, writeback_context
from arconnect.store.models import Tenant
from arconnect.writeback import service as wb
from tests.sync.conftest import XeroEnv, sandbox_env
from tests.writeback.helpers import assert_segment_groups, context, largest_group, sandbox_groups
from tests.writeback.test_writeback import Killed, apply_all, notes

WRITES = ("PUT", "POST", "DELETE")


def org_state(org: Any) -> dict[str, Any]:
    """Everything a write-back could change in one sandbox organisation."""
    return copy.deepcopy({
        "groups": org.contact_groups,
        "members": {g: list(m) for g, m in org.group_members.items()},
        "terms": {k: c.get("PaymentTerms") for k, c in org.contacts.items()},
        "history": org.history,
    })


def writes(env: XeroEnv, tenant_external_id: str) -> dict[str, int]:
    """Write calls the sandbox saw for one tenant: 'METHOD path' -> count."""
    paths = env.sandbox.stats[tenant_external_id].paths
    return {k: n for k, n in paths.items() if k.split()[0] in WRITES}


def test_a_write_back_for_one_tenant_never_writes_to_the_other(
        two_orgs: tuple[XeroEnv, Tenant]) -> None:
    env, other = two_orgs
    other_org = next(o for o in env.sandbox.orgs if o.tenant_id == other.external_id)
    before = org_state(other_org)
    result = apply_all(env)
    assert result.status == "applied" and result.write_calls > 0, result.errors
    # the first organisation got its groups; the second is exactly as it was
    assert any(n.startswith("AR: ") for n in sandbox_groups(env))
    assert org_state(other_org) == before
    assert writes(env, other.external_id) == {}
    # the second tenant's plan starts from nothing of the first's: same first run, own state
    ctx = writeback_context(env.db, other)
    plan = wb.build_plan(ctx)
    assert plan.tenant.id == other.id
    assert {op["action"] for op in plan.ops} >= {"group.create", "group.set"}
    wb.save_plan(env.db, plan)
    first_org_before = org_state(env.org)
    first_org_writes = writes(env, env.tenant.external_id)
    done = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    assert done.status == "applied", done.errors
    assert org_state(env.org) == first_org_before
    assert writes(env, env.tenant.external_id) == first_org_writes
    # each tenant's audit and plans are its own
    assert {r["plan_id"] for r in wb.audit_rows(env.db, other)} == {plan.id}
    assert plan.id not in {r["plan_id"] for r in wb.audit_rows(env.db, env.tenant)}
    # and each is now at rest
    assert apply_all(env).write_calls == 0
    again = wb.build_plan(writeback_context(env.db, other))
    assert not again.ops


def test_a_run_cut_between_leaving_the_old_group_and_joining_the_new_completes(
        wb_env: XeroEnv) -> None:
    env = wb_env
    assert apply_all(env).status == "applied"
    groups = sandbox_groups(env)
    source = largest_group(groups)
    target = next(n for n in ("AR: At risk", "AR: Chronic late", "AR: Reliable")
                  if n != source)
    movers = sorted(groups[source])[:2]
    for cid in movers:  # the consultant moves two customers; the next run must move them
        lock_customer(env.db, env.tenant, cid, segment=target.removeprefix("AR: "))
    segment_tenant(env.db, env.tenant)
    ctx = context(env)
    plan = wb.build_plan(ctx)
    moves = [op for op in plan.ops if op["action"] == "group.set"]
    assert sorted(op["customer"].lower() for op in moves) == movers
    assert all(op["remove"] == [source] and op["after"] == target for op in moves)
    wb.save_plan(env.db, plan)
    real = ctx.client.request
    removed: list[str] = []

    def dying(method: str, path: str, **kw: Any) -> Any:
        resp = real(method, path, **kw)
        if method == "DELETE" and "/Contacts/" in path:
            removed.append(path)
            # the ERP took the customer out of its old group; we die before it joins the new
            raise Killed
        return resp

    ctx.client.request = dying  # type: ignore[method-assign]
    with pytest.raises(Killed):
        wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    assert len(removed) == 1
    cut = removed[0].rsplit("/", 1)[-1].lower()
    groups = sandbox_groups(env)
    assert cut not in groups[source] and cut not in groups.get(target, set())  # in no group
    calls_before = dict(env.sandbox.stats[env.tenant.external_id].paths)

    pending = wb.pending_plan(env.db, env.tenant)
    assert pending is not None and pending.id == plan.id
    result = wb.apply_plan(context(env), pending)
    assert result.status == "applied", result.errors
    groups = assert_segment_groups(env)
    for cid in movers:
        assert cid in groups[target] and cid not in groups[source]
    # the resumed run did not send the removal already made again
    after = env.sandbox.stats[env.tenant.external_id].paths
    resent = [k for k in after if k.startswith("DELETE ") and k.lower().endswith(cut)
              and after[k] != calls_before.get(k, 0)]
    assert resent == []
    # the audit records the move once, done by its final step (the add to the new group)
    rows = [r for r in wb.audit_rows(env.db, env.tenant, plan_id=plan.id)
            if (r["customer_external_id"] or "").lower() == cut]
    moves_logged = [r for r in rows if r["operation"] == "group.set"]
    assert [(r["status"], r["response"]["group"], r["response"]["final"])
            for r in moves_logged] == [("ok", target, True)]
    assert apply_all(env).write_calls == 0


@pytest.mark.parametrize("storm", [0, 2], ids=["paced", "429-storm"])
def test_write_back_keeps_to_xeros_rate_limits(monkeypatch: pytest.MonkeyPatch, sqlite_url: str,
                                               storm: int) -> None:
    # Xero's limits enforced (60 calls a minute per organisation, 5 at once); a minute passes
    # in a tenth of a real second, for the sandbox and for us. Without interference the
    # client's pacing keeps every call under the limit; when another client of the app spends
    # the organisation's minute budget, the write-back waits out the 429s (Retry-After) and
    # still lands every operation once.
    org = OrgSpec(name="Acme Wholesale", customers=60, invoices=500, payments=400, suppliers=2,
                  bills=10)
    monkeypatch.setenv("ARCONNECT_TIME_SCALE", "600")
    set_clock(Clock(600.0))
    try:
        with sandbox_env(monkeypatch, sqlite_url, org=org, strict_limits=True,
                         time_scale=600) as env:
            assert sync_tenants(env.db)[0].status == "ok"
            segment_tenant(env.db, env.tenant)
            stats = env.sandbox.stats[env.tenant.external_id]
            stats.rate_limited.clear()
            if storm:
                env.sandbox.faults.rate_limit_storm(env.tenant.external_id, windows=storm)
            result = apply_all(env)
            assert result.status == "applied", result.errors
            assert result.write_calls > 60  # more than one minute's worth
            if storm:
                assert stats.rate_limited["minute"] >= storm
            else:
                assert dict(stats.rate_limited) == {}
            assert_segment_groups(env)
            assert set(notes(env).values()) == {1}  # no History note written twice
            assert apply_all(env).write_calls == 0
    finally:
        set_clock(None)


def test_xeros_day_limit_running_out_mid_apply_resumes_the_next_day(
        monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    # Syncs and other apps share the organisation's day: Xero's own limit can run out before
    # arconnect's write-back share does. The apply stops cleanly (partial, nothing lost) and the
    # next day's run finishes it.
    org = OrgSpec(name="Acme Wholesale", customers=40, invoices=400, payments=300, suppliers=2,
                  bills=10)
    monkeypatch.setenv("ARCONNECT_TIME_SCALE", "600")
    set_clock(Clock(600.0))
    try:
        with sandbox_env(monkeypatch, sqlite_url, org=org, strict_limits=True,
                         time_scale=600, day_limit=40) as env:
            assert sync_tenants(env.db)[0].status == "ok"
            segment_tenant(env.db, env.tenant)
            ctx = context(env)
            plan = wb.build_plan(ctx)
            wb.save_plan(env.db, plan)
            first = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
            assert first.status == "partial" and first.write_calls > 0, first.errors
            assert "daily" in " ".join(first.errors).lower()
            assert wb.load_plan(env.db, env.tenant, plan.id).status == "partial"
            env.sandbox.clock.advance(86400)  # a day passes, for Xero and for us
            get_clock().advance(86400)
            pending = wb.pending_plan(env.db, env.tenant)
            assert pending is not None and pending.id == plan.id
            rest = wb.apply_plan(context(env), pending)
            assert rest.status == "applied", rest.errors
            assert_segment_groups(env)
            assert set(notes(env).values()) == {1}
    finally:
        set_clock(None)


def test_a_run_killed_between_clearing_a_group_and_refilling_it_puts_members_back(
        wb_env: XeroEnv) -> None:
    # Most of a group's members leave: clearing it and re-adding who stays is the cheaper way.
    # A run dying right after the clear must not leave the stayers out on resume.
    env = wb_env
    assert apply_all(env).status == "applied"
    groups = sandbox_groups(env)
    source = largest_group(groups)
    members = sorted(groups[source])
    assert len(members) >= 4
    stayer, movers = members[0], members[1:]
    target = next(n for n in ("AR: At risk", "AR: Chronic late", "AR: Reliable")
                  if n != source)
    for cid in movers:
        lock_customer(env.db, env.tenant, cid, segment=target.removeprefix("AR: "))
    segment_tenant(env.db, env.tenant)
    ctx = context(env)
    plan = wb.build_plan(ctx)
    wb.save_plan(env.db, plan)
    real = ctx.client.request
    cleared: list[str] = []

    def dying(method: str, path: str, **kw: Any) -> Any:
        resp = real(method, path, **kw)
        if method == "DELETE" and path.rstrip("/").endswith("/Contacts"):
            cleared.append(path)
            raise Killed  # the group is empty in Xero; we die before re-adding anyone
        return resp

    ctx.client.request = dying  # type: ignore[method-assign]
    with pytest.raises(Killed):
        wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    assert cleared, "the writer did not choose to clear the group"
    assert stayer not in sandbox_groups(env)[source]
    pending = wb.pending_plan(env.db, env.tenant)
    assert pending is not None and pending.id == plan.id
    assert wb.apply_plan(context(env), pending).status == "applied"
    groups = assert_segment_groups(env)
    assert groups[source] == {stayer}
    assert set(movers) <= groups[target]
    assert apply_all(env).write_calls == 0
