"""Write-back: plan, approve, apply, audit, drift, rollback and clean-up.

The planner compares three states per customer and *slot* (a group slot, the terms, the limit
note; see :mod:`arconnect.writeback.outbound`):

* **desired** — what the latest segment assignment asks for;
* **last written** — what arconnect last wrote (``writeback_state``);
* **now** — what the ERP holds (groups read live; terms from the contacts, refreshed by an
  incremental sync right before planning).

and plans the smallest set of operations: nothing where ``now`` is already desired; a change
where ``now`` is what we last wrote (or we never wrote); **drift** where someone changed our
value by hand in the ERP — reported and left alone unless the mapping says ``enforce: true``
(a locked customer is never overwritten automatically) or the customer is marked for
overwrite with ``arconnect drift --overwrite``.

A plan is stored with its operations (``writeback_plan``). Applying it compiles the operations
into the platform's fewest calls, runs them within the day's call budget in order of priority
(largest open balance first), and records every operation in the audit log in the same
transaction as the new ``writeback_state``. Each call carries an ``Idempotency-Key`` made of the
plan id and the call's content, so a run killed after a call and before its commit replays the
call without a second effect; a resumed plan skips operations the audit log already holds.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from arconnect.adapters.base import HttpClient
from arconnect.adapters.xero.writer import GROUP_LIMIT, Call, XeroWriter
from arconnect.errors import ArconnectError, NotFoundError, RateLimitedDaily, WritebackRefused
from arconnect.segmenter.rules import Rules
from arconnect.settings import Settings
from arconnect.store.locks import LockBusy, tenant_lock
from arconnect.store.models import (
    Customer,
    SegmentAssignment,
    Tenant,
    WritebackLog,
    WritebackObject,
    WritebackPlan,
    WritebackState,
)
from arconnect.store.upsert import upsert
from arconnect.writeback.outbound import GroupSlot, Outbound

_A = SegmentAssignment.__table__  # type: ignore[attr-defined]
_C = Customer.__table__  # type: ignore[attr-defined]
_STATE = WritebackState.__table__  # type: ignore[attr-defined]
_LOG = WritebackLog.__table__  # type: ignore[attr-defined]
_PLAN = WritebackPlan.__table__  # type: ignore[attr-defined]
_OBJ = WritebackObject.__table__  # type: ignore[attr-defined]

GROUP = "contact_group"


def _now() -> datetime:
    return datetime.now(UTC)


# -- what we know of a tenant -----------------------------------------------------------------


@dataclass
class _Customer:
    id: str
    name: str | None
    archived: bool
    terms: dict[str, Any] | None
    assignment: dict[str, Any] | None
    priority: float


@dataclass
class ErpState:
    """What the ERP holds now: its groups (name -> id), the members of ours, and terms."""

    groups: dict[str, str]
    members: dict[str, set[str]]
    calls: int = 0

    def slot_groups(self, slot: GroupSlot, customer: str) -> list[str]:
        return sorted(g for g in slot.names.values() if customer in self.members.get(g, ()))


@dataclass
class Drift:
    """A value someone changed by hand in the ERP since arconnect wrote it."""

    customer: str
    name: str | None
    slot: str
    written: Any
    now: Any
    desired: Any
    locked: bool


@dataclass
class Plan:
    """A planned write-back (also what is stored in ``writeback_plan``)."""

    id: str
    tenant: Tenant
    kind: str
    ops: list[dict[str, Any]]
    drift: list[Drift] = field(default_factory=list)
    needs_approval: bool = False
    approval_reason: str | None = None
    status: str = "ready"
    summary: dict[str, Any] = field(default_factory=dict)
    approved_by: str | None = None
    rollback_of: str | None = None
    erp: ErpState | None = None  # what the plan was made against (not stored)


@dataclass
class ApplyResult:
    plan: Plan
    status: str  # applied | partial | failed
    write_calls: int = 0
    done: int = 0
    failed: int = 0
    remaining: int = 0
    errors: list[str] = field(default_factory=list)


# -- context ----------------------------------------------------------------------------------


@dataclass
class Context:
    """Everything a write-back of one tenant needs: the store, the ERP client, the writer,
    the outbound mapping and the rules (tags -> dimensions)."""

    db: Engine
    tenant: Tenant
    client: HttpClient
    outbound: Outbound
    rules: Rules
    writer: XeroWriter
    settings: Settings
    refresh: Callable[[], None] | None = None  # refreshes the contacts (terms) in the store

    @property
    def tag_dimension(self) -> dict[str, str]:
        return {t: d.name for d in self.rules.dimensions for t in d.tags}


def _tenant_id(ctx: Context) -> int:
    assert ctx.tenant.id is not None
    return ctx.tenant.id


# -- reading ----------------------------------------------------------------------------------


def _customers(ctx: Context) -> dict[str, _Customer]:
    tid = _tenant_id(ctx)
    with ctx.db.connect() as conn:
        rows = conn.execute(
            select(_C.c.external_id, _C.c.name, _C.c.is_archived, _C.c.terms_days,
                   _C.c.terms_type, _C.c.merged_into_external_id)
            .where(_C.c.tenant_id == tid)).all()
        assigned = conn.execute(
            select(_A.c.customer_external_id, _A.c.segment, _A.c.tags, _A.c.credit_limit,
                   _A.c.terms_days, _A.c.credit_hold, _A.c.locked, _A.c.metrics,
                   _A.c.reasons).where(_A.c.tenant_id == tid)).mappings().all()
    by_id = {str(a["customer_external_id"]): dict(a) for a in assigned}
    out = {}
    for ext, name, archived, days, ttype, merged in rows:
        if merged is not None:
            continue
        a = by_id.get(str(ext))
        terms = None if days is None else {"Day": int(days),
                                           "Type": ttype or "DAYSAFTERBILLDATE"}
        open_balance = ((a or {}).get("metrics") or {}).get("open_balance") or 0
        out[str(ext)] = _Customer(str(ext), name, bool(archived), terms, a,
                                  float(open_balance))
    return out


def _states(ctx: Context) -> dict[tuple[str, str], dict[str, Any]]:
    with ctx.db.connect() as conn:
        rows = conn.execute(select(_STATE.c.customer_external_id, _STATE.c.target,
                                   _STATE.c.value).where(_STATE.c.tenant_id == _tenant_id(ctx)))
        return {(str(c), str(t)): dict(v or {}) for c, t, v in rows}


def read_erp(ctx: Context) -> ErpState:
    """The ERP's groups and the members of every group write-back may use."""
    groups = ctx.writer.read_groups(ctx.client)
    calls = 1
    members: dict[str, set[str]] = {}
    for name in ctx.outbound.group_names():
        if name in groups:
            members[name] = set(ctx.writer.read_members(ctx.client, groups[name]))
            calls += 1
    return ErpState(groups, members, calls)


