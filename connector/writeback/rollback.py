"""Going back: the rollback of one applied run, and removing everything write-back put in
the ERP (``--remove-all``, and ``tenants disconnect``)."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import Engine, delete, select, update

from arconnect.errors import ArconnectError, NotFoundError
from arconnect.store.models import Tenant
from arconnect.writeback.model import LOG, OBJ, STATE, VALUE_SETS, Context, Plan, now
from arconnect.writeback.planner import (
    build_plan,
    load_customers,
    load_states,
    make_op,
    new_plan_id,
    read_erp,
    summary,
)

__all__ = ["forget_all", "has_written", "lock_rolled_back", "plan_remove_all",
           "plan_rollback"]


def plan_rollback(ctx: Context, run: str) -> Plan:
    """The way back to the state before plan ``run`` was applied (its notes stay)."""
    with ctx.db.connect() as conn:
        rows = conn.execute(select(LOG.c.customer_external_id, LOG.c.target, LOG.c.before,
                                   LOG.c.operation).where(
            LOG.c.tenant_id == ctx.tenant.id, LOG.c.plan_id == run, LOG.c.status == "ok",
            LOG.c.customer_external_id.is_not(None)).order_by(LOG.c.id)).all()
    if not rows:
        raise NotFoundError(f"tenant {ctx.tenant.name}: no applied write-back run {run!r} "
                            "(`arconnect audit TENANT` lists runs by plan id)")
    override: dict[tuple[str, str], Any] = {}
    for customer, target, before, operation in rows:
        if operation == "group.set" or operation in VALUE_SETS:
            override.setdefault((customer, target), (before or {}).get("value"))
    plan = build_plan(ctx, desired_override=override, kind="rollback")
    plan.rollback_of = run
    plan.needs_approval = True
    plan.approval_reason = f"a rollback of {run}"
    return plan


def lock_rolled_back(ctx: Context, plan: Plan) -> None:
    """Keep rolled-back customers where they were put back (else the next run re-moves them)."""
    from arconnect.segmenter.service import lock_customer

    slots = {s.key: s for s in ctx.outbound.named_slots() if s.source == "segment"}
    for op in plan.ops:
        slot = slots.get(op["slot"])
        if slot is not None and op["customer"] and op["after"]:
            segment = slot.value_of(op["after"])
            if segment:
                # a segment the rules no longer have: the group stays, unlocked
                with contextlib.suppress(ArconnectError):
                    lock_customer(ctx.db, ctx.tenant, op["customer"], segment=segment,
                                  rules=ctx.rules)


def plan_remove_all(ctx: Context) -> Plan:
    """Remove what write-back put in the ERP: the containers it owns (cleared, then deleted)
    and the values it set (the customers' own come back; a value a customer had none of before
    stays, as the API cannot clear it); History notes stay as history."""
    if ctx.refresh is not None:
        ctx.refresh()
    customers = load_customers(ctx)
    erp = read_erp(ctx, customers)
    with ctx.db.connect() as conn:
        owned = {str(r[0]) for r in conn.execute(select(OBJ.c.name).where(
            OBJ.c.tenant_id == ctx.tenant.id, OBJ.c.kind == ctx.writer.object_kind,
            OBJ.c.removed_at.is_(None)))}
    names = ctx.outbound.group_names()
    existing = {n for s in ctx.outbound.groups for n in erp.objects.get(s.key, {})}
    ours = sorted(n for n in names if n in existing and (n in owned or names[n].create))
    ops = [make_op("group.delete", None, "object", n, None, "Remove all: arconnect's group")
           for n in ours]
    references = {s.key: s for s in ctx.outbound.references}
    for (cid, slot), state in sorted(load_states(ctx).items()):
        c = customers.get(cid)
        if not (slot == "terms" or slot.startswith("field:")) or c is None or c.archived:
            continue
        original = state.get("original")
        ref = references.get(slot)
        if ref is not None:
            original = ref.released(original)  # as a plan would write it
        current = erp.value(cid, slot)
        if current == state.get("value") and original is not None:
            if slot == "terms":
                ops.append(make_op("terms.set", c, "terms", current, original,
                                   "The contact's own terms come back (remove all)",
                                   original=original, restore=True))
            else:
                ops.append(make_op("field.set", c, slot, current, original,
                                   "The customer's own value comes back (remove all)",
                                   original=original, restore=True))
    plan = Plan(new_plan_id(), ctx.tenant, "remove_all", ops, [])
    plan.needs_approval = True
    plan.approval_reason = "removing everything write-back put in the ERP"
    plan.summary = summary(plan, 0, len(customers), erp)
    return plan


def has_written(db: Engine, tenant: Tenant) -> bool:
    """Whether write-back left anything in the ERP that ``--remove-all`` would take away
    (a group we created, or a value we wrote and still manage; History notes do not count)."""
    with db.connect() as conn:
        state = conn.execute(select(STATE.c.target).where(
            STATE.c.tenant_id == tenant.id, STATE.c.target != "limit_note").limit(1)).first()
        objects = conn.execute(select(OBJ.c.id).where(
            OBJ.c.tenant_id == tenant.id, OBJ.c.removed_at.is_(None)).limit(1)).first()
    return state is not None or objects is not None


def forget_all(ctx: Context) -> None:
    """After a remove-all: nothing in the ERP is arconnect's any more."""
    with ctx.db.begin() as conn:
        conn.execute(delete(STATE).where(STATE.c.tenant_id == ctx.tenant.id,
                                         STATE.c.target != "limit_note"))
        conn.execute(update(OBJ).where(OBJ.c.tenant_id == ctx.tenant.id,
                                       OBJ.c.removed_at.is_(None)).values(removed_at=now()))
