"""The planner: what to write, per customer and slot, by slot kind.

It compares three states per customer and *slot* (see :mod:`arconnect.writeback.outbound`):

* **desired** — what the latest segment assignment asks for;
* **last written** — what arconnect last wrote (``writeback_state``);
* **now** — what the ERP holds, as the platform's writer reads it (memberships read live;
  field values from the customers, refreshed by an incremental sync right before planning).

and plans the smallest set of operations: nothing where ``now`` is already desired; a change
where ``now`` is what we last wrote (or we never wrote); **drift** where someone changed our
value by hand in the ERP — reported and left alone unless the mapping says ``enforce: true``
(a locked customer is never overwritten automatically) or the customer is marked for
overwrite with ``arconnect drift --overwrite``.

By slot kind:

* **membership** (``group.set``): the customer leaves the slot's other containers and joins
  the desired one; missing containers are created first (``group.create``) when the slot
  allows it.
* **reference** and **scalar** (``terms.set`` for the terms, ``field.set`` for the others):
  the field takes the desired value; when the segments stop setting it, the customer's own
  value (``original``, kept from the first write) comes back, or — when it had none and the
  API cannot clear a field — arconnect stops managing it (``terms.release``/``field.release``).
  A missing object a reference needs is created first (``object.create``) when the platform
  allows it, else the plan is refused before any write, naming it and where to create it.

Nothing here writes to the ERP or the store.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from arconnect.adapters.base import ErpState
from arconnect.errors import WritebackRefused
from arconnect.writeback.model import (
    STATE,
    A,
    C,
    Context,
    Drift,
    Plan,
    StoredCustomer,
    now,
    tenant_id,
)
from arconnect.writeback.outbound import LIMIT_FIELD, GroupSlot

__all__ = ["build_plan", "load_customers", "load_states", "read_erp"]


# -- reading ----------------------------------------------------------------------------------


def load_customers(ctx: Context) -> dict[str, StoredCustomer]:
    """The tenant's customers (merged ones left out) with their assignments, by ERP id."""
    tid = tenant_id(ctx)
    with ctx.db.connect() as conn:
        rows = conn.execute(
            select(C.c.external_id, C.c.name, C.c.is_archived, C.c.terms_days,
                   C.c.terms_type, C.c.merged_into_external_id, C.c.extra)
            .where(C.c.tenant_id == tid)).all()
        assigned = conn.execute(
            select(A.c.customer_external_id, A.c.segment, A.c.tags, A.c.credit_limit,
                   A.c.terms_days, A.c.credit_hold, A.c.locked, A.c.metrics,
                   A.c.reasons).where(A.c.tenant_id == tid)).mappings().all()
    by_id = {str(a["customer_external_id"]): dict(a) for a in assigned}
    out = {}
    for ext, name, archived, days, ttype, merged, extra in rows:
        if merged is not None:
            continue
        a = by_id.get(str(ext))
        open_balance = ((a or {}).get("metrics") or {}).get("open_balance") or 0
        row = {"terms_days": days, "terms_type": ttype, "extra": dict(extra or {})}
        out[str(ext)] = StoredCustomer(str(ext), name, bool(archived), row, a,
                                       float(open_balance))
    return out


def load_states(ctx: Context) -> dict[tuple[str, str], dict[str, Any]]:
    """What arconnect last wrote: (customer, slot) -> ``{"value": ..., "original": ...}``."""
    with ctx.db.connect() as conn:
        rows = conn.execute(select(STATE.c.customer_external_id, STATE.c.target,
                                   STATE.c.value).where(STATE.c.tenant_id == tenant_id(ctx)))
        return {(str(c), str(t)): dict(v or {}) for c, t, v in rows}


def read_erp(ctx: Context, customers: dict[str, StoredCustomer] | None = None) -> ErpState:
    """What the ERP holds for every slot write-back may use (the platform's writer reads it)."""
    customers = load_customers(ctx) if customers is None else customers
    rows = {c.id: c.row for c in customers.values()}
    return ctx.writer.read_state(ctx.client, ctx.outbound.specs(), rows)


