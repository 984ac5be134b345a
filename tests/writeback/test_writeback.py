"""Write-back against the Xero sandbox: sync ─▶ segment ─▶ plan ─▶ apply ─▶ the ERP's state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from arconnect import mappings as xero_mapping
from arconnect.errors import WritebackRefused
from arconnect.sandbox.xero.wire import dotnet_date
from arconnect.segmenter.service import lock_customer, segment_tenant, unlock_customer
from arconnect.store.models import SegmentAssignment
from arconnect.writeback import service as wb
from tests.writeback.helpers import (
    XeroEnv,
    assert_segment_groups,
    context,
    largest_group,
    notes,
    sandbox_groups,
)


def apply_all(env: XeroEnv, **settings: Any) -> wb.ApplyResult:
    ctx = context(env, **settings)
    plan = wb.build_plan(ctx)
    wb.save_plan(env.db, plan)
    return wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)


def test_write_back_reaches_the_desired_state_and_a_second_run_writes_nothing(
        wb_env: XeroEnv) -> None:
    own_groups = {n: m for n, m in sandbox_groups(wb_env).items() if not n.startswith("AR: ")}
    result = apply_all(wb_env)
    assert result.status == "applied", result.errors
    groups = assert_segment_groups(wb_env)
    # the organisation's own groups are untouched
    assert {n: m for n, m in groups.items() if not n.startswith("AR: ")} == own_groups
    again = apply_all(wb_env)
    assert again.write_calls == 0



# -- helpers ------------------------------------------------------------------------------------


class Killed(BaseException):
    """The process dies (as a SIGKILL would leave it: nothing after this point runs)."""



def by_hand(ctx: Any, method: str, path: str, body: Any = None) -> Any:
    """A change someone makes in Xero (through the API, as the organisation's user)."""
    resp = ctx.client.request(method, ctx.writer.full_path(path), json=body)
    assert resp.status_code < 300, resp.text
    return resp


def group_id(ctx: Any, name: str) -> str:
    return str(ctx.writer.read_groups(ctx.client)[name])


def a_customer_in(env: XeroEnv, group: str) -> str:
    return sorted(sandbox_groups(env)[group])[0]


# -- tests --------------------------------------------------------------------------------------


def test_terms_and_limit_notes_land_on_the_contacts(wb_env: XeroEnv) -> None:
    result = apply_all(wb_env)
    assert result.status == "applied", result.errors
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with wb_env.db.connect() as conn:
        rows = conn.execute(select(t.c.customer_external_id, t.c.terms_days,
                                   t.c.credit_limit).where(t.c.tenant_id == wb_env.tenant.id)
                            ).all()
    contacts = {str(k).lower(): c for k, c in wb_env.org.contacts.items()}
    written = notes(wb_env)
    for cid, terms, limit in rows:
        contact = contacts[str(cid).lower()]
        if terms is not None:
            assert contact["PaymentTerms"]["Sales"] == {"Day": terms, "Type": "DAYSAFTERBILLDATE"}
        if limit is not None:
            assert written.get(str(cid).lower()) == 1
    # a second run adds no note: the limit did not change
    apply_all(wb_env)
    assert notes(wb_env) == written


def test_a_run_killed_after_a_call_resumes_without_duplicates(wb_env: XeroEnv) -> None:
    ctx = context(wb_env)
    plan = wb.build_plan(ctx)
    wb.save_plan(wb_env.db, plan)
    real = ctx.client.request
    made = {"writes": 0}

    def dying(method: str, path: str, **kw: Any) -> Any:
        resp = real(method, path, **kw)
        if method != "GET":
            made["writes"] += 1
            if made["writes"] == 4:  # the ERP did it; we die before recording it
                raise Killed
        return resp

    ctx.client.request = dying  # type: ignore[method-assign]
    with pytest.raises(Killed):
        wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    ctx = context(wb_env)
    pending = wb.pending_plan(wb_env.db, wb_env.tenant)
    assert pending is not None and pending.id == plan.id
    result = wb.apply_plan(ctx, pending)
    assert result.status == "applied", result.errors
    assert_segment_groups(wb_env)
    assert set(notes(wb_env).values()) == {1}
    assert apply_all(wb_env).write_calls == 0


def test_drift_is_reported_left_alone_adopted_or_overwritten(wb_env: XeroEnv) -> None:
    apply_all(wb_env)
    ctx = context(wb_env)
    groups = sandbox_groups(wb_env)
    source = largest_group(groups)
    target = next(n for n in ("AR: Reliable", "AR: At risk", "AR: New") if n != source)
    moved = sorted(groups[source])[:2]
    for cid in moved:  # someone moves two customers by hand in Xero
        by_hand(ctx, "DELETE", f"ContactGroups/{group_id(ctx, source)}/Contacts/{cid}")
        if target not in ctx.writer.read_groups(ctx.client):
            by_hand(ctx, "PUT", "ContactGroups", {"ContactGroups": [{"Name": target}]})
        by_hand(ctx, "PUT", f"ContactGroups/{group_id(ctx, target)}/Contacts",
                {"Contacts": [{"ContactID": cid}]})
    plan = wb.build_plan(ctx)
    assert sorted(d.customer.lower() for d in plan.drift) == moved
    assert not [op for op in plan.ops if op["customer"] and op["customer"].lower() in moved
                and op["action"] == "group.set"]
    # left alone: applying changes nothing for them
    wb.save_plan(wb_env.db, plan)
    wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    assert all(cid in sandbox_groups(wb_env)[target] for cid in moved)
    first, second = sorted(plan.drift, key=lambda d: d.customer.lower())
    wb.adopt_drift(ctx, first)
    wb.overwrite_drift(ctx, second)
    segment_tenant(wb_env.db, wb_env.tenant)  # the adopted customer is locked to the ERP's
    result = apply_all(wb_env)
    assert result.status == "applied"
    groups = sandbox_groups(wb_env)
    assert first.customer.lower() in groups[target]
    assert second.customer.lower() in groups[source]
    assert second.customer.lower() not in groups[target]
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with wb_env.db.connect() as conn:
        locked = conn.execute(select(t.c.segment, t.c.locked).where(
            t.c.customer_external_id == first.customer)).one()
    assert locked == (target.removeprefix("AR: "), True)
    assert wb.build_plan(context(wb_env)).drift == []


def test_enforce_overwrites_drift_but_not_for_a_locked_customer(
        wb_env: XeroEnv, tmp_path: Any) -> None:
    apply_all(wb_env)
    ctx = context(wb_env)
    groups = sandbox_groups(wb_env)
    source = largest_group(groups)
    a, b = sorted(groups[source])[:2]
    for cid in (a, b):
        by_hand(ctx, "DELETE", f"ContactGroups/{group_id(ctx, source)}/Contacts/{cid}")
    lock_customer(wb_env.db, wb_env.tenant, b)
    mappings = tmp_path / "maps"
    mappings.mkdir()
    text_ = (Path(xero_mapping.__file__).parent / "xero.yaml").read_text()
    (mappings / "xero.yaml").write_text(text_.replace("  enforce: false", "  enforce: true"))
    plan = wb.build_plan(context(wb_env, mappings_dir=str(mappings)))
    assert [d.customer.lower() for d in plan.drift] == [b]
    assert [op["customer"].lower() for op in plan.ops if op["action"] == "group.set"] == [a]


def test_a_stale_approved_plan_is_refused(wb_env: XeroEnv) -> None:
    ctx = context(wb_env)
    plan = wb.build_plan(ctx)
    wb.save_plan(wb_env.db, plan)
    wb.approve_plan(wb_env.db, wb_env.tenant, plan.id, "controller")
    op = next(op for op in plan.ops if op["action"] == "group.set")
    # before it runs, someone puts that customer into the group by hand, then takes it out of
    # a group we expected... simplest: create the group and add the customer elsewhere
    other = next(n for n in ("AR: Reliable", "AR: At risk", "AR: New", "AR: Chronic late")
                 if n != op["after"])
    by_hand(ctx, "PUT", "ContactGroups", {"ContactGroups": [{"Name": other}]})
    by_hand(ctx, "PUT", f"ContactGroups/{group_id(ctx, other)}/Contacts",
            {"Contacts": [{"ContactID": op["customer"]}]})
    before = sandbox_groups(wb_env)
    with pytest.raises(WritebackRefused, match="stale"):
        wb.apply_plan(context(wb_env), wb.load_plan(wb_env.db, wb_env.tenant, plan.id))
    assert sandbox_groups(wb_env) == before
    assert wb.load_plan(wb_env.db, wb_env.tenant, plan.id).status == "stale"


def test_a_plan_over_the_day_budget_resumes_on_the_next_run(wb_env: XeroEnv) -> None:
    ctx = context(wb_env)
    plan = wb.build_plan(ctx)
    wb.save_plan(wb_env.db, plan)
    first = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True, budget=4)
    assert first.status == "partial" and first.write_calls <= 4 and first.remaining > 0
    # what the budget allowed is recorded in the audit log
    done = {r["customer_external_id"] for r in wb.audit_rows(wb_env.db, wb_env.tenant)
            if r["customer_external_id"]}
    assert done
    pending = wb.pending_plan(wb_env.db, wb_env.tenant)
    assert pending is not None and pending.id == plan.id
    rest = wb.apply_plan(context(wb_env), pending)
    assert rest.status == "applied"
    assert apply_all(wb_env).write_calls == 0


