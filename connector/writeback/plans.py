"""Plan storage: save, load, approve, supersede, and the one plan-or-reuse sequence.

A plan is stored with its operations (``writeback_plan``) before anything is written; a plan
that waits for its approval keeps its id while the segments keep asking for the same changes;
an approved or partly applied plan is finished before a new one is made.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from arconnect.errors import NotFoundError, WritebackRefused
from arconnect.store.models import Tenant
from arconnect.writeback.model import PLAN, Context, Plan, now
from arconnect.writeback.planner import build_plan
from arconnect.writeback.rollback import plan_remove_all, plan_rollback

__all__ = ["PlanChoice", "approve_plan", "load_plan", "pending_plan", "plan_or_resume", "plans",
           "ready_plan", "same_plan", "save_plan", "set_status", "supersede_ready"]


def save_plan(db: Engine, plan: Plan) -> None:
    assert plan.tenant.id is not None
    at = now()
    with db.begin() as conn:
        if plan.kind == "segments":  # an older plan that never ran is superseded
            _supersede(conn, plan.tenant, at)
        conn.execute(PLAN.insert().values(
            id=plan.id, tenant_id=plan.tenant.id, kind=plan.kind, status=plan.status,
            created_at=at, updated_at=at, needs_approval=plan.needs_approval,
            approval_reason=plan.approval_reason, approved_by=plan.approved_by,
            rollback_of=plan.rollback_of, ops=plan.ops, summary=plan.summary))


def _supersede(conn: Any, tenant: Tenant, at: datetime) -> None:
    conn.execute(update(PLAN).where(
        PLAN.c.tenant_id == tenant.id, PLAN.c.kind == "segments",
        PLAN.c.status == "ready").values(status="superseded", updated_at=at))


def supersede_ready(db: Engine, tenant: Tenant) -> None:
    """Nothing is left to write: a plan still waiting for its approval is moot."""
    with db.begin() as conn:
        _supersede(conn, tenant, now())


def load_plan(db: Engine, tenant: Tenant, plan_id: str) -> Plan:
    with db.connect() as conn:
        row = conn.execute(select(PLAN).where(PLAN.c.id == plan_id,
                                              PLAN.c.tenant_id == tenant.id)).mappings().first()
    if row is None:
        raise NotFoundError(f"tenant {tenant.name}: no write-back plan {plan_id!r} (see "
                            "`arconnect audit` or make one with `arconnect writeback --dry-run`)")
    return Plan(row["id"], tenant, row["kind"], list(row["ops"] or []), [],
                bool(row["needs_approval"]), row["approval_reason"], row["status"],
                dict(row["summary"] or {}), row["approved_by"], row["rollback_of"])


def pending_plan(db: Engine, tenant: Tenant) -> Plan | None:
    """The tenant's approved or partly applied plan, if any (applied before a new one)."""
    with db.connect() as conn:
        row = conn.execute(select(PLAN.c.id).where(
            PLAN.c.tenant_id == tenant.id,
            PLAN.c.status.in_(("approved", "partial", "applying")),
        ).order_by(PLAN.c.created_at.desc())).first()
    return load_plan(db, tenant, row[0]) if row else None


def ready_plan(db: Engine, tenant: Tenant) -> Plan | None:
    """The tenant's newest segments plan that was made but neither approved nor applied."""
    with db.connect() as conn:
        row = conn.execute(select(PLAN.c.id).where(
            PLAN.c.tenant_id == tenant.id, PLAN.c.kind == "segments",
            PLAN.c.status == "ready").order_by(PLAN.c.created_at.desc())).first()
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
        conn.execute(update(PLAN).where(PLAN.c.id == plan_id).values(
            status="approved", approved_by=plan.approved_by, approved_at=now(),
            updated_at=now()))
    return plan


def set_status(db: Engine, plan: Plan, status: str, error: str | None = None) -> None:
    plan.status = status
    with db.begin() as conn:
        conn.execute(update(PLAN).where(PLAN.c.id == plan.id).values(
            status=status, updated_at=now(), error=error))


def plans(db: Engine, tenant: Tenant, limit: int = 20) -> list[dict[str, Any]]:
    """The tenant's newest plans (id, kind, status, time, approval, summary)."""
    with db.connect() as conn:
        rows = conn.execute(select(PLAN.c.id, PLAN.c.kind, PLAN.c.status,
                                   PLAN.c.created_at, PLAN.c.needs_approval,
                                   PLAN.c.approved_by, PLAN.c.summary)
                            .where(PLAN.c.tenant_id == tenant.id)
                            .order_by(PLAN.c.created_at.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]