# -- planning ---------------------------------------------------------------------------------


def _new_plan_id() -> str:
    return f"wb-{_now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _desired_terms(ctx: Context, c: _Customer, state: dict[str, Any] | None
                   ) -> tuple[dict[str, Any] | None, bool]:
    """(the terms a customer should have, whether we manage them at all)."""
    days = (c.assignment or {}).get("terms_days")
    if days is not None:
        return {"Day": int(days), "Type": ctx.outbound.terms_type}, True
    if state is not None:  # we wrote terms before: the customer's own come back
        return state.get("original"), True
    return None, False


def _limit_text(ctx: Context, c: _Customer, previous: Any) -> str:
    a = c.assignment or {}
    currency = ctx.tenant.base_currency or ""
    return ctx.outbound.note_template.format(
        limit=_amount(a.get("credit_limit")), currency=currency,
        previous=_amount(previous) if previous is not None else "none",
        segment=a.get("segment"), date=date.today().isoformat())


def _amount(value: Any) -> str:
    return f"{Decimal(str(value)):,.2f}" if value is not None else "none"


def _op(action: str, c: _Customer | None, slot: str, before: Any, after: Any, reason: str,
        **extra: Any) -> dict[str, Any]:
    return {"action": action, "customer": c.id if c else None, "name": c.name if c else None,
            "slot": slot, "before": before, "after": after, "reason": reason,
            "priority": c.priority if c else 0.0, **extra}


def _reason(c: _Customer, fallback: str) -> str:
    reasons = (c.assignment or {}).get("reasons") or []
    return str(reasons[0]) if reasons else fallback


def build_plan(ctx: Context, *, erp: ErpState | None = None,
               desired_override: dict[tuple[str, str], Any] | None = None,
               kind: str = "segments") -> Plan:
    """Plan the write-back of ``ctx.tenant`` (nothing is written or stored).

    ``desired_override`` (customer, slot) -> value replaces the segments' wish for those slots
    and leaves every other slot alone (rollback).

    Raises:
        WritebackRefused: the plan needs an ERP object the admin must create, or more groups
            than the organisation may hold.
    """
    if ctx.refresh is not None:
        ctx.refresh()
    erp = erp or read_erp(ctx)
    customers = _customers(ctx)
    states = _states(ctx)
    out = ctx.outbound
    tag_dim = ctx.tag_dimension
    ops: list[dict[str, Any]] = []
    drift: list[Drift] = []
    needed: set[str] = set()
    moved = 0
    assigned = sum(1 for c in customers.values() if c.assignment is not None)

    def wanted(c: _Customer, slot: str, natural: Callable[[], Any]) -> tuple[bool, Any]:
        if desired_override is None:
            return True, natural()
        key = (c.id, slot)
        return (key in desired_override), desired_override.get(key)

    for c in sorted(customers.values(), key=lambda c: (-c.priority, c.id)):
        if c.archived or (c.assignment is None and desired_override is None):
            continue
        locked = bool((c.assignment or {}).get("locked"))
        for slot in out.groups:
            name = f"group:{slot.slot}"
            take, desired = wanted(c, name, partial(slot.group_for, c.assignment or {},
                                                    tag_dim))
            if not take:
                continue
            now = erp.slot_groups(slot, c.id)
            state = states.get((c.id, name))
            if now == ([desired] if desired else []) or _held(state, locked):
                continue
            written = state.get("value") if state else None
            force = bool(state and state.get("force"))
            by_hand = state is not None and now != ([written] if written else [])
            if by_hand and not force and not (out.enforce and not locked):
                drift.append(Drift(c.id, c.name, name, written, now, desired, locked))
                continue
            before = now[0] if len(now) == 1 else (", ".join(now) or None)
            reason = _reason(c, f"{slot.slot}: {desired or 'none'}")
            if force or by_hand:
                reason = f"Overwrites a change made in the ERP ({before or 'none'}); {reason}"
            ops.append(_op("group.set", c, name, before, desired, reason, remove=now))
            if desired and desired not in erp.groups:
                needed.add(desired)
            if slot.source == "segment":
                moved += 1
        if out.terms:
            take, _ = wanted(c, "terms", lambda: None)
            state = states.get((c.id, "terms"))
            if desired_override is None:
                desired_terms, managed = _desired_terms(ctx, c, state)
            else:
                desired_terms, managed = desired_override.get((c.id, "terms")), take
            if managed and desired_terms != c.terms and not _held(state, locked):
                written = state.get("value") if state else None
                if state is not None and c.terms != written and not state.get("force"):
                    if not (out.enforce and not locked):
                        drift.append(Drift(c.id, c.name, "terms", written, c.terms,
                                           desired_terms, locked))
                    continue
                if desired_terms is None:
                    # Xero's API cannot clear a contact's terms: stop managing them.
                    ops.append(_op("terms.release", c, "terms", c.terms, c.terms,
                                   "Terms no longer set by a segment; the contact had none "
                                   "of its own, which the API cannot restore: left as they are"))
                else:
                    days = (c.assignment or {}).get("terms_days")
                    reason = (f"Payment terms net {days} for {(c.assignment or {})['segment']}"
                              if days is not None and desired_override is None
                              else "The contact's own terms come back")
                    ops.append(_op("terms.set", c, "terms", c.terms, desired_terms, reason,
                                   original=(state or {}).get("original", c.terms),
                                   restore=days is None or desired_override is not None))
        if out.limit_note and desired_override is None and c.assignment is not None:
            limit = c.assignment.get("credit_limit")
            state = states.get((c.id, "limit_note"))
            written = state.get("value") if state else None
            if limit is not None and (written is None or Decimal(str(written))
                                      != Decimal(str(limit))):
                ops.append(_op("note.add", c, "limit_note", written, str(limit),
                               _reason(c, "credit limit"), text=_limit_text(ctx, c, written)))
    _require_groups(ctx, erp, needed)
    create = [_op("group.create", None, "object", None, n, "A group write-back uses")
              for n in sorted(needed)]
    plan = Plan(_new_plan_id(), ctx.tenant, kind, create + ops, drift, erp=erp)
    plan.summary = _summary(plan, moved, assigned, erp)
    share = moved / assigned if assigned else 0.0
    if ctx.settings.writeback_approval:
        plan.needs_approval, plan.approval_reason = True, "approval is on for every plan"
    if share > ctx.settings.writeback_approval_share:
        plan.needs_approval = True
        plan.approval_reason = (f"it moves {moved:,} of {assigned:,} customers ({share:.0%}), "
                                f"more than {ctx.settings.writeback_approval_share:.0%}")
    return plan