# -- planning ---------------------------------------------------------------------------------


def new_plan_id() -> str:
    return f"wb-{now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def _limit_text(ctx: Context, c: StoredCustomer, previous: Any) -> str:
    a = c.assignment or {}
    currency = ctx.tenant.base_currency or ""
    return ctx.outbound.note_template.format(
        limit=_amount(a.get("credit_limit")), currency=currency,
        previous=_amount(previous) if previous is not None else "none",
        segment=a.get("segment"), date=date.today().isoformat())


def _amount(value: Any) -> str:
    return f"{Decimal(str(value)):,.2f}" if value is not None else "none"


def make_op(action: str, c: StoredCustomer | None, slot: str, before: Any, after: Any,
            reason: str, **extra: Any) -> dict[str, Any]:
    return {"action": action, "customer": c.id if c else None, "name": c.name if c else None,
            "slot": slot, "before": before, "after": after, "reason": reason,
            "priority": c.priority if c else 0.0, **extra}


def _reason(c: StoredCustomer, fallback: str) -> str:
    reasons = (c.assignment or {}).get("reasons") or []
    return str(reasons[0]) if reasons else fallback


def held(state: dict[str, Any] | None, locked: bool) -> bool:
    """An adopted ERP value (``arconnect drift --adopt``) is kept while the customer stays
    locked; unlocking the customer hands the slot back to the segments."""
    return bool(state and state.get("held") and not state.get("force") and locked)


def members_now(erp: ErpState, slot: GroupSlot, customer: str) -> list[str]:
    """The slot's containers ``customer`` is in now."""
    return sorted(g for g in slot.names.values() if customer in erp.members.get(g, ()))


def limit_value(assignment: dict[str, Any] | None) -> str | None:
    """A credit limit as a scalar slot holds it (a plain decimal string), or None."""
    limit = (assignment or {}).get("credit_limit")
    return None if limit is None else format(Decimal(str(limit)).normalize(), "f")


@dataclass
class _Planning:
    """One plan in the making."""

    ctx: Context
    erp: ErpState
    states: dict[tuple[str, str], dict[str, Any]]
    override: dict[tuple[str, str], Any] | None
    ops: list[dict[str, Any]] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    needed: dict[str, set[str]] = field(default_factory=dict)
    moved: set[str] = field(default_factory=set)  # customers whose segment slots move

    def wanted(self, c: StoredCustomer, slot: str, natural: Callable[[], Any]
               ) -> tuple[bool, Any]:
        """(whether this plan sets ``slot`` of ``c``, the value it wants there)."""
        if self.override is None:
            return True, natural()
        key = (c.id, slot)
        return (key in self.override), self.override.get(key)

    def need(self, key: str, name: Any) -> None:
        """``name`` must exist among the slot's objects before the plan's writes."""
        if name and key in self.erp.objects and name not in self.erp.objects[key]:
            self.needed.setdefault(key, set()).add(str(name))