def test_plan_or_resume_picks_the_plan_each_command_needs(wb_env: XeroEnv) -> None:
    """The sequence writeback, run and disconnect share: an unchanged plan keeps the id that
    waits for approval; a partly applied plan is resumed by a segments run and not by a
    remove-all, which gets its own plan and is resumed in turn."""
    ctx = context(wb_env)
    first = wb.plan_or_resume(ctx)
    assert first.fresh and not first.resumed and first.plan.ops
    again = wb.plan_or_resume(ctx)  # nothing changed: the ready plan is the one
    assert again.plan.id == first.plan.id and not again.fresh
    partly = wb.apply_plan(ctx, first.plan, approved_by="tester", fresh=True, budget=2)
    assert partly.status == "partial"
    resumed = wb.plan_or_resume(context(wb_env))
    assert resumed.resumed and resumed.plan.id == first.plan.id
    assert not wb.plan_or_resume(ctx, resume=False).resumed
    remove = wb.plan_or_resume(ctx, kind="remove_all")
    assert remove.fresh and remove.plan.kind == "remove_all"
    wb.apply_plan(ctx, remove.plan, approved_by="tester", fresh=True, budget=1)
    picked = wb.plan_or_resume(context(wb_env), kind="remove_all")
    assert picked.resumed and picked.plan.id == remove.plan.id