def _held(state: dict[str, Any] | None, locked: bool) -> bool:
    """An adopted ERP value (``arconnect drift --adopt``) is kept while the customer stays
    locked; unlocking the customer hands the slot back to the segments."""
    return bool(state and state.get("held") and not state.get("force") and locked)


def _require_groups(ctx: Context, erp: ErpState, needed: set[str]) -> None:
    """Refuse before any write: groups the admin must create, and the 100-group limit."""
    slots = ctx.outbound.group_names()
    admin = sorted(n for n in needed if not slots[n].create)
    if admin:
        raise WritebackRefused(
            f"tenant {ctx.tenant.name}: the mapping puts customers in Xero contact group(s) "
            f"{', '.join(repr(n) for n in admin)}, which the Xero admin must create (the slot "
            "says `create: false`) and which do not exist; create them in Xero (Contacts › "
            "Groups › New group) or set `create: true` in the mapping's outbound section. "
            "Nothing was written.")
    if len(erp.groups) + len(needed) > GROUP_LIMIT:
        raise WritebackRefused(
            f"tenant {ctx.tenant.name}: Xero allows {GROUP_LIMIT} contact groups per "
            f"organisation; it has {len(erp.groups)} and this plan needs {len(needed)} more "
            f"({', '.join(sorted(needed))}). Delete unused groups in Xero or use fewer group "
            "slots in the mapping's outbound section. Nothing was written.")


def _summary(plan: Plan, moved: int, assigned: int, erp: ErpState) -> dict[str, Any]:
    by_action: dict[str, int] = {}
    for op in plan.ops:
        by_action[op["action"]] = by_action.get(op["action"], 0) + 1
    return {"operations": by_action, "moved": moved, "customers": assigned,
            "drift": len(plan.drift), "read_calls": erp.calls}


# -- storing plans ----------------------------------------------------------------------------


def save_plan(db: Engine, plan: Plan) -> None:
    assert plan.tenant.id is not None
    now = _now()
    with db.begin() as conn:
        if plan.kind == "segments":  # an older plan that never ran is superseded
            _supersede(conn, plan.tenant, now)
        conn.execute(_PLAN.insert().values(
            id=plan.id, tenant_id=plan.tenant.id, kind=plan.kind, status=plan.status,
            created_at=now, updated_at=now, needs_approval=plan.needs_approval,
            approval_reason=plan.approval_reason, approved_by=plan.approved_by,
            rollback_of=plan.rollback_of, ops=plan.ops, summary=plan.summary))


def _supersede(conn: Any, tenant: Tenant, now: datetime) -> None:
    conn.execute(update(_PLAN).where(
        _PLAN.c.tenant_id == tenant.id, _PLAN.c.kind == "segments",
        _PLAN.c.status == "ready").values(status="superseded", updated_at=now))


def supersede_ready(db: Engine, tenant: Tenant) -> None:
    """Nothing is left to write: a plan still waiting for its approval is moot."""
    with db.begin() as conn:
        _supersede(conn, tenant, _now())


def load_plan(db: Engine, tenant: Tenant, plan_id: str) -> Plan:
    with db.connect() as conn:
        row = conn.execute(select(_PLAN).where(_PLAN.c.id == plan_id,
                                               _PLAN.c.tenant_id == tenant.id)).mappings().first()
    if row is None:
        raise NotFoundError(f"tenant {tenant.name}: no write-back plan {plan_id!r} (see "
                            "`arconnect audit` or make one with `arconnect writeback --dry-run`)")
    return Plan(row["id"], tenant, row["kind"], list(row["ops"] or []), [],
                bool(row["needs_approval"]), row["approval_reason"], row["status"],
                dict(row["summary"] or {}), row["approved_by"], row["rollback_of"])