def build_plan(ctx: Context, *, erp: ErpState | None = None,
               desired_override: dict[tuple[str, str], Any] | None = None,
               kind: str = "segments") -> Plan:
    """Plan the write-back of ``ctx.tenant`` (nothing is written or stored).

    ``desired_override`` (customer, slot) -> value replaces the segments' wish for those slots
    and leaves every other slot alone (rollback).

    Raises:
        WritebackRefused: the plan needs an ERP object the admin must create, or more objects
            than the platform allows (the writer says which, and where to create them).
    """
    if ctx.refresh is not None:
        ctx.refresh()
    customers = load_customers(ctx)
    erp = erp or read_erp(ctx, customers)
    p = _Planning(ctx, erp, load_states(ctx), desired_override)
    assigned = sum(1 for c in customers.values() if c.assignment is not None)
    for c in sorted(customers.values(), key=lambda c: (-c.priority, c.id)):
        if c.archived or (c.assignment is None and desired_override is None):
            continue
        locked = bool((c.assignment or {}).get("locked"))
        for slot in ctx.outbound.groups:
            _plan_membership(p, c, slot, locked)
        for slot in ctx.outbound.references:
            if slot.key not in erp.unavailable:
                natural = slot.group_for(c.assignment, ctx.tag_dimension) \
                    if c.assignment else None
                _plan_value(p, c, slot.key, natural, locked,
                            _reason(c, f"{slot.slot}: {natural or 'none'}"),
                            moves=slot.source == "segment", released=slot.released)
        if ctx.outbound.terms and "terms" not in erp.unavailable \
                and not _plan_terms(p, c, locked):
            continue  # drifted terms: the customer's other writes wait for the drift's answer
        if ctx.outbound.limit_field and LIMIT_FIELD not in erp.unavailable:
            limit = limit_value(c.assignment)
            _plan_value(p, c, LIMIT_FIELD, limit, locked,
                        _reason(c, f"credit limit {limit or 'none'}"))
        if ctx.limit_note and desired_override is None and c.assignment is not None:
            limit = c.assignment.get("credit_limit")
            state = p.states.get((c.id, "limit_note"))
            written = state.get("value") if state else None
            if limit is not None and (written is None or Decimal(str(written))
                                      != Decimal(str(limit))):
                p.ops.append(make_op("note.add", c, "limit_note", written, str(limit),
                                     _reason(c, "credit limit"),
                                     text=_limit_text(ctx, c, written)))
    refusal = ctx.writer.refusal(ctx.tenant.name, ctx.outbound.specs(), erp, p.needed)
    if refusal:
        raise WritebackRefused(refusal)
    plan = Plan(new_plan_id(), ctx.tenant, kind, _create_ops(ctx, p.needed) + p.ops, p.drift,
                erp=erp)
    moved = len(p.moved)
    plan.summary = summary(plan, moved, assigned, erp, _not_written(ctx, erp, customers))
    share = moved / assigned if assigned else 0.0
    if ctx.settings.writeback_approval:
        plan.needs_approval, plan.approval_reason = True, "approval is on for every plan"
    if share > ctx.settings.writeback_approval_share:
        plan.needs_approval = True
        plan.approval_reason = (f"it moves {moved:,} of {assigned:,} customers ({share:.0%}), "
                                f"more than {ctx.settings.writeback_approval_share:.0%}")
    return plan


def _plan_membership(p: _Planning, c: StoredCustomer, slot: GroupSlot, locked: bool) -> None:
    """The customer's one container of ``slot``: leave the others, join the desired one."""
    name = slot.key
    take, desired = p.wanted(c, name, lambda: slot.group_for(c.assignment or {},
                                                             p.ctx.tag_dimension))
    if not take:
        return
    now_in = members_now(p.erp, slot, c.id)
    state = p.states.get((c.id, name))
    if now_in == ([desired] if desired else []) or held(state, locked):
        return
    written = state.get("value") if state else None
    force = bool(state and state.get("force"))
    by_hand = state is not None and now_in != ([written] if written else [])
    if by_hand and not force and not (p.ctx.outbound.enforce and not locked):
        p.drift.append(Drift(c.id, c.name, name, written, now_in, desired, locked))
        return
    before = now_in[0] if len(now_in) == 1 else (", ".join(now_in) or None)
    reason = _reason(c, f"{slot.slot}: {desired or 'none'}")
    if force or by_hand:
        reason = f"Overwrites a change made in the ERP ({before or 'none'}); {reason}"
    p.ops.append(make_op("group.set", c, name, before, desired, reason, remove=now_in))
    p.need(name, desired)
    if slot.source == "segment":
        p.moved.add(c.id)


def _plan_terms(p: _Planning, c: StoredCustomer, locked: bool) -> bool:
    """The customer's payment terms; False when they drifted (reported, nothing planned)."""
    days = (c.assignment or {}).get("terms_days")
    natural = None if days is None else p.ctx.writer.terms_value(
        int(days), p.ctx.outbound.terms_type or "", p.erp)
    if days is not None and p.override is None:
        reason = f"Payment terms net {days} for {(c.assignment or {})['segment']}"
    else:
        reason = "The contact's own terms come back"
    return _plan_value(p, c, "terms", natural, locked, reason)


