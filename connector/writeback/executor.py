"""The executor: apply a stored plan through the platform's writer.

Applying a plan hands its operations to the writer (``ctx.writer``, from the platform
registry), which compiles them into the platform's fewest calls; the executor runs them within
the day's call budget in order of priority (largest open balance first), and records every
operation in the audit log in the same transaction as the new ``writeback_state``. Each call
carries an idempotency key made of the plan id and the call's content (the writer sends it as
the platform takes it), so a run killed after a call and before its commit replays the call
without a second effect; a resumed plan skips operations the audit log already holds and is
re-validated against the ERP first.

It knows no platform: what a call looks like and how an answer reads is the writer's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, func, select, update

from arconnect.adapters.base import ErpState, WriteCall
from arconnect.errors import ArconnectError, RateLimitedDaily, WritebackRefused
from arconnect.store.locks import LockBusy, tenant_lock
from arconnect.store.models import Tenant
from arconnect.writeback.audit import op_row
from arconnect.writeback.model import (
    CREATES,
    LOG,
    OBJ,
    PLAN,
    RELEASES,
    VALUE_SETS,
    ApplyResult,
    Context,
    Plan,
    StoredCustomer,
    now,
    tenant_id,
)
from arconnect.writeback.outbound import GroupSlot
from arconnect.writeback.planner import load_customers, load_states, members_now, read_erp
from arconnect.writeback.plans import approve_plan, set_status
from arconnect.writeback.rollback import forget_all, lock_rolled_back
from arconnect.writeback.states import record_states

__all__ = ["LOCAL_ACTIONS", "apply_plan", "call_key", "calls_today", "min_write_calls"]

# Operations that need no call to the ERP: only what arconnect manages changes.
LOCAL_ACTIONS = RELEASES


def _done_ops(db: Engine, plan: Plan) -> set[int]:
    with db.connect() as conn:
        rows = conn.execute(select(LOG.c.response).where(
            LOG.c.plan_id == plan.id, LOG.c.status == "ok"))
        # A move is done when the call that adds the customer to its new group went through
        # (its removal from the old one is logged too, but is only half of it).
        return {int(r[0]["op"]) for r in rows if r[0] and "op" in r[0]
                and r[0].get("final", True)}


def calls_today(db: Engine, tenant: Tenant) -> int:
    """Write calls made for ``tenant`` in the last 24 hours (the platforms' day window)."""
    since = now() - timedelta(days=1)
    with db.connect() as conn:
        return int(conn.execute(select(func.count(func.distinct(LOG.c.call_id))).where(
            LOG.c.tenant_id == tenant.id, LOG.c.created_at >= since,
            LOG.c.call_id.is_not(None))).scalar_one())


def _revalidate(ctx: Context, plan: Plan, todo: list[int], erp: ErpState) -> list[int]:
    """Operations of a stored plan still to do; raises when the ERP moved under it."""
    slots = {s.key: s for s in ctx.outbound.groups}
    containers = {n for s in ctx.outbound.groups for n in erp.objects.get(s.key, {})}
    stale = []
    left = []
    for i in todo:
        op = plan.ops[i]
        if op["action"] == "group.set":
            in_now = members_now(erp, slots[op["slot"]], op["customer"]) \
                if op["slot"] in slots else []
            if in_now == ([op["after"]] if op["after"] else []):
                continue  # already there (a run cut off after its call)
            if set(in_now) <= set(op.get("remove") or []):
                op["remove"] = in_now  # removals a cut-off run already made are not redone
            else:
                stale.append(f"{op['name'] or op['customer']}: {op['slot']} is now "
                             f"{', '.join(in_now) or 'none'}, the plan expected "
                             f"{op['before'] or 'none'}")
        elif op["action"] in VALUE_SETS:
            value = erp.value(op["customer"], op["slot"])
            if value == op["after"]:
                continue
            if value != op["before"]:
                what = "terms are" if op["slot"] == "terms" else f"{op['slot']} is"
                stale.append(f"{op['name'] or op['customer']}: {what} now {value}, the "
                             f"plan expected {op['before']}")
        elif op["action"] in CREATES and op["after"] in (
                containers if op["action"] == "group.create"
                else erp.objects.get(op.get("target") or "", {})):
            continue
        left.append(i)
    left += _refill(ctx, plan, erp, slots)
    if stale:
        shown = "; ".join(stale[:5]) + (f" (+{len(stale) - 5} more)" if len(stale) > 5 else "")
        set_status(ctx.db, plan, "stale", shown)
        raise WritebackRefused(
            f"plan {plan.id} is stale: the ERP changed since it was made ({shown}). Nothing "
            "was written; make a new plan with `arconnect writeback TENANT --dry-run`.")
    return left


def _refill(ctx: Context, plan: Plan, erp: ErpState, slots: dict[str, GroupSlot]) -> list[int]:
    """A run cut off between clearing a container and adding its members back: operations
    that put back the members we had written there (appended to the plan)."""
    cleared: set[str] = set()
    with ctx.db.connect() as conn:
        for operation, target, response in conn.execute(
                select(LOG.c.operation, LOG.c.target, LOG.c.response).where(
                    LOG.c.plan_id == plan.id, LOG.c.status.in_(("ok", "pending")))):
            if operation == "group.clear":
                cleared.add(str(target))
            elif response and response.get("call") == "group.clear" and response.get("group"):
                cleared.add(str(response["group"]))
    if not cleared:
        return []
    planned = {(op["customer"], op["slot"]) for op in plan.ops}
    added = []
    for (cid, slot), state in load_states(ctx).items():
        group = state.get("value")
        if slot in slots and group in cleared and (cid, slot) not in planned \
                and cid not in erp.members.get(group, set()):
            plan.ops.append({"action": "group.set", "customer": cid, "name": None,
                             "slot": slot, "before": None, "after": group,
                             "reason": "Put back after an interrupted run cleared the group",
                             "priority": 0.0, "remove": []})
            added.append(len(plan.ops) - 1)
    if added:
        with ctx.db.begin() as conn:
            conn.execute(update(PLAN).where(PLAN.c.id == plan.id).values(ops=plan.ops))
    return added


def apply_plan(ctx: Context, plan: Plan, *, approved_by: str | None = None,
               fresh: bool = False, budget: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> ApplyResult:
    """Carry out ``plan`` (fresh: just made against the ERP as it is; else re-validated).

    One apply per tenant at a time, across processes (:func:`arconnect.store.locks.tenant_lock`;
    a killed apply releases it with its process).

    Raises:
        WritebackRefused: the plan needs approval and has none, or is stale, or another apply
            of the tenant is running.
    """
    try:
        with tenant_lock(ctx.db, "writeback", tenant_id(ctx)):
            return _apply_plan(ctx, plan, approved_by=approved_by, fresh=fresh, budget=budget,
                               progress=progress)
    except LockBusy:
        raise WritebackRefused(
            f"another write-back of {ctx.tenant.name} is running (a scheduled run or another "
            "`--apply`); nothing was written — run it again when that one ends") from None


def _allowed(ctx: Context, budget: int | None) -> int:
    """Write calls this apply may make: ``budget``, else the platform's day limit's share
    (``ARCONNECT_WRITEBACK_DAILY_SHARE``) less the calls of the last 24 hours."""
    if budget is not None:
        return budget
    daily = ctx.writer.daily_budget(ctx.settings)
    if daily is None:
        return 10**9
    return max(int(daily * ctx.settings.writeback_daily_share)
               - calls_today(ctx.db, ctx.tenant), 0)


def _apply_plan(ctx: Context, plan: Plan, *, approved_by: str | None,
                fresh: bool, budget: int | None,
                progress: Callable[[int, int], None] | None) -> ApplyResult:
    if plan.status in ("applied", "stale", "superseded", "failed"):
        raise WritebackRefused(f"plan {plan.id} is {plan.status}; make a new one with "
                               "`arconnect writeback TENANT --dry-run`")
    if approved_by and plan.needs_approval and plan.approved_by is None:
        plan = approve_plan(ctx.db, ctx.tenant, plan.id, approved_by)
    if plan.needs_approval and plan.approved_by is None:
        raise WritebackRefused(
            f"plan {plan.id} needs an approval ({plan.approval_reason}): review it with "
            f"`arconnect writeback {ctx.tenant.arg} --dry-run`, then apply it with "
            f"`--apply --plan {plan.id}`. Nothing was written.")
    done = _done_ops(ctx.db, plan)
    todo = [i for i in range(len(plan.ops)) if i not in done]
    customers: dict[str, StoredCustomer]
    if fresh and plan.erp is not None:
        erp = plan.erp
        customers = load_customers(ctx)
    else:
        if ctx.refresh is not None:
            ctx.refresh()
        customers = load_customers(ctx)
        erp = read_erp(ctx, customers)
        if not fresh:
            todo = _revalidate(ctx, plan, todo, erp)
    result = ApplyResult(plan, "applied")
    set_status(ctx.db, plan, "applying")
    untouchable = {c.id for c in customers.values() if c.archived}
    sub = [plan.ops[i] for i in todo]
    units = ctx.writer.compile(sub, erp, untouchable)
    for u in units:
        for call in u.calls:
            call.ops = [todo[j] for j in call.ops]
    allowed = _allowed(ctx, budget)
    total_calls = sum(len(u.calls) for u in units)
    _record_local(ctx, plan, [i for i in todo if plan.ops[i]["action"] in LOCAL_ACTIONS],
                  result)
    try:
        for unit in units:
            if len(unit.calls) > allowed:
                result.status = "partial"
                result.remaining = sum(len(u.calls) for u in units[units.index(unit):])
                break
            for call in unit.calls:
                ctx.writer.resolve(call, erp)
                if call.label == "group.clear":
                    _log_clear_intent(ctx, plan, call)
                ok = _send(ctx, plan, call, erp, result)
                allowed -= 1
                if progress:
                    progress(result.write_calls, total_calls)
                if not ok and call.label == "group.clear":
                    break  # never re-fill a group whose clearing failed
    except RateLimitedDaily as err:
        # The platform's day limit ran out under us (syncs and other apps share it): the call
        # was not made; the plan resumes on the next run (a cleared group is re-filled first).
        result.status = "partial"
        result.remaining = total_calls - result.write_calls
        result.errors.append(str(err))
    except ArconnectError as err:
        # The ERP stopped the apply (a scope the connection lacks, a revoked grant...): what
        # was written is recorded; the plan is partial, with the reason, and resumes once the
        # cause is fixed (pending_plan picks it up before a new plan).
        set_status(ctx.db, plan, "partial", str(err))
        raise
    if result.status != "partial" and result.failed:
        result.status = "failed" if not result.done else "applied_with_errors"
    status = {"applied": "applied", "partial": "partial", "failed": "failed",
              "applied_with_errors": "applied"}[result.status]
    set_status(ctx.db, plan, status, "; ".join(result.errors[:5]) or None)
    if plan.kind == "rollback" and status == "applied":
        lock_rolled_back(ctx, plan)
    if plan.kind == "remove_all" and status == "applied":
        forget_all(ctx)
    return result


def _record_local(ctx: Context, plan: Plan, ops: list[int], result: ApplyResult) -> None:
    """Audit and record the operations that change nothing in the ERP (one transaction)."""
    if not ops:
        return
    at = now()
    with ctx.db.begin() as conn:
        conn.execute(LOG.insert(), [op_row(ctx, plan, i, True, at, None, {
            "status": None, "call": None, "path": None, "group": None, "final": True,
            "error": None}) for i in ops])
        record_states(conn, ctx, [plan.ops[i] for i in ops], at)
    result.done += len(ops)


def _log_clear_intent(ctx: Context, plan: Plan, call: WriteCall) -> None:
    """Write ahead, before a group is cleared: if the run dies between the clear and re-adding
    who stays, the next run knows to put them back (committed before the call is sent)."""
    with ctx.db.begin() as conn:
        conn.execute(LOG.insert().values(
            tenant_id=ctx.tenant.id, plan_id=plan.id, operation="group.clear",
            target=call.group, status="pending", approved_by=plan.approved_by,
            reason="About to clear the group and add back who stays",
            response={"path": call.path}, created_at=now(), call_id=call_key(plan, call)))


def call_key(plan: Plan, call: WriteCall) -> str:
    """The idempotency key of one call of a plan: the plan id and a digest of the call."""
    digest = hashlib.sha256(json.dumps([call.method, call.path, call.body],
                                       sort_keys=True, default=str).encode()).hexdigest()
    return f"{plan.id}:{digest[:48]}"


def _send(ctx: Context, plan: Plan, call: WriteCall, erp: ErpState,
          result: ApplyResult) -> bool:
    """One call, then its operations' audit rows and states in one transaction."""
    key = call_key(plan, call)
    out = ctx.writer.send(ctx.client, call, key, plan.ops, erp)
    result.write_calls += out.write_calls
    status, ok, message, refused = out.status, out.ok, out.message, out.refused
    at = now()
    with ctx.db.begin() as conn:
        named = {plan.ops[i]["after"]: plan.ops[i] for i in call.ops
                 if plan.ops[i]["action"] in CREATES}
        for name, oid in out.created.items():
            op = named.get(name)
            if op is not None:
                kind = ctx.writer.object_kind if op["action"] == "group.create" \
                    else str(op.get("target"))
                conn.execute(OBJ.insert().values(tenant_id=ctx.tenant.id, kind=kind,
                                                 external_id=oid, name=name, created_at=at))
        stray = refused.get(None)  # refused elements no operation of the call stands for
        if not call.ops:
            conn.execute(LOG.insert().values(
                tenant_id=ctx.tenant.id, plan_id=plan.id, operation=call.label,
                target=call.group, status="ok" if ok and not stray else "error",
                approved_by=plan.approved_by,
                response={"status": status, "path": call.path, "error": message or stray},
                created_at=at, call_id=key))
        logs, states = [], []
        for i in call.ops:
            op = plan.ops[i]
            final = not (op["action"] == "group.set" and op["after"]
                         and call.label != "group.add")
            done = ok and i not in refused
            logs.append(op_row(ctx, plan, i, done, at, key, {
                "status": status, "call": call.label, "path": call.path, "group": call.group,
                "final": final, "error": refused.get(i, message)}))
            if done and op["customer"] and final:
                states.append(op)
        if logs:
            conn.execute(LOG.insert(), logs)
        record_states(conn, ctx, states, at)
    if ok:
        failed = [i for i in call.ops if i in refused]
        result.done += len(call.ops) - len(failed)
        result.failed += len(failed) + (1 if stray else 0)
        for i in failed:
            op = plan.ops[i]
            who = op["name"] or op["customer"] or op["after"]
            result.errors.append(f"{call.method} {call.path}: {who}: {refused[i]}")
        if stray:
            result.errors.append(f"{call.method} {call.path}: {stray}")
    else:
        result.failed += len(call.ops) or 1
        result.errors.append(f"{call.method} {call.path}: HTTP {status}: {message}")
    return ok


def min_write_calls(ctx: Context, plan: Plan, erp: ErpState) -> int:
    """The fewest write calls ``plan`` can take (the benchmark's yardstick; the writer's)."""
    return ctx.writer.min_calls(plan.ops, erp)