def pending_plan(db: Engine, tenant: Tenant) -> Plan | None:
    """The tenant's approved or partly applied plan, if any (applied before a new one)."""
    with db.connect() as conn:
        row = conn.execute(select(_PLAN.c.id).where(
            _PLAN.c.tenant_id == tenant.id,
            _PLAN.c.status.in_(("approved", "partial", "applying")),
        ).order_by(_PLAN.c.created_at.desc())).first()
    return load_plan(db, tenant, row[0]) if row else None


def ready_plan(db: Engine, tenant: Tenant) -> Plan | None:
    """The tenant's newest segments plan that was made but neither approved nor applied."""
    with db.connect() as conn:
        row = conn.execute(select(_PLAN.c.id).where(
            _PLAN.c.tenant_id == tenant.id, _PLAN.c.kind == "segments",
            _PLAN.c.status == "ready").order_by(_PLAN.c.created_at.desc())).first()
    return load_plan(db, tenant, row[0]) if row else None


def same_plan(a: Plan, b: Plan) -> bool:
    """Whether two plans would make the same changes (same operations, same values) under
    the same approval requirement."""
    def key(plan: Plan) -> list[str]:
        return sorted(json.dumps([op["action"], op["customer"], op["slot"], op["before"],
                                  op["after"]], sort_keys=True, default=str)
                      for op in plan.ops)
    return a.needs_approval == b.needs_approval and key(a) == key(b)


@dataclass(frozen=True)
class PlanChoice:
    """The plan to show or apply next (:func:`plan_or_resume`)."""

    plan: Plan
    fresh: bool  # made and saved now: applied from its first operation
    resumed: bool  # approved or partly applied before: picked up where it stopped


def plan_or_resume(ctx: Context, *, kind: str = "segments", rollback_of: str | None = None,
                   resume: bool = True, save_empty: bool = True) -> PlanChoice:
    """The one sequence ``arconnect writeback``, ``arconnect run`` and ``tenants disconnect``
    share to pick the plan to show or apply.

    1. With ``resume``, a plan already approved or partly applied goes first: for ``kind``
       "segments" whatever it is (a run finishes what is in flight before planning anew), for
       "remove_all" only a remove-all plan.
    2. Else a new plan of ``kind`` is made ("segments", "rollback" of run ``rollback_of``,
       "remove_all").
    3. A segments plan that makes the same changes as the one waiting for its approval is that
       one: the id someone may be approving stays. One with nothing to write supersedes the
       waiting plan and, without ``save_empty``, is not stored.
    4. A new plan is saved before anything is written.
    """
    db, tenant = ctx.db, ctx.tenant
    pending = pending_plan(db, tenant) if resume else None
    if pending is not None and kind in ("segments", pending.kind):
        return PlanChoice(pending, fresh=False, resumed=True)
    if kind == "rollback":
        if rollback_of is None:
            raise ValueError("a rollback plan needs the run it rolls back")
        plan = plan_rollback(ctx, rollback_of)
    elif kind == "remove_all":
        plan = plan_remove_all(ctx)
    else:
        plan = build_plan(ctx)
    if plan.kind == "segments":
        if not plan.ops and not save_empty:
            supersede_ready(db, tenant)
            return PlanChoice(plan, fresh=False, resumed=False)
        waiting = ready_plan(db, tenant)
        if waiting is not None and same_plan(waiting, plan):
            return PlanChoice(waiting, fresh=False, resumed=False)
    save_plan(db, plan)
    return PlanChoice(plan, fresh=True, resumed=False)


def approve_plan(db: Engine, tenant: Tenant, plan_id: str, by: str | None = None) -> Plan:
    """Approve plan ``plan_id`` (it runs on the next apply, re-validated against the ERP)."""
    plan = load_plan(db, tenant, plan_id)
    if plan.status not in ("ready", "approved"):
        raise WritebackRefused(f"plan {plan_id} is {plan.status}; only a ready plan can be "
                               "approved (make a new one with `arconnect writeback --dry-run`)")
    plan.approved_by = by or getpass.getuser()
    plan.status = "approved"
    with db.begin() as conn:
        conn.execute(update(_PLAN).where(_PLAN.c.id == plan_id).values(
            status="approved", approved_by=plan.approved_by, approved_at=_now(),
            updated_at=_now()))
    return plan


def _set_status(db: Engine, plan: Plan, status: str, error: str | None = None) -> None:
    plan.status = status
    with db.begin() as conn:
        conn.execute(update(_PLAN).where(_PLAN.c.id == plan.id).values(
            status=status, updated_at=_now(), error=error))


# -- applying ---------------------------------------------------------------------------------


def _done_ops(db: Engine, plan: Plan) -> set[int]:
    with db.connect() as conn:
        rows = conn.execute(select(_LOG.c.response).where(
            _LOG.c.plan_id == plan.id, _LOG.c.status == "ok"))
        # A move is done when the call that adds the customer to its new group went through
        # (its removal from the old one is logged too, but is only half of it).
        return {int(r[0]["op"]) for r in rows if r[0] and "op" in r[0]
                and r[0].get("final", True)}


def calls_today(db: Engine, tenant: Tenant) -> int:
    """Write calls made for ``tenant`` in the last 24 hours (Xero's day window)."""
    since = _now() - timedelta(days=1)
    with db.connect() as conn:
        return int(conn.execute(select(func.count(func.distinct(_LOG.c.call_id))).where(
            _LOG.c.tenant_id == tenant.id, _LOG.c.created_at >= since,
            _LOG.c.call_id.is_not(None))).scalar_one())