def test_the_day_budget_counts_calls_already_made(wb_env: XeroEnv) -> None:
    ctx = context(wb_env, writeback_daily_share=0.001)  # 5 of Xero's 5,000 a day
    plan = wb.build_plan(ctx)
    wb.save_plan(wb_env.db, plan)
    first = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    assert first.write_calls <= 5 and first.status == "partial"
    again = wb.apply_plan(context(wb_env, writeback_daily_share=0.001),
                          wb.load_plan(wb_env.db, wb_env.tenant, plan.id))
    assert again.write_calls == 0 and again.status == "partial"


def test_a_group_the_admin_must_create_is_refused_before_any_write(
        wb_env: XeroEnv, tmp_path: Any) -> None:
    mappings = tmp_path / "maps"
    mappings.mkdir()
    text_ = (Path(xero_mapping.__file__).parent / "xero.yaml").read_text()
    text_ = text_.replace('''      name: "AR: {segment}"''', '''      name: "AR: {segment}"
    - slot: hold
      value: credit_hold
      name: "Stop credit"
      create: false''')
    (mappings / "xero.yaml").write_text(text_)
    before = sandbox_groups(wb_env)
    with pytest.raises(WritebackRefused, match="'Stop credit'.*must create"):
        wb.build_plan(context(wb_env, mappings_dir=str(mappings)))
    assert sandbox_groups(wb_env) == before