def _plan_value(p: _Planning, c: StoredCustomer, key: str, natural: Any, locked: bool,
                reason: str, *, moves: bool = False,
                released: Callable[[Any], Any] | None = None) -> bool:
    """A reference or scalar slot: set it to ``natural`` (the segments' value), or give the
    customer's own value back when the segments stop setting it — through ``released``
    (:meth:`GroupSlot.released`: the slot's release value where the customer's own would be
    wrong). False when it drifted."""
    action = "terms" if key == "terms" else "field"
    state = p.states.get((c.id, key))
    if p.override is None:
        if natural is not None:
            desired, managed = natural, True
        elif state is not None:  # we wrote it before: the customer's own value comes back
            desired, managed = state.get("original"), True
        else:
            desired, managed = None, False
    else:
        desired, managed = p.override.get((c.id, key)), (c.id, key) in p.override
    if released is not None and managed:
        desired = released(desired)
    now_value = p.erp.value(c.id, key)
    if not managed or desired == now_value or held(state, locked):
        return True
    written = state.get("value") if state else None
    by_hand = state is not None and now_value != written
    if by_hand and not state.get("force"):  # type: ignore[union-attr]
        if not (p.ctx.outbound.enforce and not locked):
            p.drift.append(Drift(c.id, c.name, key, written, now_value, desired, locked))
            return False
        reason = f"Overwrites a change made in the ERP ({now_value or 'none'}); {reason}"
    if desired is None:
        # The API cannot clear the field: stop managing it.
        what = ("Terms", "the contact") if key == "terms" else (key, "the customer")
        p.ops.append(make_op(f"{action}.release", c, key, now_value, now_value,
                             f"{what[0]} no longer set by a segment; {what[1]} had none of its "
                             "own, which the API cannot restore: left as they are"))
        return True
    restore = natural is None or p.override is not None
    if by_hand:
        reason = f"Overwrites a change made in the ERP ({now_value or 'none'}); {reason}"
    if restore and key != "terms":
        reason = "The customer's own value comes back"
    p.ops.append(make_op(f"{action}.set", c, key, now_value, desired, reason,
                         original=(state or {}).get("original", now_value), restore=restore))
    p.need(key, desired)
    if moves:
        p.moved.add(c.id)
    return True


def _create_ops(ctx: Context, needed: dict[str, set[str]]) -> list[dict[str, Any]]:
    """Objects to create before the writes: containers (``group.create``, one sorted list
    across membership slots) and referenced objects (``object.create``)."""
    membership = {s.key for s in ctx.outbound.groups}
    groups = sorted({n for k, names in needed.items() if k in membership for n in names})
    ops = [make_op("group.create", None, "object", None, n, "A group write-back uses")
           for n in groups]
    for key in sorted(k for k in needed if k not in membership):
        ops += [make_op("object.create", None, "object", None, n,
                        f"A {key} value write-back uses", target=key)
                for n in sorted(needed[key])]
    return ops


def _not_written(ctx: Context, erp: ErpState, customers: dict[str, StoredCustomer]
                 ) -> dict[str, str]:
    """Slots the platform cannot take, with the reason (and how many customers it concerns)."""
    out = {}
    for key, why in erp.unavailable.items():
        if key == LIMIT_FIELD:
            n = sum(1 for c in customers.values() if not c.archived
                    and limit_value(c.assignment) is not None)
            why = f"{why} ({n:,} customer(s) have a credit limit)"
        out[key] = why
    return out


def summary(plan: Plan, moved: int, assigned: int, erp: ErpState | None,
            not_written: dict[str, str] | None = None) -> dict[str, Any]:
    by_action: dict[str, int] = {}
    for op in plan.ops:
        by_action[op["action"]] = by_action.get(op["action"], 0) + 1
    out = {"operations": by_action, "moved": moved, "customers": assigned,
           "drift": len(plan.drift), "read_calls": erp.calls if erp else 0}
    if not_written:
        out["not_written"] = not_written
    return out