def _revalidate(ctx: Context, plan: Plan, todo: list[int], erp: ErpState,
                customers: dict[str, _Customer]) -> list[int]:
    """Operations of a stored plan still to do; raises when the ERP moved under it."""
    slots = {f"group:{s.slot}": s for s in ctx.outbound.groups}
    stale = []
    left = []
    for i in todo:
        op = plan.ops[i]
        if op["action"] == "group.set":
            now = erp.slot_groups(slots[op["slot"]], op["customer"]) if op["slot"] in slots \
                else []
            if now == ([op["after"]] if op["after"] else []):
                continue  # already there (a run cut off after its call)
            if set(now) <= set(op.get("remove") or []):
                op["remove"] = now  # removals a cut-off run already made are not redone
            else:
                stale.append(f"{op['name'] or op['customer']}: {op['slot']} is now "
                             f"{', '.join(now) or 'none'}, the plan expected "
                             f"{op['before'] or 'none'}")
        elif op["action"] == "terms.set":
            c = customers.get(op["customer"])
            now_terms = c.terms if c else None
            if now_terms == op["after"]:
                continue
            if now_terms != op["before"]:
                stale.append(f"{op['name'] or op['customer']}: terms are now {now_terms}, the "
                             f"plan expected {op['before']}")
        elif op["action"] == "group.create" and op["after"] in erp.groups:
            continue
        left.append(i)
    left += _refill(ctx, plan, erp, slots)
    if stale:
        shown = "; ".join(stale[:5]) + (f" (+{len(stale) - 5} more)" if len(stale) > 5 else "")
        _set_status(ctx.db, plan, "stale", shown)
        raise WritebackRefused(
            f"plan {plan.id} is stale: the ERP changed since it was made ({shown}). Nothing "
            "was written; make a new plan with `arconnect writeback TENANT --dry-run`.")
    return left


def _refill(ctx: Context, plan: Plan, erp: ErpState, slots: dict[str, GroupSlot]) -> list[int]:
    """A run cut off between clearing a group and adding its members back: operations that
    put back the members we had written there (appended to the plan)."""
    cleared: set[str] = set()
    with ctx.db.connect() as conn:
        for operation, target, response in conn.execute(
                select(_LOG.c.operation, _LOG.c.target, _LOG.c.response).where(
                    _LOG.c.plan_id == plan.id, _LOG.c.status.in_(("ok", "pending")))):
            if operation == "group.clear":
                cleared.add(str(target))
            elif response and response.get("call") == "group.clear" and response.get("group"):
                cleared.add(str(response["group"]))
    if not cleared:
        return []
    planned = {(op["customer"], op["slot"]) for op in plan.ops}
    added = []
    for (cid, slot), state in _states(ctx).items():
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
            conn.execute(update(_PLAN).where(_PLAN.c.id == plan.id).values(ops=plan.ops))
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
        with tenant_lock(ctx.db, "writeback", _tenant_id(ctx)):
            return _apply_plan(ctx, plan, approved_by=approved_by, fresh=fresh, budget=budget,
                               progress=progress)
    except LockBusy:
        raise WritebackRefused(
            f"another write-back of {ctx.tenant.name} is running (a scheduled run or another "
            "`--apply`); nothing was written — run it again when that one ends") from None


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
    if fresh and plan.erp is not None:
        erp = plan.erp
        customers = _customers(ctx)
    else:
        if ctx.refresh is not None:
            ctx.refresh()
        erp = read_erp(ctx)
        customers = _customers(ctx)
        if not fresh:
            todo = _revalidate(ctx, plan, todo, erp, customers)
    result = ApplyResult(plan, "applied")
    _set_status(ctx.db, plan, "applying")
    group_ids = dict(erp.groups)
    members = erp.members
    untouchable = {c.id for c in customers.values() if c.archived}
    sub = [plan.ops[i] for i in todo]
    units = ctx.writer.compile(sub, group_ids, members, untouchable)
    for u in units:
        for call in u.calls:
            call.ops = [todo[j] for j in call.ops]
    allowed = budget if budget is not None else max(
        int(ctx.settings.xero_day_limit * ctx.settings.writeback_daily_share)
        - calls_today(ctx.db, ctx.tenant), 0)
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
                ctx.writer.resolve(call, group_ids)
                if call.label == "group.clear":
                    _log_clear_intent(ctx, plan, call)
                ok = _send(ctx, plan, call, group_ids, result)
                allowed -= 1
                if progress:
                    progress(result.write_calls, total_calls)
                if not ok and call.label == "group.clear":
                    break  # never re-fill a group whose clearing failed
    except RateLimitedDaily as err:
        # Xero's day limit ran out under us (syncs and other apps share it): the call was not
        # made; the plan resumes on the next run (a cleared group is re-filled first).
        result.status = "partial"
        result.remaining = total_calls - result.write_calls
        result.errors.append(str(err))
    except ArconnectError as err:
        # The ERP stopped the apply (a scope the connection lacks, a revoked grant...): what
        # was written is recorded; the plan is partial, with the reason, and resumes once the
        # cause is fixed (pending_plan picks it up before a new plan).
        _set_status(ctx.db, plan, "partial", str(err))
        raise
    if result.status != "partial" and result.failed:
        result.status = "failed" if not result.done else "applied_with_errors"
    status = {"applied": "applied", "partial": "partial", "failed": "failed",
              "applied_with_errors": "applied"}[result.status]
    _set_status(ctx.db, plan, status, "; ".join(result.errors[:5]) or None)
    if plan.kind == "rollback" and status == "applied":
        _lock_rolled_back(ctx, plan)
    if plan.kind == "remove_all" and status == "applied":
        _forget_all(ctx)
    return result