def test_the_group_limit_is_refused_before_it_is_hit(wb_env: XeroEnv) -> None:
    ctx = context(wb_env)
    have = len(ctx.writer.read_groups(ctx.client))
    by_hand(ctx, "PUT", "ContactGroups",
            {"ContactGroups": [{"Name": f"Region {i}"} for i in range(98 - have)]})
    before = sandbox_groups(wb_env)
    with pytest.raises(WritebackRefused, match="100 contact groups"):
        wb.build_plan(ctx)
    assert sandbox_groups(wb_env) == before


def test_a_large_move_needs_an_approval(wb_env: XeroEnv) -> None:
    plan = wb.build_plan(context(wb_env))
    assert plan.needs_approval and "more than 20%" in (plan.approval_reason or "")
    wb.save_plan(wb_env.db, plan)
    with pytest.raises(WritebackRefused, match="needs an approval"):
        wb.apply_plan(context(wb_env), plan, fresh=True)
    assert not [n for n in sandbox_groups(wb_env) if n.startswith("AR: ")]


def test_rollback_and_remove_all(wb_env: XeroEnv) -> None:
    own = {n: m for n, m in sandbox_groups(wb_env).items() if not n.startswith("AR: ")}
    contacts_terms = {k: dict(c.get("PaymentTerms") or {}) for k, c in
                      wb_env.org.contacts.items()}
    first = apply_all(wb_env)
    ctx = context(wb_env)
    back = wb.plan_rollback(ctx, first.plan.id)
    wb.save_plan(wb_env.db, back)
    result = wb.apply_plan(ctx, back, approved_by="tester", fresh=True)
    assert result.status == "applied", result.errors
    assert all(not m for n, m in sandbox_groups(wb_env).items() if n.startswith("AR: "))
    assert {k: dict(c.get("PaymentTerms") or {}) for k, c in
            wb_env.org.contacts.items()} == contacts_terms
    ctx = context(wb_env)
    remove = wb.plan_remove_all(ctx)
    wb.save_plan(wb_env.db, remove)
    assert wb.apply_plan(ctx, remove, approved_by="tester", fresh=True).status == "applied"
    assert sandbox_groups(wb_env) == own