# Operations that need no call to the ERP: only what arconnect manages changes.
LOCAL_ACTIONS = ("terms.release",)


def _record_local(ctx: Context, plan: Plan, ops: list[int], result: ApplyResult) -> None:
    """Audit and record the operations that change nothing in the ERP (one transaction)."""
    if not ops:
        return
    now = _now()
    with ctx.db.begin() as conn:
        conn.execute(_LOG.insert(), [_op_row(ctx, plan, i, True, now, None, {
            "status": None, "call": None, "path": None, "group": None, "final": True,
            "error": None}) for i in ops])
        _record_states(conn, ctx, [plan.ops[i] for i in ops], now)
    result.done += len(ops)


def _op_row(ctx: Context, plan: Plan, i: int, ok: bool, now: datetime, call_id: str | None,
            response: dict[str, Any]) -> dict[str, Any]:
    """The audit row of operation ``i`` of ``plan`` (``response``: how the ERP answered)."""
    op = plan.ops[i]
    return dict(
        tenant_id=ctx.tenant.id, plan_id=plan.id, customer_external_id=op["customer"],
        operation=op["action"], target=op["after"] if op["slot"] == "object" else op["slot"],
        before={"value": op["before"]}, after={"value": op["after"]}, reason=op["reason"],
        approved_by=plan.approved_by, status="ok" if ok else "error",
        response={"op": i, **response}, created_at=now, call_id=call_id)


def _log_clear_intent(ctx: Context, plan: Plan, call: Call) -> None:
    """Write ahead, before a group is cleared: if the run dies between the clear and re-adding
    who stays, the next run knows to put them back (committed before the call is sent)."""
    with ctx.db.begin() as conn:
        conn.execute(_LOG.insert().values(
            tenant_id=ctx.tenant.id, plan_id=plan.id, operation="group.clear",
            target=call.group, status="pending", approved_by=plan.approved_by,
            reason="About to clear the group and add back who stays",
            response={"path": call.path}, created_at=_now(), call_id=_key(plan, call)))


def _key(plan: Plan, call: Call) -> str:
    digest = hashlib.sha256(json.dumps([call.method, call.path, call.body],
                                       sort_keys=True, default=str).encode()).hexdigest()
    return f"{plan.id}:{digest[:48]}"


def _send(ctx: Context, plan: Plan, call: Call, group_ids: dict[str, str],
          result: ApplyResult) -> bool:
    """One call, then its operations' audit rows and states in one transaction."""
    key = _key(plan, call)
    headers = {"Idempotency-Key": key} if call.method in ("PUT", "POST") else None
    response = ctx.client.request(call.method, ctx.writer.full_path(call.path), json=call.body,
                                  headers=headers, params=call.params)
    result.write_calls += 1
    status = response.status_code
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {"text": response.text[:500]}
    # Removing a contact that is no longer a member is what we wanted anyway. Xero answers
    # that case with a 400 whose wording is not documented: the group is read to be sure.
    ok = status < 300 or (call.label == "group.remove" and status in (400, 404)
                          and _not_a_member(ctx, call))
    message = None if ok else _error_text(body, response.text)
    # A 200 can still refuse some of its elements (summarizeErrors=false): those operations
    # failed, with Xero's message, and are retried by the next plan; the rest are done.
    refused = _refused_ops(ctx, plan, call, body) if status < 300 else {}
    if ok and call.label == "group.create":
        created = ctx.writer.created_groups(body)
        group_ids.update(created)
    now = _now()
    with ctx.db.begin() as conn:
        if call.label == "group.create" and ok:
            for name, gid in group_ids.items():
                if name in (plan.ops[i]["after"] for i in call.ops):
                    conn.execute(_OBJ.insert().values(
                        tenant_id=ctx.tenant.id, kind=GROUP, external_id=gid, name=name,
                        created_at=now))
        stray = refused.get(None)  # refused elements no operation of the call stands for
        if not call.ops:
            conn.execute(_LOG.insert().values(
                tenant_id=ctx.tenant.id, plan_id=plan.id, operation=call.label,
                target=call.group, status="ok" if ok and not stray else "error",
                approved_by=plan.approved_by,
                response={"status": status, "path": call.path, "error": message or stray},
                created_at=now, call_id=key))
        logs, states = [], []
        for i in call.ops:
            op = plan.ops[i]
            final = not (op["action"] == "group.set" and op["after"]
                         and call.label != "group.add")
            done = ok and i not in refused
            logs.append(_op_row(ctx, plan, i, done, now, key, {
                "status": status, "call": call.label, "path": call.path, "group": call.group,
                "final": final, "error": refused.get(i, message)}))
            if done and op["customer"] and final:
                states.append(op)
        if logs:
            conn.execute(_LOG.insert(), logs)
        _record_states(conn, ctx, states, now)
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


def _refused_ops(ctx: Context, plan: Plan, call: Call, body: Any) -> dict[int | None, str]:
    """Operations of ``call`` whose elements a successful answer refused: op index -> Xero's
    message; key None for refused elements no operation stands for (a member added back)."""
    refused = ctx.writer.refused_elements(call, body) if isinstance(body, dict) else {}
    if not refused:
        return {}
    out: dict[int | None, str] = {}
    known = set()
    for i in call.ops:
        op = plan.ops[i]
        name = str(op["after"] if op["action"] == "group.create" else op["customer"] or "")
        name = name if op["action"] == "group.create" else name.lower()
        known.add(name)
        message = refused.get(name) or refused.get("*")
        if message:
            out[i] = message
    others = [f"{k}: {m}" for k, m in refused.items() if k != "*" and k not in known]
    if others or ("*" in refused and not call.ops):
        out[None] = "; ".join(others or [refused["*"]])
    return out


def _not_a_member(ctx: Context, call: Call) -> bool:
    """After a refused per-contact removal: whether the contact is out of the group anyway."""
    group_id, _, contact = call.path.removeprefix("ContactGroups/").partition("/Contacts/")
    try:
        return contact.lower() not in ctx.writer.read_members(ctx.client, group_id)
    except ArconnectError:
        return False


def _error_text(body: Any, text: str) -> str:
    if isinstance(body, dict):
        found = []
        for el in body.get("Elements") or []:
            for e in el.get("ValidationErrors") or []:
                found.append(str(e.get("Message")))
        if found:
            return "; ".join(dict.fromkeys(found))
        if body.get("Message"):
            return str(body["Message"])
    return text[:300]


def _record_states(conn: Any, ctx: Context, ops: list[dict[str, Any]], now: datetime) -> None:
    """What we wrote for each op's customer and slot (terms keep the contact's own as
    ``original``, worked out when the plan was made); restored terms are no longer ours."""
    rows = []
    for op in ops:
        if op["action"] == "terms.release" or (op["action"] == "terms.set"
                                               and op.get("restore")):
            conn.execute(delete(_STATE).where(
                _STATE.c.tenant_id == ctx.tenant.id,
                _STATE.c.customer_external_id == op["customer"],
                _STATE.c.target == op["slot"]))
            continue
        value: dict[str, Any] = {"value": op["after"]}
        if op["action"] == "terms.set":
            value["original"] = op.get("original")
        rows.append({"tenant_id": ctx.tenant.id, "customer_external_id": op["customer"],
                     "target": op["slot"], "value": value, "written_at": now})
    if rows:
        upsert(conn, _STATE, rows, ("tenant_id", "customer_external_id", "target"))


def _write_state(conn: Any, ctx: Context, customer: str, slot: str, value: dict[str, Any],
                 now: datetime) -> None:
    upsert(conn, _STATE, [{"tenant_id": ctx.tenant.id, "customer_external_id": customer,
                           "target": slot, "value": value, "written_at": now}],
           ("tenant_id", "customer_external_id", "target"))


# -- drift ------------------------------------------------------------------------------------


def adopt_drift(ctx: Context, drift: Drift) -> None:
    """Keep the ERP's value: lock the customer (to the segment whose group it is in, for the
    segment slot) and remember the value as ours, so no plan overwrites it."""
    from arconnect.segmenter.service import lock_customer

    segment = None
    if drift.slot.startswith("group:"):
        slot = next(s for s in ctx.outbound.groups if f"group:{s.slot}" == drift.slot)
        if slot.source == "segment" and len(drift.now) == 1:
            segment = slot.value_of(drift.now[0])
        now_value: Any = drift.now[0] if len(drift.now) == 1 else None
    else:
        now_value = drift.now
    # Held while locked: to the ERP's segment for the segment slot, else where it is now.
    lock_customer(ctx.db, ctx.tenant, drift.customer, segment=segment, rules=ctx.rules)
    _put_state(ctx, drift.customer, drift.slot,
               {**_state_of(ctx, drift), "value": now_value, "held": True})
    _audit_local(ctx, drift, "drift.adopt")


def overwrite_drift(ctx: Context, drift: Drift) -> None:
    """Mark the slot so the next plan writes the segments' value over the ERP's."""
    _put_state(ctx, drift.customer, drift.slot, {**_state_of(ctx, drift), "force": True})
    _audit_local(ctx, drift, "drift.overwrite")


def _state_of(ctx: Context, drift: Drift) -> dict[str, Any]:
    """What is recorded for the drifted slot (the contact's own terms among it)."""
    with ctx.db.connect() as conn:
        old = conn.execute(select(_STATE.c.value).where(
            _STATE.c.tenant_id == ctx.tenant.id,
            _STATE.c.customer_external_id == drift.customer,
            _STATE.c.target == drift.slot)).scalar_one_or_none()
    return dict(old or {})


def _put_state(ctx: Context, customer: str, slot: str, value: dict[str, Any]) -> None:
    with ctx.db.begin() as conn:
        _write_state(conn, ctx, customer, slot, value, _now())


def _audit_local(ctx: Context, drift: Drift, operation: str) -> None:
    with ctx.db.begin() as conn:
        conn.execute(_LOG.insert().values(
            tenant_id=ctx.tenant.id, customer_external_id=drift.customer, operation=operation,
            target=drift.slot, before={"value": drift.written}, after={"value": drift.now},
            reason=f"{operation.split('.')[1]} by {getpass.getuser()}",
            approved_by=getpass.getuser(), status="ok", response=None, created_at=_now()))


# -- rollback and clean-up --------------------------------------------------------------------


def plan_rollback(ctx: Context, run: str) -> Plan:
    """The way back to the state before plan ``run`` was applied (its notes stay)."""
    with ctx.db.connect() as conn:
        rows = conn.execute(select(_LOG.c.customer_external_id, _LOG.c.target, _LOG.c.before,
                                   _LOG.c.operation).where(
            _LOG.c.tenant_id == ctx.tenant.id, _LOG.c.plan_id == run, _LOG.c.status == "ok",
            _LOG.c.customer_external_id.is_not(None)).order_by(_LOG.c.id)).all()
    if not rows:
        raise NotFoundError(f"tenant {ctx.tenant.name}: no applied write-back run {run!r} "
                            "(`arconnect audit TENANT` lists runs by plan id)")
    override: dict[tuple[str, str], Any] = {}
    for customer, target, before, operation in rows:
        if operation in ("group.set", "terms.set"):
            override.setdefault((customer, target), (before or {}).get("value"))
    plan = build_plan(ctx, desired_override=override, kind="rollback")
    plan.rollback_of = run
    plan.needs_approval = True
    plan.approval_reason = f"a rollback of {run}"
    return plan