def test_cli_preview_approval_apply_and_audit(wb_env: XeroEnv) -> None:
    from typer.testing import CliRunner

    from arconnect.cli import app

    runner = CliRunner()
    name = wb_env.tenant.name
    preview = runner.invoke(app, ["writeback", name, "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert "write-back plan wb-" in preview.output and "─▶" in preview.output
    assert not [n for n in sandbox_groups(wb_env) if n.startswith("AR: ")]
    ready = runner.invoke(app, ["writeback", name, "--apply"])
    assert ready.exit_code == 3, ready.output
    plan_id = ready.output.split("--plan ")[-1].split()[0].strip('`')
    assert plan_id.startswith("wb-")
    applied = runner.invoke(app, ["writeback", name, "--apply", "--plan", plan_id, "--by", "cfo"])
    assert applied.exit_code == 0, applied.output
    assert "applied" in applied.output
    audit = runner.invoke(app, ["audit", name, "--format", "json"])
    rows = json.loads(audit.output)
    assert rows and all(r["plan_id"] == plan_id and r["approved_by"] == "cfo" for r in rows)
    named = [r for r in rows if r["customer_external_id"]]
    assert named and all(r["customer_name"] for r in named)  # who, in words
    one = runner.invoke(app, ["audit", name, "--customer", named[0]["customer_name"],
                              "--format", "json"])
    assert {r["customer_external_id"] for r in json.loads(one.output)} == {
        named[0]["customer_external_id"]}
    drift = runner.invoke(app, ["drift", name])
    assert drift.exit_code == 0 and "drift (0)" in drift.output


def test_every_kind_of_group_slot_lands(wb_env: XeroEnv, tmp_path: Any) -> None:
    # A consultant turns on the optional slots: a risk-tag group, a credit-hold group and
    # limit-band groups beside the segment groups. Each customer ends up in exactly the group
    # of each slot its assignment picks (or in none of that slot's), and a rerun writes nothing.
    mappings = tmp_path / "maps"
    mappings.mkdir()
    text_ = (Path(xero_mapping.__file__).parent / "xero.yaml").read_text()
    for line in ("# - slot: risk", "#   value: tag:risk", '#   name: "AR risk: {tag}"',
                 "# - slot: hold", "#   value: credit_hold", '#   name: "AR: Credit hold"',
                 "# - slot: limit", "#   value: limit_band", "#   bands: [1000, 5000, 25000]",
                 '#   name: "AR limit {band}"'):
        assert line in text_
        text_ = text_.replace(line, line.replace("# ", "", 1))
    (mappings / "xero.yaml").write_text(text_)
    settings = {"mappings_dir": str(mappings)}
    ctx = context(wb_env, **settings)
    slots = {s.slot: s for s in ctx.outbound.groups}
    assert set(slots) == {"segment", "risk", "hold", "limit"}
    result = apply_all(wb_env, **settings)
    assert result.status == "applied", result.errors
    groups = sandbox_groups(wb_env)
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with wb_env.db.connect() as conn:
        rows = conn.execute(select(t.c.customer_external_id, t.c.segment, t.c.tags,
                                   t.c.credit_hold, t.c.credit_limit).where(
            t.c.tenant_id == wb_env.tenant.id)).mappings().all()
        archived = {r[0] for r in conn.execute(text(
            "SELECT external_id FROM customer WHERE is_archived"))}
    dims = ctx.tag_dimension
    seen_hold = seen_band = seen_risk = 0
    for row in rows:
        cid = str(row["customer_external_id"]).lower()
        if row["customer_external_id"] in archived:
            continue
        for slot in slots.values():
            want = slot.group_for(dict(row), dims)
            mine = [n for n in slot.names.values() if cid in groups.get(n, set())]
            assert mine == ([want] if want else []), (slot.slot, cid, mine, want)
            seen_hold += slot.slot == "hold" and want is not None
            seen_band += slot.slot == "limit" and want is not None
            seen_risk += slot.slot == "risk" and want is not None
    assert seen_hold and seen_band and seen_risk  # every slot placed someone
    assert apply_all(wb_env, **settings).write_calls == 0


def test_terms_come_back_when_a_customer_leaves_the_terms_policy(wb_env: XeroEnv) -> None:
    # Chronic late customers get net 15. A customer put there gets those terms; when it leaves,
    # the terms it had before come back (or, had it none, Xero's API cannot clear them: they are
    # left and no longer managed). Either way nothing is written again afterwards.
    apply_all(wb_env)
    contacts = {str(k).lower(): c for k, c in wb_env.org.contacts.items()}
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with wb_env.db.connect() as conn:
        rows = conn.execute(select(t.c.customer_external_id, t.c.segment).where(
            t.c.tenant_id == wb_env.tenant.id)).all()
    with_own, without = [c for c, s in rows if s != "Chronic late"
                         and (contacts[str(c).lower()].get("PaymentTerms") or {}).get("Sales")][:2]
    # someone clears the second one's own terms in Xero's UI (the API cannot)
    record = contacts[str(without).lower()]
    record["PaymentTerms"] = {k: v for k, v in record["PaymentTerms"].items() if k != "Sales"}
    record["UpdatedDateUTC"] = dotnet_date(wb_env.sandbox.clock.now())
    wb_env.org.contacts.touch(record["ContactID"])
    own = dict(contacts[str(with_own).lower()]["PaymentTerms"]["Sales"])
    for cid in (with_own, without):
        lock_customer(wb_env.db, wb_env.tenant, cid, segment="Chronic late")
    segment_tenant(wb_env.db, wb_env.tenant)
    assert apply_all(wb_env).status == "applied"
    for cid in (with_own, without):
        assert contacts[str(cid).lower()]["PaymentTerms"]["Sales"] == {
            "Day": 15, "Type": "DAYSAFTERBILLDATE"}
    for cid in (with_own, without):
        lock_customer(wb_env.db, wb_env.tenant, cid, segment="Reliable")
    segment_tenant(wb_env.db, wb_env.tenant)
    plan = wb.build_plan(context(wb_env))
    terms_ops = {op["customer"]: op for op in plan.ops if op["slot"] == "terms"}
    assert terms_ops[with_own]["action"] == "terms.set" and terms_ops[with_own]["after"] == own
    assert terms_ops[without]["action"] == "terms.release"
    wb.save_plan(wb_env.db, plan)
    assert wb.apply_plan(context(wb_env), plan, approved_by="tester",
                         fresh=True).status == "applied"
    assert contacts[str(with_own).lower()]["PaymentTerms"]["Sales"] == own
    assert contacts[str(without).lower()]["PaymentTerms"]["Sales"] == {
        "Day": 15, "Type": "DAYSAFTERBILLDATE"}  # left as they are, no longer ours
    after = wb.build_plan(context(wb_env))
    assert not [op for op in after.ops if op["customer"] in (with_own, without)]
    assert apply_all(wb_env).write_calls == 0


def test_terms_changed_by_hand_are_drift(wb_env: XeroEnv) -> None:
    apply_all(wb_env)
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with wb_env.db.connect() as conn:
        cid = str(conn.execute(select(t.c.customer_external_id).where(
            t.c.segment != "Chronic late").order_by(t.c.customer_external_id)).first()[0]).lower()
    contact = next(c for k, c in wb_env.org.contacts.items() if str(k).lower() == cid)
    original = dict(contact["PaymentTerms"]["Sales"])  # the contact's own terms
    lock_customer(wb_env.db, wb_env.tenant, cid, segment="Chronic late")
    segment_tenant(wb_env.db, wb_env.tenant)
    apply_all(wb_env)
    net15 = {"Day": 15, "Type": "DAYSAFTERBILLDATE"}
    assert contact["PaymentTerms"]["Sales"] == net15
    ctx = context(wb_env)
    by_hand(ctx, "POST", "Contacts", {"Contacts": [{
        "ContactID": contact["ContactID"],
        "PaymentTerms": {"Sales": {"Day": 30, "Type": "DAYSAFTERBILLDATE"}}}]})
    plan = wb.build_plan(context(wb_env))
    (found,) = [d for d in plan.drift if d.customer.lower() == cid]
    assert found.slot == "terms" and found.now["Day"] == 30 and found.desired == net15
    assert not [op for op in plan.ops if op["customer"].lower() == cid and op["slot"] == "terms"]
    wb.overwrite_drift(context(wb_env), found)
    assert apply_all(wb_env).status == "applied"
    assert contact["PaymentTerms"]["Sales"] == net15
    # changed by hand again, and this time the ERP's value is kept
    by_hand(ctx, "POST", "Contacts", {"Contacts": [{
        "ContactID": contact["ContactID"],
        "PaymentTerms": {"Sales": {"Day": 45, "Type": "DAYSAFTERBILLDATE"}}}]})
    (again,) = [d for d in wb.build_plan(context(wb_env)).drift if d.customer.lower() == cid]
    wb.adopt_drift(context(wb_env), again)
    after = wb.build_plan(context(wb_env))
    assert not [d for d in after.drift if d.customer.lower() == cid]
    assert not [op for op in after.ops if (op["customer"] or "").lower() == cid
                and op["slot"] == "terms"]
    assert apply_all(wb_env).write_calls == 0
    assert contact["PaymentTerms"]["Sales"]["Day"] == 45
    # unlocking the customer hands its terms back to the segments: out of the policy, its
    # own terms (from before arconnect wrote any) come back
    unlock_customer(wb_env.db, wb_env.tenant, cid)
    segment_tenant(wb_env.db, wb_env.tenant)
    back = wb.build_plan(context(wb_env))
    (op,) = [op for op in back.ops if (op["customer"] or "").lower() == cid
             and op["slot"] == "terms"]
    t = SegmentAssignment.__table__  # type: ignore[attr-defined]
    with wb_env.db.connect() as conn:
        segment = conn.execute(select(t.c.segment).where(
            func.lower(t.c.customer_external_id) == cid)).scalar_one()
    want = net15 if segment == "Chronic late" else original
    assert op["action"] == "terms.set" and op["after"] == want


def test_a_group_deleted_by_hand_is_drift_until_overwritten(wb_env: XeroEnv) -> None:
    apply_all(wb_env)
    ctx = context(wb_env)
    groups = sandbox_groups(wb_env)
    victim = max((n for n in groups if n.startswith("AR: ")), key=lambda n: len(groups[n]))
    members = groups[victim]
    by_hand(ctx, "POST", f"ContactGroups/{group_id(ctx, victim)}",
            {"ContactGroups": [{"Status": "DELETED"}]})
    plan = wb.build_plan(context(wb_env))
    assert {d.customer.lower() for d in plan.drift} == members
    assert not [op for op in plan.ops if op["action"] == "group.create"]
    for d in plan.drift:
        wb.overwrite_drift(context(wb_env), d)
    assert apply_all(wb_env).status == "applied"
    assert sandbox_groups(wb_env)[victim] == members
    assert apply_all(wb_env).write_calls == 0


def test_one_apply_per_tenant_at_a_time(wb_env: XeroEnv) -> None:
    from arconnect.store.locks import tenant_lock

    ctx = context(wb_env)
    plan = wb.build_plan(ctx)
    wb.save_plan(wb_env.db, plan)
    assert wb_env.tenant.id is not None
    with tenant_lock(wb_env.db, "writeback", wb_env.tenant.id):  # another apply is running
        with pytest.raises(WritebackRefused, match="another write-back of Acme Wholesale"):
            wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
        assert not [n for n in sandbox_groups(wb_env) if n.startswith("AR: ")]
    assert wb.apply_plan(ctx, plan, approved_by="tester", fresh=True).status == "applied"


def test_removing_a_contact_already_out_of_the_group_counts_as_done(wb_env: XeroEnv) -> None:
    # Between planning and applying someone takes a moving customer out of its old group: the
    # removal is refused (400) and the group is read to confirm the contact is out.
    apply_all(wb_env)
    groups = sandbox_groups(wb_env)
    source = largest_group(groups)
    target = next(n for n in ("AR: At risk", "AR: Reliable") if n != source)
    cid = sorted(groups[source])[0]
    lock_customer(wb_env.db, wb_env.tenant, cid, segment=target.removeprefix("AR: "))
    segment_tenant(wb_env.db, wb_env.tenant)
    ctx = context(wb_env)
    plan = wb.build_plan(ctx)
    wb.save_plan(wb_env.db, plan)
    gid = group_id(ctx, source)
    by_hand(ctx, "DELETE", f"ContactGroups/{gid}/Contacts/{cid}")
    reads = wb_env.sandbox.stats[wb_env.tenant.external_id].paths
    before = reads.get(f"GET /api.xro/2.0/ContactGroups/{gid}", 0)
    result = wb.apply_plan(ctx, plan, approved_by="tester", fresh=True)
    assert result.status == "applied" and not result.failed, result.errors
    assert reads.get(f"GET /api.xro/2.0/ContactGroups/{gid}", 0) == before + 1
    assert_segment_groups(wb_env)


def test_remove_all_with_an_archived_contact_in_our_group(wb_env: XeroEnv) -> None:
    # A customer is archived in Xero after write-back placed it: its group still holds it.
    # Removing everything must still empty and delete our groups.
    own = {n: m for n, m in sandbox_groups(wb_env).items() if not n.startswith("AR: ")}
    apply_all(wb_env)
    groups = sandbox_groups(wb_env)
    placed = {cid for n, m in groups.items() if n.startswith("AR: ") for cid in m}
    idle = next(cid for cid in sorted(placed) if not any(
        wb_env.org.invoices[i]["Status"] == "AUTHORISED"
        for i in wb_env.org.contact_docs.get(next(
            k for k in wb_env.org.contacts if str(k).lower() == cid), ())))
    ctx = context(wb_env)
    by_hand(ctx, "POST", f"Contacts/{idle}", {"Contacts": [{"ContactStatus": "ARCHIVED"}]})
    remove = wb.plan_remove_all(context(wb_env))
    wb.save_plan(wb_env.db, remove)
    result = wb.apply_plan(context(wb_env), remove, approved_by="tester", fresh=True)
    assert result.status == "applied", result.errors
    assert sandbox_groups(wb_env) == own
    assert not wb.has_written(wb_env.db, wb_env.tenant)