def _lock_rolled_back(ctx: Context, plan: Plan) -> None:
    """Keep rolled-back customers where they were put back (else the next run re-moves them)."""
    from arconnect.segmenter.service import lock_customer

    slots = {f"group:{s.slot}": s for s in ctx.outbound.groups if s.source == "segment"}
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
    """Remove what write-back put in the ERP: our groups (cleared, then deleted) and the terms
    we set (the contacts' own come back); History notes stay as history."""
    if ctx.refresh is not None:
        ctx.refresh()
    erp = read_erp(ctx)
    with ctx.db.connect() as conn:
        owned = {str(r[0]) for r in conn.execute(select(_OBJ.c.name).where(
            _OBJ.c.tenant_id == ctx.tenant.id, _OBJ.c.kind == GROUP,
            _OBJ.c.removed_at.is_(None)))}
    ours = sorted(n for n in ctx.outbound.group_names() if n in erp.groups and (
        n in owned or ctx.outbound.group_names()[n].create))
    ops = [_op("group.delete", None, "object", n, None, "Remove all: arconnect's group")
           for n in ours]
    customers = _customers(ctx)
    for (cid, slot), state in sorted(_states(ctx).items()):
        c = customers.get(cid)
        if slot != "terms" or c is None or c.archived:
            continue
        original = state.get("original")
        if c.terms == state.get("value") and original is not None:
            ops.append(_op("terms.set", c, "terms", c.terms, original,
                           "The contact's own terms come back (remove all)",
                           original=original, restore=True))
    plan = Plan(_new_plan_id(), ctx.tenant, "remove_all", ops, [])
    plan.needs_approval = True
    plan.approval_reason = "removing everything write-back put in the ERP"
    plan.summary = _summary(plan, 0, len(customers), erp)
    return plan


def has_written(db: Engine, tenant: Tenant) -> bool:
    """Whether write-back left anything in the ERP that ``--remove-all`` would take away
    (a group we created, or a value we wrote and still manage; History notes do not count)."""
    with db.connect() as conn:
        state = conn.execute(select(_STATE.c.target).where(
            _STATE.c.tenant_id == tenant.id, _STATE.c.target != "limit_note").limit(1)).first()
        objects = conn.execute(select(_OBJ.c.id).where(
            _OBJ.c.tenant_id == tenant.id, _OBJ.c.removed_at.is_(None)).limit(1)).first()
    return state is not None or objects is not None


def _forget_all(ctx: Context) -> None:
    with ctx.db.begin() as conn:
        conn.execute(delete(_STATE).where(_STATE.c.tenant_id == ctx.tenant.id,
                                          _STATE.c.target != "limit_note"))
        conn.execute(update(_OBJ).where(_OBJ.c.tenant_id == ctx.tenant.id,
                                        _OBJ.c.removed_at.is_(None)).values(removed_at=_now()))


# -- audit ------------------------------------------------------------------------------------


def audit_rows(db: Engine, tenant: Tenant, *, plan_id: str | None = None,
               customer: str | None = None, since: datetime | None = None,
               limit: int = 200) -> list[dict[str, Any]]:
    """The audit trail, newest first: one row per operation with before, after, reason, plan,
    approver, time and the ERP's answer (and the customer's name, ``customer_name``).
    ``customer`` is the customer's ERP id or its name."""
    query = select(_LOG, _C.c.name.label("customer_name")).select_from(_LOG.outerjoin(
        _C, (_C.c.tenant_id == _LOG.c.tenant_id)
        & (_C.c.external_id == _LOG.c.customer_external_id))).where(
        _LOG.c.tenant_id == tenant.id)
    if plan_id:
        query = query.where(_LOG.c.plan_id == plan_id)
    if customer:
        query = query.where((_LOG.c.customer_external_id == customer) | (_C.c.name == customer))
    if since:
        query = query.where(_LOG.c.created_at >= since)
    with db.connect() as conn:
        rows = conn.execute(query.order_by(_LOG.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def plans(db: Engine, tenant: Tenant, limit: int = 20) -> list[dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(select(_PLAN.c.id, _PLAN.c.kind, _PLAN.c.status,
                                   _PLAN.c.created_at, _PLAN.c.needs_approval,
                                   _PLAN.c.approved_by, _PLAN.c.summary)
                            .where(_PLAN.c.tenant_id == tenant.id)
                            .order_by(_PLAN.c.created_at.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def min_write_calls(ctx: Context, plan: Plan, erp: ErpState) -> int:
    """The fewest write calls ``plan`` can take (the benchmark's yardstick)."""
    changes: dict[str, list[int]] = {}
    for op in plan.ops:
        if op["action"] != "group.set":
            continue
        for g in op.get("remove") or ():
            changes.setdefault(g, [0, 0, 0])[0] += 1
        if op["after"]:
            changes.setdefault(op["after"], [0, 0, 0])[1] += 1
    for g, v in changes.items():
        v[2] = len(erp.members.get(g, set())) - v[0] + v[1]
    terms = sum(1 for op in plan.ops if op["action"] == "terms.set")
    notes = sum(1 for op in plan.ops if op["action"] == "note.add")
    creates = 1 if any(op["action"] == "group.create" for op in plan.ops) else 0
    return creates + XeroWriter.min_calls({g: (v[0], v[1], v[2]) for g, v in changes.items()},
                                          terms, notes, ctx.writer.batch_size)

